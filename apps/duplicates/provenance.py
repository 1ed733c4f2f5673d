"""Which member of a group was made from which: evidence from the pixels, never from file names.

Each image is read once into a few `Facts` (its JPEG quality estimate, bits per pixel, a small
colour thumbnail of its content after uniform borders are cut). Two members with the same content
(the same aspect after trimming, in one of the eight orientations, and correlated luminance) are
compared; one of them is *derived* from the other when

  * it is a lossless file (PNG, TIFF, BMP, GIF) whose pixels are the other, lossy, member's decoded
    pixels within compression noise: a conversion. Where the other is a JPEG of the same size the
    lossless pixels must also sit on that JPEG's quantisation lattice (apps/duplicates/jpeg_history.py);
    when they clearly do not, it is the other way round:
  * it is a JPEG whose pixels are a lossless member's pixels lossily encoded (the lossless pixels
    never went through this JPEG), unless it carries a camera's EXIF the lossless file lacks;
  * it is a render (JPEG, PNG, ...) of a camera original (HEIC, a RAW file);
  * both are lossy and it was saved at a lower JPEG quality (or, across codecs and with the same
    pixels, in fewer bits per pixel): a second generation (re-encode, or an edit re-saved);
  * it has a uniform border the other lacks (a padded copy);
  * it is grey where the other is in colour (colour removed).

Pure functions over Pillow and numpy; `facts_read` is the only one that touches storage.
"""

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from django.core.cache import cache
from PIL import Image as PILImage
from PIL import ImageOps

from apps.core.connection import connection
from apps.duplicates import jpeg_history
from apps.duplicates.features import TRIM_MAX, TRIM_TOLERANCE, _run
from apps.images.raw import RAW_FORMATS

logger = logging.getLogger(__name__)

LOSSLESS = {"png", "tiff", "bmp", "gif"}
CAMERA = {"heic", *RAW_FORMATS}
SIDE = 48  # common size of the compared thumbnails
DECODE_SIDE = 256  # JPEGs are decoded in draft mode to at least this
NEAR_MAD = 3.0  # mean absolute difference (0-255) within which two files hold the same pixels
# ... where the JPEG lattice already tells which of a JPEG and a lossless file of its size was made
# from the other (small, detailed pictures at JPEG quality 75-85 differ by up to 4.5 in the
# thumbnails, a JPEG decoded in draft mode against its PNG up to 3.1)
LATTICE_MAD = 6.0
SAME_CONTENT_CORR = 0.85  # luminance correlation above which two thumbnails show the same picture
ASPECT_TOLERANCE = 0.03
QUALITY_MARGIN = 3  # JPEG quality points a re-save must lose to count as a second generation
GREY_CHROMA = 2.0

# The IJG standard luminance table (quality 50), to estimate a JPEG's quality from its tables.
_STD_LUMA = np.array(
    [
        *(16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56),
        *(14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113),
        *(92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99),
    ],
    dtype=np.float64,
)


@dataclass
class Facts:
    format: str
    width: int
    height: int
    size_bytes: int
    quality: int | None  # JPEG quality estimate (1-100); None for other formats
    thumb: np.ndarray | None  # (SIDE, SIDE, 3) uint8 of the trimmed content
    aspect: float  # width / height of the trimmed content
    trimmed: bool  # a uniform border was cut
    grey: bool
    qtable: tuple[int, ...] | None = None  # a JPEG's luminance quantisation steps, natural order
    lattice: np.ndarray | None = None  # a lossless file's jpeg_history.lattice
    camera: bool = False  # EXIF names a camera (make or model)
    oriented: bool = False  # EXIF orientation other than upright: stored pixels are turned
    # Which file these are the facts of (tenant, image, SHA-256), set by facts_read(): the facts of
    # one content never change, so comparisons of two keyed facts are kept (_compared).
    key: str = ""

    @cached_property
    def planes(self) -> tuple[np.ndarray, np.ndarray, float]:
        """For compare(): the thumbnail as float32, its luminance (channel mean) centred, as float64,
        and that luminance's norm (0 when it is flat: a standard deviation of 1 or less)."""
        thumb = self.thumb.astype(np.float32)  # type: ignore[union-attr]
        luma = (thumb[..., 0] + thumb[..., 1] + thumb[..., 2]) / np.float32(3)
        flat = luma.std() <= 1
        centred = luma.astype(np.float64) - luma.astype(np.float64).mean()
        return thumb, centred, 0.0 if flat else float(np.sqrt(np.dot(centred.ravel(), centred.ravel())))

    @property
    def bits_per_pixel(self) -> float:
        return self.size_bytes * 8 / max(1, self.width * self.height)

    @property
    def lossless(self) -> bool:
        return self.format in LOSSLESS


