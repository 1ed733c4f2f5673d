from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet
from django_tenants.utils import get_public_schema_name

from apps.core.process_cache import cached
from apps.tenants.models import LIMIT_FIELDS, TIER_DEFAULTS, Tenant, TenantStatus, TenantTier, Tier


def tenant_list(*, include_deleted: bool = False) -> QuerySet[Tenant]:
    tenants = Tenant.objects.exclude(schema_name=get_public_schema_name()).prefetch_related("domains")
    if not include_deleted:
        tenants = tenants.exclude(status=TenantStatus.DELETED)
    return tenants.order_by("name")


def tenant_get_by_slug(*, slug: str) -> Tenant | None:
    return tenant_list().filter(slug=slug).first()


@dataclass(frozen=True)
class Limits:
    """A tenant's effective limits: its overrides, else its tier's."""

    requests_per_minute: int
    searches_per_minute: int
    uploads_per_minute: int
    max_storage_bytes: int
    max_users: int
    max_api_calls_per_day: int
    overridden: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, int]:
        return {field: getattr(self, field) for field in LIMIT_FIELDS}


def tier_get(slug: str) -> Tier:
    """The tier's row, read at most every few seconds per process (tiers change rarely)."""

    def load() -> Tier:
        tier = Tier.objects.filter(slug=slug).first()
        # A tier row missing (a database restored from before tiers) falls back to the seeds' values.
        return tier or Tier(slug=slug, **TIER_DEFAULTS[TenantTier(slug)])

    return cached(("tier", slug), settings.DEEPLENS_PROCESS_CACHE_SECONDS, load)


def tenant_limits(tenant: Tenant) -> Limits:
    tier = tier_get(tenant.tier)
    overridden = frozenset(field for field in LIMIT_FIELDS if getattr(tenant, field) is not None)
    values = {
        field: getattr(tenant, field) if field in overridden else getattr(tier, field)
        for field in LIMIT_FIELDS
    }
    return Limits(**values, overridden=overridden)
