"""The suggested keeper on real photos and copies made from them here: the original wins over a
PNG of it, a WebP or lower-quality re-encode, a downscale, a padded or grey copy and a copy without
its EXIF; a PNG original wins over a JPEG made from it (and a PNG made from a JPEG still loses);
the tenant's criteria order is followed; the reason names the deciding criterion."""

import io
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from apps.duplicates.keeper import keeper_suggest
from apps.duplicates.models import default_format_priority
from apps.duplicates.provenance import derivations, facts_from, jpeg_quality
from apps.images import imaging
from apps.images.models import Image
from tests.duplicates.conftest import photo

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def encoded(img: PILImage.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt, **options)
    return out.getvalue()


def decoded(data: bytes) -> PILImage.Image:
    with PILImage.open(io.BytesIO(data)) as img:
        return img.convert("RGB")


def png_of(jpeg: bytes) -> bytes:
    """A PNG made from a JPEG: its decoded pixels saved losslessly."""
    return encoded(decoded(jpeg), "PNG")


def never_a_jpeg(img: PILImage.Image) -> PILImage.Image:
    """Pixels that never went through a JPEG (as a render or an export at a new size would be): the
    bench photo resampled, which wipes the trace of its own JPEG encoding."""
    return img.resize((img.width * 3 // 4, img.height * 3 // 4), PILImage.Resampling.LANCZOS)


def with_exif(img: PILImage.Image, quality: int = 92) -> bytes:
    exif = img.getexif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS 5D"
    exif.get_ifd(0x8769)[0x9003] = "2021:05:06 07:08:09"
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 30.0, 0.0), 3: "E", 4: (13.0, 24.0, 0.0)})
    return encoded(img, "JPEG", quality=quality, exif=exif)


class Member:
    """An image row (unsaved) and its facts, from the bytes as the product would read them."""

    def __init__(self, name: str, data: bytes, minutes: int):
        with PILImage.open(io.BytesIO(data)) as img:
            fmt = img.format.lower()
            exif = imaging.exif_summary(img, keep_gps=True)
            width, height = img.size  # before facts_from, which decodes a JPEG in draft mode
            self.facts = facts_from(img, fmt=fmt, width=width, height=height, size_bytes=len(data))
        taken = exif.get("taken_at")
        self.image = Image(
            id=uuid.uuid4(),
            original_filename=name,
            format=fmt,
            width=width,
            height=height,
            size_bytes=len(data),
            exif=exif,
            camera=" ".join(v for v in (exif.get("make"), exif.get("model")) if v),
            taken_at=datetime.fromisoformat(taken) if taken else None,
            created_at=T0 + timedelta(minutes=minutes),
            storage_location_id=1,
        )


def suggest(members: list[Member], **policy):
    derived = derivations({m.image.pk: m.facts for m in members})
    keeper, reason = keeper_suggest(
        [m.image for m in members],
        format_priority=policy.pop("format_priority", default_format_priority()),
        default_location_id=1,
        derived=derived,
        **policy,
    )
    return keeper.original_filename, reason


