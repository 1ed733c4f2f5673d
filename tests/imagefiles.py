"""Images the tests make themselves: every format, EXIF orientation and GPS, broken files, bombs."""

import csv
import io
import os
import struct
import zlib
from pathlib import Path

from PIL import Image

# The public near-duplicate benchmark's real photos, in shared/ beside the checkout (as in CI).
SHARED = Path(os.environ.get("DEEPLENS_SHARED_DIR", Path(__file__).resolve().parents[2] / "shared"))
BENCH_IMAGES = SHARED / "bench" / "public" / "images"
BENCH_TRUTH = BENCH_IMAGES.parent / "ground_truth.csv"


def bench_truth() -> list[dict]:
    """The public bench's ground_truth.csv rows (file, orig_id, role, transform, is_distractor, ...)."""
    with open(BENCH_TRUTH) as fp:
        return list(csv.DictReader(fp))


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


# --- Camera RAW, JPEG XL and AVIF, written by real writers from the bench photos ---------------------

# XYZ (D65) -> linear sRGB: with it as ColorMatrix1 the "camera" space is linear sRGB, so LibRaw
# develops the mosaic back into (nearly) the photo it was made from.
_XYZ_TO_SRGB = [[3.2406, -1.5372, -0.4986], [-0.9689, 1.8758, 0.0415], [0.0557, -0.2040, 1.0570]]


def _sub_ifd_tag(tag, ifd):
    """pidng's dngTag for an IFD-valued tag (its own setValue breaks on bytes for those)."""
    from pidng.dng import dngTag

    class SubIFDTag(dngTag):
        def setValue(self, value):  # pidng's name
            self.Value, self.subIFD = b"\x00\x00\x00\x00", value[0]

    return SubIFDTag(tag, [ifd])


