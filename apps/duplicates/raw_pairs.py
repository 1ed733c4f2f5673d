"""RAW + JPEG of one shot: a camera writes a RAW file and a JPEG rendered from it for the same frame.

Two images are one shot in two formats when one is a RAW file and the other is not, both name the
same camera, and both were captured in the same second (their content already matched: only
images found as duplicates are asked). Pure functions over Image rows.
"""

from apps.images.models import Image
from apps.images.raw import RAW_FORMATS

RAW_JPEG_LABEL = "RAW + JPEG of one shot"
SAME_SECOND = 1.0


def is_raw(image: Image) -> bool:
    return image.format in RAW_FORMATS


def _camera(image: Image) -> str:
    return " ".join((image.camera or "").lower().split())


def same_shot(a: Image, b: Image) -> bool:
    """One RAW and one rendered file of the same camera, captured in the same second."""
    if is_raw(a) == is_raw(b) or not _camera(a) or _camera(a) != _camera(b):
        return False
    if a.taken_at is None or b.taken_at is None:
        return False
    return abs((a.taken_at - b.taken_at).total_seconds()) < SAME_SECOND


def shot_label(images: list[Image]) -> str:
    """The group's label when its members are one RAW and what the camera rendered of that shot."""
    raws = [i for i in images if is_raw(i)]
    if len(raws) != 1 or len(images) < 2:
        return ""
    rendered = [i for i in images if not is_raw(i)]
    if not all(same_shot(raws[0], other) for other in rendered):
        return ""
    names = {other.get_format_display() for other in rendered}
    return RAW_JPEG_LABEL if names == {"JPEG"} else f"RAW + {' + '.join(sorted(names))} of one shot"
