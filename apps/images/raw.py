"""Camera RAW files through LibRaw (rawpy): recognising them by their bytes, their EXIF, and their
pixels, from the embedded full-size preview when the camera wrote one (a JPEG decode: the fast
path) or by developing the sensor data otherwise. Pure functions; imaging.py calls them.

LibRaw reads DNG, CR2, CR3, NEF, ARW, ORF, RAF, RW2 and most other cameras' RAW files; the
formats named here are the ones recognised by content and stored under their own name.
"""

import io
import struct
from dataclasses import dataclass
from typing import IO, Literal

import exifread
import rawpy
from PIL import Image, ImageOps

# our format -> (content type, extension, name people know)
RAW_FORMATS = {
    "dng": ("image/x-adobe-dng", "dng", "DNG"),
    "cr2": ("image/x-canon-cr2", "cr2", "Canon CR2"),
    "cr3": ("image/x-canon-cr3", "cr3", "Canon CR3"),
    "nef": ("image/x-nikon-nef", "nef", "Nikon NEF"),
    "arw": ("image/x-sony-arw", "arw", "Sony ARW"),
    "orf": ("image/x-olympus-orf", "orf", "Olympus ORF"),
    "raf": ("image/x-fuji-raf", "raf", "Fujifilm RAF"),
    "rw2": ("image/x-panasonic-rw2", "rw2", "Panasonic RW2"),
}
# Makers whose TIFF-structured RAW files carry no mark of their own but the Make tag.
TIFF_RAW_MAKERS = {b"NIKON": "nef", b"SONY": "arw"}
TIFF_HEAD_READ = 64 * 1024

# LibRaw's flip (applied to the developed image) as an EXIF orientation.
FLIP_ORIENTATION = {0: 1, 3: 3, 5: 8, 6: 6}


class RawUnreadable(ValueError):
    """LibRaw cannot read the file (not a RAW it knows, or its data is damaged)."""


def raw_head_kind(head: bytes) -> str | None:
    """The RAW format a file's first 16 bytes alone prove (CR3, RAF, ORF, RW2, CR2); TIFF-structured
    files (DNG, NEF, ARW) need raw_kind()."""
    if head[4:12] == b"ftypcrx ":
        return "cr3"
    if head[:15] == b"FUJIFILMCCD-RAW":
        return "raf"
    if head[:4] in (b"IIRO", b"IIRS", b"MMOR"):
        return "orf"
    if head[:4] == b"IIU\x00":
        return "rw2"
    if head[:4] in (b"II*\x00", b"MM\x00*") and head[8:11] == b"CR\x02":
        return "cr2"
    return None


def raw_kind(fp: IO[bytes]) -> str | None:
    """The RAW format of a file, from its bytes: the marks above, else a TIFF whose first IFD has a
    DNGVersion tag (DNG) or a RAW maker's Make tag. None for anything else (a plain TIFF included)."""
    fp.seek(0)
    head = fp.read(16)  # most files are judged by these alone
    if (kind := raw_head_kind(head)) or head[:4] not in (b"II*\x00", b"MM\x00*"):
        fp.seek(0)
        return kind
    head += fp.read(TIFF_HEAD_READ - len(head))
    fp.seek(0)
    tags = _ifd0_tags(head)
    if 0xC612 in tags:
        return "dng"
    make = tags.get(0x010F, b"").upper()
    return next((kind for maker, kind in TIFF_RAW_MAKERS.items() if make.startswith(maker)), None)


def _ifd0_tags(head: bytes) -> dict[int, bytes]:
    """The first IFD's tags: ASCII values (Make) as bytes, others as b"" (their presence is enough)."""
    order: Literal["<", ">"] = "<" if head[:2] == b"II" else ">"
    try:
        (offset,) = struct.unpack_from(order + "I", head, 4)
        (count,) = struct.unpack_from(order + "H", head, offset)
        tags: dict[int, bytes] = {}
        for n in range(min(count, 1000)):
            tag, kind, length, value = struct.unpack_from(order + "HHI4s", head, offset + 2 + 12 * n)
            if kind == 2:  # ASCII
                if length > 4:
                    (at,) = struct.unpack(order + "I", value)
                    value = head[at : at + length]
                tags[tag] = value[:length].split(b"\x00")[0].strip()
            else:
                tags[tag] = b""
        return tags
    except struct.error:
        return {}


@dataclass(frozen=True)
class RawInfo:
    width: int  # displayed size (after the camera's rotation)
    height: int
    raw_width: int  # the sensor data's size (what developing decodes)
    raw_height: int
    orientation: int


def _open(data: bytes) -> rawpy.RawPy:
    try:
        return rawpy.imread(io.BytesIO(data))
    except (rawpy.LibRawError, OSError, ValueError) as exc:
        raise RawUnreadable(str(exc)) from exc


def raw_info(data: bytes) -> RawInfo:
    """The sizes LibRaw finds in the file's header (nothing is decoded)."""
    with _open(data) as raw:
        return _info(raw)


def _info(raw: rawpy.RawPy) -> RawInfo:
    sizes = raw.sizes
    orientation = FLIP_ORIENTATION.get(sizes.flip, 1)
    width, height = (sizes.height, sizes.width) if orientation in (6, 8) else (sizes.width, sizes.height)
    if width <= 0 or height <= 0:
        raise RawUnreadable("the RAW file has no image")
    return RawInfo(width, height, sizes.raw_width, sizes.raw_height, orientation)


