"""Features <-> Signature rows.

Stored compactly (a signature is most of an image's detection data): keypoints as unsigned 16-bit
fixed point in 1/KEYPOINT_SCALE pixel (the working image is at most 512 px, so 1/64 px fits and
loses nothing RANSAC's 6 px tolerance could see) instead of float32, and the grey thumbnail as PNG
(lossless). Signatures written before, with float32 keypoints and raw thumbnails, are read as
they are: the keypoints' byte count per descriptor and the PNG signature tell them apart.
"""

import cv2
import numpy as np

from apps.duplicates import features as F
from apps.duplicates.models import Signature

# 2: keypoints spread over the picture (apps/duplicates/features.py), not the strongest alone
VERSION = 2
_MASK = (1 << 64) - 1
KEYPOINT_SCALE = 64
_PNG = b"\x89PNG\r\n\x1a\n"


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
    thumb = F.thumb_pixels(features)
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
        keypoints=keypoints_bytes(features.keypoints),
        descriptors=features.descriptors.astype(np.uint8).tobytes(),
        # Not stored: verification mirrors the image being indexed, never the stored candidate.
        mirrored_keypoints=b"",
        mirrored_descriptors=b"",
        thumb=thumb_bytes(thumb),
        thumb_width=int(thumb.shape[1]),
    )


def keypoints_bytes(points: np.ndarray) -> bytes:
    fixed = np.rint(np.asarray(points, dtype=np.float64) * KEYPOINT_SCALE)
    return np.clip(fixed, 0, 0xFFFF).astype("<u2").tobytes()


def thumb_bytes(thumb: np.ndarray) -> bytes:
    ok, png = cv2.imencode(".png", np.ascontiguousarray(thumb, dtype=np.uint8))
    if not ok:
        raise ValueError("the thumbnail could not be encoded as PNG")
    return png.tobytes()


def _keypoints(raw: bytes, count: int) -> np.ndarray:
    if len(raw) == count * 8:  # float32 x/y (signatures written before the fixed point)
        return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2)
    return (np.frombuffer(raw, dtype="<u2").astype(np.float32) / KEYPOINT_SCALE).reshape(-1, 2)


def _thumb(raw: bytes, width: int) -> np.ndarray | bytes:
    if raw.startswith(_PNG):
        return raw  # decoded when a verification needs it (features.thumb_pixels)
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)


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
    descriptors = np.frombuffer(bytes(descriptors), dtype=np.uint8).reshape(-1, 32)
    return F.Features(
        width=width,
        height=height,
        phashes=np.array([h & _MASK for h in phashes], dtype=np.uint64),
        keypoints=_keypoints(bytes(keypoints), len(descriptors)),
        descriptors=descriptors,
        mirrored_keypoints=np.frombuffer(bytes(mirrored_keypoints), dtype=np.float32).reshape(-1, 2),
        mirrored_descriptors=np.frombuffer(bytes(mirrored_descriptors), dtype=np.uint8).reshape(-1, 32),
        thumb=_thumb(bytes(thumb), thumb_width),
    )
