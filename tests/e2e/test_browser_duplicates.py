"""Duplicates in the browser: two copies uploaded, grouped by the worker, reviewed side by side
with the suggested keeper, resolved; the storage report shows what was won."""

import pytest
from PIL import Image, ImageOps

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.imagefiles import bench_photos

pytestmark = pytest.mark.e2e


def test_copies_are_reviewed_side_by_side_and_resolved(product, page, tmp_path):
    with Image.open(bench_photos(30)[29]) as img:
        img = img.convert("RGB")
    original, mirrored = tmp_path / "dup-original.jpg", tmp_path / "dup-mirror.png"
    img.save(original, "JPEG", quality=90)
    ImageOps.mirror(img).save(mirrored, "PNG")
    sign_in(page, product)

    page.click("nav >> text=Upload")
    page.set_input_files("#upload-input", [str(original), str(mirrored)])
    for name in (original.name, mirrored.name):
        page.wait_for_selector(f"li[data-filename='{name}'][data-state=ready]", timeout=60_000)

    page.click("nav >> text=Duplicates")
    for _ in range(30):  # detection runs on the index queue right after processing
        if page.query_selector(f"[data-testid=group] img[alt='{mirrored.name}']"):
            break
        page.wait_for_timeout(1000)
        page.reload()
    group = page.locator("[data-testid=group]", has=page.locator(f"img[alt='{mirrored.name}']"))
    assert group.locator("[data-testid=member]").count() == 2
    assert "Suggested: preferred format (PNG)" in group.locator("[data-testid=keeper]").inner_text()
    screenshot(page, "duplicates-review")

    page.click("[data-testid=preview]")
    assert "Nothing has changed yet" in page.locator("[data-testid=bulk-preview]").inner_text()

    group = page.locator("[data-testid=group]", has=page.locator(f"img[alt='{mirrored.name}']"))
    page.once("dialog", lambda dialog: dialog.accept())  # "… move 1 image(s) (…) to the trash?"
    group.locator("button[value=resolve]").click()
    page.wait_for_selector("text=moved to the trash")
    assert page.locator(f"[data-testid=group] img[alt='{mirrored.name}']").count() == 0

    page.click("text=Storage report")
    reclaimed = page.locator("[data-testid=reclaimed]").inner_text()
    assert reclaimed not in ("0 bytes", "0\xa0bytes")
    screenshot(page, "duplicates-report")