@dataclass
class RawPixels:
    image: Image.Image  # RGB, upright
    info: RawInfo
    preview: bool  # from the embedded preview (else developed)
    preview_exif: Image.Exif | None  # the preview JPEG's own EXIF (some cameras keep it only there)


def raw_pixels(data: bytes, *, longest_needed: int, budget_check) -> RawPixels:
    """Upright RGB pixels, at least `longest_needed` on the long side where the file has that many:
    the embedded preview when it is that large (no demosaicing), else the developed sensor data (at
    half size when that is still large enough). `budget_check(width, height, file_size)` is applied
    to what is decoded before decoding it. Raises RawUnreadable."""
    with _open(data) as raw:
        info = _info(raw)
        wanted = min(longest_needed or max(info.width, info.height), max(info.width, info.height))
        preview = _preview(raw, wanted=wanted, budget_check=budget_check, file_size=len(data))
        if preview is not None:
            image, exif = preview
            return RawPixels(_orient(image, info.orientation), info, True, exif)
        budget_check(info.raw_width, info.raw_height, len(data))
        half = bool(longest_needed) and max(info.width, info.height) // 2 >= longest_needed
        try:
            rgb = raw.postprocess(
                use_camera_wb=True,
                output_bps=8,
                half_size=half,
                gamma=(2.4, 12.92),
                demosaic_algorithm=rawpy.DemosaicAlgorithm.LINEAR,
            )
        except (rawpy.LibRawError, OSError, ValueError) as exc:
            raise RawUnreadable(f"the RAW data is truncated or corrupt ({exc})") from exc
    return RawPixels(Image.fromarray(rgb, "RGB"), info, False, None)


def _preview(raw: rawpy.RawPy, *, wanted: int, budget_check, file_size: int):
    """The embedded preview as (image, its EXIF) when it is at least `wanted` on its long side."""
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawError, OSError, ValueError):
        return None
    data = thumb.data
    if thumb.format == rawpy.ThumbFormat.JPEG and isinstance(data, bytes):
        try:
            img = Image.open(io.BytesIO(data), formats=["JPEG"])
            if max(img.size) < wanted:
                return None
            budget_check(*img.size, file_size)  # over it (a ValueError): the sensor data is developed
            img.draft("RGB", (wanted, wanted))
            exif = img.getexif()
            img.load()
            return img.convert("RGB"), exif
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            return None
    if isinstance(data, bytes) or thumb.format != rawpy.ThumbFormat.BITMAP or max(data.shape[:2]) < wanted:
        return None
    return Image.fromarray(data).convert("RGB"), None


def _orient(img: Image.Image, orientation: int) -> Image.Image:
    """Previews are stored as the sensor saw them; the RAW's orientation turns them upright."""
    if orientation == 1:
        return img
    exif = Image.Exif()
    exif[0x0112] = orientation
    img.info["exif"] = exif.tobytes()
    img.getexif()[0x0112] = orientation
    return ImageOps.exif_transpose(img)


def raw_exif(data: bytes, *, keep_gps: bool) -> tuple[dict, tuple[str, str]]:
    """Camera, lens, GPS and orientation from the RAW's own EXIF (exifread reads the TIFF-structured
    RAWs and more), in imaging.exif_summary's shape, and the capture time's (DateTimeOriginal,
    OffsetTimeOriginal) texts."""
    try:
        tags = exifread.process_file(io.BytesIO(data), details=False, extract_thumbnail=False)
    except (ValueError, KeyError, IndexError, TypeError, struct.error, OSError, ZeroDivisionError):
        return {}, ("", "")
    summary: dict = {}
    orientation = _first(tags.get("Image Orientation"))
    if isinstance(orientation, int) and 1 <= orientation <= 8:
        summary["orientation"] = orientation
    for name, key in (("Image Make", "make"), ("Image Model", "model"), ("EXIF LensModel", "lens")):
        if value := _tag_text(tags.get(name)):
            summary[key] = value
    if keep_gps:
        lat = _degrees(tags.get("GPS GPSLatitude"), _tag_text(tags.get("GPS GPSLatitudeRef")))
        lon = _degrees(tags.get("GPS GPSLongitude"), _tag_text(tags.get("GPS GPSLongitudeRef")))
        if lat is not None and lon is not None and -90 <= lat <= 90 and -180 <= lon <= 180:
            summary["gps"] = {"lat": round(lat, 7), "lon": round(lon, 7)}
    taken = (_tag_text(tags.get("EXIF DateTimeOriginal")), _tag_text(tags.get("EXIF OffsetTimeOriginal")))
    return summary, taken


def _first(tag):
    values = getattr(tag, "values", None)
    return values[0] if isinstance(values, list) and values else None


def _tag_text(tag) -> str:
    if tag is None:
        return ""
    value = tag.values if isinstance(getattr(tag, "values", None), str | bytes) else str(tag)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value.replace("\x00", "").strip()[:200]


def _degrees(tag, ref: str) -> float | None:
    values = getattr(tag, "values", None)
    if not isinstance(values, list) or len(values) != 3:
        return None
    try:
        d, m, s = (float(v) for v in values)
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60 + s / 3600
    return -value if ref in ("S", "W") else value
