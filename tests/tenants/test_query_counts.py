"""The global admin's lists (tenants, tiers) take as many queries for 2N rows as for N."""

from itertools import count

from django.conf import settings
from django.test import override_settings

from apps.tenants.models import TIER_DEFAULTS, Domain, Tenant, TenantStatus, TenantTier, Tier
from tests.api import as_user
from tests.query_counts import assert_flat_queries

_serial = count(1)
# A batch holds a tenant of every tier: a cold process cache reads each tier's row once per request.
BATCH = len(TenantTier)


def _tenants():
    """Tenant rows (no schema: the list reads rows only), one of each tier, with two domains and
    limit overrides on every other one."""

    def add():
        for k, tier in enumerate(TenantTier):
            i = next(_serial)
            tenant = Tenant.objects.create(
                name=f"QC {i}",
                slug=f"qc-{i}",
                schema_name=f"qc_{i}",
                status=TenantStatus.SUSPENDED if k % 2 else TenantStatus.ACTIVE,
                tier=tier,
                max_users=7 if k % 2 else None,
                uploads_per_minute=9 if k % 2 else None,
            )
            Domain.objects.bulk_create(
                [
                    Domain(tenant=tenant, domain=f"qc-{i}.{settings.DEEPLENS_BASE_DOMAIN}", is_primary=True),
                    Domain(tenant=tenant, domain=f"qc-{i}.example.test", is_primary=False),
                ]
            )

    return add


def _listed(api):
    def listed():
        response = api.get("admin/tenants", {"limit": 100})
        assert response.status_code == 200, response.content
        rows = [row for row in response.json()["results"] if row["slug"].startswith("qc-")]
        assert all(len(row["domains"]) == 2 for row in rows)
        return len(rows)

    return listed


@override_settings(DEEPLENS_PROCESS_CACHE_SECONDS=5)  # the product's default
def test_the_tenant_list_takes_as_many_queries_for_2n_tenants_as_for_n(users):
    assert_flat_queries(listed=_listed(as_user(users["global"])), add=_tenants(), n=BATCH)


def test_the_tenant_list_without_the_process_cache_takes_as_many_queries_for_2n_tenants(users):
    assert_flat_queries(listed=_listed(as_user(users["global"])), add=_tenants(), n=BATCH)


def test_the_tier_list_takes_as_many_queries_for_2n_tiers_as_for_n(users):
    api = as_user(users["global"])

    def add():
        for _ in range(3):
            i = next(_serial)
            # Not one of TenantTier: the list shows whatever rows the table holds.
            Tier.objects.create(slug=f"qc-{i}", **TIER_DEFAULTS[TenantTier.PRO])

    def listed():
        response = api.get("admin/tiers")
        assert response.status_code == 200, response.content
        return sum(row["slug"].startswith("qc-") for row in response.json()["results"])

    assert_flat_queries(listed=listed, add=add)
