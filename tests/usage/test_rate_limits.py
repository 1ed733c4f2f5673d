"""Rate limits per tenant, API key and user by endpoint class, and the daily API call quota, with
the real Redis: exact under concurrency, windows that turn over, overrides that apply at once."""

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from apps.accounts.models import Role
from apps.tenants.models import Tenant
from apps.usage.ratelimit import (
    EndpointClass,
    counters_for,
    rate_limit_consume,
    seconds_to_midnight,
    window_seconds,
)
from tests.api import Api, api_key_for, as_user, host
from tests.imagefiles import jpeg
from tests.images.conftest import upload
from tests.usage.conftest import set_limits


@pytest.fixture(autouse=True)
def _clear_of_a_window_edge():
    """The limits count in fixed windows (60 s): a test that straddles an edge starts counting again
    halfway (the parallel test below once admitted 2 x 25 for a limit of 25). Start away from one."""
    left = window_seconds() - time.time() % window_seconds()
    if left < 5:
        time.sleep(left + 0.05)


@pytest.fixture
def member(users):
    return as_user(users[Role.MEMBER])


def test_parallel_requests_against_a_limit_admit_exactly_the_limit(alpha):
    tenant = Tenant.objects.get(pk=alpha.pk)
    tenant.requests_per_minute = 25

    def one(_):
        return rate_limit_consume(tenant=tenant, klass=EndpointClass.GENERAL, principal=("user", "u1", None))

    with ThreadPoolExecutor(max_workers=16) as pool:
        decisions = list(pool.map(one, range(200)))

    assert sum(decision.allowed for decision in decisions) == 25
    assert {d.refused_scope for d in decisions if not d.allowed} == {"tenant"}
    assert sorted(d.remaining for d in decisions if d.allowed) == list(range(25))


def test_a_refused_request_consumes_no_other_budget(alpha):
    tenant = Tenant.objects.get(pk=alpha.pk)
    tenant.requests_per_minute, tenant.uploads_per_minute = 3, 1
    principal = ("user", "u1", None)

    assert rate_limit_consume(tenant=tenant, klass=EndpointClass.UPLOAD, principal=principal).allowed
    refused = rate_limit_consume(tenant=tenant, klass=EndpointClass.UPLOAD, principal=principal)
    assert (refused.allowed, refused.refused_scope) == (False, "tenant_upload")
    # The refused upload did not count against the requests per minute: two more requests fit.
    general = [
        rate_limit_consume(tenant=tenant, klass=EndpointClass.GENERAL, principal=principal) for _ in range(3)
    ]
    assert [d.allowed for d in general] == [True, True, False]


