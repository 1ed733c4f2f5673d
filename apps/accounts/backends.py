from django.contrib.auth.backends import ModelBackend
from django.db.models import Q
from django_tenants.utils import get_public_schema_name

from apps.accounts.models import Role, User


class TenantEmailBackend(ModelBackend):
    """Email + password, looked up in the tenant of the request (or the one given).

    On a tenant's host, its own users and global admins may sign in; on the public host, only
    global admins. A missing user costs the same hashing time as a wrong password.
    """

    def authenticate(self, request, username=None, password=None, tenant=None, **kwargs):
        email = (kwargs.get("email") or username or "").strip().lower()
        if not email or password is None:
            return None
        if tenant is None and request is not None:
            request_tenant = getattr(request, "tenant", None)
            if request_tenant is not None and request_tenant.schema_name != get_public_schema_name():
                tenant = request_tenant

        scope = Q(tenant__isnull=True, role=Role.GLOBAL_ADMIN)
        if tenant is not None:
            scope |= Q(tenant=tenant)
        # Tenant users first: an address may be both a tenant user and a global admin.
        candidates = User.objects.filter(scope, email=email, deleted_at__isnull=True).order_by("tenant_id")
        user = candidates.first()
        if user is None:
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
