import pytest

from apps.accounts.models import Role
from apps.audit.models import AuditAction, AuditEvent
from apps.tenants.models import Tenant, TenantStatus
from tests.api import Api, as_user, bearer_for, host


@pytest.fixture
def root(users):
    return Api(host(), bearer_for(users["global"]))


def test_global_admins_list_tenants(root):
    response = root.get("admin/tenants")

    assert response.status_code == 200
    slugs = {tenant["slug"] for tenant in response.json()["results"]}
    assert {"alpha", "beta"} <= slugs
    assert "public" not in slugs


def test_creating_a_tenant_provisions_it(root, users):
    response = root.post("admin/tenants", {"name": "Gamma", "slug": "gamma", "tier": "pro"})

    assert response.status_code == 201
    body = response.json()
    assert (body["slug"], body["status"], body["tier"], body["domains"]) == (
        "gamma",
        "active",
        "pro",
        ["gamma.localhost"],
    )
    assert body["limits"]["max_users"] == 50
    event = AuditEvent.objects.get(action=AuditAction.TENANT_CREATED, target_id=body["id"])
    assert event.actor == users["global"]


def test_a_bad_slug_is_refused_with_a_code(root):
    count = Tenant.objects.count()

    response = root.post("admin/tenants", {"name": "Bad", "slug": "Bad Slug"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "tenant_slug_invalid"
    assert Tenant.objects.count() == count


def test_suspending_a_tenant_is_audited_and_takes_effect(root, alpha, users):
    response = root.patch(f"admin/tenants/{alpha.pk}", {"status": "suspended"})

    assert response.status_code == 200
    assert response.json()["status"] == "suspended"
    assert AuditEvent.objects.filter(action=AuditAction.TENANT_SUSPENDED, tenant=alpha).count() == 1
    assert as_user(users[Role.MEMBER]).get("auth/me").status_code == 403


def test_limits_can_be_overridden_and_cleared(root, alpha):
    changed = root.patch(f"admin/tenants/{alpha.pk}", {"limits": {"max_users": 7, "uploads_per_minute": 3}})

    body = changed.json()
    assert (body["limits"]["max_users"], body["limits"]["uploads_per_minute"]) == (7, 3)
    assert body["limit_overrides"]["max_users"] == 7
    event = AuditEvent.objects.get(action=AuditAction.TENANT_LIMITS_CHANGED)
    assert event.details == {"max_users": [None, 7], "uploads_per_minute": [1_000_000, 3]}

    cleared = root.patch(
        f"admin/tenants/{alpha.pk}", {"limits": {"max_users": None, "uploads_per_minute": None}}
    )
    body = cleared.json()
    assert (body["limits"]["max_users"], body["limits"]["uploads_per_minute"]) == (5, 5)  # the Free tier's
    assert "max_users" not in body["limit_overrides"]


def test_a_new_tier_changes_the_limits_but_keeps_the_overrides(root, alpha):
    root.patch(f"admin/tenants/{alpha.pk}", {"limits": {"max_users": 7}})

    body = root.patch(f"admin/tenants/{alpha.pk}", {"tier": "pro"}).json()

    assert body["tier"] == "pro"
    assert body["limits"]["max_users"] == 7
    assert body["limits"]["max_storage_bytes"] == 50 * 1024**3
    assert body["limits"]["searches_per_minute"] == 1_000_000  # the suite's override


def test_an_edited_tier_applies_to_its_tenants(root, alpha):
    from apps.tenants.models import Tier

    Tier.objects.filter(slug="free").update(max_users=9)

    assert root.get(f"admin/tenants/{alpha.pk}").json()["limits"]["max_users"] == 9


def test_the_time_zone_is_validated(root, alpha):
    assert root.patch(f"admin/tenants/{alpha.pk}", {"time_zone": "Europe/Berlin"}).json()["time_zone"] == (
        "Europe/Berlin"
    )
    refused = root.patch(f"admin/tenants/{alpha.pk}", {"time_zone": "Mars/Olympus"})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "time_zone_invalid")


@pytest.mark.parametrize(
    "body",
    [
        {"limits": {"max_users": -1}},
        {"limits": {"bananas": 3}},
        {"status": "pending_setup"},
        {"tier": "gold"},
        {"limits": {"requests_per_minute": "lots"}},
    ],
)
def test_bad_changes_are_refused_and_change_nothing(root, alpha, body):
    before = Tenant.objects.values().get(pk=alpha.pk)

    response = root.patch(f"admin/tenants/{alpha.pk}", body)

    assert response.status_code == 400
    assert Tenant.objects.values().get(pk=alpha.pk) == before


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN])
def test_tenant_roles_cannot_use_the_admin_api(users, alpha, role):
    response = as_user(users[role]).patch(f"admin/tenants/{alpha.pk}", {"tier": "enterprise"})

    assert response.status_code == 403
    assert Tenant.objects.get(pk=alpha.pk).tier == "free"


def test_deleting_marks_the_tenant_and_its_host_disappears(root, alpha, alpha_client):
    assert root.patch(f"admin/tenants/{alpha.pk}", {"status": "deleted"}).status_code == 200

    assert Tenant.objects.get(pk=alpha.pk).status == TenantStatus.DELETED
    assert alpha_client.get("/accounts/login/").status_code == 404


def test_global_admins_list_and_edit_tiers(root, alpha, users):
    tiers = root.get("admin/tiers").json()["results"]
    assert [tier["slug"] for tier in tiers] == ["free", "basic", "pro", "enterprise"]
    assert tiers[0]["uploads_per_minute"] == 5

    changed = root.patch("admin/tiers/free", {"max_users": 9, "searches_per_minute": 60})

    assert (changed.status_code, changed.json()["max_users"]) == (200, 9)
    assert root.get(f"admin/tenants/{alpha.pk}").json()["limits"]["max_users"] == 9
    event = AuditEvent.objects.get(action=AuditAction.TIER_CHANGED)
    assert event.details == {"tier": "free", "max_users": [5, 9], "searches_per_minute": [50, 60]}
    assert event.actor == users["global"]


def test_bad_tier_changes_are_refused(root):
    assert root.patch("admin/tiers/free", {"max_users": -1}).status_code == 400
    missing = root.patch("admin/tiers/gold", {"max_users": 1})
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "tier_not_found")


def test_tenant_admins_cannot_edit_tiers(users):
    assert as_user(users[Role.OWNER]).patch("admin/tiers/free", {"max_users": 1000}).status_code == 403
