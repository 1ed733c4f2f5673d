"""Search in the browser: upload photos and a flipped copy, "Similar" on the copy finds the
original, the threshold slider cuts weaker results, a dropped image is searched, text search says it
needs CLIP."""

import csv
import re

import pytest
from PIL import Image, ImageOps

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.imagefiles import BENCH_IMAGES, bench_photos
from tests.support.waiting import eventually

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

    # Everything, however unlikely the same picture, then a similarity cut of the similar.
    page.locator("#s-confidence").evaluate("el => { el.value = '0'; el.dispatchEvent(new Event('input')); }")
    with page.expect_navigation():
        page.click("[data-testid=search-submit]")
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


def test_a_dropped_query_is_kept_while_the_threshold_changes_and_matches_are_marked(product, page, tmp_path):
    with open(BENCH_IMAGES.parent / "ground_truth.csv") as fp:
        lone = sorted(r["file"] for r in csv.DictReader(fp) if r["is_distractor"] == "1")  # no copies
    photos = [BENCH_IMAGES / name for name in lone[-3:]]
    crop = tmp_path / "search-kept-crop.jpg"
    with Image.open(photos[0]) as img:
        w, h = img.size
        img.convert("RGB").crop((w // 8, h // 8, w - w // 8, h - h // 8)).save(crop, quality=85)
    sign_in(page, product)
    page.click("nav >> text=Upload")
    page.set_input_files("#upload-input", [str(p) for p in photos])
    for path in photos:
        page.wait_for_selector(f"li[data-filename='{path.name}'][data-state=ready]", timeout=60_000)

    page.goto(product.url("/search/", host="demo.localhost"))
    page.set_input_files("#s-image", str(crop))
    page.wait_for_selector("[data-testid=query-image] img")

    def original_marked() -> bool:
        # The index stage (detection's signatures) runs after processing: search again with the
        # kept query until the original is verified.
        tile = page.locator(f"[data-testid=result][title='{photos[0].name}']")
        if tile.count() and tile.first.get_attribute("data-match") == "same_picture":
            return True
        with page.expect_navigation():
            page.click("[data-testid=search-submit]")
        return False

    eventually(original_marked, timeout=90, interval=1, message=lambda: page.inner_text("main")[-800:])
    assert "same picture" in page.locator(f"[data-testid=result][title='{photos[0].name}']").inner_text()
    before = page.locator("[data-testid=result]").count()
    kept = page.locator("input[name=query]").get_attribute("value")

    page.locator("#s-confidence").evaluate("el => { el.value = '0'; el.dispatchEvent(new Event('input')); }")
    assert page.inner_text("#s-confidence-value") == "0"
    with page.expect_navigation():
        page.click("[data-testid=search-submit]")

    assert page.locator("input[name=query]").get_attribute("value") == kept
    assert page.locator("[data-testid=query-image] img").evaluate("img => img.naturalWidth") > 0
    assert page.locator("[data-testid=result]").count() >= before  # the less likely shown too
    matches = page.locator("[data-testid=result]").evaluate_all("tiles => tiles.map(t => t.dataset.match)")
    assert matches.index("same_picture") == 0 or set(matches[: matches.index("same_picture")]) <= {
        "identical",
        "same_picture",
    }  # verified first
    tile = page.locator(f"[data-testid=result][title='{photos[0].name}']")
    assert tile.get_attribute("data-match") == "same_picture"
    count = page.inner_text("[data-testid=result-count]")
    assert re.fullmatch(r"\d+ shown of \d+\+?", count), count
    assert page.locator("[data-testid=search-error]").count() == 0
    screenshot(page, "search-kept-query")
