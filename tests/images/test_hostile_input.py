"""Hostile files: decompression bombs by declared size, huge names, big PNG chunks (issue 17, item 7)."""

import io
import os
import struct
import zlib

import pytest
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.images import imaging
from apps.images.models import Image, ImageSettings, ImageStatus
from tests import imagefiles
from tests.images.conftest import media_files, process, upload


def gif(screen=(1, 1), frames=(((0, 0), (1, 1)),)) -> bytes:
    """A GIF of a logical screen and frames placed on it ((left, top), (width, height)), each a few
    bytes of LZW: the screen is what a decoder allocates, whatever the frames hold."""
    body = b"GIF89a" + struct.pack("<HH", *screen) + b"\x80\x00\x00" + b"\x00\x00\x00\xff\xff\xff"
    for (left, top), (width, height) in frames:
        body += b"\x21\xf9\x04\x00\x00\x00\x00\x00"  # graphic control extension
        body += b"\x2c" + struct.pack("<HHHH", left, top, width, height) + b"\x00"
        body += b"\x02\x02\x4c\x01\x00"  # LZW minimum code size, one sub-block, terminator
    return body + b"\x3b"


def png_with_chunk(kind: bytes, body: bytes, size=(64, 48)) -> bytes:
    png = imagefiles.encode(imagefiles.picture(*size), "PNG")
    chunk = struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return png[:33] + chunk + png[33:]  # right after IHDR


def test_a_tiny_gif_declaring_14000_squared_is_refused_before_decoding(alpha, member_api):
    bomb = gif(screen=(14000, 14000))
    assert len(bomb) < 64
    files_before = media_files()

    response = upload(member_api, "bomb.gif", bomb)

    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "image_decode_budget_exceeded"
    assert error["detail"]["width"] == 14000
    assert error["detail"]["height"] == 14000
    assert "14000x14000" in error["message"]
    with tenant_context(alpha):
        assert Image.objects.count() == 0
    assert media_files() == files_before


def test_a_gif_frame_placed_far_outside_a_small_screen_counts_at_its_extent():
    later_frame_far_out = gif(screen=(10, 10), frames=[((0, 0), (1, 1)), ((13000, 13000), (1000, 1000))])

    assert imaging.gif_canvas(io.BytesIO(later_frame_far_out)) == (14000, 14000)
    with pytest.raises(imaging.DecodeBudgetExceeded):
        imaging.sniff(io.BytesIO(later_frame_far_out))
    with pytest.raises(imaging.DecodeBudgetExceeded):
        imaging.decode(io.BytesIO(later_frame_far_out), longest_needed=256)


def test_a_real_animated_gif_passes_the_budget_with_its_own_size():
    frames = [imagefiles.picture(120, 80, seed).convert("P") for seed in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)

    assert imaging.gif_canvas(io.BytesIO(out.getvalue())) == (120, 80)
    sniffed = imaging.sniff(io.BytesIO(out.getvalue()))
    assert (sniffed.format, sniffed.width, sniffed.height) == ("gif", 120, 80)


def test_a_flat_but_honest_png_passes_the_budget():
    """5000x4000 of one colour: 80 MB decoded from about 80 KB, within deflate's own ratio."""
    data = imagefiles.encode(PILImage.new("RGB", (5000, 4000), (200, 30, 30)), "PNG")

    sniffed = imaging.sniff(io.BytesIO(data))

    assert (sniffed.width, sniffed.height) == (5000, 4000)


