"""The Settings and Jobs pages in the browser: an admin sees the owner's fields marked and locked,
changes the duplicate policy and a thumbnail size, gets a success message (styled apart from
errors), sees a bad value refused next to its field with the input kept, applies the thumbnail sizes
and follows the job on the Jobs page until it is done; they and the search page fit a 390 px phone."""

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def test_settings_and_jobs_pages(product, page, phone_page):
    sign_in(page, product)
    page.click("nav >> text=Settings")
    page.wait_for_selector("[data-testid=settings-form]")

    assert page.is_disabled("#id_retention_days")
    assert "owner only" in page.inner_text("[data-field=retention_days]")
    assert page.is_enabled("#id_keeper_criteria")
    assert "owner only" not in page.inner_text("[data-field=keeper_criteria]")

    page.fill("#id_keeper_criteria", "original, filename")
    page.click("[data-testid=save-settings]")
    page.wait_for_selector("[data-field=keeper_criteria] .field-error")
    assert "Unknown keeper criterion: filename." in page.inner_text("[data-field=keeper_criteria]")
    assert page.input_value("#id_keeper_criteria") == "original, filename"
    error_colour = page.eval_on_selector(".messages li", "e => getComputedStyle(e).color")
    screenshot(page, "settings-error")

    assert "needs an embedding model" in page.inner_text("[data-testid=similar-needs-model]")
    page.fill("#id_keeper_criteria", "resolution, original")
    page.fill("#id_spec-0-max_width", "240")
    page.click("[data-testid=save-settings]")
    page.wait_for_selector(".messages li.msg-success")
    assert page.inner_text(".messages li.msg-success") == "Settings saved."
    success_colour = page.eval_on_selector(".messages li", "e => getComputedStyle(e).color")
    assert success_colour != error_colour
    assert page.input_value("#id_keeper_criteria").startswith("resolution, original, metadata")
    assert not page.is_checked("#id_similar_enabled")
    assert page.input_value("#id_spec-0-max_width") == "240"

    page.click("[data-testid=apply-thumbnails]")
    page.wait_for_selector("[data-testid=jobs] tr[data-job]")
    row = page.locator("[data-testid=jobs] tr[data-job]").first
    assert "Apply thumbnail" in row.inner_text()
    eventually(lambda: row.get_attribute("data-state") == "done", timeout=90)
    assert row.locator("[data-part=state]").inner_text() == "Done"
    screenshot(page, "jobs")

    page.goto(product.url("/jobs/?state=sleeping", host="demo.localhost"))
    assert "is not a state" in page.inner_text("[data-testid=filter-errors]")

    phone_page.goto(product.url("/accounts/login/", host="demo.localhost"))
    phone_page.fill("input[name=username]", "admin@demo.local")
    phone_page.fill("input[name=password]", "demo-admin")
    phone_page.click("button[type=submit]")
    phone_page.wait_for_selector("[data-testid=user-email]", state="attached")
    for path in ("/settings/workspace/", "/jobs/", "/search/"):
        phone_page.goto(product.url(path, host="demo.localhost"))
        width = phone_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px phone"
    screenshot(phone_page, "settings-phone")
