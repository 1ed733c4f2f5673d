"""What the caller of a request may do, whether a user (session or token) or an API key."""

from apps.accounts.models import ApiKey
from apps.accounts.permissions import Perm, api_key_permissions, role_permissions


def principal_permissions(request) -> frozenset[Perm]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return frozenset()
    key = getattr(request, "api_key", None)
    if isinstance(key, ApiKey):
        return api_key_permissions(scopes=key.scopes, creator_role=user.role)
    return role_permissions(user.role)