def jpeg_quality(tables: dict | None) -> int | None:
    """The IJG quality whose scaled standard luminance table is closest to this one."""
    if not tables or 0 not in tables:
        return None
    table = np.asarray(tables[0], dtype=np.float64)
    if table.size != 64:
        return None
    # tables come in zig-zag order from Pillow; the sum is order-independent
    scale = 100.0 * table.sum() / _STD_LUMA.sum()
    quality = (200.0 - scale) / 2.0 if scale <= 100 else 5000.0 / scale
    return int(max(1, min(100, round(quality))))


def facts_from(img: PILImage.Image, *, fmt: str, width: int, height: int, size_bytes: int) -> Facts:
    tables = getattr(img, "quantization", None) if fmt == "jpeg" else None
    quality = jpeg_quality(tables)
    qtable = tuple(int(v) for v in tables[0]) if tables and 0 in tables and len(tables[0]) == 64 else None
    exif = img.getexif()
    camera = bool(exif.get(0x010F) or exif.get(0x0110))
    oriented = exif.get(0x0112, 1) not in (0, 1)
    lattice = jpeg_history.lattice(img) if fmt in LOSSLESS else None
    if fmt == "jpeg":
        img.draft("RGB", (DECODE_SIDE, DECODE_SIDE))
    img = ImageOps.exif_transpose(img)
    rgb = np.asarray(img.convert("RGB"))
    # The mean of the three channels, channel by channel: the same float32 values as mean(axis=2),
    # ten times faster (numpy reduces a short last axis slowly)
    grey = (rgb[..., 0].astype(np.float32) + rgb[..., 1] + rgb[..., 2]) / np.float32(3)
    box, trimmed = _content_box(grey)
    top, bottom, left, right = box
    content = np.ascontiguousarray(rgb[top:bottom, left:right])
    aspect = content.shape[1] / max(1, content.shape[0])
    thumb = np.asarray(PILImage.fromarray(content).resize((SIDE, SIDE), PILImage.Resampling.BOX))
    flt = thumb.astype(np.float32)
    chroma = float(np.abs(flt - flt.mean(axis=2, keepdims=True)).mean())
    return Facts(
        fmt,
        width,
        height,
        size_bytes,
        quality,
        thumb,
        aspect,
        trimmed,
        chroma < GREY_CHROMA,
        qtable=qtable,
        lattice=lattice,
        camera=camera,
        oriented=oriented,
    )


class Memo:
    """The results of a pure function of content-addressed inputs, kept in this process: the least
    recently used are dropped beyond `size`; None (nothing could be read) is not kept. Thread-safe
    (the web process runs threads)."""

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._values: OrderedDict = OrderedDict()

    def get(self, key, compute):
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
        value = compute()
        if value is None:
            return value
        with self._lock:
            self._values[key] = value
            if len(self._values) > self.size:
                self._values.popitem(last=False)
        return value


# A group is refreshed each time a copy joins it: its members' facts and their comparisons are
# read and made once per process, not once per refresh (a group of n costs n - 1 new comparisons
# instead of n(n - 1) / 2). Facts take 7-12 KB, 58 KB once compared (Facts.planes), and a
# comparison about 200 bytes: at most about 60 MB and 10 MB per process.
_facts_memo = Memo(1_000)
_compared = Memo(50_000)


def facts_read(image) -> Facts | None:
    """The facts of an image, from its original in storage (None when it cannot be read); cached
    by tenant, image and content hash, in Redis for every process and in this one."""
    key = f"keeper-facts:v2:{connection.schema_name}:{image.pk}:{image.sha256}"
    return _facts_memo.get(key, lambda: _facts_cached(image, key)) if image.sha256 else _facts_read(image)


