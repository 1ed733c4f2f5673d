from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import render
from django.views import View

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm, role_permissions
from apps.usage.selectors import stats_overview, tenant_analytics

CHART_HEIGHT = 120


def _bars(daily: list[dict]) -> list[dict]:
    """Bar heights for the calls-per-day chart, scaled to the busiest day."""
    peak = max((day["total"] for day in daily), default=0) or 1
    width = 100 / max(1, len(daily))
    return [
        {
            **day,
            "x": round(index * width, 3),
            "width": round(width * 0.8, 3),
            "height": round(CHART_HEIGHT * day["total"] / peak, 1),
            "y": round(CHART_HEIGHT - CHART_HEIGHT * day["total"] / peak, 1),
        }
        for index, day in enumerate(daily)
    ]


def _share(used: int, limit: int) -> float:
    return min(100.0, round(100 * used / limit, 1)) if limit else 100.0


class UsagePage(PermissionRequiredPage, View):
    """The tenant's usage against its limits, for tenant admins."""

    required_permission = Perm.USAGE_VIEW

    def get(self, request):
        stats = tenant_analytics(request.tenant)
        return render(
            request,
            "usage/usage.html",
            {
                "stats": stats,
                "bars": _bars(stats["daily"]),
                "chart_height": CHART_HEIGHT,
                "shares": {
                    "storage": _share(stats["storage_used"], stats["storage_limit"]),
                    "users": _share(stats["users"], stats["users_limit"]),
                    "calls": _share(stats["api_calls_today"], stats["api_calls_daily_limit"]),
                },
            },
        )


def usage_overview_view(request):
    """/admin/usage/: every tenant's usage against its limits, for global admins (Django admin)."""
    if Perm.PLATFORM_ADMIN not in role_permissions(request.user.role):
        raise PermissionDenied
    stats = stats_overview()
    for row in stats["per_tenant"]:
        row["storage_share"] = _share(row["storage_used"], row["storage_limit"])
        row["calls_share"] = _share(row["api_calls_today"], row["api_calls_daily_limit"])
    context = {**admin.site.each_context(request), "title": "Usage of all tenants", "stats": stats}
    return render(request, "admin/usage_overview.html", context)
