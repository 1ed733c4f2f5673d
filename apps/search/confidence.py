"""Calibrated confidence of a search result: the probability that it is the same picture as the
query (a copy, however edited), so that a threshold on it means something.

- A result duplicate detection verified (apps/duplicates `decide`) gets the share of verified pairs
  that were the same picture on the public bench, by signal (Laplace-smoothed).
- Any other result gets a logistic regression of "same picture" on three cheap features, fitted on
  the public bench's unverified candidates (each image's 20 nearest by the weight-free
  descriptor that detection did not verify): the descriptor similarity, its margin over the query's
  10th nearest (the descriptor's absolute level varies from query to query), and the pHash distance
  (nearest orientation, in bits out of 64).

Refit with `python -m scripts.fit_search_confidence` whenever the descriptor, the features or the
decision change; README "Search" records the figures of the fit below.
"""

import numpy as np
from numpy.typing import ArrayLike

# Fitted 2026-12-06 on the public bench (793 images x 20 nearest: 4,885 verified pairs, all the
# same picture; 10,975 unverified, 128 of them the same picture): see README "Search".
# "group": detection found it a copy of a member of the query's open group (grouping, not re-verified).
VERIFIED = {"sha256": 1.0, "phash": 0.9996, "orb": 0.9996, "group": 0.9996}
WEIGHTS = (-5.161, 186.723, -15.446)  # similarity, margin over the 10th neighbour, pHash distance / 64
BIAS = 5.71
# The median similarity of an image's 10th nearest on the bench: the reference of a search that has
# fewer than 10 neighbours (a small collection, narrow filters), whose margins would mean nothing.
TYPICAL_TENTH = 0.9623
# The default threshold of a search: verified matches, and the unverified that are at least this
# likely the same picture (the "clearly similar").
DEFAULT_MIN_CONFIDENCE = 0.2


UNKNOWN_DISTANCE = 32  # bits: a result without pHashes counts as unrelated


def _inputs(similarity, tenth: float, distance):
    """The regression's inputs, of one result (floats) or of many (arrays)."""
    return (similarity, similarity - tenth, distance / 64)


def features(*, similarity: float, tenth: float, phash_distance: int | None) -> tuple[float, float, float]:
    """The regression's inputs; an unknown pHash distance counts as unrelated (UNKNOWN_DISTANCE)."""
    distance = UNKNOWN_DISTANCE if phash_distance is None else phash_distance
    x = _inputs(float(similarity), tenth, distance)
    return (float(x[0]), float(x[1]), float(x[2]))


def unverified(*, similarity: float, tenth: float, phash_distance: int | None) -> float:
    distance = UNKNOWN_DISTANCE if phash_distance is None else phash_distance
    return float(unverified_many(similarity=[similarity], tenth=tenth, distances=[distance])[0])


def unverified_many(*, similarity: ArrayLike, tenth: float, distances: ArrayLike) -> np.ndarray:
    """unverified() of a search's whole window at once (pHash distances in bits, UNKNOWN_DISTANCE
    where there is none): per result in Python it was a tenth of a search's web CPU."""
    x = _inputs(np.asarray(similarity, dtype=np.float64), tenth, np.asarray(distances, dtype=np.float64))
    z = BIAS + sum(w * v for w, v in zip(WEIGHTS, x, strict=True))
    return np.round(1 / (1 + np.exp(-z)), 4)


def verified(signal: str) -> float:
    return VERIFIED.get(signal, min(VERIFIED.values()))