def _facts_cached(image, key: str) -> Facts | None:
    facts = cache.get(key)
    if facts is None:
        facts = _facts_read(image)
        if facts is not None:
            cache.set(key, facts, timeout=7 * 24 * 3600)
    if facts is not None:
        facts.key = key
    return facts


def _facts_read(image) -> Facts | None:
    from apps.images import imaging
    from apps.storage.backends import storage_for

    try:
        storage = storage_for(image.storage_location)
        if image.format in RAW_FORMATS:  # its pixels through LibRaw (the preview, or developed)
            with storage.open(image.storage_key, "rb") as fp:
                decoded = imaging.decode(fp, longest_needed=DECODE_SIDE)
            return facts_from(
                decoded.image,
                fmt=image.format,
                width=image.width,
                height=image.height,
                size_bytes=image.size_bytes,
            )
        with storage.open(image.storage_key, "rb") as fp, PILImage.open(fp) as img:
            return facts_from(
                img, fmt=image.format, width=image.width, height=image.height, size_bytes=image.size_bytes
            )
    except (OSError, ValueError, SyntaxError, RuntimeError, PILImage.DecompressionBombError) as exc:
        logger.info("keeper evidence: %s cannot be read (%s)", image.pk, exc)
        return None


def _content_box(grey: np.ndarray) -> tuple[tuple[int, int, int, int], bool]:
    h, w = grey.shape
    top, bottom, left, right = 0, h, 0, w
    colour = float(np.median(np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])))
    off = np.abs(grey - colour)
    rows_ok = off.max(axis=1) <= TRIM_TOLERANCE
    cols_ok = off.max(axis=0) <= TRIM_TOLERANCE
    t, b, lft, r = _run(rows_ok), _run(rows_ok[::-1]), _run(cols_ok), _run(cols_ok[::-1])
    if t + b >= h or lft + r >= w or max(t, b) > TRIM_MAX * h or max(lft, r) > TRIM_MAX * w:
        return (top, bottom, left, right), False
    # a border must frame the picture (two opposite sides at least), not be a dark sky at the top
    framed = (t >= 2 and b >= 2) or (lft >= 2 and r >= 2)
    if not framed:
        return (top, bottom, left, right), False
    return (t, h - b, lft, w - r), True


_ORIENTATIONS = [
    lambda a: a,
    lambda a: np.rot90(a, 1),
    lambda a: np.rot90(a, 2),
    lambda a: np.rot90(a, 3),
    lambda a: a[:, ::-1],
    lambda a: np.rot90(a[:, ::-1], 1),
    lambda a: np.rot90(a[:, ::-1], 2),
    lambda a: np.rot90(a[:, ::-1], 3),
]


@dataclass
class Comparison:
    same_content: bool
    mad: float  # mean absolute RGB difference of the aligned thumbnails
    orientation: int = 0  # which of _ORIENTATIONS aligns b on a (0: as they are)


def compare(a: Facts, b: Facts) -> Comparison:
    """Align b on a (eight orientations) and compare; aspects must match (swapped for 90 degrees)."""
    if a.thumb is None or b.thumb is None:
        return Comparison(False, 255.0)
    straight = abs(a.aspect / b.aspect - 1) <= ASPECT_TOLERANCE
    turned = abs(a.aspect * b.aspect - 1) <= ASPECT_TOLERANCE
    best = Comparison(False, 255.0)
    if not (straight or turned):
        return best
    ta, la, la_norm = a.planes
    tb_all, lb_all, lb_norm = b.planes
    varied = la_norm > 0 and lb_norm > 0
    for n, orient in enumerate(_ORIENTATIONS):
        if (n % 2 == 0 and not straight) or (n % 2 == 1 and not turned):
            continue
        tb = orient(tb_all)
        # Pearson's correlation of the luminances (np.corrcoef's): turning b permutes its pixels,
        # which changes neither its mean nor its norm
        corr = float(np.dot(la.ravel(), orient(lb_all).ravel()) / (la_norm * lb_norm)) if varied else 0.0
        mad = float(np.abs(ta - tb).mean())
        if corr >= SAME_CONTENT_CORR and mad < best.mad:
            best = Comparison(True, mad, n)
    return best


