"""The one mapping from exceptions to HTTP error responses (SPEC §5.2 envelope).

Domain errors (`acl_service.errors`), Litestar's own HTTP exceptions (unknown path, wrong method,
body too large) and anything unexpected all leave the service as
`{"type", "code", "detail", "attr"}` JSON; a 500 never carries a stack trace.
"""

import logging
from typing import Any, Final

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR, HTTP_503_SERVICE_UNAVAILABLE
from litestar.types import ExceptionHandlersMap

from acl_service import errors

logger = logging.getLogger(__name__)

MAX_BODY_BYTES: Final = 16 * 1024 * 1024


class ErrorEnvelope(msgspec.Struct, frozen=True):
    type: str
    code: str
    detail: str
    attr: str | None = None


# Checked in order: subclasses before their bases.
DOMAIN_STATUSES: Final[tuple[tuple[type[errors.ServiceError], int, str], ...]] = (
    (errors.InvalidInput, 400, "validation_error"),
    (errors.NotAuthenticated, 401, "authentication_error"),
    (errors.AuthenticationFailed, 401, "authentication_error"),
    (errors.PermissionDenied, 403, "authentication_error"),
    (errors.NotFound, 404, "invalid_request"),
    (errors.MethodNotAllowed, 405, "invalid_request"),
    (errors.Gone, 410, "invalid_request"),
    (errors.ServiceUnavailable, 503, "server_error"),
)

SERVER_ERROR: Final = ErrorEnvelope(type="server_error", code="error", detail="A server error occurred.")


def error_response(status_code: int, envelope: ErrorEnvelope) -> Response[ErrorEnvelope]:
    # Clients retry 503s (revision not reached, facts unavailable, not ready) after a second.
    headers = {"Retry-After": "1"} if status_code == HTTP_503_SERVICE_UNAVAILABLE else None
    return Response(envelope, status_code=status_code, headers=headers, media_type=MediaType.JSON)


def service_error_response(_: Request[Any, Any, Any], error: Exception) -> Response[ErrorEnvelope]:
    assert isinstance(error, errors.ServiceError)
    for error_class, status_code, error_type in DOMAIN_STATUSES:
        if isinstance(error, error_class):
            return error_response(
                status_code, ErrorEnvelope(error_type, error.code, error.detail, error.attr)
            )
    return unexpected_error_response(_, error)


def http_exception_response(request: Request[Any, Any, Any], error: Exception) -> Response[ErrorEnvelope]:
    assert isinstance(error, HTTPException)
    domain_error: errors.ServiceError
    if isinstance(error, NotFoundException):
        domain_error = errors.NotFound()
    elif isinstance(error, MethodNotAllowedException):
        domain_error = errors.MethodNotAllowed(request.method)
    elif isinstance(error, RequestEntityTooLarge):
        domain_error = errors.InvalidInput(f"Request body exceeds {MAX_BODY_BYTES} bytes.", code="too_large")
    elif isinstance(error, NotAuthorizedException):
        domain_error = errors.NotAuthenticated()
    elif isinstance(error, PermissionDeniedException):
        domain_error = errors.PermissionDenied()
    elif error.status_code == HTTP_503_SERVICE_UNAVAILABLE:
        domain_error = errors.ServiceUnavailable()
    elif error.status_code < HTTP_500_INTERNAL_SERVER_ERROR:
        # Remaining framework 4xx (e.g. a malformed query string Litestar parsed itself).
        domain_error = errors.InvalidInput(str(error.detail), code="invalid")
    else:
        return unexpected_error_response(request, error)
    return service_error_response(request, domain_error)


# What asyncpg raises while PostgreSQL is unreachable, restarting or has dropped the connection.
DATABASE_UNAVAILABLE: Final[tuple[type[Exception], ...]] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


def database_unavailable_response(
    request: Request[Any, Any, Any], error: Exception
) -> Response[ErrorEnvelope]:
    # No write was accepted (its transaction did not commit): the client retries after a second.
    logger.warning("database unavailable on %s %s: %r", request.method, request.url.path, error)
    return service_error_response(request, errors.ServiceUnavailable("The database is unavailable."))


def unexpected_error_response(request: Request[Any, Any, Any], error: Exception) -> Response[ErrorEnvelope]:
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, SERVER_ERROR)


EXCEPTION_HANDLERS: Final[ExceptionHandlersMap] = {
    errors.ServiceError: service_error_response,
    HTTPException: http_exception_response,
    **{error_class: database_unavailable_response for error_class in DATABASE_UNAVAILABLE},
    Exception: unexpected_error_response,
}
