from django.conf import settings
from django.db import connection
from django_tenants.utils import get_public_schema_name


def deeplens(request):
    tenant = getattr(request, "tenant", None)
    is_tenant = tenant is not None and tenant.schema_name != get_public_schema_name()
    return {
        "current_tenant": tenant if is_tenant else None,
        "is_public_site": not is_tenant,
        "schema_name": connection.schema_name,
        "base_domain": settings.DEEPLENS_BASE_DOMAIN,
    }