def dng(
    source: "Image.Image | Path",
    *,
    preview: bool = True,
    camera: tuple[str, str] = ("Canon", "Canon EOS R5"),
    lens: str = "RF24-105mm F4 L IS USM",
    taken: str | None = "2024:05:01 10:11:12",
    gps: tuple | None = None,
    orientation: int = 1,
) -> bytes:
    """A DNG written with pidng from a photo's pixels: an RGGB Bayer mosaic of its linear light (16
    bits), the camera's Make/Model, an EXIF IFD (DateTimeOriginal, LensModel) and a GPS IFD; with
    `preview`, the canonical DNG layout of a camera: IFD0 a full-size JPEG preview, the raw data in
    a SubIFD (else the raw data is IFD0 and LibRaw must develop it)."""
    import numpy as np
    from pidng.dng import DNG, Tag, Type, dngIFD, dngTag

    img = (Image.open(source) if isinstance(source, Path) else source).convert("RGB")
    width, height = img.width - img.width % 2, img.height - img.height % 2
    img = img.crop((0, 0, width, height))
    rgb = np.asarray(img, dtype=np.float64) / 255.0
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    values = np.round(linear * 65535).astype(np.uint16)
    mosaic = np.empty((height, width), np.uint16)
    mosaic[0::2, 0::2] = values[0::2, 0::2, 0]
    mosaic[0::2, 1::2] = values[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = values[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = values[1::2, 1::2, 2]
    tile = mosaic.tobytes()
    tile_offsets = dngTag(Tag.TileOffsets, [0])
    raw_tags = [
        dngTag(Tag.ImageWidth, [width]),
        dngTag(Tag.ImageLength, [height]),
        dngTag(Tag.BitsPerSample, [16]),
        dngTag(Tag.Compression, [1]),
        dngTag(Tag.PhotometricInterpretation, [32803]),  # CFA
        dngTag(Tag.SamplesPerPixel, [1]),
        dngTag(Tag.TileWidth, [width]),
        dngTag(Tag.TileLength, [height]),
        tile_offsets,
        dngTag(Tag.TileByteCounts, [len(tile)]),
        dngTag(Tag.CFARepeatPatternDim, [2, 2]),
        dngTag(Tag.CFAPattern, [0, 1, 1, 2]),  # RGGB
        dngTag(Tag.BlackLevel, [0]),
        dngTag(Tag.WhiteLevel, [65535]),
    ]
    exif = dngIFD()
    if taken:
        exif.tags.append(dngTag(Tag.DateTimeOriginal, taken))
    if lens:
        exif.tags.append(dngTag(Tag.EXIFPhotoLensModel, lens))
    common = [
        dngTag(Tag.Make, camera[0]),
        dngTag(Tag.Model, camera[1]),
        dngTag(Tag.UniqueCameraModel, camera[1]),
        dngTag(Tag.Orientation, [orientation]),
        dngTag(Tag.DNGVersion, [1, 4, 0, 0]),
        dngTag(Tag.DNGBackwardVersion, [1, 0, 0, 0]),
        dngTag(Tag.ColorMatrix1, [[round(x * 10000), 10000] for row in _XYZ_TO_SRGB for x in row]),
        dngTag(Tag.CalibrationIlluminant1, [21]),  # D65
        dngTag(Tag.AsShotNeutral, [[1, 1], [1, 1], [1, 1]]),
        _sub_ifd_tag(Tag.EXIF_IFD, exif),
    ]
    if gps:
        (lat, lat_ref), (lon, lon_ref) = gps
        gps_ifd = dngIFD()
        gps_ifd.tags += [
            dngTag((1, Type.Ascii), lat_ref),
            dngTag((2, Type.Rational), [[round(v * 100), 100] for v in lat]),
            dngTag((3, Type.Ascii), lon_ref),
            dngTag((4, Type.Rational), [[round(v * 100), 100] for v in lon]),
        ]
        common.append(_sub_ifd_tag((34853, Type.IFD), gps_ifd))
    template = DNG()
    template.ImageDataStrips.append(tile)
    ifd0 = dngIFD()
    strip_offsets = dngTag(Tag.StripOffsets, [0])
    if preview:
        jpg = encode(img, "JPEG", quality=92)
        template.ImageDataStrips.append(jpg)
        raw_ifd = dngIFD()
        raw_ifd.tags = [dngTag(Tag.NewSubfileType, [0]), *raw_tags]
        ifd0.tags = [
            dngTag(Tag.NewSubfileType, [1]),  # a reduced-resolution (here: full-size) preview
            dngTag(Tag.ImageWidth, [width]),
            dngTag(Tag.ImageLength, [height]),
            dngTag(Tag.BitsPerSample, [8, 8, 8]),
            dngTag(Tag.Compression, [7]),  # JPEG
            dngTag(Tag.PhotometricInterpretation, [6]),  # YCbCr
            dngTag(Tag.SamplesPerPixel, [3]),
            dngTag(Tag.RowsPerStrip, [height]),
            strip_offsets,
            dngTag(Tag.StripByteCounts, [len(jpg)]),
            _sub_ifd_tag(Tag.SubIFD, raw_ifd),
            *common,
        ]
    else:
        ifd0.tags = [dngTag(Tag.NewSubfileType, [0]), *raw_tags, *common]
    template.IFDs.append(ifd0)
    buffer = bytearray(template.dataLen())  # places the strips: their offsets are known from here
    tile_offsets.setValue([template.StripOffsets[0]])
    if preview:
        strip_offsets.setValue([template.StripOffsets[1]])
    template.setBuffer(buffer)
    template.write()
    return bytes(buffer)


def corrupt_dng(source: "Image.Image | Path") -> bytes:
    """A DNG without a preview whose raw data is cut short: its header reads, developing fails."""
    data = dng(source, preview=False)
    return data[: len(data) // 2]


def jxl(source: "Image.Image | Path", quality: int = 85) -> bytes:
    import pillow_jxl  # noqa: F401 - registers JXL

    img = Image.open(source) if isinstance(source, Path) else source
    return encode(img.convert("RGB"), "JXL", quality=quality)


def avif(source: "Image.Image | Path", quality: int = 80) -> bytes:
    img = Image.open(source) if isinstance(source, Path) else source
    return encode(img.convert("RGB"), "AVIF", quality=quality)


def truncated_jxl(source: "Image.Image | Path") -> bytes:
    data = jxl(source)
    return data[: len(data) // 2]
