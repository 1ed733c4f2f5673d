"""Search in the browser: upload photos and a flipped copy, "Similar" on the copy finds the
original, the threshold slider cuts weaker results, a dropped image is searched, text search says it
needs CLIP."""

import pytest
from PIL import Image, ImageOps

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.imagefiles import bench_photos

pytestmark = pytest.mark.e2e


def test_similar_images_from_an_image_and_from_a_dropped_file(product, page, tmp_path):
    photos = bench_photos(40)[30:33]
    copy = tmp_path / "search-copy-flipped.jpg"
    ImageOps.mirror(Image.open(photos[0]).convert("RGB")).save(copy, quality=80)
    sign_in(page, product)
    page.click("nav >> text=Upload")
    page.set_input_files("#upload-input", [str(p) for p in photos] + [str(copy)])
    for name in [p.name for p in photos] + [copy.name]:
        page.wait_for_selector(f"li[data-filename='{name}'][data-state=ready]", timeout=60_000)

    page.click("nav >> text=Images")
    page.click(f".tile[title='{copy.name}'] a")
    page.click("[data-testid=similar]")
    page.wait_for_selector("[data-testid=results]")

    first = page.locator("[data-testid=result]").first
    assert first.get_attribute("title") == photos[0].name
    assert float(first.locator("[data-testid=score]").inner_text()) > 0.9
    assert "Text search needs CLIP." in page.inner_text("[data-testid=search-form]")
    screenshot(page, "search-similar")

    before = [float(text) for text in page.locator("[data-testid=score]").all_inner_texts()]
    cut = f"{(before[0] + before[-1]) / 2:.2f}"
    page.locator("#s-threshold").evaluate(
        f"el => {{ el.value = '{cut}'; el.dispatchEvent(new Event('input')); }}"
    )
    assert page.inner_text("#s-threshold-value") == cut
    with page.expect_navigation():
        page.click("[data-testid=search-submit]")
    after = [float(text) for text in page.locator("[data-testid=score]").all_inner_texts()]
    # The cut keeps the best matches and drops the weakest: some results, fewer than before.
    assert after, page.inner_text("main")[-600:]
    assert len(after) < len(before), page.inner_text("main")[-600:]
    assert min(after) >= float(cut)

    page.goto(product.url("/search/", host="demo.localhost"))
    page.set_input_files("#s-image", str(photos[1]))
    page.wait_for_selector("[data-testid=results]")
    assert page.locator("[data-testid=result]").first.get_attribute("title") == photos[1].name
    screenshot(page, "search-dropped")
