"""Byte-identical members of a group: the same SHA-256 is the same file, whatever its name."""

from collections import defaultdict
from collections.abc import Iterable

from apps.images.models import Image


def identical_sets(images: Iterable[Image]) -> list[list[Image]]:
    """The sets of two or more images with the same SHA-256, in the order their first image comes."""
    by_sha: dict[str, list[Image]] = defaultdict(list)
    for image in images:
        by_sha[image.sha256].append(image)
    return [same for same in by_sha.values() if len(same) > 1]


def identical_figures(images: Iterable[Image]) -> tuple[int, int]:
    """(copies, bytes) that removing only identical copies would win: all but one image per SHA-256."""
    sets = identical_sets(images)
    return sum(len(s) - 1 for s in sets), sum((len(s) - 1) * s[0].size_bytes for s in sets)
