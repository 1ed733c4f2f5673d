"""What each role and each API key scope may do. Every API view and page declares one of these."""

from enum import StrEnum

from apps.accounts.models import ApiKeyScope, Role


class Perm(StrEnum):
    IMAGES_VIEW = "images.view"
    SEARCH = "search"
    IMAGES_UPLOAD = "images.upload"
    IMAGES_DELETE_OWN = "images.delete_own"
    IMAGES_DELETE_ANY = "images.delete_any"
    USERS_MANAGE = "users.manage"
    API_KEYS_MANAGE = "api_keys.manage"
    STORAGE_MANAGE = "storage.manage"
    THUMBNAILS_MANAGE = "thumbnails.manage"
    DUPLICATES_MANAGE = "duplicates.manage"
    SEARCH_MANAGE = "search.manage"  # switch search models on and off
    USAGE_VIEW = "usage.view"
    AUDIT_VIEW = "audit.view"
    METRICS_VIEW = "metrics.view"
    TENANT_SETTINGS = "tenant.settings"
    WEBHOOKS_MANAGE = "webhooks.manage"
    PLATFORM_ADMIN = "platform.admin"
    # Any signed-in principal, API keys included (who am I).
    AUTHENTICATED = "authenticated"
    # A person acting on their own account: sessions, password, sign-out. Never an API key.
    ACCOUNT_SELF = "account.self"


# Declared by endpoints anyone may call (sign-in, token refresh, password reset).
PUBLIC = "public"

_VIEWER = {Perm.AUTHENTICATED, Perm.ACCOUNT_SELF, Perm.IMAGES_VIEW, Perm.SEARCH}
_MEMBER = _VIEWER | {Perm.IMAGES_UPLOAD, Perm.IMAGES_DELETE_OWN}
_ADMIN = _MEMBER | {
    Perm.IMAGES_DELETE_ANY,
    Perm.USERS_MANAGE,
    Perm.API_KEYS_MANAGE,
    Perm.STORAGE_MANAGE,
    Perm.THUMBNAILS_MANAGE,
    Perm.DUPLICATES_MANAGE,
    Perm.SEARCH_MANAGE,
    Perm.USAGE_VIEW,
    Perm.AUDIT_VIEW,
    Perm.METRICS_VIEW,
    Perm.WEBHOOKS_MANAGE,
}
_OWNER = _ADMIN | {Perm.TENANT_SETTINGS}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.MEMBER: frozenset(_MEMBER),
    Role.ADMIN: frozenset(_ADMIN),
    Role.OWNER: frozenset(_OWNER),
    Role.GLOBAL_ADMIN: frozenset(Perm),
}

# API keys never manage API keys or users' roles beyond their creator, and never the platform.
SCOPE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    ApiKeyScope.SEARCH: frozenset({Perm.AUTHENTICATED, Perm.IMAGES_VIEW, Perm.SEARCH}),
    ApiKeyScope.UPLOAD: frozenset(
        {Perm.AUTHENTICATED, Perm.IMAGES_VIEW, Perm.IMAGES_UPLOAD, Perm.IMAGES_DELETE_OWN}
    ),
    ApiKeyScope.STORAGE: frozenset({Perm.AUTHENTICATED, Perm.STORAGE_MANAGE}),
    ApiKeyScope.METRICS: frozenset({Perm.AUTHENTICATED, Perm.METRICS_VIEW, Perm.USAGE_VIEW}),
    ApiKeyScope.ADMIN: frozenset(
        {
            Perm.AUTHENTICATED,
            Perm.USERS_MANAGE,
            Perm.STORAGE_MANAGE,
            Perm.THUMBNAILS_MANAGE,
            Perm.DUPLICATES_MANAGE,
            Perm.SEARCH_MANAGE,
            Perm.USAGE_VIEW,
            Perm.AUDIT_VIEW,
            Perm.METRICS_VIEW,
            Perm.IMAGES_VIEW,
            Perm.IMAGES_DELETE_ANY,
        }
    ),
}

# Roles a user may hand out: owners may make owners; admins up to admin.
ASSIGNABLE_ROLES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset({Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER}),
    Role.ADMIN: frozenset({Role.VIEWER, Role.MEMBER, Role.ADMIN}),
    Role.GLOBAL_ADMIN: frozenset({Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER}),
}


def role_permissions(role: str) -> frozenset[Perm]:
    return ROLE_PERMISSIONS.get(role, frozenset())


def api_key_permissions(*, scopes: list[str], creator_role: str) -> frozenset[Perm]:
    """A key can do what its scopes allow and its creator may still do, never more."""
    granted: set[Perm] = set()
    for scope in scopes:
        granted |= SCOPE_PERMISSIONS.get(scope, frozenset())
    return frozenset(granted & role_permissions(creator_role))
