"""Browser tests: Debian's chromium driven by Playwright (never a browser download), against the
whole product started as `make run` starts it. Screenshots land in var/e2e/."""

import shutil
from pathlib import Path

import pytest

from tests.runtime.product import ROOT, Product

SCREENSHOTS = ROOT / "var" / "e2e"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("Debian's chromium is not installed: run `make system-deps` (make test does it for you).")
    return path


@pytest.fixture(scope="session")
def product(tmp_path_factory):
    # Self-service sign-up is off by default; the browser tests open it (tests/e2e/test_browser_signup.py).
    # The webhook receiver of tests/e2e/test_browser_webhooks.py listens on loopback: allow-listed, as
    # an operator allow-lists a receiver inside the installation's own network.
    running = Product(
        tmp_path_factory.mktemp("product") / "var",
        extra_env={"DEEPLENS_SIGNUP_ENABLED": "true", "DEEPLENS_URL_FETCH_ALLOWED_NETWORKS": "127.0.0.1/32"},
    )
    running.start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    yield context.new_page()
    context.close()


@pytest.fixture
def phone_page(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    yield context.new_page()
    context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
