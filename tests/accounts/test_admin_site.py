"""The Django admin for global admins: tenants, users across tenants, API keys, audit log."""

import pytest
from django.test import override_settings

from apps.accounts.models import ApiKey, Role, User
from apps.audit.models import AuditAction, AuditEvent
from apps.tenants.models import Tenant, TenantStatus
from deeplens.settings import base
from tests.api import api_key_for
from tests.factories import PASSWORD


@pytest.fixture
def admin_client(users, public_client):
    public_client.post("/admin/login/?next=/admin/", {"username": "root@deeplens.test", "password": PASSWORD})
    return public_client


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/tenants/tenant/",
        "/admin/accounts/user/",
        "/admin/accounts/apikey/",
        "/admin/audit/auditevent/",
        "/admin/accounts/refreshtoken/",
        "/admin/accounts/impersonationsession/",
        "/admin/tenants/tenant/add/",
        "/admin/tenants/tier/",
        "/admin/usage/",
        "/admin/storage/",
    ],
)
def test_admin_pages_open_for_a_global_admin(admin_client, path):
    assert admin_client.get(path).status_code == 200


def test_creating_a_tenant_in_the_admin_provisions_it(admin_client):
    response = admin_client.post(
        "/admin/tenants/tenant/add/", {"name": "Omega", "slug": "omega", "tier": "basic"}
    )

    assert response.status_code == 302
    tenant = Tenant.objects.get(slug="omega")
    assert (tenant.status, tenant.limits.max_users) == (TenantStatus.ACTIVE, 20)
    assert AuditEvent.objects.filter(action=AuditAction.TENANT_CREATED, target_id=str(tenant.pk)).exists()


def test_an_invalid_slug_in_the_admin_is_explained(admin_client):
    response = admin_client.post(
        "/admin/tenants/tenant/add/", {"name": "Bad", "slug": "Bad_Slug", "tier": "free"}
    )

    assert response.status_code == 200
    assert "lowercase letters" in response.content.decode()
    assert not Tenant.objects.filter(name="Bad").exists()


def test_suspending_from_the_admin_is_audited(admin_client, alpha):
    admin_client.post("/admin/tenants/tenant/", {"action": "suspend", "_selected_action": [str(alpha.pk)]})

    assert Tenant.objects.get(pk=alpha.pk).status == TenantStatus.SUSPENDED
    assert AuditEvent.objects.get(action=AuditAction.TENANT_SUSPENDED).actor_email == "root@deeplens.test"


def test_revoking_a_key_from_the_admin(admin_client, users, alpha):
    api_key_for(tenant=alpha, creator=users[Role.OWNER], scopes=["search"])
    key = ApiKey.objects.get(tenant=alpha)

    admin_client.post("/admin/accounts/apikey/", {"action": "revoke", "_selected_action": [str(key.pk)]})

    assert ApiKey.objects.get(pk=key.pk).is_active is False


def test_changing_a_role_in_the_admin_is_audited(admin_client, users):
    member = users[Role.MEMBER]
    response = admin_client.post(
        f"/admin/accounts/user/{member.pk}/change/",
        {
            "email": member.email,
            "first_name": "",
            "last_name": "",
            "tenant": str(member.tenant_id),
            "role": "admin",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    assert User.objects.get(pk=member.pk).role == Role.ADMIN
    assert AuditEvent.objects.get(action=AuditAction.USER_ROLE_CHANGED).details["to"] == "admin"


def test_audit_events_cannot_be_edited_or_deleted_in_the_admin(admin_client, users):
    event = AuditEvent.objects.first()

    assert admin_client.get(f"/admin/audit/auditevent/{event.pk}/delete/").status_code == 403
    assert b'name="_save"' not in admin_client.get(f"/admin/audit/auditevent/{event.pk}/change/").content


def test_the_public_home_lists_workspaces_for_a_global_admin(admin_client):
    content = admin_client.get("/").content.decode()

    assert 'data-testid="tenant-selector"' in content
    assert "//alpha.localhost/" in content


def test_tenant_users_cannot_open_the_admin(users, public_client):
    public_client.post("/admin/login/?next=/admin/", {"username": "owner@alpha.test", "password": PASSWORD})

    assert public_client.get("/admin/").status_code == 302


@override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS)
def test_passwords_are_hashed_with_argon2(alpha):
    user = User.objects.create_user(
        "argon@alpha.test", "a long enough password", tenant=alpha, role=Role.MEMBER
    )

    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password("a long enough password")


def test_a_tier_edited_in_the_admin_applies_to_its_tenants(admin_client, alpha):
    from apps.tenants.models import Tier

    tier = Tier.objects.get(slug="free")
    response = admin_client.post(
        f"/admin/tenants/tier/{tier.pk}/change/",
        {
            "requests_per_minute": 100,
            "searches_per_minute": 50,
            "uploads_per_minute": 5,
            "max_storage_bytes": 2 * 1024**3,
            "max_users": 6,
            "max_api_calls_per_day": 1000,
        },
    )

    assert response.status_code == 302
    assert Tenant.objects.get(pk=alpha.pk).limits.max_storage_bytes == 2 * 1024**3


def test_a_tenant_override_set_in_the_admin_and_cleared(admin_client, alpha):
    form = {"name": "Alpha", "status": "active", "tier": "free", "time_zone": "UTC", "max_users": 8}
    form |= {"domains-TOTAL_FORMS": 0, "domains-INITIAL_FORMS": 0}
    response = admin_client.post(f"/admin/tenants/tenant/{alpha.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    assert Tenant.objects.get(pk=alpha.pk).limits.max_users == 8

    form["max_users"] = ""
    admin_client.post(f"/admin/tenants/tenant/{alpha.pk}/change/", form)
    tenant = Tenant.objects.get(pk=alpha.pk)
    assert (tenant.max_users, tenant.limits.max_users) == (None, 5)


def test_the_usage_overview_lists_every_tenant(admin_client, alpha, beta):
    page = admin_client.get("/admin/usage/").content.decode()

    assert "Alpha" in page and "Beta" in page
