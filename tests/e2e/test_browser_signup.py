"""Self-service sign-up in Chromium, against the whole product with sign-up open: the form on the
public site, the link from the mail file, the new workspace's dashboard, signed in."""

import re
import time

import pytest

from tests.e2e.conftest import screenshot
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def mailed_link(product, address: str, after: float) -> str:
    def find():
        for path in sorted((product.data_dir / "mail").glob("*")):
            if path.stat().st_mtime < after:
                continue
            text = path.read_text(errors="replace")
            if address in text and "/signup/confirm/" in text:
                return re.search(r"http://\S+/signup/confirm/\S+/", text).group(0)
        return None

    return eventually(find, timeout=30, message=f"no sign-up mail to {address}")


def test_a_visitor_signs_up_confirms_and_lands_in_the_new_workspace(product, page):
    started = time.time() - 1
    page.goto(product.url("/"))
    page.click("[data-testid=signup-link]")
    page.fill("#id_name", "Zeta Studio")
    page.fill("#id_slug", "zeta")
    page.fill("#id_email", "founder@zeta.test")
    page.fill("#id_password", "a long enough passphrase 42")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=signup-sent]")

    page.goto(mailed_link(product, "founder@zeta.test", started))
    page.wait_for_selector("[data-testid=signup-confirm]")
    assert "zeta" in page.inner_text("[data-testid=signup-confirm]")
    page.click("button[type=submit]")

    page.wait_for_selector("[data-testid=user-email]", timeout=120_000)
    assert page.url.startswith(product.url("/", host="zeta.localhost"))
    assert page.inner_text("[data-testid=tenant-name]") == "Zeta Studio"
    assert page.inner_text("[data-testid=user-email]").startswith("founder@zeta.test")
    assert "Tenant owner" in page.inner_text("[data-testid=user-email]")
    screenshot(page, "signup-landed")


def test_a_reserved_address_is_explained(product, page):
    page.goto(product.url("/signup/"))
    page.fill("#id_name", "Admin")
    page.fill("#id_slug", "admin")
    page.fill("#id_email", "someone@zeta.test")
    page.fill("#id_password", "a long enough passphrase 42")
    page.click("button[type=submit]")

    assert "is reserved" in page.inner_text(".field-error")


def test_a_signed_up_workspace_requires_sso_and_its_admin_signs_in_with_a_second_factor(
    product, browser, page, tmp_path
):
    """The issue's whole story in the browser: sign up, add the identity provider and require it on
    the Sign-in settings page, then a member of the provider's admin group signs in through it, is
    made an admin and enrols a second factor."""
    import pyotp

    from tests.oidc.provider import CLIENT_ID, CLIENT_SECRET, OpenIdProvider

    op = OpenIdProvider(
        redirect_uris=[f"http://eta.localhost:{product.port}/accounts/sso/corp/callback/"],
        accounts={"lin@corp.test": {"groups": ["deeplens-admins"]}},
    ).start(tmp_path)
    try:
        started = time.time() - 1
        page.goto(product.url("/signup/"))
        page.fill("#id_name", "Eta Works")
        page.fill("#id_slug", "eta")
        page.fill("#id_email", "owner@eta.test")
        page.fill("#id_password", "a long enough passphrase 42")
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=signup-sent]")
        page.goto(mailed_link(product, "owner@eta.test", started))
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=user-email]", timeout=120_000)

        page.click("nav >> text=Sign-in")
        page.fill("#id_name", "Corp ID")
        page.fill("#id_slug", "corp")
        page.fill("#id_issuer", op.issuer)
        page.fill("#id_client_id", CLIENT_ID)
        page.fill("#id_client_secret", CLIENT_SECRET)
        page.fill("#id_allowed_domains", "corp.test")
        page.select_option("#id_default_role", "viewer")
        page.fill("#id_role_claim", "groups")
        page.fill("#id_role_mapping", "deeplens-admins = admin")
        page.click("text=Add provider")
        page.wait_for_selector("tr[data-slug=corp]")
        page.check("input[name=sso_required]")
        page.select_option("#id_break_glass", label="owner@eta.test")
        with page.expect_navigation():
            page.click("[data-testid=sso-policy] >> text=Save")
        assert "The SSO policy is saved." in page.inner_text(".messages")
        page.check("input[name=mfa_required]")
        with page.expect_navigation():
            page.click("[data-testid=mfa-policy] >> text=Save")
        assert "The two-factor policy is saved." in page.inner_text(".messages")
        screenshot(page, "sign-in-settings")

        person = browser.new_context().new_page()
        person.goto(product.url("/accounts/login/", host="eta.localhost"))
        assert person.is_visible("[data-testid=sso-required]")
        person.click("[data-testid=sso-corp]")
        person.fill("input[name=login]", "lin@corp.test")
        person.fill("input[name=password]", "any password")
        with person.expect_navigation():
            person.click("button[type=submit]")
        if "/interaction/" in person.url:
            with person.expect_navigation():
                person.click("button[type=submit]")
        person.wait_for_selector("[data-testid=mfa-secret]")
        person.fill("input[name=code]", pyotp.TOTP(person.inner_text("[data-testid=mfa-secret]")).now())
        person.click("button[type=submit]")
        person.click("[data-testid=recovery-continue]")
        person.wait_for_selector("[data-testid=user-email]")
        badge = person.inner_text("[data-testid=user-email]")
        assert badge.startswith("lin@corp.test")
        assert "Tenant admin" in badge
        assert person.inner_text("[data-testid=tenant-name]") == "Eta Works"
        screenshot(person, "sso-admin-signed-in")
        person.context.close()
    finally:
        op.stop()
