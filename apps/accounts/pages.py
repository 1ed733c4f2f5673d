"""Shared pieces of the server-rendered pages: the permission each page declares."""

from django.contrib.auth.mixins import AccessMixin
from django.views import View

from apps.accounts.permissions import PUBLIC, role_permissions


class PermissionRequiredPage(AccessMixin, View):
    """Like the API: a page declares `required_permission`; anonymous users go to sign-in, users
    without the permission get a 403 page."""

    required_permission: str | tuple[str, ...] | None = None

    def dispatch(self, request, *args, **kwargs):
        if self.required_permission == PUBLIC:
            return super().dispatch(request, *args, **kwargs)
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        held = role_permissions(request.user.role)
        required = self.required_permission
        # one permission, or a tuple of which any one is enough (as for the API views)
        if required is None or not any(
            p in held for p in (required if isinstance(required, tuple) else (required,))
        ):
            self.raise_exception = True
            return self.handle_no_permission()
        return super().dispatch(request, *args, **kwargs)
