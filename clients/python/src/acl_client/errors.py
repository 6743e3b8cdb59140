"""Errors of the acl-service client.

    AclError                 an answer in the SPEC §5.2 envelope (status, type, code, detail, attr)
    ├── ValidationError      400
    ├── AuthenticationError  401 (the caller's service token)
    ├── PermissionDenied     403
    ├── NotFound             404
    ├── MethodNotAllowed     405
    ├── ServiceUnavailable   503 (facts_unavailable, revision_not_reached), after the retries
    └── TransportError       the sidecar was unreachable or timed out (status 0, code "transport")

A denied *decision* is not an error: `/v1/check` answers HTTP 200 with `allowed: false`.
"""

from typing import Final


class AclError(Exception):
    def __init__(self, status: int, type: str, code: str, detail: str | None, attr: str | None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status = status
        self.type = type
        self.code = code
        self.detail = detail
        self.attr = attr


class ValidationError(AclError):
    pass


class AuthenticationError(AclError):
    pass


class PermissionDenied(AclError):
    pass


class NotFound(AclError):
    pass


class MethodNotAllowed(AclError):
    pass


class ServiceUnavailable(AclError):
    pass


class TransportError(AclError):
    def __init__(self, detail: str) -> None:
        super().__init__(0, "transport_error", "transport", detail, None)


ERRORS_BY_STATUS: Final[dict[int, type[AclError]]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    503: ServiceUnavailable,
}
