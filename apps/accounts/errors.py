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


class ImpersonationCannotCreateCredentials(PermissionDenied):
    code = "impersonation_cannot_create_credentials"


def refuse_while_impersonating(actor, what: str) -> None:
    """Credentials outlive an impersonation, so none are made under one: no API keys, no passwords."""
    if getattr(actor, "impersonator", None) is not None:
        raise ImpersonationCannotCreateCredentials(
            f"An impersonation cannot {what}: it would outlive the impersonation. "
            "Ask the user to do it, or do it as yourself in the admin."
        )


class MfaCodeInvalid(NotAuthenticated):
    code = "mfa_code_invalid"


class MfaChallengeInvalid(NotAuthenticated):
    code = "mfa_challenge_invalid"


class MfaAlreadyEnabled(Conflict):
    code = "mfa_already_enabled"


class MfaNotEnabled(Conflict):
    code = "mfa_not_enabled"


class MfaRequired(PermissionDenied):
    code = "mfa_required_by_policy"


class SsoFailed(PermissionDenied):
    code = "sso_failed"


class SsoIssuerNotAllowed(InvalidInput):
    code = "sso_issuer_not_allowed"


class SsoRequired(PermissionDenied):
    code = "sso_required"
