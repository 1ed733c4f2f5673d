import pytest

from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e


def sign_in(page, product, email="admin@demo.local", password="demo-admin"):
    page.goto(product.url("/accounts/login/", host="demo.localhost"))
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=user-email]")


def test_a_tenant_admin_invites_a_user_creates_a_key_and_reads_the_audit_log(product, page):
    sign_in(page, product)

    page.click("nav >> text=Team")
    page.fill("#id_email", "new.colleague@demo.local")
    page.select_option("#id_role", "viewer")
    page.click("text=Send invitation")
    page.wait_for_selector("tr[data-email='new.colleague@demo.local']")
    assert "is invited" in page.inner_text(".messages")
    screenshot(page, "team")

    page.click("nav >> text=API keys")
    page.fill("#id_name", "nightly sync")
    page.check("input[value=search]")
    page.click("text=Create key")
    key = page.inner_text("[data-testid=new-key-value]")
    assert key.startswith("dl_")
    screenshot(page, "api-key-created")
    page.goto(product.url("/settings/api-keys/", host="demo.localhost"))
    assert page.query_selector("[data-testid=new-key-value]") is None
    assert key not in page.content()

    page.click("nav >> text=Audit log")
    log = page.inner_text("[data-testid=audit-events]")
    assert "API key created" in log
    assert "User created" in log
    assert "Signed in" in log
    screenshot(page, "audit-log")


def test_a_member_does_not_see_admin_pages(product, page):
    sign_in(page, product, "member@demo.local", "demo-member")

    assert page.query_selector("nav >> text=Team") is None
    response = page.goto(product.url("/settings/users/", host="demo.localhost"))
    assert response.status == 403


def test_a_global_admin_impersonates_from_the_admin_with_a_banner(product, page):
    page.goto(product.url("/admin/login/?next=/admin/accounts/user/", host="localhost"))
    page.fill("input[name=username]", "admin@deeplens.local")
    page.fill("input[name=password]", "deeplens-admin")
    page.click("input[type=submit]")
    page.click("tr:has-text('member@demo.local') >> text=Impersonate")
    page.fill("textarea[name=reason]", "support ticket 1234")
    page.click("input[value='Start impersonating']")

    banner = page.wait_for_selector("[data-testid=impersonation-banner]")
    assert "acting as member@demo.local" in banner.inner_text()
    assert page.url.startswith(product.url("/", host="demo.localhost"))
    screenshot(page, "impersonation-banner")

    page.click("text=Stop impersonating")
    page.wait_for_selector("[data-testid=impersonation-stopped]")
    page.goto(product.url("/", host="demo.localhost"))
    assert "/accounts/login/" in page.url


def test_password_reset_is_reachable_from_sign_in(product, page):
    page.goto(product.url("/accounts/login/", host="demo.localhost"))
    page.click("text=Forgot your password?")
    page.fill("#id_email", "member@demo.local")
    page.click("text=Email me a link")

    assert "Check your email" in page.inner_text("[data-testid=reset-sent]")
    mails = [path.read_text() for path in (product.data_dir / "mail").glob("*.log")]
    resets = [
        text for text in mails if "Reset your DeepLens password" in text and "To: member@demo.local" in text
    ]
    assert len(resets) == 1
    assert "http://demo.localhost:" in resets[0]
    assert "/accounts/reset/" in resets[0]


def test_a_tenant_admin_reads_the_usage_page(product, page):
    sign_in(page, product)

    page.click("nav >> text=Usage")
    page.wait_for_selector("[data-testid=calls-chart]")
    assert "Enterprise plan" in page.inner_text("[data-testid=tier]")
    assert "of 1,000,000" in page.inner_text("[data-testid=calls-today]")
    screenshot(page, "usage")


def test_a_global_admin_sees_every_tenants_usage(product, page):
    page.goto(product.url("/admin/login/?next=/admin/usage/", host="localhost"))
    page.fill("input[name=username]", "admin@deeplens.local")
    page.fill("input[name=password]", "deeplens-admin")
    page.click("input[type=submit]")
    page.wait_for_selector("#usage-overview")
    assert "Demo" in page.inner_text("#usage-overview")
    screenshot(page, "admin-usage")
