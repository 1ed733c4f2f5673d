"""Camera RAW (DNG written by pidng from real photo pixels), JPEG XL and AVIF (written by their Pillow
plugins from the bench photos): upload -> ready -> thumbnails -> download, and clear failures.

CR2, CR3, NEF, ARW, ORF, RAF and RW2 are read by the same LibRaw path; no writer for them exists
here, so only DNG is made and tested end to end (their recognition by content is tested below)."""

import io

import imagehash
import pytest
from django.test import override_settings
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.images import imaging
from apps.images.imaging import hash_hex
from apps.images.jxl import jxl_size
from apps.images.models import Image, ImageStatus
from apps.images.raw import raw_head_kind
from apps.storage.backends import storage_for
from tests import imagefiles
from tests.images.conftest import media_files, process, upload

PHOTO = imagefiles.bench_photos(3)[2]
GPS = (((48.0, 51.0, 24.0), "N"), ((2.0, 21.0, 3.0), "E"))


def _shape(photo) -> tuple[int, int]:
    with PILImage.open(photo) as img:
        return img.width - img.width % 2, img.height - img.height % 2


@pytest.mark.parametrize("preview", [True, False], ids=["embedded-preview", "developed"])
def test_dng_goes_through_upload_processing_and_download(alpha, member_api, preview):
    data = imagefiles.dng(PHOTO, preview=preview, gps=GPS)

    response = upload(member_api, "IMG_0001.DNG", data)
    assert response.status_code == 202, response.content
    image = process(alpha, response.json()["id"])

    width, height = _shape(PHOTO)
    assert (image.status, image.format, image.content_type) == ("ready", "dng", "image/x-adobe-dng")
    assert (image.width, image.height) == (width, height)
    assert image.storage_key.endswith(".dng")
    assert image.camera == "Canon Canon EOS R5"
    assert image.taken_at.isoformat() == "2024-05-01T10:11:12+00:00"
    assert image.exif["lens"] == "RF24-105mm F4 L IS USM"
    assert image.exif["gps"] == {"lat": 48.8566667, "lon": 2.3508333}
    assert image.exif["orientation"] == 1
    assert image.exif["raw_source"] == ("preview" if preview else "developed")
    assert {t.spec: (t.format, max(t.width, t.height)) for t in image.thumbnails.all()} == {
        "small": ("webp", 150),
        "medium": ("webp", 400),
        "large": ("webp", min(1024, max(width, height))),
    }
    # The hashes are the photo's: the RAW shows what the camera saw.
    with PILImage.open(PHOTO) as full:
        assert imagehash.hex_to_hash(hash_hex(image.phash)) - imagehash.phash(full) <= 6

    download = member_api.client.get(f"/api/v1/images/{image.pk}/download", **member_api.headers)
    assert download.status_code == 200
    assert download["Content-Type"] == "image/x-adobe-dng"
    assert b"".join(download.streaming_content) == data  # the original, untouched


def test_a_raw_rotated_by_the_camera_is_shown_upright(alpha, member_api):
    data = imagefiles.dng(PHOTO, orientation=6)

    image = process(alpha, upload(member_api, "portrait.dng", data).json()["id"])

    width, height = _shape(PHOTO)
    assert (image.width, image.height) == (height, width)
    assert image.exif["orientation"] == 6
    large = next(t for t in image.thumbnails.all() if t.spec == "large")
    assert large.height > large.width


@pytest.mark.parametrize(
    "fmt, maker, content_type",
    [("jxl", imagefiles.jxl, "image/jxl"), ("avif", imagefiles.avif, "image/avif")],
)
def test_jpeg_xl_and_avif_are_read(alpha, member_api, fmt, maker, content_type):
    data = maker(PHOTO)

    image = process(alpha, upload(member_api, f"photo.{fmt}", data).json()["id"])

    with PILImage.open(PHOTO) as full:
        size = full.size
        phash = imagehash.phash(full)
    assert (image.status, image.format, image.content_type) == ("ready", fmt, content_type)
    assert (image.width, image.height) == size
    assert len(image.thumbnails.all()) == 3
    assert imagehash.hex_to_hash(hash_hex(image.phash)) - phash <= 6
    download = member_api.client.get(f"/api/v1/images/{image.pk}/download", **member_api.headers)
    assert download["Content-Type"] == content_type
    assert b"".join(download.streaming_content) == data


