import hashlib
import re

import pytest
from django_tenants.utils import tenant_context

from apps.images.models import Image, ImageSettings, ImageStatus
from apps.tenants.models import Tenant
from tests import imagefiles
from tests.images.conftest import media_files, process, upload, uploaded


def test_an_upload_is_accepted_stored_by_key_and_recorded(alpha, member_api, users):
    data = imagefiles.jpeg(800, 600)

    response = upload(member_api, "beach.jpg", data, tags="sea, summer")

    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "pending"
    assert body["status_url"] == f"/api/v1/images/{body['id']}/status"
    with tenant_context(alpha):
        image = Image.objects.get(pk=body["id"])
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert (image.format, image.content_type, image.width, image.height) == ("jpeg", "image/jpeg", 800, 600)
    assert image.size_bytes == len(data)
    assert image.tags == ["sea", "summer"]
    assert image.uploaded_by.email == "member@alpha.test"
    assert re.fullmatch(rf"alpha/images/\d{{4}}/\d{{2}}/{image.pk}\.jpg", image.storage_key)
    assert image.storage_key in media_files()


@pytest.mark.parametrize("fmt", list(imagefiles.FORMAT_BYTES))
def test_every_supported_format_is_accepted_and_processed(alpha, member_api, fmt):
    response = upload(member_api, f"picture.{fmt}", imagefiles.FORMAT_BYTES[fmt]())

    assert response.status_code == 202, response.content
    image = process(alpha, response.json()["id"])
    assert image.format == fmt
    assert image.status == ImageStatus.READY, image.failure_reason
    assert sorted(t.spec for t in image.thumbnails.all()) == ["large", "medium", "small"]


def test_the_type_comes_from_the_content_not_the_name(alpha, member_api):
    response = upload(member_api, "holiday.jpg", imagefiles.png_rgba())

    with tenant_context(alpha):
        image = Image.objects.get(pk=response.json()["id"])
    assert (image.format, image.content_type) == ("png", "image/png")
    assert image.storage_key.endswith(".png")
    assert image.original_filename == "holiday.jpg"


@pytest.mark.parametrize(
    ("name", "data", "status", "code"),
    [
        ("empty.jpg", b"", 400, "empty_file"),
        ("notes.jpg", imagefiles.TEXT, 415, "unsupported_media_type"),
        ("vector.svg", imagefiles.SVG, 415, "unsupported_media_type"),
        ("page.png", imagefiles.HTML, 415, "unsupported_media_type"),
        ("bomb.png", imagefiles.png_bomb(), 422, "image_too_many_pixels"),
    ],
)
def test_bad_files_are_refused_and_leave_nothing_behind(alpha, member_api, name, data, status, code):
    files_before = media_files()

    response = upload(member_api, name, data)

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    with tenant_context(alpha):
        assert Image.objects.count() == 0
    assert media_files() == files_before


def test_a_file_over_the_workspace_limit_is_refused_with_413(alpha, member_api):
    with tenant_context(alpha):
        ImageSettings.objects.update_or_create(defaults={"max_upload_bytes": 2048})

    response = upload(member_api, "big.jpg", imagefiles.jpeg(800, 600))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    with tenant_context(alpha):
        assert Image.objects.count() == 0


def test_the_storage_quota_is_enforced_with_413(alpha, member_api):
    Tenant.objects.filter(pk=alpha.pk).update(max_storage_bytes=10_000)
    files_before = media_files()

    response = upload(member_api, "photo.jpg", imagefiles.jpeg(800, 600))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "quota_exceeded"
    assert media_files() == files_before


def test_a_truncated_image_is_accepted_then_fails_with_a_reason(alpha, member_api):
    response = upload(member_api, "broken.jpg", imagefiles.truncated_jpeg())
    assert response.status_code == 202

    image = process(alpha, response.json()["id"])

    assert image.status == ImageStatus.FAILED
    assert image.failed_stage == "decode"
    assert "truncated or corrupt" in image.failure_reason
    status = member_api.get(f"images/{image.pk}/status").json()
    assert status["stages"][0] == {
        "stage": "upload",
        "state": "done",
        "finished_at": status["stages"][0]["finished_at"],
    }
    assert status["stages"][1]["state"] == "failed"
    assert member_api.get("images/failed").json()["count"] == 1


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("../../etc/passwd.jpg", "passwd.jpg"),
        ("C:\\Users\\me\\photo.jpg", "photo.jpg"),
        ("evil\x00name\r\n.jpg", "evilname.jpg"),
        ("...hidden.jpg", "hidden.jpg"),
        ("\u202eexe.jpg", "exe.jpg"),
    ],
)
def test_filenames_are_neutralised(alpha, member_api, given, stored):
    response = upload(member_api, "x.jpg", imagefiles.jpeg(64, 64))
    with tenant_context(alpha):
        from apps.images.services import sanitize_filename

        assert sanitize_filename(given) == stored
    assert response.status_code == 202


def test_a_batch_reports_per_file(alpha, member_api):
    files = [
        uploaded("a.jpg", imagefiles.jpeg(300, 200)),
        uploaded("b.txt", imagefiles.TEXT),
        uploaded("c.png", imagefiles.png_rgba()),
    ]

    response = member_api.client.post("/api/v1/images/batch", {"files": files}, **member_api.headers)

    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert [r.get("error", {}).get("code") for r in body["results"]] == [None, "unsupported_media_type", None]
    with tenant_context(alpha):
        assert Image.objects.count() == 2


def test_a_batch_of_only_bad_files_is_a_400(alpha, member_api):
    response = member_api.client.post(
        "/api/v1/images/batch", {"files": [uploaded("b.txt", imagefiles.TEXT)]}, **member_api.headers
    )

    assert response.status_code == 400


def test_an_unknown_storage_location_is_refused(alpha, member_api):
    response = upload(
        member_api, "a.jpg", imagefiles.jpeg(64, 64), storage_config_id="00000000-0000-0000-0000-000000000000"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "storage_location_not_found"


def test_an_upload_without_a_file_is_explained(member_api):
    response = member_api.client.post("/api/v1/images/upload", {}, **member_api.headers)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "file_required"


def test_a_large_upload_is_streamed_to_disk_not_memory(alpha, member_api, settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    data = imagefiles.jpeg(1200, 900)

    response = upload(member_api, "streamed.jpg", data)

    assert response.status_code == 202
    with tenant_context(alpha):
        assert Image.objects.get(pk=response.json()["id"]).sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("key", ["", "x" * 256, "has space", "naïve"])
def test_an_invalid_idempotency_key_is_refused_with_400(alpha, member_api, key):
    response = member_api.client.post(
        "/api/v1/images/upload",
        {"file": uploaded("photo.jpg", imagefiles.jpeg(200, 100))},
        HTTP_IDEMPOTENCY_KEY=key,
        **member_api.headers,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "idempotency_key_invalid"
    with tenant_context(alpha):
        assert Image.objects.count() == 0
