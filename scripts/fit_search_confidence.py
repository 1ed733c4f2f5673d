"""Fit the search confidence (apps/search/confidence.py) on the public bench: `python -m
scripts.fit_search_confidence [--set-dir ../shared/bench/public]`.

Every image of the set is decoded as the index stage decodes it and gets the weight-free descriptor
and the duplicate features. Each image is then a query against all the others, as search sees a
collection: its nearest WINDOW by descriptor are the candidates, each decided with duplicate
detection's own `decide`. A pair is the same picture when both images are of one group of the set.

- Verified pairs: the share that are the same picture (Laplace-smoothed) per decision signal.
- Unverified candidates: a logistic regression (Newton's method, a small L2 penalty) of "same
  picture" on the descriptor similarity, its margin over the query's 10th neighbour and the pHash
  distance. Prints the coefficients to paste into apps/search/confidence.py and the precision and
  recall of the unverified at a few confidence thresholds.
"""

import argparse
import csv
import io
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deeplens.settings.test")

import django  # noqa: E402

django.setup()

from apps.duplicates import candidates as C  # noqa: E402
from apps.duplicates import features as F  # noqa: E402
from apps.duplicates import matching as M  # noqa: E402
from apps.images import imaging  # noqa: E402
from apps.search import confidence, descriptor  # noqa: E402

WINDOW = 20


def load(set_dir: Path):
    with open(set_dir / "ground_truth.csv") as fp:
        rows = sorted(csv.DictReader(fp), key=lambda r: r["file"])
    vectors, feats, shas = [], [], []
    for row in rows:
        data = (set_dir / "images" / row["file"]).read_bytes()
        decoded = imaging.decode(io.BytesIO(data), longest_needed=1024).image
        vectors.append(descriptor.describe(decoded))
        feats.append(F.extract(decoded))
        import hashlib

        shas.append(hashlib.sha256(data).hexdigest())
    return rows, np.array(vectors), feats, shas


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 50) -> np.ndarray:
    X = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-X @ w))
        grad = X.T @ (p - y) + l2 * w
        hess = (X * (p * (1 - p))[:, None]).T @ X + l2 * np.eye(len(w))
        w -= np.linalg.solve(hess, grad)
    return w


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set-dir", type=Path, default=ROOT.parent / "shared" / "bench" / "public")
    args = parser.parse_args()
    rows, vectors, feats, shas = load(args.set_dir)
    group = [r["orig_id"] for r in rows]
    sims = vectors @ vectors.T
    np.fill_diagonal(sims, -1)
    tenths = np.sort(sims, axis=1)[:, -10]
    print(f"the 10th neighbour's similarity: median {np.median(tenths):.4f} (TYPICAL_TENTH)")
    verified: dict[str, list[int]] = {}
    samples, labels = [], []
    for q in range(len(rows)):
        order = np.argsort(-sims[q])[:WINDOW]
        tenth = sims[q, order[9]]
        for c in order:
            same = int(group[q] == group[c])
            d = C.decide(a=feats[q], b=feats[c], a_sha=shas[q], b_sha=shas[c])
            if d is not None:
                verified.setdefault(d.signal, []).append(same)
                continue
            phash = M.phash_distance(feats[q].phashes, feats[c].phashes)
            samples.append(confidence.features(similarity=sims[q, c], tenth=tenth, phash_distance=phash))
            labels.append(same)
    for signal, outcomes in sorted(verified.items()):
        ok = sum(outcomes)
        print(
            f"verified by {signal}: {ok}/{len(outcomes)} same picture, "
            f"smoothed {(ok + 1) / (len(outcomes) + 2):.4f}"
        )
    x, y = np.array(samples), np.array(labels, dtype=float)
    w = logistic(x, y)
    print(f"unverified candidates: {len(y)}, same picture {int(y.sum())}")
    print("WEIGHTS =", tuple(round(float(v), 3) for v in w[:-1]), " BIAS =", round(float(w[-1]), 3))
    p = 1 / (1 + np.exp(-(np.hstack([x, np.ones((len(x), 1))]) @ w)))
    for t in (0.1, 0.2, 0.3, 0.5, 0.7, 0.9):
        kept = p >= t
        precision = y[kept].mean() if kept.any() else float("nan")
        print(
            f"  confidence >= {t}: kept {int(kept.sum())}, precision {precision:.3f}, "
            f"recall {y[kept].sum() / y.sum():.3f}"
        )


if __name__ == "__main__":
    main()
