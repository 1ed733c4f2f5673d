"""The trash and undo in the browser: images selected with shift-click go to the trash after a
confirmation that says how many and how big; the trash shows their previews in a fresh browser (no
cache); restore selected; empty the trash as a job whose progress the page follows; restore all;
and resolve-all undone from its job."""

import re

import pytest
from PIL import Image, ImageOps

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.imagefiles import bench_photos
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def upload(page, paths):
    page.click("nav >> text=Upload")
    page.set_input_files("#upload-input", [str(p) for p in paths])
    for path in paths:
        page.wait_for_selector(f"li[data-filename='{path.name}'][data-state=ready]", timeout=60_000)


def confirm_next(page) -> list[str]:
    """Accept the next confirmation and keep its text."""
    said: list[str] = []

    def accept(dialog):
        said.append(dialog.message)
        dialog.accept()

    page.once("dialog", accept)
    return said


def tile(page, name):
    return page.locator(f"[data-testid=gallery] .tile[title='{name}']")


def test_trash_multi_select_previews_restore_and_empty(product, browser, page, tmp_path):
    names = []
    for index, source in enumerate(bench_photos(40)[32:36]):
        with Image.open(source) as img:
            path = tmp_path / f"trash-{index}.jpg"
            img.convert("RGB").save(path, "JPEG", quality=85)
        names.append(path.name)
    sign_in(page, product)
    upload(page, [tmp_path / n for n in names])

    page.click("nav >> text=Images")
    # newest first: shift-click from the first to the last of the four selects all four
    ordered = list(page.eval_on_selector_all("[data-testid=gallery] .tile", "t => t.map(e => e.title)"))
    mine = [n for n in ordered if n in names]
    assert ordered.index(mine[-1]) - ordered.index(mine[0]) == 3
    tile(page, mine[0]).locator("[data-testid=select]").click()
    tile(page, mine[-1]).locator("[data-testid=select]").click(modifiers=["Shift"])
    assert page.locator("[data-testid=select]:checked").count() == 4
    assert page.inner_text("[data-testid=selection-count]").startswith("4 selected")
    said = confirm_next(page)
    page.click("[data-testid=trash-selected]")
    page.wait_for_selector("text=4 images moved to the trash.")
    assert re.match(r"Move 4 selected image\(s\) \([\d.]+\xa0(KB|MB)\) to the trash\?", said[0]), said

    # a fresh browser context: nothing cached, every trash preview must load from the server
    fresh = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        trash = fresh.new_page()
        sign_in(trash, product)
        trash.goto(product.url("/images/trash/", host="demo.localhost"))
        trash.wait_for_load_state("networkidle")
        for name in names:
            loaded = tile(trash, name).locator("img").evaluate("i => i.complete && i.naturalWidth")
            assert loaded > 0, name
        screenshot(trash, "trash")

        tile(trash, mine[0]).locator("[data-testid=select]").click()
        tile(trash, mine[1]).locator("[data-testid=select]").click(modifiers=["Shift"])
        said = confirm_next(trash)
        trash.click("[data-testid=restore-selected]")
        trash.wait_for_selector("text=2 images restored.")
        assert said[0].startswith("Restore 2 selected image(s)")
        assert tile(trash, mine[0]).count() == 0 and tile(trash, mine[2]).count() == 1

        # the trashed image's own page: preview and download
        tile(trash, mine[2]).locator("a").click()
        trash.wait_for_selector("[data-testid=preview]")
        assert trash.evaluate("document.querySelector('[data-testid=preview]').naturalWidth") > 0
        assert trash.locator("[data-testid=download]").count() == 1
        trash.go_back()

        said = confirm_next(trash)
        trash.click("[data-testid=empty-trash]")
        assert "for good" in said[0] and "cannot be undone" in said[0]
        trash.wait_for_selector("[data-testid=trash-job]")
        # the page follows the job and reloads once it is done: the trash is then empty
        trash.wait_for_selector("[data-testid=gallery-empty]", timeout=60_000)
        assert trash.inner_text("[data-testid=trash-job-state]") == "done"
        screenshot(trash, "trash-emptied")
    finally:
        fresh.close()
    page.goto(product.url("/images/", host="demo.localhost"))
    assert tile(page, mine[0]).count() == 1 and tile(page, mine[2]).count() == 0

    # "Restore all": a small trash is restored at once, through the same job a large one runs in
    tile(page, mine[0]).locator("[data-testid=select]").click()
    confirm_next(page)
    page.click("[data-testid=trash-selected]")
    page.wait_for_selector("text=1 image moved to the trash.")
    page.goto(product.url("/images/trash/", host="demo.localhost"))
    said = confirm_next(page)
    page.click("[data-testid=restore-all]")
    page.wait_for_selector("text=1 image restored.")
    assert said[0].startswith("Restore all 1 image you may restore")
    assert (
        page.locator("[data-testid=trash-job][data-kind=images_trash_restore]").get_attribute("data-state")
        == "done"
    )
    assert tile(page, mine[0]).count() == 0


def test_resolve_all_is_confirmed_and_undone_from_its_job(product, page, tmp_path):
    pairs = []
    for index, source in enumerate(bench_photos(40)[37:39]):
        with Image.open(source) as img:
            img = img.convert("RGB")
            original, mirrored = tmp_path / f"undo-{index}.jpg", tmp_path / f"undo-{index}-mirror.jpg"
            img.save(original, "JPEG", quality=90)
            ImageOps.mirror(img).save(mirrored, "JPEG", quality=80)
        pairs.append((original, mirrored))
    sign_in(page, product)
    upload(page, [p for pair in pairs for p in pair])

    def grouped() -> bool:
        page.goto(product.url("/duplicates/", host="demo.localhost"))
        return all(page.query_selector(f"[data-testid=group] img[alt='{m.name}']") for _o, m in pairs)

    eventually(grouped, timeout=60, interval=1, message="the pairs were never grouped")
    groups_before = page.locator("[data-testid=group]").count()
    page.click("[data-testid=preview]")
    said = confirm_next(page)
    page.click("[data-testid=resolve-all]")
    page.wait_for_selector("text=Resolving every group by the policy has started")
    assert re.match(r"Resolve \d+ groups? and move \d+ images? \(.+\) to the trash\?", said[0]), said

    # the page follows the job live and reloads when it is done, offering its Undo
    page.wait_for_selector("[data-testid=undo-job]", timeout=60_000)
    assert page.locator("[data-testid=group]").count() == 0
    screenshot(page, "duplicates-undo-offered")
    said = confirm_next(page)
    page.click("[data-testid=undo-job]")
    page.wait_for_selector("text=open again, their images restored")
    assert said[0].startswith("Undo this job")
    assert page.locator("[data-testid=group]").count() == groups_before
    for original, mirrored in pairs:
        for path in (original, mirrored):
            assert page.query_selector(f"[data-testid=group] img[alt='{path.name}']"), path.name
