from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name

from apps.tenants.models import Tenant, TenantStatus


def tenant_list(*, include_deleted: bool = False) -> QuerySet[Tenant]:
    tenants = Tenant.objects.exclude(schema_name=get_public_schema_name()).prefetch_related("domains")
    if not include_deleted:
        tenants = tenants.exclude(status=TenantStatus.DELETED)
    return tenants.order_by("name")


def tenant_get_by_slug(*, slug: str) -> Tenant | None:
    return tenant_list().filter(slug=slug).first()