def test_decoding_is_refused_before_allocating_when_the_budget_is_exceeded(settings):
    settings.DEEPLENS_DECODE_FREE_BYTES = 1024
    settings.DEEPLENS_DECODE_MAX_RATIO = 10
    data = imagefiles.encode(PILImage.new("RGB", (400, 300), (0, 0, 0)), "PNG")

    with pytest.raises(imaging.DecodeBudgetExceeded, match="400x300 would take 480,000 bytes"):
        imaging.decode(io.BytesIO(data), longest_needed=256)


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (b"iCCP", b"profile\x00\x00" + zlib.compress(os.urandom(2 * 1024 * 1024))),
        (b"zTXt", b"comment\x00\x00" + zlib.compress(b"y" * (3 * 1024 * 1024))),
        (b"tEXt", b"comment\x00" + b"x" * (2 * 1024 * 1024)),
    ],
)
def test_a_png_with_a_chunk_over_1_mb_is_accepted_and_processed(alpha, member_api, kind, body):
    response = upload(member_api, "profiled.png", png_with_chunk(kind, body))

    assert response.status_code == 202, response.content
    image = process(alpha, response.json()["id"])
    assert (image.format, image.width, image.height) == ("png", 64, 48)
    assert image.status == ImageStatus.READY, image.failure_reason


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "hostile-boundary") -> bytes:
    """A multipart/form-data body written by hand: Django's test client shortens file names to 255
    characters before sending, so a long name has to be sent this way."""
    body = b""
    for field, filename, data in parts:
        disposition = f'form-data; name="{field}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename:
            body += b"Content-Type: application/octet-stream\r\n"
        body += b"\r\n" + data + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def post_multipart(api, path: str, body: bytes, **extra):
    return api.client.generic(
        "POST",
        f"/api/v1/{path}",
        body,
        content_type="multipart/form-data; boundary=hostile-boundary",
        **api.headers,
        **extra,
    )


def spool_files() -> set[str]:
    from django.conf import settings

    from apps.images.upload_handlers import spool_dir_prepare

    spool_dir_prepare()
    return {path.name for path in __import__("pathlib").Path(settings.FILE_UPLOAD_TEMP_DIR).iterdir()}


@pytest.mark.parametrize("declared", [200 * 1024 * 1024, 600 * 1024 * 1024])
def test_an_upload_over_the_limit_is_refused_from_its_content_length_before_it_is_read(
    alpha, member_api, declared
):
    """The body sent is small; a view that read it would find it short. 413 with the limit, for
    200 MB and for 600 MB (over the installation's cap) alike."""
    with tenant_context(alpha):
        ImageSettings.objects.update_or_create(defaults={"max_upload_bytes": 100 * 1024 * 1024})
    body = multipart([("file", "huge.jpg", imagefiles.jpeg(64, 64))])
    spooled_before = spool_files()

    response = post_multipart(member_api, "images/upload", body, CONTENT_LENGTH=str(declared))

    assert response.status_code == 413
    error = response.json()["error"]
    assert error["code"] == "file_too_large"
    assert error["detail"] == {"max_upload_bytes": 100 * 1024 * 1024, "content_length": declared}
    with tenant_context(alpha):
        assert Image.objects.count() == 0
    assert spool_files() == spooled_before


def test_a_file_that_passes_the_limit_while_streaming_is_a_413_not_a_missing_file(alpha, member_api):
    with tenant_context(alpha):
        ImageSettings.objects.update_or_create(defaults={"max_upload_bytes": 4096})
    big = imagefiles.jpeg(800, 600)
    assert len(big) > 4096 + 16 * 1024

    response = post_multipart(member_api, "images/upload", multipart([("file", "big.jpg", big)]))

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "file_too_large"
    assert response.json()["error"]["detail"] == {"max_upload_bytes": 4096, "filename": "big.jpg"}
    with tenant_context(alpha):
        assert Image.objects.count() == 0


def test_a_batch_reports_a_file_over_the_limit_as_its_own_413(alpha, member_api):
    with tenant_context(alpha):
        ImageSettings.objects.update_or_create(defaults={"max_upload_bytes": 8192})
    small, big = imagefiles.jpeg(64, 64), imagefiles.jpeg(800, 600)
    body = multipart([("files", "small.jpg", small), ("files", "big.jpg", big)])

    response = post_multipart(member_api, "images/batch", body)

    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 1)
    rejected = next(result for result in body["results"] if "error" in result)
    assert rejected["filename"] == "big.jpg"
    assert rejected["status"] == 413
    assert rejected["error"]["code"] == "file_too_large"
    with tenant_context(alpha):
        assert list(Image.objects.values_list("original_filename", flat=True)) == ["small.jpg"]


