"""Index-only locations scanned in place: 1,000+ objects with nested prefixes, non-images and
non-ASCII names, the normal pipeline, incremental rescans, schedules, tenants and roles."""

import hashlib
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.images.imaging import sniff_head
from apps.images.models import Image, ImageStatus
from apps.images.services import image_process
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.storage.models import StorageLocation
from apps.storage.services.scanning import storage_scans_due
from tests.api import as_user
from tests.factories import UserFactory
from tests.imagefiles import encode, jpeg, picture
from tests.storage.helpers import fs_location, s3_location

JPEG = jpeg(64, 48)
PNG = encode(picture(40, 30), "PNG")
NOT_IMAGES = {
    "notes/readme.txt": b"hello, not an image",
    "docs/report.pdf": b"%PDF-1.7\n...",
    "fake.jpg": b"<html>not a jpeg despite the name</html>",
    "empty.png": b"",
}
UNICODE = ["café/crème brûlée.jpg", "東京/夜景 1.png", "ñandú/ü ß.jpeg"]


def s3_library(s3_server, bucket: str, count: int) -> set[str]:
    """`count` images under nested prefixes, the non-images and the non-ASCII names; returns the
    keys of the images."""
    client = s3_server.client()
    keys = set()
    for n in range(count):
        key = f"library/{2020 + n % 5}/{n % 12 + 1:02d}/day-{n % 28}/img-{n:05d}.jpg"
        client.put_object(Bucket=bucket, Key=key, Body=JPEG if n % 2 else PNG)
        keys.add(key)
    for key, data in NOT_IMAGES.items():
        client.put_object(Bucket=bucket, Key=f"library/{key}", Body=data)
    for key in UNICODE:
        client.put_object(Bucket=bucket, Key=f"library/{key}", Body=JPEG)
        keys.add(f"library/{key}")
    return keys


def scan(tenant, api, location, prefix="") -> dict:
    response = api.post("/api/v1/index/scan", {"storage_config_id": str(location.pk), "prefix": prefix})
    assert response.status_code == 202, response.content
    with tenant_context(tenant):
        job_run(job_id=response.json()["job_id"])
    status = api.get(f"/api/v1/index/status/{response.json()['job_id']}")
    assert status.status_code == 200
    return status.json()


def keys_of(location) -> set[str]:
    return set(Image.objects.filter(storage_location=location).values_list("storage_key", flat=True))


def test_magic_bytes_decide_what_is_an_image():
    assert sniff_head(JPEG[:32]) == ("jpeg", "image/jpeg")
    assert sniff_head(PNG[:32]) == ("png", "image/png")
    assert sniff_head(encode(picture(8, 8), "WEBP")[:32]) == ("webp", "image/webp")
    assert sniff_head(encode(picture(8, 8), "GIF")[:32]) == ("gif", "image/gif")
    assert sniff_head(encode(picture(8, 8), "TIFF")[:32]) == ("tiff", "image/tiff")
    assert sniff_head(encode(picture(8, 8), "BMP")[:32]) == ("bmp", "image/bmp")
    assert [sniff_head(data[:32]) for data in NOT_IMAGES.values()] == [None] * 4


def test_a_scan_of_1200_s3_objects_registers_the_images_in_place(alpha, admin_api, s3_server):
    bucket = s3_server.bucket()
    image_keys = s3_library(s3_server, bucket, 1200)
    with tenant_context(alpha):
        location = s3_location("camera roll", s3_server, bucket, index_only=True)

    status = scan(alpha, admin_api, location)

    assert status["state"] == "done" and status["progress"] == 1.0
    assert status["discovered"] == 1200 + len(NOT_IMAGES) + len(UNICODE)
    assert status["processed"] == len(image_keys) == 1203
    assert status["skipped"] == len(NOT_IMAGES) and status["failed"] == 0
    with tenant_context(alpha):
        assert keys_of(location) == image_keys
        image = Image.objects.get(storage_location=location, storage_key="library/東京/夜景 1.png")
        # By content, not by name: the object is a JPEG.
        assert (image.original_filename, image.format, image.status) == ("夜景 1.png", "jpeg", "pending")
        assert image.size_bytes == len(JPEG) and image.source_version
    # Nothing was copied or written into the bucket.
    assert s3_server.client().list_objects_v2(Bucket=bucket, MaxKeys=2000)["KeyCount"] == 1207


