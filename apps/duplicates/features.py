"""Pixels -> duplicate-detection features. Pure functions over Pillow, numpy and OpenCV.

Every image gets:
  * eight pHashes, one per orientation (the dihedral group: identity, rotations by 90/180/270 and
    their mirror images), taken after uniform borders are trimmed: a flipped, rotated or padded copy
    has one of its eight hashes close to the original's identity hash;
  * ORB keypoints and binary descriptors of the trimmed grey image (at most ORB_FEATURES), for
    geometric verification of crops, embeddings and strong combinations, and a few of the strongest
    descriptors ("anchors") for candidate search across the collection.

The keypoints kept are spread over the picture: ORB_DETECT are detected and the strongest of each
cell of a KEYPOINT_GRID x KEYPOINT_GRID grid taken in turn. Kept by strength alone, the corners of
burned-in text (a caption, a watermark) take most of them, and a copy with text verified against its
original with 1-5 inliers; spread, the public bench verifies 655 of its 656 copies against their
original instead of 644 (text 24/24 instead of 19, grey-crop-text 23 instead of 17), with no false
acceptance among its 89,000 other copy-original pairs, for about 4 ms more per image.
"""

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

WORK_SIDE = 512  # longest side the grey working image is resized to
MIN_WORK_SIDE = 320  # small images are upscaled to this, so ORB finds enough keypoints
ORB_FEATURES = 400
ORB_DETECT = 2000  # keypoints detected, of which ORB_FEATURES are kept spread over the picture
KEYPOINT_GRID = 8
SCALE_FACTOR = 1.3  # between ORB's pyramid levels
ANCHORS = 48
ANCHOR_GRID = 4
TRIM_TOLERANCE = 10.0  # grey levels a border row/column may differ from the border colour
TRIM_MAX = 0.3  # never trim more than this share of a side
THUMB_SIDE = 96
ORIENTATION = 0x0112  # the EXIF tag

cv2.setNumThreads(1)


@dataclass
class Features:
    width: int  # of the working image (after trimming)
    height: int
    phashes: np.ndarray  # (8,) uint64, orientation 0 is the image as it is
    keypoints: np.ndarray  # (K, 2) float32, x/y in working-image pixels
    descriptors: np.ndarray  # (K, 32) uint8
    mirrored_keypoints: np.ndarray  # of the mirrored image (flip-proof verification)
    mirrored_descriptors: np.ndarray
    # grey, THUMB_SIDE on its longest side: checks the aligned content. A stored signature's stays
    # PNG bytes until a verification gets that far (thumb_pixels): most candidates fail before it.
    thumb: np.ndarray | bytes

    @property
    def anchors(self) -> np.ndarray:
        """A few strong descriptors spread over the picture (a caption or a logo, whose corners
        are the strongest keypoints of a copy, must not take them all)."""
        return self.descriptors[spread(self.keypoints, self.width, self.height)]


def spread(
    points: np.ndarray, width: int, height: int, *, count: int = ANCHORS, grid: int = ANCHOR_GRID
) -> np.ndarray:
    """Indices (ascending) of up to `count` points: the strongest of each grid cell, then the second
    strongest of each, and so on (points are sorted strongest first)."""
    if not len(points):
        return np.zeros(0, dtype=np.int64)
    cx = np.minimum((points[:, 0] * grid / max(1, width)).astype(int), grid - 1)
    cy = np.minimum((points[:, 1] * grid / max(1, height)).astype(int), grid - 1)
    cell = cy * grid + cx
    by_cell = np.argsort(cell, kind="stable")  # each cell's points together, strongest first
    sorted_cells = cell[by_cell]
    first = np.searchsorted(sorted_cells, sorted_cells)  # where each point's cell starts
    rank = np.empty(len(points), dtype=np.int64)
    rank[by_cell] = np.arange(len(points)) - first  # 0 for a cell's strongest, 1 for the next...
    return np.sort(np.argsort(rank, kind="stable")[:count])


