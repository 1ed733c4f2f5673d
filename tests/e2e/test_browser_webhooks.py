"""The Webhooks page in the browser: an admin adds an endpoint (a real HTTP receiver on loopback),
sees its secret once, sends a test ping that the product's own Celery worker delivers signed with
that secret, and sees the delivery in the log; the pages fit a 390 px phone."""

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.support.waiting import eventually
from tests.webhooks.receiver import Receiver, verify_signature

pytestmark = pytest.mark.e2e


@pytest.fixture
def receiver():
    running = Receiver()
    yield running
    running.stop()


def test_add_an_endpoint_see_the_secret_once_and_ping_it(product, page, phone_page, receiver):
    sign_in(page, product)
    page.click("nav >> text=Webhooks")
    page.wait_for_selector("[data-testid=add-endpoint]")

    page.fill("#id_url", receiver.url)
    page.fill("#id_description", "browser test")
    page.check("input[name=events][value='job.finished']")
    page.click("[data-testid=add-endpoint-submit]")
    page.wait_for_selector("[data-testid=new-secret]")
    secret = page.inner_text("[data-testid=secret-value]")
    assert secret.startswith("whsec_")
    assert "shown only this once" in page.inner_text(".messages li.msg-success")
    screenshot(page, "webhook-added")

    page.click("[data-testid=send-ping]")
    page.wait_for_selector(".messages li.msg-success >> text=Test ping sent")
    assert page.locator("[data-testid=new-secret]").count() == 0
    assert secret not in page.content()
    row = page.locator("[data-testid=deliveries] tr[data-delivery]")
    assert row.count() == 1
    assert row.locator("[data-part=event]").inner_text() == "webhook.ping"

    def delivered() -> bool:
        page.reload()
        return row.get_attribute("data-state") == "delivered"

    eventually(delivered, timeout=60, interval=1, message=lambda: f"not delivered: {row.inner_text()}")
    assert row.locator("[data-part=response]").inner_text() == "200"
    assert row.locator("[data-part=attempts]").inner_text() == "1"
    [request] = receiver.requests
    body = verify_signature(secret, request)
    assert (body["event"], body["id"]) == ("webhook.ping", row.get_attribute("data-delivery"))
    screenshot(page, "webhook-delivered")

    page.click("nav >> text=Webhooks")
    endpoint = page.locator("[data-testid=endpoints] tr[data-endpoint]", has_text=receiver.url)
    assert endpoint.locator("[data-part=state]").inner_text() == "Enabled"
    endpoint_url = page.url.rstrip("/") + "/" + endpoint.get_attribute("data-endpoint") + "/"

    phone_page.goto(product.url("/accounts/login/", host="demo.localhost"))
    phone_page.fill("input[name=username]", "admin@demo.local")
    phone_page.fill("input[name=password]", "demo-admin")
    phone_page.click("button[type=submit]")
    phone_page.wait_for_selector("[data-testid=user-email]", state="attached")
    for url in (product.url("/settings/webhooks/", host="demo.localhost"), endpoint_url):
        phone_page.goto(url)
        width = phone_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{url} is {width} px wide on a 390 px phone"
    screenshot(phone_page, "webhook-phone")