def test_scanned_images_go_through_the_normal_pipeline(alpha, admin_api, member_api, s3_server):
    bucket = s3_server.bucket()
    s3_server.client().put_object(Bucket=bucket, Key="café/big photo.jpg", Body=jpeg(1200, 900))
    with tenant_context(alpha):
        location = s3_location("camera roll", s3_server, bucket, index_only=True)
        location.thumbnail_location = StorageLocation.objects.get(is_default=True)
        location.save()
    scan(alpha, admin_api, location)
    with tenant_context(alpha):
        image_id = Image.objects.get(storage_location=location).pk

    with tenant_context(alpha):
        processed = image_process(image_id=image_id, tenant_slug="alpha")
        thumbnails = list(processed.thumbnails.all())
    download = member_api.get(f"/api/v1/images/{image_id}/download")
    thumbnail = member_api.get(f"/api/v1/images/{image_id}/thumbnail?spec=small")
    listed = member_api.get("/api/v1/images", {"storage_location": str(location.pk)})

    assert processed.status == "ready", processed.failure_reason
    assert (processed.width, processed.height) == (1200, 900)
    assert processed.sha256 == hashlib.sha256(jpeg(1200, 900)).hexdigest()
    assert processed.phash is not None and len(thumbnails) == 3
    assert download.status_code == 200 and thumbnail.status_code == 200
    assert listed.json()["count"] == 1
    # Thumbnails went to the writable default location, never into the indexed bucket.
    assert [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]] == [
        "café/big photo.jpg"
    ]


def test_a_filesystem_scan_with_nested_folders_and_non_images(alpha, admin_api, fs_roots):
    root = fs_roots / "alpha" / "photos"
    expected = set()
    for n in range(1050):
        folder = root / f"{n % 7}" / f"sub-{n % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"p{n}.jpg").write_bytes(JPEG)
        expected.add(f"{n % 7}/sub-{n % 3}/p{n}.jpg")
    for name in UNICODE:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(PNG)
        expected.add(name)
    (root / "notes.txt").write_text("not an image")
    (root / "escape").symlink_to(fs_roots / "beta")
    created = admin_api.post(
        f"/api/v1/tenants/{alpha.pk}/storage-config",
        {"name": "nas", "provider": "filesystem", "index_only": True, "config": {"root": str(root)}},
    )
    assert created.status_code == 201, created.content
    with tenant_context(alpha):
        location = StorageLocation.objects.get(pk=created.json()["id"])
        assert location.thumbnail_location.is_default

    status = scan(alpha, admin_api, location)

    assert (status["discovered"], status["processed"], status["skipped"], status["failed"]) == (
        1054,
        1053,
        1,
        0,
    )
    with tenant_context(alpha):
        assert keys_of(location) == expected