def test_every_response_carries_the_remaining_budget_and_the_limit_answers_429(alpha, member):
    set_limits(alpha, requests_per_minute=3)

    responses = [member.get("images") for _ in range(4)]

    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [r["RateLimit-Remaining"] for r in responses] == ["2", "1", "0", "0"]
    assert all(r["RateLimit-Limit"] == "3" for r in responses)
    assert 0 < int(responses[0]["RateLimit-Reset"]) <= 61
    refused = responses[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert refused.json()["error"]["detail"]["scope"] == "tenant"
    # Retry-After is the refusing window's time left: what RateLimit-Reset says too.
    assert refused["Retry-After"] == refused["RateLimit-Reset"]
    assert int(refused["Retry-After"]) in range(1, 62)


def test_the_window_turns_over(alpha, member, settings):
    settings.DEEPLENS_RATE_LIMIT_WINDOW_SECONDS = 2
    set_limits(alpha, requests_per_minute=2)
    # Start at the beginning of a window so that the three calls fall in one.
    time.sleep(2 - time.time() % 2)

    assert [member.get("images").status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(2.1)
    assert member.get("images").status_code == 200


def test_an_override_applied_at_runtime_takes_effect_and_clearing_it_restores_the_tier(users, alpha, member):
    root = Api(host(), as_user(users["global"], tenant=None).headers["HTTP_AUTHORIZATION"])
    set_limits(alpha, uploads_per_minute=None)  # the Free tier: 5 uploads a minute

    assert root.patch(f"admin/tenants/{alpha.pk}", {"limits": {"uploads_per_minute": 1}}).status_code == 200
    first = upload(member, "a.jpg", jpeg(seed=1))
    second = upload(member, "b.jpg", jpeg(seed=2))
    assert (first.status_code, second.status_code) == (202, 429)
    assert second.json()["error"]["detail"]["scope"] == "tenant_upload"
    assert member.get("images").status_code == 200  # other endpoint classes are not affected

    root.patch(f"admin/tenants/{alpha.pk}", {"limits": {"uploads_per_minute": None}})
    assert upload(member, "c.jpg", jpeg(seed=3)).status_code == 202


def test_an_api_key_with_its_own_stricter_limit(users, alpha, member):
    key = api_key_for(tenant=alpha, creator=users[Role.ADMIN], scopes=["search"])
    from apps.accounts.models import ApiKey

    ApiKey.objects.filter(tenant=alpha).update(requests_per_minute=2)
    client = Api(host(alpha), key)

    assert [client.get("images").status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("images").json()["error"]["detail"]["scope"] == "api_key"
    assert member.get("images").status_code == 200  # people of the workspace are not held up


def test_an_api_key_is_created_with_its_own_limit(users):
    admin = as_user(users[Role.ADMIN])

    created = admin.post("api-keys", {"name": "slow", "scopes": ["search"], "requests_per_minute": 10})
    refused = admin.post("api-keys", {"name": "bad", "scopes": ["search"], "requests_per_minute": 0})

    assert (created.status_code, created.json()["requests_per_minute"]) == (201, 10)
    assert refused.status_code == 400


def test_a_user_with_their_own_stricter_limit(users, alpha):
    users[Role.VIEWER].__class__.objects.filter(pk=users[Role.VIEWER].pk).update(requests_per_minute=1)
    viewer = as_user(users[Role.VIEWER])

    assert [viewer.get("images").status_code for _ in range(2)] == [200, 429]
    assert as_user(users[Role.MEMBER]).get("images").status_code == 200


def test_one_tenant_does_not_consume_another_tenants_budget(users, alpha, beta, member):
    set_limits(alpha, requests_per_minute=2)
    set_limits(beta, requests_per_minute=2)
    key = api_key_for(tenant=alpha, creator=users[Role.ADMIN], scopes=["search"])
    alpha_key = Api(host(alpha), key)

    assert [alpha_key.get("images").status_code for _ in range(2)] == [200, 200]
    assert member.get("images").status_code == 429
    beta_member = as_user(users["beta_member"])
    assert [beta_member.get("images").status_code for _ in range(2)] == [200, 200]


def test_global_admins_are_not_held_to_a_tenants_limits(users, alpha):
    set_limits(alpha, requests_per_minute=1)
    root = as_user(users["global"], tenant=alpha)

    assert [root.get("images").status_code for _ in range(3)] == [200, 200, 200]


def test_the_daily_quota_answers_429_until_midnight_in_the_tenants_time_zone(alpha, member):
    set_limits(alpha, max_api_calls_per_day=2, time_zone="Asia/Tokyo")

    responses = [member.get("images") for _ in range(3)]

    assert [r.status_code for r in responses] == [200, 200, 429]
    assert responses[1]["DeepLens-Daily-Calls-Remaining"] == "0"
    body = responses[2].json()["error"]
    assert body["code"] == "daily_quota_exceeded"
    assert "Asia/Tokyo" in body["message"]
    tokyo = datetime.now(ZoneInfo("Asia/Tokyo"))
    assert abs(int(responses[2]["Retry-After"]) - seconds_to_midnight(tokyo)) <= 65


def test_the_day_counter_is_keyed_by_the_tenants_local_date(alpha):
    tenant = Tenant.objects.get(pk=alpha.pk)
    tenant.time_zone = "Pacific/Kiritimati"  # UTC+14: often already tomorrow

    day = counters_for(tenant=tenant, klass=EndpointClass.GENERAL, principal=("user", "u", None))[-1]

    assert day.key.endswith(datetime.now(ZoneInfo("Pacific/Kiritimati")).date().isoformat())
    assert day.limit == tenant.limits.max_api_calls_per_day


def test_anonymous_and_refused_by_permission_requests_are_not_counted(alpha, users):
    set_limits(alpha, requests_per_minute=1)
    anonymous = Api(host(alpha))
    viewer = as_user(users[Role.VIEWER])

    assert anonymous.get("images").status_code == 401
    assert viewer.post("users", {"email": "x@alpha.test", "role": "viewer"}).status_code == 403
    assert viewer.get("images").status_code == 200
