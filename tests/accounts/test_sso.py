"""Single sign-on against a real OpenID provider (npm oidc-provider in its own process, on loopback):
the authorization code flow with PKCE, state and nonce, the ID token checks, just-in-time
provisioning, role mapping, SSO-required workspaces and the API hand-off. The provider's pages are
walked with plain HTTP here; tests/e2e/test_browser_sso.py does it in Chromium."""

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pyotp
import pytest
from django.conf import settings

from apps.accounts.models import RefreshToken, Role, SsoIdentity, SsoProvider, User
from apps.accounts.services import mfa_setup_confirm, mfa_setup_start
from apps.accounts.services.sso import sso_policy_set, sso_provider_create
from apps.audit.context import Actor
from apps.audit.models import AuditAction, AuditEvent
from tests.api import Api, as_user, host
from tests.conftest import tenant_client
from tests.factories import PASSWORD, UserFactory
from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, OpenIdProvider, sign_in_at_provider

CALLBACK = f"http://alpha.{settings.DEEPLENS_BASE_DOMAIN}/accounts/sso/acme/callback/"
ACCOUNTS = {
    "ada@acme.test": {"given_name": "Ada", "family_name": "Lovelace", "groups": ["staff", "deeplens-admins"]},
    "grace@acme.test": {"groups": ["deeplens-members"]},
    "unverified@acme.test": {"email_verified": False},
}


@pytest.fixture(scope="module")
def op(tmp_path_factory):
    provider = OpenIdProvider(redirect_uris=[CALLBACK], accounts=ACCOUNTS)
    provider.start(tmp_path_factory.mktemp("op"))
    yield provider
    provider.stop()


@pytest.fixture
def acme(op, alpha) -> SsoProvider:
    return sso_provider_create(
        tenant=alpha,
        actor=Actor.system(),
        slug="acme",
        name="Acme ID",
        issuer=op.issuer,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        allowed_domains=["acme.test"],
        default_role=Role.VIEWER,
        role_claim="groups",
        role_mapping={"deeplens-admins": Role.ADMIN, "deeplens-members": Role.MEMBER},
    )


def start(client, query: str = "next=/images/"):
    response = client.get(f"/accounts/sso/acme/start/?{query}")
    assert response.status_code == 302, response.content[:300]
    return response["Location"]


def sso(client, login: str, query: str = "next=/images/"):
    """Sign in through the provider; the response of DeepLens's callback."""
    back = sign_in_at_provider(start(client, query), login, stop_at=CALLBACK)
    return client.get(back.removeprefix(f"http://alpha.{settings.DEEPLENS_BASE_DOMAIN}"))


def test_the_redirect_carries_state_nonce_and_a_pkce_challenge(acme, alpha, op):
    params = parse_qs(urlsplit(start(tenant_client(alpha))).query)

    assert params["client_id"] == [CLIENT_ID]
    assert params["response_type"] == ["code"]
    assert params["redirect_uri"] == [CALLBACK]
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["code_challenge"][0]) == 43
    assert len(params["state"][0]) >= 20 and len(params["nonce"][0]) >= 20
    assert params["scope"] == ["openid email profile"]


def test_a_first_sign_in_provisions_the_person_with_the_default_role(acme, alpha, op):
    client = tenant_client(alpha)

    response = sso(client, "bob@acme.test")

    assert response.status_code == 302
    assert response["Location"] == "/images/"
    user = User.objects.get(tenant=alpha, email="bob@acme.test")
    assert client.session["_auth_user_id"] == str(user.pk)
    assert user.role == Role.VIEWER
    assert (user.first_name, user.last_name) == ("Bob", "Tester")
    assert not user.has_usable_password()
    assert SsoIdentity.objects.get(user=user).subject == "bob@acme.test"
    assert AuditEvent.objects.get(action=AuditAction.SSO_USER_PROVISIONED).details == {
        "email": "bob@acme.test",
        "role": "viewer",
        "provider": "acme",
    }
    assert AuditEvent.objects.get(action=AuditAction.LOGIN_SUCCEEDED, actor=user).details == {
        "channel": "sso:acme"
    }


