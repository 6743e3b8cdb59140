"""Client for acl-service: `Client` (sync), `AsyncClient`, typed results and SPEC §5.2 errors."""

from acl_client.client import AsyncClient, CheckRequest, Client, ResourceRef
from acl_client.errors import (
    AclError,
    AuthenticationError,
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    TransportError,
    ValidationError,
)
from acl_client.models import (
    AuthorizeResult,
    BatchResult,
    CheckResult,
    Envelope,
    FilterResult,
    Levels,
    LevelsResult,
    SubjectsResult,
)

__all__ = [
    "AclError",
    "AsyncClient",
    "AuthenticationError",
    "AuthorizeResult",
    "BatchResult",
    "CheckRequest",
    "CheckResult",
    "Client",
    "Envelope",
    "FilterResult",
    "Levels",
    "LevelsResult",
    "MethodNotAllowed",
    "NotFound",
    "PermissionDenied",
    "ResourceRef",
    "ServiceUnavailable",
    "SubjectsResult",
    "TransportError",
    "ValidationError",
]