def test_rescans_pick_up_added_changed_and_deleted_objects(alpha, admin_api, s3_server):
    bucket = s3_server.bucket()
    client = s3_server.client()
    for n in range(10):
        client.put_object(Bucket=bucket, Key=f"a/{n}.jpg", Body=JPEG)
    with tenant_context(alpha):
        location = s3_location("roll", s3_server, bucket, index_only=True)
    scan(alpha, admin_api, location)
    with tenant_context(alpha):
        Image.objects.filter(storage_location=location).update(status=ImageStatus.READY, sha256="x" * 64)
        before = {i.storage_key: i.pk for i in Image.objects.filter(storage_location=location)}

    client.put_object(Bucket=bucket, Key="a/new-1.jpg", Body=JPEG)
    client.put_object(Bucket=bucket, Key="a/new-2.png", Body=PNG)
    client.put_object(Bucket=bucket, Key="a/1.jpg", Body=PNG)  # changed content
    client.delete_object(Bucket=bucket, Key="a/2.jpg")
    client.delete_object(Bucket=bucket, Key="a/3.jpg")
    status = scan(alpha, admin_api, location)

    with tenant_context(alpha):
        rows = {i.storage_key: i for i in Image.objects.filter(storage_location=location)}
    assert status["discovered"] == 10 and status["missing"] == 2
    assert set(rows) == set(before) | {"a/new-1.jpg", "a/new-2.png"}
    assert rows["a/1.jpg"].pk == before["a/1.jpg"]
    assert (rows["a/1.jpg"].status, rows["a/1.jpg"].sha256, rows["a/1.jpg"].format) == ("pending", "", "png")
    assert rows["a/new-1.jpg"].status == "pending"
    assert {key for key, row in rows.items() if row.missing_at} == {"a/2.jpg", "a/3.jpg"}
    assert {key for key, row in rows.items() if row.status == "ready"} == {
        f"a/{n}.jpg" for n in (0, 2, 3, 4, 5, 6, 7, 8, 9)
    }

    client.put_object(Bucket=bucket, Key="a/2.jpg", Body=JPEG)  # back again, same content
    third = scan(alpha, admin_api, location)

    with tenant_context(alpha):
        back = Image.objects.get(storage_location=location, storage_key="a/2.jpg")
        still_missing = Image.objects.filter(storage_location=location, missing_at__isnull=False)
        assert third["missing"] == 0 and back.missing_at is None and back.status == "ready"
        assert list(still_missing.values_list("storage_key", flat=True)) == ["a/3.jpg"]


def test_a_prefix_scan_only_touches_that_prefix(alpha, admin_api, s3_server):
    bucket = s3_server.bucket()
    client = s3_server.client()
    for key in ("2023/a.jpg", "2024/b.jpg", "2024/c.jpg"):
        client.put_object(Bucket=bucket, Key=key, Body=JPEG)
    with tenant_context(alpha):
        location = s3_location("roll", s3_server, bucket, index_only=True)
    scan(alpha, admin_api, location)
    client.delete_object(Bucket=bucket, Key="2023/a.jpg")
    client.put_object(Bucket=bucket, Key="2024/d.jpg", Body=JPEG)

    status = scan(alpha, admin_api, location, prefix="2024/")

    with tenant_context(alpha):
        assert keys_of(location) == {"2023/a.jpg", "2024/b.jpg", "2024/c.jpg", "2024/d.jpg"}
        assert not Image.objects.filter(missing_at__isnull=False).exists()
    assert (status["discovered"], status["prefix"]) == (3, "2024/")


def test_a_filesystem_rescan_sees_changes_by_size_and_mtime(alpha, admin_api, fs_roots):
    import os

    root = fs_roots / "alpha"
    (root / "x.jpg").write_bytes(JPEG)
    with tenant_context(alpha):
        location = fs_location("nas", root, index_only=True)
    scan(alpha, admin_api, location)
    with tenant_context(alpha):
        Image.objects.filter(storage_location=location).update(status=ImageStatus.READY)
    (root / "x.jpg").write_bytes(JPEG)
    os.utime(root / "x.jpg", ns=(1_000_000_000, 1_000_000_000))

    scan(alpha, admin_api, location)

    with tenant_context(alpha):
        assert Image.objects.get(storage_location=location).status == "pending"


def test_only_index_only_locations_are_scanned_and_one_scan_at_a_time(alpha, admin_api, s3_server):
    bucket = s3_server.bucket()
    with tenant_context(alpha):
        writable = StorageLocation.objects.get(is_default=True)
        location = s3_location("roll", s3_server, bucket, index_only=True)

    refused = admin_api.post("/api/v1/index/scan", {"storage_config_id": str(writable.pk)})
    first = admin_api.post("/api/v1/index/scan", {"storage_config_id": str(location.pk)})
    second = admin_api.post("/api/v1/index/scan", {"storage_config_id": str(location.pk)})
    unknown = admin_api.post("/api/v1/index/scan", {"storage_config_id": str(uuid.uuid4())})
    dotdot = admin_api.post("/api/v1/index/scan", {"storage_config_id": str(location.pk), "prefix": "a/../b"})

    assert refused.status_code == 400 and refused.json()["error"]["code"] == "storage_location_not_index_only"
    assert first.status_code == 202
    assert second.status_code == 409 and second.json()["error"]["detail"] == {
        "job_id": first.json()["job_id"]
    }
    assert unknown.status_code == 404
    assert dotdot.status_code == 400