def test_a_file_name_over_1_kb_is_shortened_to_255_characters(alpha, member_api):
    name = "holiday-" + "é" * 1200 + ".jpg"

    response = post_multipart(
        member_api, "images/upload", multipart([("file", name, imagefiles.jpeg(64, 64))])
    )

    assert response.status_code == 202, response.content
    with tenant_context(alpha):
        stored = Image.objects.get(pk=response.json()["id"]).original_filename
    assert len(stored) == 255
    assert stored == ("holiday-" + "é" * 1200)[:251] + ".jpg"


GPS = (((52.0, 22.0, 12.5), "N"), ((4.0, 53.0, 42.0), "W"))


def with_appended(data: bytes) -> bytes:
    return data + b"PK\x03\x04" + b"<script>alert(1)</script>" * 20


@pytest.mark.parametrize(
    ("name", "data", "keep_gps"),
    [
        ("appended.jpg", with_appended(imagefiles.jpeg(300, 200)), True),
        ("appended.png", with_appended(imagefiles.encode(imagefiles.picture(300, 200), "PNG")), True),
        ("appended.webp", with_appended(imagefiles.encode(imagefiles.picture(300, 200), "WEBP")), True),
        ("gps.jpg", imagefiles.jpeg(300, 200, gps=GPS), False),
    ],
)
def test_a_small_original_is_not_served_as_its_thumbnail_with_what_it_carries(
    alpha, member_api, name, data, keep_gps
):
    with tenant_context(alpha):
        ImageSettings.objects.update_or_create(defaults={"keep_gps": keep_gps})
    image = process(alpha, upload(member_api, name, data).json()["id"])
    assert image.status == ImageStatus.READY, image.failure_reason

    response = member_api.get(f"images/{image.pk}/thumbnail", {"spec": "large"})

    assert response.status_code == 200
    served = response.content
    assert b"<script>" not in served
    assert b"PK\x03\x04" not in served
    served_image = PILImage.open(io.BytesIO(served))
    assert served_image.size == (300, 200)
    assert 0x8825 not in served_image.getexif()  # no GPS IFD
    with tenant_context(alpha):
        assert image.thumbnails.get(spec="large").storage_key != image.storage_key


def test_a_bare_small_original_is_still_served_as_itself(alpha, member_api):
    data = imagefiles.encode(imagefiles.picture(300, 200), "PNG")
    image = process(alpha, upload(member_api, "bare.png", data).json()["id"])

    response = member_api.get(f"images/{image.pk}/thumbnail", {"spec": "large"})

    assert response.content == data
    with tenant_context(alpha):
        assert image.thumbnails.get(spec="large").storage_key == image.storage_key


@pytest.mark.parametrize(
    ("data", "fmt", "bare"),
    [
        (imagefiles.encode(imagefiles.picture(64, 48), "JPEG"), "JPEG", True),
        (imagefiles.encode(imagefiles.picture(64, 48), "JPEG", progressive=True), "JPEG", True),
        (imagefiles.encode(imagefiles.picture(64, 48), "JPEG") + b"\xff\xd9", "JPEG", False),
        (imagefiles.encode(imagefiles.picture(64, 48), "JPEG", comment=b"hi"), "JPEG", False),
        (imagefiles.encode(imagefiles.picture(64, 48), "PNG"), "PNG", True),
        (png_with_chunk(b"tEXt", b"k\x00v"), "PNG", False),
        (imagefiles.encode(imagefiles.picture(64, 48), "WEBP"), "WEBP", True),
        (imagefiles.encode(imagefiles.picture(64, 48), "WEBP", exif=b"Exif\x00\x00II*\x00"), "WEBP", False),
    ],
)
def test_bare_means_pixels_and_nothing_else(data, fmt, bare):
    assert imaging.is_bare(data, fmt) is bare
