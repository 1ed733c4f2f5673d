from apps.core.errors import ApplicationError, Conflict, InvalidInput, NotAuthenticated, PermissionDenied


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"


class TooManyAttempts(ApplicationError):
    http_status = 429
    code = "too_many_attempts"


class TokenInvalid(NotAuthenticated):
    code = "token_invalid"


class TokenRevoked(NotAuthenticated):
    code = "token_revoked"


class TokenReused(NotAuthenticated):
    code = "token_reused"


class RoleNotAssignable(PermissionDenied):
    code = "role_not_assignable"


class CannotImpersonate(PermissionDenied):
    code = "cannot_impersonate"


class UserExists(Conflict):
    code = "user_exists"


class UserQuotaExceeded(Conflict):
    code = "user_quota_exceeded"


class ScopeNotAllowed(PermissionDenied):
    code = "scope_not_allowed"


class PasswordInvalid(InvalidInput):
    code = "password_invalid"
