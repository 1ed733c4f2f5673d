"""Which copy to keep: the tenant's policy, applied in order, with the reason shown to people."""

from apps.images.models import Image


def keeper_suggest(
    images: list[Image], *, format_priority: list[str], default_location_id=None
) -> tuple[Image, str]:
    """Format priority (RAW/HEIC/PNG/TIFF over JPEG by default), then resolution, file size, EXIF
    richness, age (the oldest), then the default storage location."""
    rank = {fmt: i for i, fmt in enumerate(format_priority)}

    def key(image: Image):
        return (
            rank.get(image.format, len(rank)),
            -(image.width * image.height),
            -image.size_bytes,
            -len(image.exif or {}),
            image.taken_at or image.created_at,
            image.created_at,
            0 if image.storage_location_id == default_location_id else 1,
            str(image.pk),
        )

    ordered = sorted(images, key=key)
    best = ordered[0]
    if len(ordered) == 1:
        return best, "only image"
    second = ordered[1]
    if rank.get(best.format, len(rank)) != rank.get(second.format, len(rank)):
        reason = f"preferred format ({best.get_format_display()})"
    elif best.pixels != second.pixels:
        reason = f"highest resolution ({best.width}x{best.height})"
    elif best.size_bytes != second.size_bytes:
        reason = "largest file"
    elif len(best.exif or {}) != len(second.exif or {}):
        reason = "richest EXIF"
    elif (best.taken_at or best.created_at) != (second.taken_at or second.created_at):
        reason = "oldest"
    else:
        reason = (
            "default storage location" if best.storage_location_id == default_location_id else "first added"
        )
    return best, reason
