"""The owner's Sign-in settings page: providers, SSO required, the two-factor requirement."""

from apps.accounts.models import Role, SsoPolicy, SsoProvider
from apps.audit.models import AuditAction, AuditEvent
from tests.conftest import signed_in

PROVIDER = {
    "action": "provider_add",
    "name": "Acme ID",
    "slug": "acme",
    "issuer": "http://127.0.0.1:9",
    "client_id": "deeplens",
    "client_secret": "s3cret",
    "allowed_domains": "acme.test, Example.org",
    "default_role": "viewer",
    "role_claim": "groups",
    "role_mapping": "deeplens-admins = admin\nstaff=member",
}


def test_the_owner_adds_and_removes_a_provider(users, alpha):
    owner = signed_in(alpha, users[Role.OWNER].email)

    added = owner.post("/settings/sign-in/", PROVIDER)

    assert added.status_code == 302
    provider = SsoProvider.objects.get(tenant=alpha)
    assert provider.allowed_domains == ["acme.test", "example.org"]
    assert provider.role_mapping == {"deeplens-admins": "admin", "staff": "member"}
    page = owner.get("/settings/sign-in/").content.decode()
    assert "http://alpha.localhost/accounts/sso/acme/callback/" in page
    assert "s3cret" not in page
    assert (
        owner.post(
            "/settings/sign-in/", {"action": "provider_delete", "provider": str(provider.pk)}
        ).status_code
        == 302
    )
    assert not SsoProvider.objects.exists()


def test_an_internal_issuer_is_refused_on_the_form(users, alpha):
    owner = signed_in(alpha, users[Role.OWNER].email)

    response = owner.post("/settings/sign-in/", {**PROVIDER, "issuer": "http://10.0.0.7/realms/x"})

    assert response.status_code == 400
    assert "DEEPLENS_SSO_ALLOWED_NETWORKS" in response.content.decode()
    assert not SsoProvider.objects.exists()


def test_the_owner_requires_sso_and_a_second_factor(users, alpha):
    owner = signed_in(alpha, users[Role.OWNER].email)
    owner.post("/settings/sign-in/", PROVIDER)

    refused = owner.post("/settings/sign-in/", {"action": "sso_policy", "sso_required": "on"})
    assert refused.status_code == 400
    assert "break-glass" in refused.content.decode()
    owner.post(
        "/settings/sign-in/",
        {"action": "sso_policy", "sso_required": "on", "break_glass_user_id": str(users[Role.OWNER].pk)},
    )
    owner.post("/settings/sign-in/", {"action": "mfa_policy", "mfa_required": "on"})

    policy = SsoPolicy.objects.get(tenant=alpha)
    assert (policy.sso_required, policy.break_glass_user_id) == (True, users[Role.OWNER].pk)
    alpha.refresh_from_db()
    assert alpha.mfa_required_for_admins is True
    assert AuditEvent.objects.filter(action=AuditAction.SSO_POLICY_CHANGED).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.MFA_POLICY_CHANGED).count() == 1


def test_an_admin_cannot_open_it(users, alpha):
    admin = signed_in(alpha, users[Role.ADMIN].email)

    assert admin.get("/settings/sign-in/").status_code == 403
    assert admin.post("/settings/sign-in/", PROVIDER).status_code == 403
    assert not SsoProvider.objects.exists()
