from django.contrib.auth.models import AnonymousUser
from django_tenants.utils import get_public_schema_name


class TenantMembershipMiddleware:
    """A signed-in user counts as signed in only where they belong: their own tenant's host, or
    anywhere for a global admin. Anywhere else they are anonymous."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        tenant = getattr(request, "tenant", None)
        if user.is_authenticated and not user.is_global_admin:
            on_public = tenant is None or tenant.schema_name == get_public_schema_name()
            if on_public or user.tenant_id != tenant.pk or user.deleted_at is not None:
                request.user = AnonymousUser()
        return self.get_response(request)
