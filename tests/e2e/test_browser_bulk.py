"""The gallery's bulk bar in the browser: two images selected are tagged, moved to another storage
location (a migration job; the originals read the same from there) and moved to the trash; the bar
fits a phone."""

import pytest

from tests import imagefiles
from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.e2e.test_browser_trash import confirm_next, tile, upload
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e
ARCHIVE = "Bulk archive"


def select(page, names):
    for name in names:
        tile(page, name).locator("[data-testid=select]").click()
    assert page.locator("[data-testid=select]:checked").count() == len(names)


def stored_in(page, product, image_id) -> str:
    page.goto(product.url(f"/images/{image_id}/", host="demo.localhost"))
    return page.locator("dt:text-is('Stored in') + dd").inner_text()


def download(page, image_id) -> bytes:
    """The original as the signed-in browser downloads it (from the page: the browser resolves
    demo.localhost, Playwright's own request client does not)."""
    status, body = page.evaluate(
        """async (url) => {
            const response = await fetch(url, {credentials: 'same-origin'});
            return [response.status, Array.from(new Uint8Array(await response.arrayBuffer()))];
        }""",
        f"/api/v1/images/{image_id}/download",
    )
    assert status == 200, status
    return bytes(body)


def test_selected_images_are_tagged_moved_and_trashed(product, page, phone_page, tmp_path):
    archive_root = product.data_dir / "storage" / "demo" / "bulk-archive"
    names = []
    for seed in (9101, 9102):
        path = tmp_path / f"bulk-{seed}.jpg"
        path.write_bytes(imagefiles.jpeg(480, 360, seed=seed))
        names.append(path.name)
    sign_in(page, product)

    # a second location to move to, added the way an administrator adds one
    page.goto(product.url("/settings/storage/", host="demo.localhost"))
    page.click("[data-testid=add-filesystem] summary")
    page.fill("#filesystem-name", ARCHIVE)
    page.fill("#filesystem-root", str(archive_root))
    page.click("[data-testid=add-filesystem] button[value=create]")
    page.wait_for_selector("li.msg-success:text-is('Storage location added.')")

    upload(page, [tmp_path / name for name in names])
    page.click("nav >> text=Images")
    ids = [tile(page, name).locator("a").get_attribute("href").strip("/").split("/")[-1] for name in names]

    # tag: the buttons wait for a selection
    assert page.locator("[data-testid=tag-selected]").is_disabled()
    select(page, names)
    page.fill("[data-testid=bulk-tags]", "bulk-e2e, harbour")
    screenshot(page, "gallery-bulk-bar")
    page.click("[data-testid=tag-selected]")
    page.wait_for_selector("li.msg-success:text-is('2 images tagged bulk-e2e, harbour.')")
    assert page.locator("[data-testid=select]:checked").count() == 0

    # move: confirmed with the count and the target's name, then followed to the end
    before = {image_id: download(page, image_id) for image_id in ids}
    page.goto(product.url("/images/", host="demo.localhost"))
    select(page, names)
    page.select_option("[data-testid=move-target]", label=ARCHIVE)
    said = confirm_next(page)
    page.click("[data-testid=move-selected]")
    page.wait_for_selector(f"li.msg-success:has-text('Moving 2 images to {ARCHIVE}')")
    assert said[0].startswith("Move 2 selected image(s) (") and said[0].endswith(f"to {ARCHIVE}?"), said
    for image_id in ids:
        eventually(
            lambda image_id=image_id: stored_in(page, product, image_id) == ARCHIVE,
            timeout=60,
            interval=0.5,
            message=f"{image_id} was not moved to {ARCHIVE}",
        )
        badges = page.locator("dd .badge").all_inner_texts()
        assert {"bulk-e2e", "harbour"} <= set(badges), badges
        assert download(page, image_id) == before[image_id]
        assert any(image_id in str(path) for path in archive_root.rglob("*") if path.is_file()), image_id

    # a second move to where they are: nothing to do, and said so
    page.goto(product.url("/images/", host="demo.localhost"))
    select(page, names)
    page.select_option("[data-testid=move-target]", label=ARCHIVE)
    confirm_next(page)
    page.click("[data-testid=move-selected]")
    page.wait_for_selector(f"li.msg-info:text-is('2 images already in {ARCHIVE}.')")

    # the trash, as before
    select(page, names)
    said = confirm_next(page)
    page.click("[data-testid=trash-selected]")
    page.wait_for_selector("li.msg-success:text-is('2 images moved to the trash.')")
    assert said[0].startswith("Move 2 selected image(s)") and said[0].endswith("to the trash?"), said
    assert tile(page, names[0]).count() == 0 and tile(page, names[1]).count() == 0
    screenshot(page, "gallery-bulk-trashed")

    # the whole bar fits a phone
    phone_page.goto(product.url("/accounts/login/", host="demo.localhost"))
    phone_page.fill("input[name=username]", "admin@demo.local")
    phone_page.fill("input[name=password]", "demo-admin")
    phone_page.click("button[type=submit]")
    phone_page.wait_for_selector("[data-testid=user-email]", state="attached")  # the menu is folded
    phone_page.goto(product.url("/images/", host="demo.localhost"))
    assert phone_page.locator("[data-testid=move-selected]").count() == 1
    assert phone_page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(phone_page, "gallery-bulk-phone")