def test_the_role_follows_the_groups_claim_at_every_sign_in(acme, alpha, op):
    assert sso(tenant_client(alpha), "ada@acme.test").status_code == 302
    ada = User.objects.get(tenant=alpha, email="ada@acme.test")
    assert ada.role == Role.ADMIN
    assert (ada.first_name, ada.last_name) == ("Ada", "Lovelace")

    acme.role_mapping = {"deeplens-admins": Role.MEMBER}
    acme.save(update_fields=["role_mapping"])
    assert sso(tenant_client(alpha), "ada@acme.test").status_code == 302

    ada.refresh_from_db()
    assert ada.role == Role.MEMBER
    assert SsoIdentity.objects.filter(user=ada).count() == 1
    change = AuditEvent.objects.get(action=AuditAction.USER_ROLE_CHANGED, target_id=str(ada.pk))
    assert change.details == {"from": "admin", "to": "member", "by": "sso:acme"}


def test_an_existing_member_is_linked_by_e_mail(acme, alpha, op):
    grace = UserFactory(tenant=alpha, email="grace@acme.test", role=Role.VIEWER)

    assert sso(tenant_client(alpha), "grace@acme.test").status_code == 302

    grace.refresh_from_db()
    assert grace.role == Role.MEMBER
    assert SsoIdentity.objects.get(provider=acme, subject="grace@acme.test").user == grace
    assert User.objects.filter(tenant=alpha, email="grace@acme.test").count() == 1


@pytest.mark.parametrize(
    ("login", "code"),
    [
        ("wrong-aud@acme.test", "sso_id_token_invalid"),
        ("expired@acme.test", "sso_id_token_expired"),
        ("eve@evil.test", "sso_domain_not_allowed"),
        ("unverified@acme.test", "sso_email_unverified"),
    ],
)
def test_a_bad_id_token_or_an_outsider_stays_out(acme, alpha, op, login, code):
    client = tenant_client(alpha)

    response = sso(client, login)

    assert response.status_code == 403
    assert f"code: {code}" in response.content.decode()
    assert "_auth_user_id" not in client.session
    assert not User.objects.filter(email=login).exists()
    assert not SsoIdentity.objects.exists()


def test_an_outsider_is_audited(acme, alpha, op):
    sso(tenant_client(alpha), "eve@evil.test")

    event = AuditEvent.objects.get(action=AuditAction.SSO_LOGIN_REFUSED)
    assert event.details == {"reason": "sso_domain_not_allowed", "email": "eve@evil.test", "provider": "acme"}
    assert event.tenant_id == alpha.pk


def test_a_tampered_or_replayed_state_is_refused(acme, alpha, op):
    client = tenant_client(alpha)
    back = sign_in_at_provider(start(client), "bob@acme.test", stop_at=CALLBACK)
    parts = urlsplit(back)
    query = parse_qs(parts.query)
    query["state"] = ["forged-" + query["state"][0]]
    forged = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))

    response = client.get(forged.removeprefix(f"http://alpha.{settings.DEEPLENS_BASE_DOMAIN}"))

    assert response.status_code == 403
    assert "code: sso_state_invalid" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # A callback nobody started in this browser is refused too.
    stranger = tenant_client(alpha).get(back.removeprefix(f"http://alpha.{settings.DEEPLENS_BASE_DOMAIN}"))
    assert stranger.status_code == 403
    assert "code: sso_state_invalid" in stranger.content.decode()
    assert not User.objects.filter(email="bob@acme.test").exists()


def test_a_deactivated_person_stays_out(acme, alpha, op):
    UserFactory(tenant=alpha, email="bob@acme.test", is_active=False)
    client = tenant_client(alpha)

    response = sso(client, "bob@acme.test")

    assert response.status_code == 403
    assert "code: account_deactivated" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_second_factor_is_asked_after_the_provider(acme, alpha, op):
    ada = UserFactory(tenant=alpha, email="ada@acme.test", role=Role.ADMIN)
    secret = mfa_setup_start(user=ada).secret
    mfa_setup_confirm(user=ada, code=pyotp.TOTP(secret).now(), actor=Actor(user=ada))
    client = tenant_client(alpha)

    response = sso(client, "ada@acme.test")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/mfa/"
    assert "_auth_user_id" not in client.session


