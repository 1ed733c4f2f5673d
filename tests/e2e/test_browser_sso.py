"""Single sign-on in Chromium against a real OpenID provider (npm oidc-provider, tests/oidc/op.mjs)
and the whole product as `make run` starts it: the demo workspace configures the provider over the
API, people sign in with the button on its sign-in page, at the provider's own pages."""

import json
import re
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pyotp
import pytest

from tests.e2e.conftest import screenshot
from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, OpenIdProvider

pytestmark = pytest.mark.e2e

ACCOUNTS = {
    "ada@acme.test": {"given_name": "Ada", "family_name": "Lovelace", "groups": ["deeplens-admins"]},
    "grace@acme.test": {"given_name": "Grace", "family_name": "Hopper", "groups": ["deeplens-viewers"]},
}


def call(product, method: str, path: str, body=None, token: str = "", host: str = "demo.localhost"):
    request = urllib.request.Request(
        f"http://127.0.0.1:{product.port}/api/v1/{path}",
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Host": f"{host}:{product.port}",
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


@pytest.fixture(scope="module")
def root_token(product):
    status, body = call(
        product,
        "POST",
        "auth/login",
        {"email": "admin@deeplens.local", "password": "deeplens-admin"},
        host="localhost",
    )
    assert status == 200, body
    return body["access"]


@pytest.fixture(scope="module")
def op(product, tmp_path_factory):
    callback = f"http://demo.localhost:{product.port}/accounts/sso/acme/callback/"
    provider = OpenIdProvider(redirect_uris=[callback], accounts=ACCOUNTS)
    provider.start(tmp_path_factory.mktemp("op-e2e"))
    yield provider
    provider.stop()


@pytest.fixture(scope="module")
def acme(product, op, root_token):
    status, body = call(
        product,
        "POST",
        "sso/providers",
        {
            "slug": "acme",
            "name": "Acme ID",
            "issuer": op.issuer,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "allowed_domains": ["acme.test"],
            "default_role": "member",
            "role_claim": "groups",
            "role_mapping": {"deeplens-admins": "admin", "deeplens-viewers": "viewer"},
        },
        root_token,
    )
    assert status == 201, body
    yield body
    call(product, "PUT", "settings/sso-policy", {"sso_required": False}, root_token)
    call(product, "PUT", "settings/mfa-policy", {"mfa_required_for_admins": False}, root_token)
    call(product, "DELETE", f"sso/providers/{body['id']}", None, root_token)


def sign_in_with_acme(page, product, login: str):
    page.goto(product.url("/accounts/login/", host="demo.localhost"))
    page.click("[data-testid=sso-acme]")
    # The provider's own pages: its sign-in form, then its consent form.
    page.wait_for_selector("input[name=login]")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", "any password")
    with page.expect_navigation():
        page.click("button[type=submit]")
    if "/interaction/" in page.url:  # the provider's consent page
        with page.expect_navigation():
            page.click("button[type=submit]")


def test_a_person_signs_in_through_the_provider_with_the_mapped_role(product, page, acme):
    sign_in_with_acme(page, product, "grace@acme.test")

    page.wait_for_selector("[data-testid=user-email]")
    assert page.url.startswith(product.url("/", host="demo.localhost"))
    badge = page.inner_text("[data-testid=user-email]")
    assert badge.startswith("grace@acme.test")
    assert "Viewer" in badge
    screenshot(page, "sso-signed-in")


@pytest.mark.parametrize(
    ("login", "code"),
    [
        ("wrong-aud@acme.test", "sso_id_token_invalid"),
        ("expired@acme.test", "sso_id_token_expired"),
        ("eve@elsewhere.test", "sso_domain_not_allowed"),
    ],
)
def test_a_bad_id_token_or_an_outsider_is_refused(product, page, acme, login, code):
    sign_in_with_acme(page, product, login)

    page.wait_for_selector(".error-page")
    assert page.inner_text("h1") == "Sign-in refused"
    assert f"code: {code}" in page.inner_text(".error-page")
    page.goto(product.url("/", host="demo.localhost"))
    assert "/accounts/login/" in page.url
    screenshot(page, f"sso-refused-{code}")


def test_a_forged_state_is_refused(product, page, acme):
    """The browser's trip to the provider carries another state than the one DeepLens keeps (a
    request forged elsewhere): the provider sends it back, DeepLens refuses it."""

    def forge(route):
        # Playwright fetches outside Chromium, where *.localhost does not resolve: ask 127.0.0.1
        # with the workspace's Host header.
        response = route.fetch(
            url=route.request.url.replace("demo.localhost", "127.0.0.1"),
            headers={**route.request.headers, "host": f"demo.localhost:{product.port}"},
            max_redirects=0,
        )
        parts = urlsplit(response.headers["location"])
        query = parse_qs(parts.query)
        query["state"] = ["forged-" + query["state"][0]]
        location = urlunsplit(parts._replace(query=urlencode(query, doseq=True)))
        route.fulfill(status=302, headers={**response.headers, "location": location})

    page.route(re.compile(r".*/accounts/sso/acme/start/.*"), forge)
    sign_in_with_acme(page, product, "grace@acme.test")

    page.wait_for_selector(".error-page")
    assert "code: sso_state_invalid" in page.inner_text(".error-page")
    page.goto(product.url("/", host="demo.localhost"))
    assert "/accounts/login/" in page.url


def test_sso_required_refuses_passwords_and_admins_give_a_second_factor(product, page, acme, root_token):
    # An owner to keep a password (break glass), then SSO only and a second factor for admins.
    status, owner = call(
        product,
        "POST",
        "users",
        {"email": "owner@demo.local", "role": "owner", "password": "break-glass passphrase 7"},
        root_token,
    )
    assert status == 201, owner
    assert (
        call(
            product,
            "PUT",
            "settings/sso-policy",
            {"sso_required": True, "break_glass_user_id": owner["id"]},
            root_token,
        )[0]
        == 200
    )
    assert (
        call(product, "PUT", "settings/mfa-policy", {"mfa_required_for_admins": True}, root_token)[0] == 200
    )

    page.goto(product.url("/accounts/login/", host="demo.localhost"))
    assert page.is_visible("[data-testid=sso-required]")
    page.fill("input[name=username]", "member@demo.local")
    page.fill("input[name=password]", "demo-member")
    page.click("button[type=submit]")
    assert "signs in through its identity provider" in page.inner_text("[data-testid=login-error]")

    sign_in_with_acme(page, product, "ada@acme.test")
    page.wait_for_selector("[data-testid=mfa-qr] svg")
    secret = page.inner_text("[data-testid=mfa-secret]")
    page.fill("input[name=code]", pyotp.TOTP(secret).now())
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=recovery-codes]")
    assert len(page.query_selector_all("[data-testid=recovery-code]")) == 10
    screenshot(page, "sso-mfa-recovery-codes")
    page.click("[data-testid=recovery-continue]")
    page.wait_for_selector("[data-testid=user-email]")
    badge = page.inner_text("[data-testid=user-email]")
    assert badge.startswith("ada@acme.test")
    assert "Tenant admin" in badge