def test_a_corrupt_raw_fails_with_a_reason(alpha, member_api):
    response = upload(member_api, "broken.dng", imagefiles.corrupt_dng(PHOTO))
    assert response.status_code == 202, response.content  # its header is a DNG's

    image = process(alpha, response.json()["id"])

    assert (image.status, image.failed_stage) == (ImageStatus.FAILED, "decode")
    assert image.failure_reason.startswith("The image could not be decoded: the DNG file cannot be read")
    assert "truncated or corrupt" in image.failure_reason


def test_a_truncated_jpeg_xl_fails_with_a_reason(alpha, member_api):
    response = upload(member_api, "cut.jxl", imagefiles.truncated_jxl(PHOTO))
    assert response.status_code == 202, response.content  # its header is whole

    image = process(alpha, response.json()["id"])

    assert (image.status, image.failed_stage) == (ImageStatus.FAILED, "decode")
    assert image.failure_reason == (
        "The image could not be decoded: the JPEG XL data is truncated or corrupt."
    )


def test_a_raw_over_the_pixel_cap_is_refused_and_nothing_is_stored(alpha, member_api):
    before = media_files()
    width, height = _shape(PHOTO)

    with override_settings(DEEPLENS_MAX_IMAGE_PIXELS=width * height - 1):
        response = upload(member_api, "big.dng", imagefiles.dng(PHOTO))

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "image_too_many_pixels"
    assert response.json()["error"]["detail"] == {"width": width, "height": height}
    assert media_files() == before
    with tenant_context(alpha):
        assert not Image.objects.exists()


def test_a_jpeg_xl_declaring_a_huge_canvas_is_refused_before_decoding(alpha, member_api):
    # A codestream whose SizeHeader declares 100000 x 100000 (not small; height-1 in 18 bits;
    # ratio 1:1) and nothing after it: the plugin would try to decode it.
    bits = [0, 0, 1] + [(99_999 >> n) & 1 for n in range(18)] + [1, 0, 0]
    bits += [0] * (-len(bits) % 8)
    header = bytes(sum(bit << n for n, bit in enumerate(bits[i : i + 8])) for i in range(0, len(bits), 8))
    bomb = b"\xff\x0a" + header + b"\x00" * 16
    assert jxl_size(bomb) == (100_000, 100_000)

    response = upload(member_api, "bomb.jxl", bomb)

    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "image_too_many_pixels"
    with tenant_context(alpha):
        assert not Image.objects.exists()


def test_a_plain_tiff_is_still_a_tiff(alpha, member_api):
    data = imagefiles.encode(imagefiles.picture(320, 240), "TIFF")

    response = upload(member_api, "scan.tif", data)

    assert response.status_code == 202
    with tenant_context(alpha):
        assert Image.objects.get(pk=response.json()["id"]).format == "tiff"


