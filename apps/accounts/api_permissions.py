from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from apps.accounts.permissions import PUBLIC
from apps.accounts.principal import principal_permissions


def required_permission_for(view, method: str) -> str | tuple[str, ...] | None:
    """A view declares `required_permission`: one permission, a tuple of them (any one is enough),
    or a dict of either by HTTP method."""
    declared = getattr(view, "required_permission", None)
    if isinstance(declared, dict):
        return declared.get(method.upper()) or declared.get("*")
    return declared


class HasPermission(BasePermission):
    """Fail closed: a view that declares no permission for the method refuses everyone."""

    def has_permission(self, request, view):
        required = required_permission_for(view, request.method)
        if required is None:
            raise exceptions.PermissionDenied(
                detail="This endpoint declares no permission and is closed.", code="permission_undeclared"
            )
        if required == PUBLIC:
            return True
        if not request.user or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated(code="not_authenticated")
        granted = principal_permissions(request)
        if isinstance(required, tuple):
            if not any(permission in granted for permission in required):
                raise exceptions.PermissionDenied(
                    detail=f"This needs one of the permissions {', '.join(map(repr, map(str, required)))}, "
                    "which your role or key does not have.",
                    code="permission_denied",
                )
        elif required not in granted:
            raise exceptions.PermissionDenied(
                detail=f"This needs the {str(required)!r} permission, which your role or key does not have.",
                code="permission_denied",
            )
        return True
