"""Usage analytics: GET /tenants/{id}/analytics, GET /stats/overview, the usage pages."""

from apps.accounts.models import Role
from apps.core.redis import get_redis
from apps.usage.models import ApiUsageDay
from apps.usage.services import usage_snapshot
from tests.api import as_user
from tests.conftest import signed_in
from tests.imagefiles import jpeg, truncated_jpeg
from tests.images.conftest import upload
from tests.usage.conftest import set_limits


def test_the_analytics_count_calls_by_class_storage_images_and_failures(users, alpha):
    member = as_user(users[Role.MEMBER])
    assert upload(member, "one.jpg", jpeg(seed=1)).status_code == 202
    assert upload(member, "bad.jpg", truncated_jpeg()).status_code in (202, 400, 422)
    for _ in range(3):
        member.get("images")

    stats = as_user(users[Role.ADMIN]).get(f"tenants/{alpha.pk}/analytics").json()

    assert stats["uploads_today"] == 2
    assert stats["api_calls_today_by_class"]["general"] == 4  # the analytics call itself included
    assert stats["api_calls_today"] == 6
    assert stats["api_calls_month"] >= 6
    assert stats["storage_used"] > 0
    assert sum(location["bytes"] for location in stats["storage_by_location"]) == stats["storage_used"]
    assert stats["images"]["total"] >= 1
    assert stats["limits"]["max_users"] == 5
    assert stats["daily"][-1]["total"] == 6
    assert len(stats["daily"]) == 30


def test_rate_limited_calls_are_reported(users, alpha):
    set_limits(alpha, requests_per_minute=1)
    member = as_user(users[Role.MEMBER])
    member.get("images")
    member.get("images")
    set_limits(alpha, requests_per_minute=None, max_api_calls_per_day=None)

    stats = as_user(users[Role.ADMIN]).get(f"tenants/{alpha.pk}/analytics").json()

    assert stats["rate_limited_today"] == 1


def test_the_counters_survive_redis_through_the_snapshot(users, alpha):
    member = as_user(users[Role.MEMBER])
    for _ in range(4):
        member.get("images")

    assert usage_snapshot() >= 1
    assert ApiUsageDay.objects.get(tenant=alpha).counts["all"] == 4
    for key in get_redis().scan_iter("deeplens:usage:*"):
        get_redis().delete(key)  # Redis restarted without persistence
    member.get("images")
    assert as_user(users[Role.ADMIN]).get(f"tenants/{alpha.pk}/analytics").json()["api_calls_today"] == 4

    usage_snapshot()  # puts the lost figures back under the new ones

    assert ApiUsageDay.objects.get(tenant=alpha).counts["all"] == 6
    stats = as_user(users[Role.ADMIN]).get(f"tenants/{alpha.pk}/analytics").json()
    assert stats["api_calls_today"] == 7


def test_analytics_of_another_tenant_are_not_found(users, beta):
    response = as_user(users[Role.ADMIN]).get(f"tenants/{beta.pk}/analytics")

    assert response.status_code == 404


def test_members_cannot_see_the_analytics(users, alpha):
    assert as_user(users[Role.MEMBER]).get(f"tenants/{alpha.pk}/analytics").status_code == 403


def test_the_overview_is_for_global_admins(users, alpha, beta):
    as_user(users[Role.MEMBER]).get("images")

    overview = as_user(users["global"], tenant=None).get("stats/overview")

    assert overview.status_code == 200
    body = overview.json()
    assert {row["slug"] for row in body["per_tenant"]} >= {"alpha", "beta"}
    assert body["api_calls_today"] >= 1
    assert set(body["queues"]) >= {"ingest", "thumbnails", "embed"}
    assert body["health"]["database"] is True
    assert as_user(users[Role.OWNER]).get("stats/overview").status_code == 403


def test_the_usage_page_shows_limits_and_calls(users, alpha):
    as_user(users[Role.MEMBER]).get("images")
    page = signed_in(alpha, users[Role.ADMIN].email).get("/settings/usage/")

    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="calls-chart"' in html and "Local files" in html
    assert signed_in(alpha, users[Role.MEMBER].email).get("/settings/usage/").status_code == 403
