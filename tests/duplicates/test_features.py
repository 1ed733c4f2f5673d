"""The fast forms of the feature steps give exactly what their plain forms give (the stored
signatures, and the thresholds fitted on them, depend on every bit)."""

import numpy as np
import pytest
from PIL import Image, ImageOps

from apps.duplicates import features as F
from tests.duplicates.conftest import photo


def _hash_bit_by_bit(coefficients: np.ndarray) -> int:
    flat = coefficients.ravel()
    value = 0
    for bit in flat > np.median(flat):
        value = (value << 1) | int(bit)
    return value


def _trim_per_pixel(a: np.ndarray) -> np.ndarray:
    """The absolute difference of every pixel from the corner colour."""
    h, w = a.shape
    f = a.astype(np.float32)
    top, bottom, left, right = 0, h, 0, w
    for _ in range(2):
        colour = np.median(np.concatenate([f[top, left:right], f[bottom - 1, left:right]]))
        rows_ok = np.abs(f[top:bottom, left:right] - colour).max(axis=1) <= F.TRIM_TOLERANCE
        cols_ok = np.abs(f[top:bottom, left:right] - colour).max(axis=0) <= F.TRIM_TOLERANCE
        t, b = F._run(rows_ok), F._run(rows_ok[::-1])
        lft, r = F._run(cols_ok), F._run(cols_ok[::-1])
        if t + b >= (bottom - top) or lft + r >= (right - left):
            break
        if max(t, b) > F.TRIM_MAX * h or max(lft, r) > F.TRIM_MAX * w:
            break
        top, bottom, left, right = top + t, bottom - b, left + lft, right - r
        if not (t or b or lft or r):
            break
    return a[top:bottom, left:right]


def _pictures() -> list[Image.Image]:
    img = photo(0).convert("RGB")
    framed = ImageOps.expand(ImageOps.expand(img, border=30, fill=(250, 250, 250)), border=12, fill=(0, 0, 0))
    return [
        img,
        ImageOps.mirror(img),
        framed,
        ImageOps.expand(img, border=(0, 40, 0, 0), fill=(128, 128, 128)),
        Image.new("RGB", (300, 200), (90, 90, 90)),  # flat: nothing to trim
        Image.new("L", (400, 6), 200),
    ]


@pytest.mark.parametrize("index", range(6))
def test_the_orientation_hashes_are_the_coefficients_above_their_median_bit_by_bit(index):
    a = F.trim_borders(F.working_grey(_pictures()[index]))
    small = F.cv2.resize(a, (32, 32), interpolation=F.cv2.INTER_AREA).astype(np.float32)
    low = F.cv2.dct(small)[:8, :8]
    hashes = F.dihedral_phashes(a)
    assert hashes.dtype == np.uint64 and hashes.shape == (8,)
    assert int(hashes[0]) == _hash_bit_by_bit(low)  # the upright orientation first
    assert int(hashes[4]) == _hash_bit_by_bit(low.T)


@pytest.mark.parametrize("index", range(6))
def test_borders_are_trimmed_as_a_per_pixel_comparison_trims_them(index):
    a = F.working_grey(_pictures()[index])
    assert np.array_equal(F.trim_borders(a), _trim_per_pixel(a))


def test_a_frame_of_two_colours_is_trimmed_away():
    framed = _pictures()[2]
    trimmed = F.trim_borders(F.working_grey(framed))
    plain = F.working_grey(photo(0).convert("RGB"))
    assert abs(trimmed.shape[0] / trimmed.shape[1] - plain.shape[0] / plain.shape[1]) < 0.02


def test_keypoints_come_strongest_first_with_their_descriptors():
    a = F.trim_borders(F.working_grey(photo(0)))
    points, descriptors, mirrored_points, mirrored_descriptors = F.orb(a)
    assert points.dtype == np.float32 and points.shape == (len(descriptors), 2)
    assert 0 < len(points) <= F.ORB_FEATURES
    detected = F._detector().detect(a, None)
    # each kept keypoint is a detected one, with its descriptor as OpenCV computes it there
    kept = {(round(float(k.pt[0]), 3), round(float(k.pt[1]), 3)): k for k in detected}
    sample = [kept[(round(float(x), 3), round(float(y), 3))] for x, y in points[:20]]
    assert [k.response for k in sample] == sorted((k.response for k in sample), reverse=True)
    _kps, own = F._detector().compute(a, sample[:1])
    assert np.array_equal(own[0], descriptors[0])
    assert mirrored_points.shape == points.shape and mirrored_descriptors.shape == descriptors.shape
