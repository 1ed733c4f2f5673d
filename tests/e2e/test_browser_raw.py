"""A photographer's RAW+JPEG pair in the browser: a DNG (written by pidng from a bench photo's pixels)
and the camera's JPEG of the same shot are uploaded through the file chooser; the DNG's page shows
its preview and EXIF, and the duplicates page shows the pair labelled, the RAW suggested."""

import pytest
from PIL import Image

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.imagefiles import bench_photos, dng, encode
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def test_a_dng_shows_its_preview_exif_and_its_jpeg_pair(product, page, tmp_path):
    with Image.open(bench_photos(40)[37]) as img:
        img = img.convert("RGB")
    raw, jpeg = tmp_path / "IMG_7001.DNG", tmp_path / "IMG_7001.JPG"
    camera, lens, taken = ("Nikon", "Nikon Z 8"), "NIKKOR Z 50mm f/1.8 S", "2025:06:07 08:09:10"
    raw.write_bytes(dng(img, camera=camera, lens=lens, taken=taken))
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = camera
    exif[0x8769] = {0x9003: taken}
    jpeg.write_bytes(encode(img, "JPEG", quality=90, exif=exif.tobytes()))
    sign_in(page, product)

    page.click("nav >> text=Upload")
    page.set_input_files("#upload-input", [str(raw), str(jpeg)])
    for name in (raw.name, jpeg.name):
        page.wait_for_selector(f"li[data-filename='{name}'][data-state=ready]", timeout=60_000)

    page.click("nav >> text=Images")
    page.click(f".tile[title='{raw.name}'] a")
    page.wait_for_selector("[data-testid=preview]")
    eventually(
        lambda: page.evaluate("document.querySelector('[data-testid=preview]').naturalWidth") > 0,
        timeout=30,
        interval=0.2,
        message="the DNG's preview did not load",
    )
    facts = page.inner_text("[data-testid=exif]")
    assert "Nikon Nikon Z 8" in facts
    assert "NIKKOR Z 50mm f/1.8 S" in facts
    assert "DNG" in page.inner_text("main")
    screenshot(page, "raw-detail")

    page.click("nav >> text=Duplicates")
    for _ in range(40):  # detection runs on the index queue right after processing
        if page.query_selector(f"[data-testid=group] img[alt='{raw.name}']"):
            break
        page.wait_for_timeout(1000)
        page.reload()
    group = page.locator("[data-testid=group]", has=page.locator(f"img[alt='{raw.name}']"))
    assert group.locator("[data-testid=member]").count() == 2
    assert group.locator("[data-testid=group-label]").inner_text() == "RAW + JPEG of one shot"
    keeper = group.locator("[data-testid=member]", has=page.locator("[data-testid=keeper]"))
    assert keeper.locator(f"img[alt='{raw.name}']").count() == 1
    assert "original: the JPEG is a render of this DNG" in keeper.locator("[data-testid=keeper]").inner_text()
    screenshot(page, "raw-jpeg-pair")