def working_grey(img: Image.Image) -> np.ndarray:
    """A grey uint8 array with its longest side between MIN_WORK_SIDE and WORK_SIDE."""
    grey = img
    # Turned only when its EXIF says so: exif_transpose() of an upright image (every decoded one:
    # decoding turns it) returns a full copy of the pixels.
    if hasattr(img, "getexif") and img.getexif().get(ORIENTATION, 1) != 1:
        grey = ImageOps.exif_transpose(img)
    grey = grey.convert("L")
    longest = max(grey.size)
    if longest > WORK_SIDE or longest < MIN_WORK_SIDE:
        scale = (WORK_SIDE if longest > WORK_SIDE else MIN_WORK_SIDE) / longest
        size = (max(1, round(grey.width * scale)), max(1, round(grey.height * scale)))
        grey = grey.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(grey, dtype=np.uint8)


def trim_borders(a: np.ndarray) -> np.ndarray:
    """Cut uniform borders (a padded copy, a frame): rows and columns at the edges whose pixels all
    stay within TRIM_TOLERANCE of the corner colour, at most TRIM_MAX of each side.

    A line is within the tolerance when its darkest and brightest pixels are: four reductions over
    the uint8 pixels instead of the absolute difference of every pixel, twice (1.4 -> 0.2 ms)."""
    h, w = a.shape
    top, bottom, left, right = 0, h, 0, w
    for _ in range(2):  # a second pass catches a border whose corner was another colour
        colour = float(np.median(np.concatenate([a[top, left:right], a[bottom - 1, left:right]])))
        inner = a[top:bottom, left:right]
        low, high = colour - TRIM_TOLERANCE, colour + TRIM_TOLERANCE
        rows_ok = (inner.min(axis=1) >= low) & (inner.max(axis=1) <= high)
        cols_ok = (inner.min(axis=0) >= low) & (inner.max(axis=0) <= high)
        t = _run(rows_ok)
        b = _run(rows_ok[::-1])
        lft = _run(cols_ok)
        r = _run(cols_ok[::-1])
        if t + b >= (bottom - top) or lft + r >= (right - left):
            break  # a flat image: nothing to trim
        if max(t, b) > TRIM_MAX * h or max(lft, r) > TRIM_MAX * w:
            break
        top, bottom, left, right = top + t, bottom - b, left + lft, right - r
        if not (t or b or lft or r):
            break
    return a[top:bottom, left:right]


def _run(ok: np.ndarray) -> int:
    """Length of the leading run of True."""
    bad = np.flatnonzero(~ok)
    return int(bad[0]) if bad.size else int(ok.size)


def dihedral_phashes(a: np.ndarray) -> np.ndarray:
    """pHash (32x32 DCT, 8x8 low frequencies above their median, as imagehash) of the image in each
    of its eight orientations, from one DCT: mirroring flips the sign of odd frequencies along that
    axis, a transpose transposes the coefficients."""
    small = cv2.resize(a, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:8, :8]
    odd = np.array([1, -1, 1, -1, 1, -1, 1, -1], dtype=np.float32)
    variants = []
    for transpose in (False, True):
        base = low.T if transpose else low
        for flip_rows in (False, True):
            for flip_cols in (False, True):
                d = base
                if flip_rows:
                    d = d * odd[:, None]
                if flip_cols:
                    d = d * odd[None, :]
                variants.append(d)
    # order: 0 identity, then the others; any fixed order works because matching takes the minimum
    return _bits(np.stack(variants).reshape(len(variants), -1))


def _bits(coefficients: np.ndarray) -> np.ndarray:
    """Each row's 64 coefficients above the row's median, as one unsigned 64-bit value, the first
    coefficient its most significant bit (as imagehash reads a hash). One numpy pass for the eight
    orientations: bit by bit in Python they cost 1.2 ms per image."""
    above = coefficients > np.median(coefficients, axis=1, keepdims=True)
    return np.packbits(above, axis=1).view(">u8").ravel().astype(np.uint64)


_orb: cv2.ORB | None = None


