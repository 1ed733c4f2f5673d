"""Which copy to keep: the tenant's criteria, applied in order, with the reason shown to people.

The default order is what a careful person would keep: the original over anything made from it
(apps/duplicates/provenance.py says which member was made from which, from the pixels), then the
highest resolution, the richest metadata (camera, capture date, GPS, more EXIF), the earliest
capture or upload, the default storage location, and only then the preferred format and the
largest file.
"""

from collections.abc import Callable

from apps.images.models import Image

ORIGINAL, RESOLUTION, METADATA, EARLIEST, LOCATION, FORMAT, SIZE = (
    "original",
    "resolution",
    "metadata",
    "earliest",
    "location",
    "format",
    "size",
)
CRITERIA = [ORIGINAL, RESOLUTION, METADATA, EARLIEST, LOCATION, FORMAT, SIZE]
CRITERIA_LABELS = {
    ORIGINAL: "Original over copies made from it",
    RESOLUTION: "Highest resolution",
    METADATA: "Richest metadata (camera, capture date, GPS, EXIF)",
    EARLIEST: "Earliest capture or upload",
    LOCATION: "Default storage location",
    FORMAT: "Preferred format",
    SIZE: "Largest file",
}


def default_keeper_criteria() -> list[str]:
    return list(CRITERIA)


def metadata_score(image: Image) -> tuple[int, int]:
    exif = image.exif or {}
    camera = bool(image.camera or exif.get("make") or exif.get("model"))
    essentials = sum((camera, bool(image.taken_at), bool(exif.get("gps"))))
    return essentials, len(exif)


def keeper_suggest(
    images: list[Image],
    *,
    format_priority: list[str],
    criteria: list[str] | None = None,
    default_location_id=None,
    derived: dict | None = None,
) -> tuple[Image, str]:
    """The member to keep and why. `derived` is provenance.derivations() over the members' ids:
    {(derived id, source id): reason}."""
    derived = derived or {}
    criteria = [c for c in (criteria or CRITERIA) if c in CRITERIA]
    criteria += [c for c in CRITERIA if c not in criteria]
    rank = {fmt: i for i, fmt in enumerate(format_priority)}
    copies = {d for d, _ in derived}
    sources = {s for _, s in derived}

    keys: dict[str, Callable[[Image], object]] = {
        # 0: others were made from it and it from none; 1: no evidence either way; 2: made from another
        ORIGINAL: lambda i: 2 if i.pk in copies else 0 if i.pk in sources else 1,
        RESOLUTION: lambda i: -i.pixels,
        METADATA: lambda i: tuple(-v for v in metadata_score(i)),
        EARLIEST: lambda i: (i.taken_at or i.created_at, i.created_at),
        LOCATION: lambda i: 0 if i.storage_location_id == default_location_id else 1,
        FORMAT: lambda i: rank.get(i.format, len(rank)),
        SIZE: lambda i: -i.size_bytes,
    }
    ordered = sorted(images, key=lambda i: (*(keys[c](i) for c in criteria), str(i.pk)))
    best = ordered[0]
    if len(ordered) == 1:
        return best, "only image"
    second = ordered[1]
    for criterion in criteria:
        if keys[criterion](best) != keys[criterion](second):
            return best, _reason(criterion, best, second, images, derived)
    return best, "first added"


def _reason(criterion: str, best: Image, second: Image, images: list[Image], derived: dict) -> str:
    if criterion == ORIGINAL:
        for other in [second, *images]:
            if why := derived.get((other.pk, best.pk)):
                return f"original: {why}"
        return "original: the other copies were made from it"
    if criterion == RESOLUTION:
        return f"highest resolution ({best.width}x{best.height})"
    if criterion == METADATA:
        exif = best.exif or {}
        has = [
            name
            for name, present in (
                ("camera", bool(best.camera or exif.get("make") or exif.get("model"))),
                ("capture date", bool(best.taken_at)),
                ("GPS", bool(exif.get("gps"))),
            )
            if present
        ]
        return f"richest metadata ({', '.join(has)})" if has else "richest EXIF"
    if criterion == EARLIEST:
        return "earliest capture" if best.taken_at and best.taken_at != second.taken_at else "earliest upload"
    if criterion == LOCATION:
        return "default storage location"
    if criterion == FORMAT:
        return f"preferred format ({best.get_format_display()})"
    return "largest file"
