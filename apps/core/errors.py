"""The one error tree of DeepLens. Each domain subclasses these in its own errors.py.

An ApplicationError carries a message for people, a stable code for programs and optional detail.
The API's exception handler and the HTML error pages render it as {"error": {code, message, detail}}.
"""

from typing import Any


class ApplicationError(Exception):
    http_status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, extra: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "detail": self.extra}}


class InvalidInput(ApplicationError):
    http_status = 400
    code = "invalid_input"


class NotAuthenticated(ApplicationError):
    http_status = 401
    code = "not_authenticated"


class PermissionDenied(ApplicationError):
    http_status = 403
    code = "permission_denied"


class NotFound(ApplicationError):
    http_status = 404
    code = "not_found"


class Conflict(ApplicationError):
    http_status = 409
    code = "conflict"


class ServiceUnavailable(ApplicationError):
    http_status = 503
    code = "service_unavailable"


class DependencyUnavailable(ServiceUnavailable):
    """PostgreSQL or Redis (the broker) cannot be reached: try again later (Retry-After)."""

    code = "dependency_unavailable"
