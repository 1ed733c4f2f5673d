from django.conf import settings
from django_tenants.utils import get_public_schema_name

from apps.accounts.permissions import Perm, role_permissions
from apps.core.connection import connection


def deeplens(request):
    tenant = getattr(request, "tenant", None)
    is_tenant = tenant is not None and tenant.schema_name != get_public_schema_name()
    user = getattr(request, "user", None)
    permissions = role_permissions(user.role) if user is not None and user.is_authenticated else frozenset()
    return {
        "can": {perm.name.lower(): perm in permissions for perm in Perm},
        "impersonation": getattr(request, "impersonation", None),
        "current_tenant": tenant if is_tenant else None,
        "is_public_site": not is_tenant,
        "schema_name": connection.schema_name,
        "base_domain": settings.DEEPLENS_BASE_DOMAIN,
    }
