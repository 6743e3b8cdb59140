"""Domain errors: what went wrong, in the words of SPEC §5.2, without HTTP knowledge.

ServiceError
 ├── InvalidInput           400 validation_error (bad input, failed business rule)
 ├── NotAuthenticated       401 not_authenticated
 ├── AuthenticationFailed   401 authentication_failed
 ├── PermissionDenied       403 permission_denied
 ├── NotFound               404 not_found
 ├── MethodNotAllowed       405 method_not_allowed
 ├── Gone                   410 (code given by the raiser; e.g. a pruned revision)
 └── ServiceUnavailable     503 (code given by the raiser)

`acl_service.api.errors` is the one place that turns these into HTTP responses.
"""


class ServiceError(Exception):
    code: str = "error"
    default_detail: str = "Error."

    def __init__(
        self, detail: str | None = None, *, code: str | None = None, attr: str | None = None
    ) -> None:
        self.detail = detail if detail is not None else self.default_detail
        if code is not None:
            self.code = code
        self.attr = attr
        super().__init__(self.detail)


class InvalidInput(ServiceError):
    code = "invalid_input"
    default_detail = "Invalid input."


class NotAuthenticated(ServiceError):
    code = "not_authenticated"
    default_detail = "Authentication credentials were not provided."


class AuthenticationFailed(ServiceError):
    code = "authentication_failed"
    default_detail = "Invalid token."


class PermissionDenied(ServiceError):
    code = "permission_denied"
    default_detail = "You do not have permission to perform this action."


class NotFound(ServiceError):
    code = "not_found"
    default_detail = "Not found."


class MethodNotAllowed(ServiceError):
    code = "method_not_allowed"

    def __init__(self, method: str) -> None:
        super().__init__(f'Method "{method}" not allowed.')


class Gone(ServiceError):
    code = "gone"
    default_detail = "No longer available."


class ServiceUnavailable(ServiceError):
    code = "unavailable"
    default_detail = "The service is not ready."
