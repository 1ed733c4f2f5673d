"""Copying the Redis usage counters into ApiUsageDay, so that they outlive Redis."""

from datetime import timedelta

import redis
from django.db import transaction

from apps.core.redis import get_redis
from apps.tenants.models import Tenant
from apps.tenants.selectors import tenant_list
from apps.usage.models import ApiUsageDay
from apps.usage.ratelimit import USAGE_TTL_SECONDS, tenant_today, usage_key


def _as_counts(raw: dict) -> dict[str, int]:
    return {field: int(value) for field, value in raw.items()}


@transaction.atomic
def usage_snapshot_tenant(tenant: Tenant) -> int:
    """Store today's and yesterday's counters (the tenant's days); returns the rows written."""
    today = tenant_today(tenant).date()
    days = [today, today - timedelta(days=1)]
    pipe = get_redis().pipeline(transaction=False)
    for day in days:
        pipe.hgetall(usage_key(tenant.pk, day))
    client = get_redis()
    written = 0
    for day, raw in zip(days, pipe.execute(), strict=True):
        stored = ApiUsageDay.objects.select_for_update().filter(tenant=tenant, day=day).first()
        if not raw and stored is None:
            continue
        live = _as_counts(raw)
        if stored is not None and any(live.get(f, 0) < n for f, n in stored.counts.items()):
            # Redis lost the day's counters (a restart without persistence): put the stored figures
            # back under the calls counted since, so that both stay correct from here on.
            key = usage_key(tenant.pk, day)
            restore = client.pipeline()
            for field, count in stored.counts.items():
                restore.hincrby(key, field, count)
            restore.expire(key, USAGE_TTL_SECONDS)
            restore.execute()
            live = {f: live.get(f, 0) + stored.counts.get(f, 0) for f in live.keys() | stored.counts.keys()}
        if stored is None:
            ApiUsageDay.objects.create(tenant=tenant, day=day, counts=live)
        elif live != stored.counts:
            stored.counts = live
            stored.save(update_fields=["counts", "updated_at"])
        written += 1
    return written


def usage_snapshot() -> int:
    written = 0
    for tenant in tenant_list():
        try:
            written += usage_snapshot_tenant(tenant)
        except redis.RedisError:
            return written
    return written