def _detector():
    global _orb
    if _orb is None:
        _orb = cv2.ORB.create(
            nfeatures=ORB_DETECT, scaleFactor=SCALE_FACTOR, nlevels=6, edgeThreshold=15, patchSize=31
        )
    return _orb


def orb(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Up to ORB_FEATURES keypoints spread over the picture, strongest first, and their descriptors
    (computed for the kept keypoints only); then the same keypoints' descriptors in the mirrored
    image. ORB's descriptor of a keypoint depends only on the patch around it and its orientation,
    so the mirror needs no detection of its own: each keypoint is moved to its mirrored pixel in its
    own pyramid level, with its angle mirrored (180 - angle), which gives the descriptor detecting
    in the mirror would (about 1.5 ms less per image than a second detection)."""
    none = np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    detected = _detector().detect(a, None)
    if not detected:
        return *none, *none
    order = _by_strength(detected)
    points = _positions(detected)[order]
    kept = spread(points, a.shape[1], a.shape[0], count=ORB_FEATURES, grid=KEYPOINT_GRID)
    kps, desc = _detector().compute(a, [detected[order[i]] for i in kept])
    if desc is None or not kps:
        return *none, *none
    straight = _strongest_first(kps, desc)
    mirrored = [
        cv2.KeyPoint(
            _mirrored_x(k, a.shape[1]), k.pt[1], k.size, (180.0 - k.angle) % 360.0, k.response, k.octave
        )
        for k in kps
    ]
    mkps, mdesc = _detector().compute(np.ascontiguousarray(a[:, ::-1]), mirrored)
    if mdesc is None or not mkps:
        return *straight, *none
    return *straight, *_strongest_first(mkps, mdesc)


def _mirrored_x(k: cv2.KeyPoint, width: int) -> float:
    """x of the keypoint's mirror: ORB finds a keypoint at a whole pixel of its pyramid level (of
    width round(width / scale)) and reports it multiplied by the level's scale."""
    scale = SCALE_FACTOR**k.octave
    level_width = round(width / scale)
    return float((level_width - 1 - round(k.pt[0] / scale)) * scale)


def _by_strength(kps) -> np.ndarray:
    """Indices of the keypoints, strongest response first (a tie keeps OpenCV's order): the
    responses read once into an array, not attribute by attribute for each comparison."""
    responses = np.fromiter((k.response for k in kps), dtype=np.float32, count=len(kps))
    return np.argsort(-responses, kind="stable")


def _positions(kps) -> np.ndarray:
    """(K, 2) float32 x/y of the keypoints, read in C (cv2.KeyPoint.convert)."""
    return np.asarray(cv2.KeyPoint.convert(kps), dtype=np.float32)


def _strongest_first(kps, desc) -> tuple[np.ndarray, np.ndarray]:
    strongest = _by_strength(kps)  # compute() groups them by level
    return _positions(kps)[strongest], desc[strongest]


def extract(img: Image.Image) -> Features:
    a = trim_borders(working_grey(img))
    pts, desc, mpts, mdesc = orb(a)
    return Features(
        width=int(a.shape[1]),
        height=int(a.shape[0]),
        phashes=dihedral_phashes(a),
        keypoints=pts,
        descriptors=desc,
        mirrored_keypoints=mpts,
        mirrored_descriptors=mdesc,
        thumb=thumbnail(a),
    )


def thumb_pixels(f: Features) -> np.ndarray:
    """The features' grey thumbnail, decoded once if it is still PNG bytes."""
    if isinstance(f.thumb, bytes):
        decoded = cv2.imdecode(np.frombuffer(f.thumb, dtype=np.uint8), cv2.IMREAD_GRAYSCALE)
        if decoded is None:
            raise ValueError("a stored signature's thumbnail is not a readable PNG")
        f.thumb = decoded
    return f.thumb


def thumbnail(a: np.ndarray) -> np.ndarray:
    scale = THUMB_SIDE / max(a.shape)
    size = (max(1, round(a.shape[1] * scale)), max(1, round(a.shape[0] * scale)))
    return cv2.resize(a, size, interpolation=cv2.INTER_AREA)