def test_sso_required_refuses_passwords_except_the_break_glass_owner(acme, alpha, op, users):
    sso_policy_set(
        tenant=alpha, sso_required=True, break_glass_user_id=users[Role.OWNER].pk, actor=Actor.system()
    )

    page = tenant_client(alpha).post(
        "/accounts/login/", {"username": "admin@alpha.test", "password": PASSWORD}
    )
    assert page.status_code == 403
    assert "signs in through its identity provider" in page.content.decode()
    api = Api(host()).post(
        "auth/login", {"tenant": "alpha", "email": "admin@alpha.test", "password": PASSWORD}
    )
    assert api.status_code == 403
    assert api.json()["error"]["code"] == "sso_required"
    assert not RefreshToken.objects.filter(user=users[Role.ADMIN]).exists()

    owner = Api(host()).post(
        "auth/login", {"tenant": "alpha", "email": "owner@alpha.test", "password": PASSWORD}
    )
    assert owner.status_code == 200
    login_page = tenant_client(alpha).get("/accounts/login/").content.decode()
    assert 'data-testid="sso-required"' in login_page
    assert "Sign in with Acme ID" in login_page
    assert sso(tenant_client(alpha), "bob@acme.test").status_code == 302


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def test_an_api_client_gets_the_usual_token_pair_after_sso(acme, alpha, op):
    verifier, challenge = _pkce()
    client = tenant_client(alpha)
    query = urlencode(
        {"client": "api", "redirect_uri": "http://127.0.0.1:8765/done", "code_challenge": challenge}
    )

    answer = sso(client, "ada@acme.test", query)

    assert answer.status_code == 302
    assert answer["Location"].startswith("http://127.0.0.1:8765/done?code=")
    assert "_auth_user_id" not in client.session  # the browser is not signed in: the app is
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    wrong = Api(host()).post("auth/sso/token", {"code": code, "code_verifier": _pkce()[0]})
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "sso_code_invalid"

    # The code was spent by the wrong verifier: start again.
    answer = sso(tenant_client(alpha), "ada@acme.test", query)
    code = parse_qs(urlsplit(answer["Location"]).query)["code"][0]
    tokens = Api(host()).post("auth/sso/token", {"code": code, "code_verifier": verifier})

    assert tokens.status_code == 200
    assert tokens.json()["user"]["email"] == "ada@acme.test"
    assert tokens.json()["user"]["role"] == "admin"
    me = Api(host(alpha), f"Bearer {tokens.json()['access']}").get("auth/me")
    assert me.json()["tenant"]["slug"] == "alpha"
    again = Api(host()).post("auth/sso/token", {"code": code, "code_verifier": verifier})
    assert again.status_code == 401


@pytest.mark.parametrize(
    "query",
    [
        {"client": "api", "redirect_uri": "https://evil.example/cb", "code_challenge": "x" * 43},
        {"client": "api", "redirect_uri": "http://127.0.0.1:9/cb", "code_challenge": "short"},
    ],
)
def test_an_api_sign_in_needs_a_loopback_redirect_and_a_challenge(acme, alpha, op, query):
    response = tenant_client(alpha).get(f"/accounts/sso/acme/start/?{urlencode(query)}")

    assert response.status_code == 400
    assert "code: sso_api_request_invalid" in response.content.decode()


def test_an_unknown_or_other_workspaces_provider_is_404(acme, beta, op):
    assert tenant_client(beta).get("/accounts/sso/acme/start/").status_code == 404


# --- configuration over the API ----------------------------------------------------------------


def provider_body(op, **overrides):
    return {
        "slug": "corp",
        "name": "Corp",
        "issuer": op.issuer,
        "client_id": "corp-app",
        "client_secret": "s3cret",
        "allowed_domains": ["Corp.Example", "@acme.test"],
        "default_role": "member",
        "role_claim": "groups",
        "role_mapping": {"admins": "admin"},
        **overrides,
    }


