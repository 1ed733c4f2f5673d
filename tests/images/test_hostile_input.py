"""Hostile files: decompression bombs by declared size, huge names, big PNG chunks (issue 17, item 7)."""

import io
import os
import struct
import zlib

import pytest
from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.images import imaging
from apps.images.models import Image, ImageStatus
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
