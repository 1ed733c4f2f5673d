"""Two-factor sign-in in Chromium: a person adds an authenticator on their profile, and the next
password sign-in asks for its code."""

import time

import pyotp
import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_sso import call

pytestmark = pytest.mark.e2e

EMAIL, PASSWORD = "two-factor@demo.local", "a long enough passphrase 42"


def sign_in(page, product):
    page.goto(product.url("/accounts/login/", host="demo.localhost"))
    page.fill("input[name=username]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def test_a_person_enrols_on_the_profile_and_then_signs_in_with_a_code(product, page):
    status, body = call(
        product,
        "POST",
        "auth/login",
        {"email": "admin@deeplens.local", "password": "deeplens-admin"},
        host="localhost",
    )
    assert status == 200, body
    status, body = call(
        product, "POST", "users", {"email": EMAIL, "role": "member", "password": PASSWORD}, body["access"]
    )
    assert status == 201, body

    sign_in(page, product)
    page.wait_for_selector("[data-testid=user-email]")
    page.goto(product.url("/accounts/profile/", host="demo.localhost"))
    page.click("text=Set up an authenticator")
    page.wait_for_selector("[data-testid=mfa-qr] svg")
    totp = pyotp.TOTP(page.inner_text("[data-testid=mfa-secret]"))
    page.fill("[data-testid=mfa] input[name=code]", totp.now())
    page.click("text=Turn on")
    page.wait_for_selector("[data-testid=recovery-codes]")
    assert len(page.query_selector_all("[data-testid=recovery-code]")) == 10
    page.goto(product.url("/", host="demo.localhost"))
    page.click("text=Sign out")
    page.wait_for_selector("input[name=password]")

    sign_in(page, product)
    page.wait_for_selector("[data-testid=mfa-step]")
    assert "/accounts/login/mfa/" in page.url
    page.fill("input[name=code]", "000000")
    page.click("button[type=submit]")
    assert "That code is not valid." in page.inner_text("[data-testid=mfa-error]")
    screenshot(page, "mfa-code-page")
    page.fill("input[name=code]", totp.at(time.time() + totp.interval))
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=user-email]")
    assert page.inner_text("[data-testid=user-email]").startswith(EMAIL)
