"""Usage figures for the analytics API and pages: API calls (Redis, with the stored days), storage,
images and failures. Tenant figures are read in the tenant's schema."""

from datetime import date, timedelta

import redis
from django.db.models import Count, Sum

from apps.accounts.models import User
from apps.core.queueing import queue_depths
from apps.core.redis import get_redis
from apps.images.models import Image, ImageStatus
from apps.images.selectors import image_counts
from apps.images.services import storage_used_bytes
from apps.storage.models import StorageLocation
from apps.tenants.models import Tenant, TenantStatus, TenantTier
from apps.tenants.selectors import tenant_list
from apps.tenants.services import in_tenant
from apps.usage.models import ApiUsageDay
from apps.usage.ratelimit import EndpointClass, tenant_today, usage_key

CLASSES = [str(klass) for klass in EndpointClass]


def api_usage_by_day(*, tenant: Tenant, first: date, last: date) -> dict[date, dict[str, int]]:
    """Counters per day from `first` to `last` (the tenant's days): the larger of Redis's and the
    stored copy's, so that neither a Redis restart nor a late snapshot loses calls."""
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    stored = {
        row.day: row.counts for row in ApiUsageDay.objects.filter(tenant=tenant, day__range=(first, last))
    }
    live: list[dict] = [{} for _ in days]
    try:
        pipe = get_redis().pipeline(transaction=False)
        for day in days:
            pipe.hgetall(usage_key(tenant.pk, day))
        live = pipe.execute()
    except redis.RedisError:
        pass
    result = {}
    for day, raw in zip(days, live, strict=True):
        counts = {field: int(value) for field, value in raw.items()}
        saved = stored.get(day, {})
        result[day] = {f: max(counts.get(f, 0), saved.get(f, 0)) for f in counts.keys() | saved.keys()}
    return result


def _totals(days: list[dict[str, int]]) -> dict:
    calls = {klass: sum(day.get(klass, 0) for day in days) for klass in CLASSES}
    return {
        "total": sum(day.get("all", 0) for day in days),
        "by_class": calls,
        "rate_limited": sum(day.get(f"rejected:{klass}", 0) for day in days for klass in CLASSES),
    }


def tenant_api_usage(tenant: Tenant, *, days: int = 30) -> dict:
    today = tenant_today(tenant).date()
    first = min(today.replace(day=1), today - timedelta(days=days - 1))
    by_day = api_usage_by_day(tenant=tenant, first=first, last=today)
    month = [counts for day, counts in by_day.items() if day >= today.replace(day=1)]
    daily = [
        {
            "date": day.isoformat(),
            "total": counts.get("all", 0),
            **{klass: counts.get(klass, 0) for klass in CLASSES},
            "rate_limited": sum(counts.get(f"rejected:{klass}", 0) for klass in CLASSES),
        }
        for day, counts in sorted(by_day.items())
        if day > today - timedelta(days=days)
    ]
    return {"today": _totals([by_day[today]]), "month": _totals(month), "daily": daily}


def storage_by_location() -> list[dict]:
    """Originals' bytes and counts per storage location (trash included until purged)."""
    rows = Image.objects.values("storage_location").annotate(bytes=Sum("size_bytes"), images=Count("id"))
    totals: dict = {row["storage_location"]: row for row in rows}
    return [
        {
            "id": str(location.pk),
            "name": location.name,
            "provider": location.provider,
            "is_default": location.is_default,
            "bytes": int(totals.get(location.pk, {}).get("bytes") or 0),
            "images": totals.get(location.pk, {}).get("images", 0),
        }
        for location in StorageLocation.objects.order_by("-is_default", "name")
    ]


def processing_failures() -> dict:
    live = Image.objects.filter(deleted_at__isnull=True, status=ImageStatus.FAILED)
    by_stage = dict(live.values_list("failed_stage").annotate(n=Count("id")).values_list("failed_stage", "n"))
    return {"total": sum(by_stage.values()), "by_stage": by_stage}


def tenant_analytics(tenant: Tenant) -> dict:
    """Everything the usage page and GET /tenants/{id}/analytics show; call in the tenant's schema."""
    limits = tenant.limits
    api = tenant_api_usage(tenant)
    storage_used = storage_used_bytes()
    users = User.objects.filter(tenant=tenant, deleted_at__isnull=True, is_active=True).count()
    return {
        "tenant_id": str(tenant.pk),
        "tier": tenant.tier,
        "time_zone": tenant.time_zone,
        "storage_used": storage_used,
        "storage_limit": limits.max_storage_bytes,
        "storage_by_location": storage_by_location(),
        "api_calls_today": api["today"]["total"],
        "api_calls_month": api["month"]["total"],
        "api_calls_today_by_class": api["today"]["by_class"],
        "api_calls_month_by_class": api["month"]["by_class"],
        "api_calls_daily_limit": limits.max_api_calls_per_day,
        "searches_today": api["today"]["by_class"]["search"],
        "searches_month": api["month"]["by_class"]["search"],
        "uploads_today": api["today"]["by_class"]["upload"],
        "uploads_month": api["month"]["by_class"]["upload"],
        "rate_limited_today": api["today"]["rate_limited"],
        "rate_limited_month": api["month"]["rate_limited"],
        "images": image_counts(),
        "processing_failures": processing_failures(),
        "users": users,
        "users_limit": limits.max_users,
        "limits": limits.as_dict(),
        "daily": api["daily"],
    }


def tenants_overview() -> list[dict]:
    """One row per live tenant for global admins: tier, storage, images, today's calls, failures."""
    rows = []
    for tenant in tenant_list().filter(status__in=[TenantStatus.ACTIVE, TenantStatus.SUSPENDED]):
        with in_tenant(tenant):
            counts = image_counts()
            storage = storage_used_bytes()
        api = tenant_api_usage(tenant, days=1)
        limits = tenant.limits
        rows.append(
            {
                "tenant_id": str(tenant.pk),
                "slug": tenant.slug,
                "name": tenant.name,
                "status": tenant.status,
                "tier": tenant.tier,
                "storage_used": storage,
                "storage_limit": limits.max_storage_bytes,
                "images": counts["total"],
                "failed": counts["failed"],
                "api_calls_today": api["today"]["total"],
                "api_calls_month": api["month"]["total"],
                "rate_limited_today": api["today"]["rate_limited"],
                "api_calls_daily_limit": limits.max_api_calls_per_day,
            }
        )
    return rows


def stats_overview() -> dict:
    """The seeds' system statistics: tenants, images, storage, API calls, queues, health."""
    from apps.core.health import run_checks

    tenants = tenants_overview()
    by_status = dict(
        tenant_list(include_deleted=True)
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    by_tier = {tier: sum(1 for row in tenants if row["tier"] == tier) for tier in TenantTier.values}
    checks = run_checks()
    return {
        "tenants": {"total": sum(by_status.values()), "by_status": by_status, "by_tier": by_tier},
        "images": sum(row["images"] for row in tenants),
        "failed_images": sum(row["failed"] for row in tenants),
        "storage_used": sum(row["storage_used"] for row in tenants),
        "api_calls_today": sum(row["api_calls_today"] for row in tenants),
        "api_calls_month": sum(row["api_calls_month"] for row in tenants),
        "rate_limited_today": sum(row["rate_limited_today"] for row in tenants),
        "queues": queue_depths(),
        "health": {check.name: check.ok for check in checks},
        "users": User.objects.filter(tenant__isnull=False, deleted_at__isnull=True, is_active=True).count(),
        "per_tenant": tenants,
    }