def test_the_owner_configures_a_provider_and_the_secret_never_comes_back(users, alpha, op):
    api = as_user(users[Role.OWNER])

    created = api.post("sso/providers", provider_body(op))

    assert created.status_code == 201, created.content
    body = created.json()
    assert "client_secret" not in body
    assert body["client_secret_set"] is True
    assert body["allowed_domains"] == ["acme.test", "corp.example"]
    assert body["callback_url"] == "/accounts/sso/corp/callback/"
    provider = SsoProvider.objects.get(pk=body["id"])
    assert "s3cret" not in provider.client_secret_encrypted
    event = AuditEvent.objects.get(action=AuditAction.SSO_PROVIDER_CREATED)
    assert "s3cret" not in str(event.details)
    assert api.patch(f"sso/providers/{body['id']}", {"name": "Corp SSO"}).json()["name"] == "Corp SSO"
    assert AuditEvent.objects.get(action=AuditAction.SSO_PROVIDER_UPDATED).details == {"changed": ["name"]}
    assert api.delete(f"sso/providers/{body['id']}").status_code == 204
    assert not SsoProvider.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"issuer": "http://10.1.2.3/realms/x"}, "issuer"),
        ({"issuer": "http://169.254.169.254/latest"}, "issuer"),
        ({"issuer": "https://user:pw@login.example.com"}, "issuer"),
        ({"allowed_domains": ["not a domain"]}, "allowed_domains"),
        ({"role_mapping": {"x": "global_admin"}}, "role_mapping"),
        ({"scopes": "email profile"}, "scopes"),
    ],
)
def test_bad_provider_settings_are_refused_per_field(users, alpha, op, overrides, field):
    response = as_user(users[Role.OWNER]).post("sso/providers", provider_body(op, **overrides))

    assert response.status_code == 400
    assert field in response.json()["error"]["detail"], response.json()
    assert not SsoProvider.objects.exists()


def test_admins_and_other_workspaces_cannot_touch_providers(users, alpha, beta, acme):
    """An admin who could point the workspace at their own provider could sign in as its owner."""
    assert as_user(users[Role.MEMBER]).get("sso/providers").status_code == 403
    assert as_user(users[Role.ADMIN]).get("sso/providers").status_code == 403
    assert (
        as_user(users[Role.ADMIN])
        .patch(f"sso/providers/{acme.pk}", {"issuer": "https://evil.example"})
        .status_code
        == 403
    )
    beta_admin = UserFactory(tenant=beta, role=Role.OWNER, email="owner@beta.test")
    assert as_user(beta_admin).get(f"sso/providers/{acme.pk}").status_code == 404
    assert as_user(beta_admin).delete(f"sso/providers/{acme.pk}").status_code == 404
    assert SsoProvider.objects.filter(pk=acme.pk).exists()


def test_sso_required_needs_a_break_glass_owner(users, alpha, acme):
    owner = as_user(users[Role.OWNER])

    missing = owner.call("put", "settings/sso-policy", {"sso_required": True})
    not_owner = owner.call(
        "put", "settings/sso-policy", {"sso_required": True, "break_glass_user_id": str(users[Role.ADMIN].pk)}
    )
    ok = owner.call(
        "put", "settings/sso-policy", {"sso_required": True, "break_glass_user_id": str(users[Role.OWNER].pk)}
    )

    assert missing.status_code == 400 and "break_glass_user_id" in missing.json()["error"]["detail"]
    assert not_owner.status_code == 400
    assert ok.status_code == 200
    assert ok.json() == {"sso_required": True, "break_glass_user_id": str(users[Role.OWNER].pk)}
    assert (
        as_user(users[Role.ADMIN]).call("put", "settings/sso-policy", {"sso_required": False}).status_code
        == 403
    )
    # The last provider of an SSO-only workspace cannot be removed.
    assert owner.delete(f"sso/providers/{acme.pk}").status_code == 400
