"""Features <-> Signature rows."""

import numpy as np

from apps.duplicates import features as F
from apps.duplicates.models import Signature

# 2: keypoints spread over the picture (apps/duplicates/features.py), not the strongest alone
VERSION = 2
_MASK = (1 << 64) - 1


def signed(value: int) -> int:
    value &= _MASK
    return value - (1 << 64) if value >= 1 << 63 else value


def bands(value: int) -> list[int]:
    """The unsigned 64-bit value in four 16-bit bands, most significant first."""
    value &= _MASK
    return [(value >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]


def signature_row(*, image_id, features: F.Features) -> Signature:
    upright = int(features.phashes[0])
    b = bands(upright)
    return Signature(
        image_id=image_id,
        version=VERSION,
        width=features.width,
        height=features.height,
        phashes=[signed(int(h)) for h in features.phashes],
        band0=b[0],
        band1=b[1],
        band2=b[2],
        band3=b[3],
        keypoints=features.keypoints.astype(np.float32).tobytes(),
        descriptors=features.descriptors.astype(np.uint8).tobytes(),
        # Not stored: verification mirrors the image being indexed, never the stored candidate.
        mirrored_keypoints=b"",
        mirrored_descriptors=b"",
        thumb=features.thumb.astype(np.uint8).tobytes(),
        thumb_width=int(features.thumb.shape[1]),
    )


def anchor_bits(features: F.Features) -> list[str]:
    """The image's anchors as `bit(256)` literals: what is stored and what is searched."""
    return [bits(d) for d in features.anchors]


def bits(descriptor: np.ndarray) -> str:
    return (np.unpackbits(descriptor.astype(np.uint8)) + ord("0")).tobytes().decode("ascii")


def features_of(sig: Signature) -> F.Features:
    return features_from_columns(*(getattr(sig, name) for name in FEATURE_COLUMNS))


# The signature's columns features_from_columns() takes, in its order (a raw read selects these).
FEATURE_COLUMNS = (
    "width",
    "height",
    "phashes",
    "keypoints",
    "descriptors",
    "mirrored_keypoints",
    "mirrored_descriptors",
    "thumb",
    "thumb_width",
)


def features_from_columns(
    width,
    height,
    phashes,
    keypoints,
    descriptors,
    mirrored_keypoints,
    mirrored_descriptors,
    thumb,
    thumb_width,
) -> F.Features:
    return F.Features(
        width=width,
        height=height,
        phashes=np.array([h & _MASK for h in phashes], dtype=np.uint64),
        keypoints=np.frombuffer(bytes(keypoints), dtype=np.float32).reshape(-1, 2),
        descriptors=np.frombuffer(bytes(descriptors), dtype=np.uint8).reshape(-1, 32),
        mirrored_keypoints=np.frombuffer(bytes(mirrored_keypoints), dtype=np.float32).reshape(-1, 2),
        mirrored_descriptors=np.frombuffer(bytes(mirrored_descriptors), dtype=np.uint8).reshape(-1, 32),
        thumb=np.frombuffer(bytes(thumb), dtype=np.uint8).reshape(-1, thumb_width),
    )