@pytest.mark.parametrize(
    "head, kind",
    [
        (b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01", "cr3"),
        (b"FUJIFILMCCD-RAW 0201", "raf"),
        (b"IIRO\x08\x00\x00\x00" + b"\x00" * 8, "orf"),
        (b"IIU\x00\x08\x00\x00\x00" + b"\x00" * 8, "rw2"),
        (b"II*\x00\x10\x00\x00\x00CR\x02\x00" + b"\x00" * 4, "cr2"),
        (b"II*\x00\x08\x00\x00\x00" + b"\x00" * 8, None),
    ],
)
def test_raw_formats_are_told_apart_by_their_first_bytes(head, kind):
    assert raw_head_kind(head) == kind


def test_a_dng_stored_in_a_bucket_is_read_as_raw(alpha, member_api):
    image = process(alpha, upload(member_api, "a.dng", imagefiles.dng(PHOTO)).json()["id"])

    with tenant_context(alpha), storage_for(image.storage_location).open(image.storage_key) as stored:
        decoded = imaging.decode(io.BytesIO(stored.read()), longest_needed=256)

    assert decoded.exif["raw_source"] == "preview"


BROWSER_ACCEPT = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"


def test_jpeg_xl_and_avif_thumbnails_of_a_raw_follow_accept(alpha, admin_api, member_api):
    url = f"tenants/{alpha.pk}/thumbnail-config"
    specs = [
        {"name": "small", "max_width": 150, "max_height": 150, "format": "avif", "quality": 60},
        {"name": "large", "max_width": 512, "max_height": 512, "format": "jxl", "quality": 80},
    ]
    assert admin_api.call("put", url, {"specs": specs}).status_code == 200
    image = process(alpha, upload(member_api, "shot.dng", imagefiles.dng(PHOTO)).json()["id"])
    assert {t.spec: t.format for t in image.thumbnails.all()} == {"small": "avif", "large": "jxl"}
    thumbnail = f"images/{image.pk}/thumbnail"

    avif = member_api.get(thumbnail, {"spec": "small"}, HTTP_ACCEPT=BROWSER_ACCEPT)
    jxl = member_api.get(thumbnail, {"spec": "large"}, HTTP_ACCEPT="image/jxl,image/*;q=0.8")
    as_jpeg = member_api.get(thumbnail, {"spec": "large"}, HTTP_ACCEPT=BROWSER_ACCEPT)
    refused_jxl = member_api.get(thumbnail, {"spec": "large"}, HTTP_ACCEPT="image/jxl;q=0,image/*")

    assert (avif.status_code, avif["Content-Type"]) == (200, "image/avif")
    assert PILImage.open(io.BytesIO(avif.content)).format == "AVIF"
    assert jxl["Content-Type"] == "image/jxl"
    assert "Accept" in jxl["Vary"]
    assert PILImage.open(io.BytesIO(jxl.content)).size == (
        512,
        round(512 * _shape(PHOTO)[1] / _shape(PHOTO)[0]),
    )
    assert as_jpeg["Content-Type"] == "image/jpeg"
    assert "Accept" in as_jpeg["Vary"]
    assert PILImage.open(io.BytesIO(as_jpeg.content)).size == PILImage.open(io.BytesIO(jxl.content)).size
    assert refused_jxl["Content-Type"] == "image/jpeg"
    assert as_jpeg["ETag"] != jxl["ETag"]
    # Each representation answers its own conditional request.
    again = member_api.get(
        thumbnail, {"spec": "large"}, HTTP_ACCEPT=BROWSER_ACCEPT, HTTP_IF_NONE_MATCH=as_jpeg["ETag"]
    )
    assert again.status_code == 304


def test_a_dng_listed_as_a_tiff_is_recorded_as_a_dng_once_read(alpha, member_api):
    # A storage scan judges a file by its first 32 bytes: a DNG starts as any TIFF does.
    image_id = upload(member_api, "scanned.dng", imagefiles.dng(PHOTO)).json()["id"]
    with tenant_context(alpha):
        Image.objects.filter(pk=image_id).update(format="tiff", content_type="image/tiff")

    image = process(alpha, image_id)

    assert (image.status, image.format, image.content_type) == ("ready", "dng", "image/x-adobe-dng")


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01" + bytes(range(256)) * 8,  # a CR3 mark, then noise
        b"FUJIFILMCCD-RAW 0201FF383501" + bytes(2048),  # a RAF mark, then nothing LibRaw reads
    ],
    ids=["cr3-mark-only", "raf-mark-only"],
)
def test_bytes_that_only_look_like_a_raw_are_refused(alpha, member_api, data):
    before = media_files()

    response = upload(member_api, "fake.cr3", data)

    assert response.status_code == 415, response.content
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert "camera RAW (DNG, CR2, CR3, NEF, ARW, ORF, RAF, RW2)" in response.json()["error"]["message"]
    assert media_files() == before


def test_storage_scans_know_the_new_formats_from_32_bytes():
    heads = {
        "jxl": imagefiles.jxl(PHOTO)[:32],
        "avif": imagefiles.avif(PHOTO)[:32],
        "dng": imagefiles.dng(PHOTO)[:32],
        "cr3": b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01" + bytes(16),
    }

    assert {name: imaging.sniff_head(head) for name, head in heads.items()} == {
        "jxl": ("jxl", "image/jxl"),
        "avif": ("avif", "image/avif"),
        "dng": ("tiff", "image/tiff"),  # recorded as a DNG once processing reads it
        "cr3": ("cr3", "image/x-canon-cr3"),
    }
