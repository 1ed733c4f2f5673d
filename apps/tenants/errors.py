from apps.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied


class TenantSlugInvalid(ApplicationError):
    code = "tenant_slug_invalid"


class TenantExists(Conflict):
    code = "tenant_exists"


class TenantNotFound(NotFound):
    code = "tenant_not_found"


class TenantUnavailable(PermissionDenied):
    """The tenant exists but may not be used now (suspended or still being set up)."""

    code = "tenant_suspended"


class TenantContextError(RuntimeError):
    """Tenant work attempted outside a tenant schema: a programming error, never silently guessed."""


class SignupDisabled(NotFound):
    code = "signup_disabled"


class SignupLinkInvalid(ApplicationError):
    code = "signup_link_invalid"