def test_scan_status_is_tenant_scoped(alpha, beta, admin_api, s3_server):
    with tenant_context(alpha):
        location = s3_location("roll", s3_server, s3_server.bucket(), index_only=True)
    job_id = admin_api.post("/api/v1/index/scan", {"storage_config_id": str(location.pk)}).json()["job_id"]
    beta_admin = as_user(UserFactory(tenant=beta, role=Role.ADMIN, email="admin@beta.test"))

    mine = admin_api.get(f"/api/v1/index/status/{job_id}")
    theirs = beta_admin.get(f"/api/v1/index/status/{job_id}")
    their_scan = beta_admin.post("/api/v1/index/scan", {"storage_config_id": str(location.pk)})

    assert mine.status_code == 200 and mine.json()["state"] == "queued"
    assert theirs.status_code == 404
    assert their_scan.status_code == 404


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_only_admins_scan(alpha, users, s3_server, role):
    with tenant_context(alpha):
        location = s3_location("roll", s3_server, s3_server.bucket(), index_only=True)

    response = as_user(users[role]).post("/api/v1/index/scan", {"storage_config_id": str(location.pk)})

    assert response.status_code == 403
    with tenant_context(alpha):
        assert not Job.objects.filter(kind="storage_scan").exists()


def test_scheduled_scans_start_when_due(alpha, s3_server):
    now = timezone.now()
    with tenant_context(alpha):
        due = s3_location("due", s3_server, s3_server.bucket(), index_only=True, scan_interval_minutes=60)
        due.last_scan_at = now - timedelta(minutes=61)
        due.save()
        fresh = s3_location("fresh", s3_server, s3_server.bucket(), index_only=True, scan_interval_minutes=60)
        fresh.last_scan_at = now - timedelta(minutes=5)
        fresh.save()
        s3_location("manual", s3_server, s3_server.bucket(), index_only=True)

        started = storage_scans_due(now=now)
        again = storage_scans_due(now=now)

        jobs = list(Job.objects.filter(kind="storage_scan").values_list("params__location_id", flat=True))
    assert started == 1 and again == 0
    assert jobs == [str(due.pk)]


def test_purging_an_indexed_image_forgets_it_and_keeps_the_object(alpha, admin_api, fs_roots):
    from apps.audit.context import Actor
    from apps.images.services.lifecycle import image_purge

    root = fs_roots / "alpha"
    (root / "keep.jpg").write_bytes(JPEG)
    with tenant_context(alpha):
        location = fs_location("nas", root, index_only=True)
    scan(alpha, admin_api, location)

    with tenant_context(alpha):
        image = Image.objects.select_related("storage_location").get(storage_location=location)
        image_purge(image=image, actor=Actor.system(), tenant=alpha)
        assert not Image.objects.filter(storage_location=location).exists()
    assert (root / "keep.jpg").read_bytes() == JPEG


def test_the_rescan_command_scans_index_only_locations_with_a_summary(alpha, fs_roots):
    from io import StringIO

    from django.core.management import CommandError, call_command

    root = fs_roots / "alpha"
    (root / "deep" / "er").mkdir(parents=True, exist_ok=True)
    (root / "deep" / "er" / "a.jpg").write_bytes(JPEG)
    (root / "notes.txt").write_text("not an image")
    with tenant_context(alpha):
        fs_location("nas", root, index_only=True)
    out = StringIO()

    call_command("rescan", "alpha", "--now", stdout=out, verbosity=0)

    assert "nas: done" in out.getvalue() and "1 new or changed images" in out.getvalue()
    with tenant_context(alpha):
        assert Image.objects.filter(storage_key__endswith="a.jpg").count() == 1
    with pytest.raises(CommandError, match="no index-only location"):
        call_command("rescan", "alpha", "--location", "nowhere", "--now", verbosity=0)
