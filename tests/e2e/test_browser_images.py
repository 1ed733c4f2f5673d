import json
import urllib.request

import pytest

from tests.e2e.conftest import screenshot
from tests.e2e.test_browser_identity import sign_in
from tests.imagefiles import bench_photos, jpeg
from tests.support.waiting import eventually

pytestmark = pytest.mark.e2e


def test_upload_by_file_chooser_shows_progress_then_the_gallery(product, page, tmp_path):
    photos = bench_photos(4)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(jpeg(800, 600)[:3000])
    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    sign_in(page, product)

    page.click("nav >> text=Upload")
    page.set_input_files("#upload-input", [str(p) for p in photos] + [str(broken), str(notes)])

    for photo in photos:
        page.wait_for_selector(f"li[data-filename='{photo.name}'][data-state=ready]", timeout=60_000)
    page.wait_for_selector("li[data-filename='broken.jpg'][data-state=failed]", timeout=60_000)
    rejected = page.wait_for_selector("li[data-filename='notes.txt'][data-state=rejected]")
    assert "not a supported image" in rejected.inner_text()
    screenshot(page, "upload")

    page.click("nav >> text=Images")
    page.wait_for_selector("[data-testid=gallery] img")
    eventually(
        lambda: page.evaluate(
            "Array.from(document.querySelectorAll('[data-testid=gallery] img')).every(i => i.complete)"
        ),
        timeout=30,
        interval=0.2,
        message="the gallery's thumbnails did not load",
    )
    loaded = page.evaluate(
        "Array.from(document.querySelectorAll('[data-testid=gallery] img'))"
        ".filter(i => i.naturalWidth > 0).length"
    )
    total = page.evaluate("document.querySelectorAll('[data-testid=gallery] img').length")
    assert loaded == total >= len(photos)  # other browser tests may have added images to the demo
    for photo in photos:
        assert page.query_selector(f".tile[title='{photo.name}']") is not None
    screenshot(page, "gallery")

    page.click(f".tile[title='{photos[0].name}'] a")
    page.wait_for_selector("[data-testid=preview]")
    assert page.evaluate("document.querySelector('[data-testid=preview]').naturalWidth") > 0
    assert "done" in page.inner_text("[data-testid=stages]")
    # The index stage runs right after processing: the page says when the image is searchable.
    eventually(
        lambda: page.reload() or "Checked for duplicates" in page.inner_text("[data-testid=stage-summary]"),
        timeout=60,
        interval=0.5,
        message="the image page never said the image was checked for duplicates",
    )
    stages = page.inner_text("[data-testid=stages]")
    assert "Searchable" in page.inner_text("[data-testid=stage-summary]")
    assert all(name in stages for name in ("upload", "decode", "thumbnails", "hashes", "index", "detect"))
    screenshot(page, "image-detail")

    page.once("dialog", lambda dialog: dialog.accept())  # "Move … to the trash?"
    page.click("button[value=delete]")
    page.wait_for_selector("text=is in the trash")
    page.click("nav >> text=Images")
    page.goto(product.url("/images/trash/", host="demo.localhost"))
    assert photos[0].name in page.inner_text("[data-testid=gallery]")


def test_the_api_and_a_real_worker_take_an_image_to_ready(product):
    """No browser: login, upload over HTTP, then poll the status the worker updates."""
    base = f"http://127.0.0.1:{product.port}/api/v1"
    login = urllib.request.Request(
        f"{base}/auth/login",
        method="POST",
        headers={"Content-Type": "application/json", "Host": "localhost"},
        data=json.dumps({"tenant": "demo", "email": "admin@demo.local", "password": "demo-admin"}).encode(),
    )
    token = json.loads(urllib.request.urlopen(login, timeout=10).read())["access"]
    photo = bench_photos(5)[-1]
    boundary = "deeplens-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{photo.name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + photo.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    upload = urllib.request.Request(
        f"{base}/images/upload",
        method="POST",
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Host": "localhost",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        },
    )
    accepted = json.loads(urllib.request.urlopen(upload, timeout=10).read())

    def finished() -> dict | None:
        status_request = urllib.request.Request(
            f"http://127.0.0.1:{product.port}{accepted['status_url']}",
            headers={"Authorization": f"Bearer {token}", "Host": "localhost"},
        )
        status = json.loads(urllib.request.urlopen(status_request, timeout=10).read())
        done = status["status"] == "failed" or status["checked_for_duplicates"]
        return status if done else None

    status = eventually(
        finished, timeout=60, interval=0.3, message="the upload was not processed and indexed"
    )

    assert status["status"] == "ready"
    assert [(stage["stage"], stage["state"]) for stage in status["stages"]] == [
        ("upload", "done"),
        ("decode", "done"),
        ("thumbnails", "done"),
        ("hashes", "done"),
        ("index", "done"),
        ("detect", "done"),
    ]
    assert status["searchable"] is True
