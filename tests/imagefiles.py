"""Images the tests make themselves: every format, EXIF orientation and GPS, broken files, bombs."""

import io
import os
import struct
import zlib
from pathlib import Path

from PIL import Image

# The public near-duplicate benchmark's real photos, in shared/ beside the checkout (as in CI).
SHARED = Path(os.environ.get("DEEPLENS_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
BENCH_IMAGES = SHARED / "bench" / "public" / "images"


def picture(width: int = 640, height: int = 480, seed: int = 0) -> Image.Image:
    """A picture with structure (gradients and blocks), so hashes and thumbnails mean something."""
    img = Image.new("RGB", (width, height))
    pixels = img.load()
    for y in range(height):
        for x in range(width):
            pixels[x, y] = (
                (x * 255 // width + seed * 37) % 256,
                (y * 255 // height) % 256,
                ((x // 40 + y // 40 + seed) % 2) * 200,
            )
    return img


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **params)
    return out.getvalue()


def jpeg(
    width=640, height=480, seed=0, *, orientation=None, camera=None, taken=None, gps=None, quality=90
) -> bytes:
    img = picture(width, height, seed)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    if camera:
        exif[0x010F], exif[0x0110] = camera
    ifd = {}
    if taken:
        ifd[0x9003] = taken
    if ifd:
        exif[0x8769] = ifd
    if gps:
        (lat, lat_ref), (lon, lon_ref) = gps
        exif[0x8825] = {1: lat_ref, 2: lat, 3: lon_ref, 4: lon}
    return encode(img, "JPEG", quality=quality, exif=exif.tobytes())


def png_rgba(width=300, height=200) -> bytes:
    img = picture(width, height).convert("RGBA")
    img.putalpha(128)
    return encode(img, "PNG")


FORMAT_BYTES = {
    "jpeg": lambda: jpeg(),
    "png": lambda: png_rgba(),
    "webp": lambda: encode(picture(320, 240), "WEBP"),
    "tiff": lambda: encode(picture(320, 240), "TIFF"),
    "bmp": lambda: encode(picture(320, 240), "BMP"),
    "gif": lambda: _gif(),
    "heic": lambda: _heic(),
}


def _gif() -> bytes:
    frames = [picture(200, 150, seed).convert("P") for seed in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return out.getvalue()


def _heic() -> bytes:
    import pillow_heif

    pillow_heif.register_heif_opener()
    return encode(picture(320, 240), "HEIF", quality=80)


def truncated_jpeg() -> bytes:
    data = jpeg(800, 600)
    return data[: len(data) // 3]


def png_bomb(width=100_000, height=100_000) -> bytes:
    """A valid PNG header that declares ten billion pixels (and has no data)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"
TEXT = b"just some text, not an image\n"


def bench_photos(count: int) -> list[Path]:
    if not BENCH_IMAGES.is_dir():
        raise FileNotFoundError(
            f"The real photos of the public bench are not at {BENCH_IMAGES}; put shared/ beside the "
            "checkout or set DEEPLENS_SHARED_DIR."
        )
    photos = sorted(
        p for p in BENCH_IMAGES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp")
    )
    return photos[:count]