def derivation(x: Facts, y: Facts, *, names: tuple[str, str], c: Comparison | None = None) -> str | None:
    """Why x was made from y (a plain sentence), or None when the pixels do not say so.
    `names` are the two files' format names (x's, y's), for the sentence; `c` is compare(y, x)."""
    c = c or compare(y, x)
    if not c.same_content:
        return None
    xn, yn = names
    if x.format in CAMERA and y.format not in CAMERA:
        return None
    if y.format in CAMERA and x.format not in CAMERA:
        return f"the {xn} is a render of this {yn}"
    if x.trimmed and not y.trimmed and x.width * x.height > y.width * y.height:
        return f"the {xn} is a copy of this {yn} with a border added"
    if x.grey and not y.grey:
        return f"the {xn} is a grey copy of this {yn}"
    if x.lossless and not y.lossless:
        lattice = on_jpeg_lattice(lossless=x, jpeg=y) if c.orientation == 0 else None
        if lattice is False:
            return None  # its pixels never went through that JPEG: the JPEG was made from it
        if c.mad <= NEAR_MAD or (lattice and c.mad <= LATTICE_MAD):
            return f"the {xn} is a conversion of this {yn}"
    if (
        c.mad <= LATTICE_MAD
        and c.orientation == 0
        and y.lossless
        and x.format == "jpeg"
        and not (x.camera and not y.camera)
        and on_jpeg_lattice(lossless=y, jpeg=x) is False
    ):
        return f"the {xn} is a lossy encode of this {yn}"
    if x.lossless or y.lossless:
        return None
    if x.quality is not None and y.quality is not None:
        if x.quality + QUALITY_MARGIN <= y.quality:
            return f"the {xn} is a re-save of this {yn} at lower quality ({x.quality} < {y.quality})"
        if c.mad > NEAR_MAD or abs(x.quality - y.quality) >= QUALITY_MARGIN:
            return None
    if c.mad <= NEAR_MAD and x.bits_per_pixel < 0.8 * y.bits_per_pixel:
        return f"the {xn} is a smaller re-encode of this {yn}"
    return None


def on_jpeg_lattice(*, lossless: Facts, jpeg: Facts) -> bool | None:
    """Whether a lossless file's pixels are this JPEG's decoded pixels (True), never went through
    it (False), or the pixels cannot tell (None: another size, turned pixels, no usable steps)."""
    same_size = (lossless.width, lossless.height) == (jpeg.width, jpeg.height)
    if jpeg.format != "jpeg" or jpeg.oriented or not same_size:
        return None
    score = jpeg_history.history(lossless.lattice, jpeg.qtable)
    if score is None:
        return None
    if score >= jpeg_history.ON_LATTICE:
        return True
    return False if score <= jpeg_history.OFF_LATTICE else None


def _compare(a: Facts, b: Facts) -> Comparison:
    """compare(a, b), kept for facts that say which file they are."""
    if not (a.key and b.key):
        return compare(a, b)
    return _compared.get((a.key, b.key), lambda: compare(a, b))


def derivations(facts: dict) -> dict:
    """{(derived id, source id): reason}: for each member made from another, the one it is closest
    to (a PNG of a JPEG is also close to a mirror image of that JPEG; it was made from the JPEG)."""
    found: dict = {}
    ids = [k for k, f in facts.items() if f is not None]
    pairs = {(x, y): _compare(facts[x], facts[y]) for n, x in enumerate(ids) for y in ids[n + 1 :]}

    def made(x, y) -> str | None:
        c = pairs.get((y, x)) or pairs[(x, y)]
        return derivation(facts[x], facts[y], names=(_name(facts[x]), _name(facts[y])), c=c)

    for x in ids:
        best = None
        for y in ids:
            if x == y:
                continue
            reason = made(x, y)
            if reason and not made(y, x):
                mad = (pairs.get((y, x)) or pairs[(x, y)]).mad
                if best is None or mad < best[0]:
                    best = (mad, y, reason)
        if best:
            found[(x, best[1])] = best[2]
    return found


def _name(f: Facts) -> str:
    names = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "tiff": "TIFF", "bmp": "BMP", "gif": "GIF"}
    names |= {"jxl": "JPEG XL", **{fmt: name for fmt, (_t, _e, name) in RAW_FORMATS.items()}}
    return names.get(f.format, f.format.upper())
