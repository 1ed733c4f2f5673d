import pytest

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

DEMO_ADMIN = ("admin@demo.local", "demo-admin")


def sign_in(page, product, email, password):
    page.goto(product.url("/", host="demo.localhost"))
    assert page.url.endswith("/accounts/login/?next=/")
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_the_demo_admin_signs_in_and_sees_the_dashboard(product, page):
    sign_in(page, product, *DEMO_ADMIN)

    page.wait_for_selector("[data-testid=storage-locations]")
    assert page.inner_text("h1") == "Demo"
    assert page.inner_text("[data-testid=user-email]").startswith("admin@demo.local")
    assert "Local files" in page.inner_text("[data-testid=storage-locations]")
    assert "large" in page.inner_text("[data-testid=thumbnail-specs]")
    # The stylesheet is served (WhiteNoise), so the page is styled.
    assert page.evaluate("getComputedStyle(document.querySelector('.card')).borderRadius") == "10px"
    assert screenshot(page, "dashboard").stat().st_size > 10_000

    page.click("text=Sign out")
    page.wait_for_selector("input[name=password]")
    assert "/accounts/login/" in page.url


def test_a_wrong_password_shows_an_error_and_keeps_the_user_out(product, page):
    sign_in(page, product, "admin@demo.local", "not the password")

    assert "do not match" in page.inner_text("[data-testid=login-error]")
    page.goto(product.url("/", host="demo.localhost"))
    assert "/accounts/login/" in page.url


def test_the_dashboard_works_on_a_phone(product, phone_page):
    sign_in(phone_page, product, *DEMO_ADMIN)

    phone_page.wait_for_selector("[data-testid=limits]")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    screenshot(phone_page, "dashboard-phone")


def test_an_unknown_workspace_gets_a_clear_page(product, page):
    response = page.goto(product.url("/", host="nowhere.localhost"))

    assert response.status == 404
    assert page.inner_text("h1") == "Workspace not found"
    screenshot(page, "unknown-workspace")
