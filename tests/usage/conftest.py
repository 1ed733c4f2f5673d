import pytest

from apps.core.redis import get_redis


@pytest.fixture(autouse=True)
def fresh_counters():
    """Each test starts with no rate-limit or usage counters (they live in the shared test Redis)."""
    client = get_redis()
    for pattern in ("deeplens:rl:*", "deeplens:usage:*"):
        keys = list(client.scan_iter(pattern))
        if keys:
            client.delete(*keys)
    yield


def set_limits(tenant, **limits):
    """Override the tenant's limits in the test's transaction (requests in the test see them)."""
    type(tenant).objects.filter(pk=tenant.pk).update(**limits)
    tenant.refresh_from_db()
    return tenant