# Each copy is uploaded *before* the original, so "earliest upload" never saves the original.
@pytest.mark.parametrize(
    ("index", "make_copy", "reason"),
    [
        (
            0,
            lambda img: png_of(encoded(img, "JPEG", quality=92)),
            "original: the PNG is a conversion of this JPEG",
        ),
        (
            1,
            lambda img: encoded(img, "WEBP", quality=80),
            "original: the WebP is a smaller re-encode of this JPEG",
        ),
        (
            2,
            lambda img: encoded(img, "JPEG", quality=60),
            "original: the JPEG is a re-save of this JPEG at lower quality (60 < 92)",
        ),
        (
            3,
            lambda img: encoded(img.resize((img.width // 2, img.height // 2)), "JPEG", quality=92),
            None,  # resolution decides: the downscale is also a re-save, but either reason is true
        ),
        (
            4,
            lambda img: encoded(ImageOps.expand(img, border=40, fill=(0, 0, 0)), "JPEG", quality=85),
            "original: the JPEG is a copy of this JPEG with a border added",
        ),
        (5, lambda img: encoded(ImageOps.grayscale(img), "JPEG", quality=92), None),
    ],
    ids=["png_of_jpeg", "webp_q80", "jpeg_q60", "downscale", "padded", "grey"],
)
def test_the_original_is_kept_over_a_copy_made_from_it(index, make_copy, reason):
    img = photo(index)
    copy = Member("copy", make_copy(img), minutes=0)
    original = Member("original", encoded(img, "JPEG", quality=92), minutes=5)
    keeper, why = suggest([copy, original])
    assert keeper == "original", why
    if reason:
        assert why == reason
    else:
        assert why.startswith(("original: ", "highest resolution")), why


def test_a_downscale_loses_on_resolution_when_provenance_is_off():
    img = photo(6)
    small = Member("small", encoded(img.resize((img.width // 2, img.height // 2)), "JPEG", quality=92), 0)
    original = Member("original", encoded(img, "JPEG", quality=92), 5)
    criteria = ["resolution", "earliest", "original"]
    assert suggest([small, original], criteria=criteria) == (
        "original",
        f"highest resolution ({original.image.width}x{original.image.height})",
    )


def test_a_copy_without_exif_loses_on_metadata():
    img = photo(7)
    original = Member("original", with_exif(img), 5)
    stripped = Member("stripped", encoded(img, "JPEG", quality=92), 0)
    assert original.image.exif["gps"] == {"lat": 52.5, "lon": 13.4}
    assert suggest([stripped, original]) == ("original", "richest metadata (camera, capture date, GPS)")


# Several real photos and JPEG qualities; the copy is uploaded first in both directions.
PHOTOS_AND_QUALITIES = [(0, 75), (3, 85), (6, 92), (9, 95), (13, 90)]


@pytest.mark.parametrize(("index", "quality"), PHOTOS_AND_QUALITIES)
def test_a_png_original_is_kept_over_a_jpeg_made_from_it(index, quality):
    pixels = never_a_jpeg(photo(index))
    jpeg = Member("copy.jpg", encoded(pixels, "JPEG", quality=quality), 0)
    png = Member("original.png", encoded(pixels, "PNG"), 5)
    assert suggest([jpeg, png]) == ("original.png", "original: the JPEG is a lossy encode of this PNG")
    # the format preference does not matter: JPEG first still keeps the PNG original
    assert suggest([jpeg, png], format_priority=["jpeg", "png"])[0] == "original.png"


@pytest.mark.parametrize(("index", "quality"), PHOTOS_AND_QUALITIES)
def test_a_png_made_from_a_jpeg_still_loses_to_the_jpeg(index, quality):
    data = encoded(never_a_jpeg(photo(index)), "JPEG", quality=quality)
    png = Member("copy.png", png_of(data), 0)
    jpeg = Member("original.jpg", data, 5)
    assert suggest([png, jpeg]) == ("original.jpg", "original: the PNG is a conversion of this JPEG")


def test_a_camera_jpeg_is_not_called_an_encode_of_a_png_without_exif():
    # a camera wrote the JPEG: however clean the PNG's pixels look, the JPEG is no copy of it
    pixels = never_a_jpeg(photo(7))
    png = Member("export.png", encoded(pixels, "PNG"), 0)
    camera = Member("camera.jpg", with_exif(pixels), 5)
    assert suggest([png, camera]) == ("camera.jpg", "richest metadata (camera, capture date, GPS)")


def test_the_png_of_a_jpeg_wins_only_where_the_tenant_puts_format_first():
    img = photo(0)
    png = Member("copy.png", png_of(encoded(img, "JPEG", quality=92)), 0)
    jpeg = Member("original.jpg", encoded(img, "JPEG", quality=92), 5)
    assert suggest([png, jpeg], criteria=["format", "original"]) == ("copy.png", "preferred format (PNG)")
    assert suggest([png, jpeg], criteria=["format"], format_priority=["jpeg", "png"]) == (
        "original.jpg",
        "preferred format (JPEG)",
    )


def test_among_unrelated_edits_the_group_original_is_the_one_the_copies_were_made_from():
    img = photo(8)
    members = [
        Member("webp", encoded(img, "WEBP", quality=80), 0),
        Member("q50", encoded(img, "JPEG", quality=50), 1),
        Member("mirror", encoded(ImageOps.mirror(img), "JPEG", quality=80), 2),
        Member("original", encoded(img, "JPEG", quality=92), 3),
    ]
    keeper, why = suggest(members)
    assert keeper == "original"
    assert why.startswith("original: the ")


def test_names_decide_nothing():
    img = photo(0)
    png = Member("IMG_0001_original.png", png_of(encoded(img, "JPEG", quality=92)), 0)
    jpeg = Member("converted-copy.jpg", encoded(img, "JPEG", quality=92), 5)
    assert suggest([png, jpeg])[0] == "converted-copy.jpg"
    pixels = never_a_jpeg(img)
    png = Member("converted-copy.png", encoded(pixels, "PNG"), 0)
    jpeg = Member("IMG_0001_original.jpg", encoded(pixels, "JPEG", quality=85), 5)
    assert suggest([png, jpeg])[0] == "converted-copy.png"


def test_jpeg_quality_is_estimated_from_the_tables():
    img = photo(0)
    for quality in (30, 60, 75, 92):
        with PILImage.open(io.BytesIO(encoded(img, "JPEG", quality=quality))) as decoded:
            assert abs(jpeg_quality(decoded.quantization) - quality) <= 1


def test_a_group_refreshed_after_a_copy_joined_compares_only_the_newcomer(monkeypatch):
    """Facts that say which file they are (facts_read keys them by content) are compared once per
    process: the next refresh of a group of n compares the newcomer with the n - 1 others only."""
    from apps.duplicates import provenance

    original = photo(0)
    copies = [
        Member(f"copy-{n}.jpg", encoded(original, "JPEG", quality=q), n)
        for n, q in enumerate((95, 85, 75, 65))
    ]
    for n, member in enumerate(copies):
        member.facts.key = f"test:{uuid.uuid4()}:{n}"
    calls = []
    real = provenance.compare
    monkeypatch.setattr(provenance, "compare", lambda a, b: calls.append((a.key, b.key)) or real(a, b))

    first = derivations({m.image.pk: m.facts for m in copies[:3]})
    assert len(calls) == 3
    calls.clear()
    again = derivations({m.image.pk: m.facts for m in copies})
    assert len(calls) == 3  # the fourth against the three others
    assert all(copies[3].facts.key in pair for pair in calls)
    assert {k: v for k, v in again.items() if copies[3].image.pk not in k} == first
    calls.clear()
    unkeyed = [
        Member(m.image.original_filename, encoded(original, "JPEG", quality=90), 9) for m in copies[:3]
    ]
    derivations({m.image.pk: m.facts for m in unkeyed})
    derivations({m.image.pk: m.facts for m in unkeyed})
    assert len(calls) == 6  # facts of unknown origin are compared every time


def test_the_memo_drops_the_least_recently_used_and_keeps_no_none():
    from apps.duplicates.provenance import Memo

    memo = Memo(2)
    computed = []

    def compute(value):
        return lambda: computed.append(value) or value

    assert memo.get("a", compute(1)) == 1
    assert memo.get("b", compute(2)) == 2
    assert memo.get("a", compute(9)) == 1  # kept, and now the most recent
    assert memo.get("c", compute(3)) == 3  # "b" is dropped
    assert memo.get("b", compute(4)) == 4
    assert memo.get("n", compute(None)) is None
    assert memo.get("n", compute(5)) == 5  # None was not kept: read again
    assert computed == [1, 2, 3, 4, None, 5]
