"""Duplicates in the browser: two copies uploaded, grouped by the worker, reviewed side by side
with the suggested keeper, resolved; the storage report shows what was won."""

import pytest
from PIL import Image, ImageOps

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.imagefiles import bench_photos
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def test_copies_are_reviewed_side_by_side_and_resolved(product, page, tmp_path):
    with Image.open(bench_photos(30)[29]) as img:
        img = img.convert("RGB")
    original, mirrored = tmp_path / "dup-original.jpg", tmp_path / "dup-mirror.png"
    img.save(original, "JPEG", quality=90)
    with Image.open(original) as decoded:  # a mirrored PNG made from the JPEG
        ImageOps.mirror(decoded.convert("RGB")).save(mirrored, "PNG")
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
    # the JPEG original, not the PNG made from it (apps/duplicates/provenance.py)
    assert (
        "Suggested: original: the PNG is a conversion of this JPEG"
        in group.locator("[data-testid=keeper]").inner_text()
    )
    screenshot(page, "duplicates-review")

    page.click("[data-testid=preview]")
    assert "Nothing has changed yet" in page.locator("[data-testid=bulk-preview]").inner_text()

    group = page.locator("[data-testid=group]", has=page.locator(f"img[alt='{mirrored.name}']"))
    page.once("dialog", lambda dialog: dialog.accept())  # "… move 1 image(s) (…) to the trash?"
    group.locator("button[value=resolve]").click()
    page.wait_for_selector("text=moved to the trash")
    assert page.locator(f"[data-testid=group] img[alt='{mirrored.name}']").count() == 0

    page.click("text=Storage report")
    # trashed, not purged: nothing is won yet; the bytes show as in the trash, with the day they go
    assert page.locator("[data-testid=reclaimed]").inner_text() in ("0 bytes", "0\xa0bytes")
    assert "In trash, freed on" in page.locator("[data-testid=in-trash]").first.inner_text()
    screenshot(page, "duplicates-report")


def test_identical_copies_are_marked_and_removed_with_live_progress(product, page, tmp_path):
    with Image.open(bench_photos(30)[27]) as img:
        img = img.convert("RGB")
    original, copy, converted = tmp_path / "same-a.jpg", tmp_path / "same-b.jpg", tmp_path / "same-c.png"
    img.save(original, "JPEG", quality=90)
    copy.write_bytes(original.read_bytes())
    with Image.open(original) as decoded:  # a PNG made from the JPEG
        decoded.convert("RGB").save(converted, "PNG")
    sign_in(page, product)

    page.click("nav >> text=Upload")
    page.set_input_files("#upload-input", [str(original), str(copy), str(converted)])
    for name in (original.name, copy.name, converted.name):
        page.wait_for_selector(f"li[data-filename='{name}'][data-state=ready]", timeout=60_000)

    page.goto(product.url("/duplicates/?kind=exact", host="demo.localhost"))
    for _ in range(30):
        group = page.locator("[data-testid=group]", has=page.locator(f"img[alt='{converted.name}']"))
        if group.count() and group.locator("[data-testid=member]").count() == 3:
            break
        page.wait_for_timeout(1000)
        page.reload()
    assert group.locator("[data-testid=identical]").count() == 2
    assert group.locator("[data-testid=identical-count]").inner_text().startswith("1 identical copy")
    screenshot(page, "duplicates-identical")

    page.click("[data-testid=preview-identical]")
    assert "Nothing has changed yet" in page.locator("[data-testid=identical-preview]").inner_text()
    page.click("[data-testid=remove-identical]")
    job = page.locator("[data-testid=job]").first
    assert "0 of 0" not in job.inner_text()
    page.evaluate("window.notReloaded = true")
    # Polled from here: the page's CSP forbids the string evaluation wait_for_function uses.
    eventually(
        lambda: job.get_attribute("data-state") == "done", timeout=60, interval=0.2, message="job not done"
    )
    assert page.evaluate("window.notReloaded") is True  # the line changed without a reload
    assert job.locator("[data-testid=job-status]").inner_text() == "Done — 1 of 1"
    screenshot(page, "duplicates-identical-job")
    job.locator("[data-testid=job-reload]").click()
    group = page.locator("[data-testid=group]", has=page.locator(f"img[alt='{converted.name}']"))
    assert group.locator("[data-testid=member]").count() == 3  # the trashed copy is shown as a member
    assert group.locator("[data-testid=identical-count]").count() == 0
