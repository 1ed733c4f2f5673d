"""Whether a lossless file's pixels were once a JPEG's, from the pixels alone.

A JPEG stores each 8x8 block's DCT coefficients as multiples of its quantisation steps. Decoding
and saving the pixels losslessly (a PNG of a JPEG) keeps that lattice: the PNG's block DCT lands,
within rounding noise, on multiples of the JPEG's steps. A picture that never went through that
JPEG (a PNG original, or a JPEG's source) has its coefficients spread evenly between the steps
(Fan & de Queiroz, "Identification of bitmap compression history", IEEE TIP 2003).

`lattice` reads it once per lossless image (the coherence of each frequency's coefficients with
every step up to QMAX); `history` then tells, for a JPEG's luminance table, whether the lossless
pixels sit on that JPEG's lattice (a score near 1) or not (near 0). Pure numpy over Pillow.
"""

import math

import numpy as np
from PIL import Image as PILImage

QMAX = 32  # the largest quantisation step looked at (larger steps leave few non-zero coefficients)
CROP = 512  # a central crop on the 8x8 grid is enough evidence and bounds the cost
MIN_COEFFICIENTS = 30  # per frequency and step, to count
MIN_FREQUENCIES = 8  # usable frequencies for a verdict
MIN_STEP = 3  # steps of 1-2 are hidden by the rounding noise of decoding
ON_LATTICE = 0.4  # mean coherence above which the pixels are that JPEG's decoded pixels
OFF_LATTICE = 0.2  # ... below which they never were (measured: 0.69-0.95 vs -0.17-0.0 on real photos)


def _dct_matrix() -> np.ndarray:
    k, n = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
    d = np.cos((2 * n + 1) * k * math.pi / 16) * math.sqrt(2 / 8)
    d[0] /= math.sqrt(2)
    return d


_DCT = _dct_matrix()
_LUMA = np.array([0.299, 0.587, 0.114])


def lattice(img: PILImage.Image) -> np.ndarray | None:
    """(64, QMAX) float16: for each frequency (natural order) and step q, the mean cos(2*pi*c/q) of
    the block DCT coefficients c with |c| >= q/2 of the image's luminance as stored (no EXIF
    rotation: a conversion keeps the grid); NaN where too few. None for images under one block."""
    w, h = img.size
    ch, cw = min(CROP, h // 8 * 8), min(CROP, w // 8 * 8)
    if ch < 8 or cw < 8:
        return None
    top, left = (h - ch) // 16 * 8, (w - cw) // 16 * 8
    # only the crop is converted: a large lossless file costs no more than a 512 x 512 one
    crop = img.crop((left, top, left + cw, top + ch)).convert("RGB")
    y = np.asarray(crop, dtype=np.float64) @ _LUMA
    blocks = (y - 128).reshape(ch // 8, 8, cw // 8, 8).swapaxes(1, 2)
    coef = np.einsum("ij,abjk,lk->abil", _DCT, blocks, _DCT).reshape(-1, 64)
    out = np.full((64, QMAX), np.nan, dtype=np.float16)
    for k in range(1, 64):
        c = coef[:, k]
        magnitude = np.abs(c)
        for q in range(MIN_STEP, QMAX + 1):
            chosen = c[magnitude >= q / 2]
            if chosen.size >= MIN_COEFFICIENTS:
                out[k, q - 1] = np.cos(2 * math.pi * chosen / q).mean()
    return out


def history(coherence: np.ndarray | None, table) -> float | None:
    """How well lossless pixels (their `lattice`) sit on a JPEG's luminance `table` (64 steps,
    natural order): the mean coherence over the AC frequencies with a usable step; None when too
    few frequencies tell (a quality-100 table, a flat picture)."""
    if coherence is None or table is None or len(table) != 64:
        return None
    values = [
        float(coherence[k, step - 1])
        for k, step in enumerate(table)
        if k and MIN_STEP <= step <= QMAX and not np.isnan(coherence[k, step - 1])
    ]
    if len(values) < MIN_FREQUENCIES:
        return None
    return float(np.mean(values))
