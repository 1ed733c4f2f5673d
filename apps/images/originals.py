"""Reading an image's original from its storage location and decoding it: the one decode path for
originals, shared by processing, thumbnail regeneration, the index stage and search (a leaf
module: it imports no service)."""

import hashlib
import tempfile

from apps.images import imaging
from apps.images.models import Image
from apps.storage.backends import storage_for


def decode_original(image: Image, *, longest_needed: int, keep_gps: bool = True) -> imaging.Decoded:
    try:
        with storage_for(image.storage_location).open(image.storage_key, "rb") as original:
            if not image.sha256:  # found by a storage scan: hashed when first read
                with _hashed(original, image) as copy:
                    return imaging.decode(copy, longest_needed=longest_needed, keep_gps=keep_gps)
            return imaging.decode(original, longest_needed=longest_needed, keep_gps=keep_gps)
    except FileNotFoundError as exc:
        raise imaging.CorruptImage("the original file is missing from storage") from exc


def _hashed(original, image: Image):
    """A spooled copy of the original; sets the image's SHA-256 and size from what was read."""
    digest, size = hashlib.sha256(), 0
    copy = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - the caller closes it
    while chunk := original.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
        copy.write(chunk)
    copy.seek(0)
    image.sha256, image.size_bytes = digest.hexdigest(), size
    return copy
