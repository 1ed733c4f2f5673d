"""The `duplicates` stage of `make bench`.

1. Quality: the 793 files of ../shared/bench/public are uploaded over HTTP into a fresh product
   (real web, worker, PostgreSQL), processed by the real pipeline, and detected incrementally on the
   `index` queue at default settings. The open groups the product forms are read back and scored
   with bench_eval.py's own definitions: pair precision/recall/F1 over every pair inside a group,
   and original-copy recall per transform family.
2. Scale: grouping 100k images from synthetic hashes (20 % of them near copies of another):
   candidate pairs by multi-index hashing on 16-bit bands, the distance check, union-find.
"""

import csv
import importlib.util
import os
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.ingest import Client, _api_key, _db
from tests.imagefiles import BENCH_IMAGES
from tests.runtime.product import Product

SET_DIR = BENCH_IMAGES.parent


def _bench_eval():
    spec = importlib.util.spec_from_file_location("bench_eval", SET_DIR.parent / "bench_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quality(timeout: float = 1800) -> dict:
    be = _bench_eval()
    with open(SET_DIR / "ground_truth.csv") as fp:
        gt = list(csv.DictReader(fp))
    files = sorted(r["file"] for r in gt)
    row = {r["file"]: r for r in gt}
    idx = {f: i for i, f in enumerate(files)}
    idx_group = [row[f]["orig_id"] for f in files]
    orig_of = {r["orig_id"]: idx[r["file"]] for r in gt if r["role"] == "original"}
    copies = [(idx[r["file"]], orig_of[r["orig_id"]], r["transform"]) for r in gt if r["role"] == "copy"]
    sizes: dict = {}
    for g in idx_group:
        sizes[g] = sizes.get(g, 0) + 1
    gt_pos = sum(s * (s - 1) // 2 for s in sizes.values())

    import tempfile

    with tempfile.TemporaryDirectory(prefix="deeplens-bench-dup-") as folder:
        product = Product(Path(folder) / "var")
        product.extra_env = {"DEEPLENS_WEB_WORKERS": "2", "DEEPLENS_WORKER_CONCURRENCY": "2"}
        product.start()
        try:
            client = Client(product.port, _api_key(product))
            data = [(f, (BENCH_IMAGES / f).read_bytes()) for f in files]
            started = time.perf_counter()
            client.upload_all(data)
            with _db(product) as db:
                last, stable_since = None, time.perf_counter()
                while time.perf_counter() - started < timeout:
                    state = db.execute(
                        """SELECT (SELECT count(*) FROM demo.images_image WHERE status IN ('ready','failed')),
                                  (SELECT count(*) FROM demo.duplicates_signature),
                                  (SELECT count(*) FROM demo.duplicates_member),
                                  (SELECT count(*) FROM demo.duplicates_pair)"""
                    ).fetchone()
                    if state != last:
                        last, stable_since = state, time.perf_counter()
                    if (
                        state[0] >= len(files)
                        and state[1] >= state[0]
                        and time.perf_counter() - stable_since > 20
                    ):
                        break
                    time.sleep(1)
                elapsed = time.perf_counter() - started
                members = db.execute(
                    """SELECT m.group_id, i.original_filename FROM demo.duplicates_member m
                       JOIN demo.duplicates_group g ON g.id = m.group_id
                       JOIN demo.images_image i ON i.id = m.image_id
                       WHERE g.status = 'open'"""
                ).fetchall()
                signals = dict(
                    db.execute("SELECT signal, count(*) FROM demo.duplicates_pair GROUP BY 1").fetchall()
                )
        finally:
            product.stop()
    groups: dict = {}
    for gid, name in members:
        groups.setdefault(gid, []).append(idx[name])
    pred = set()
    for ids in groups.values():
        ids = sorted(ids)
        pred |= {(a, b) for n, a in enumerate(ids) for b in ids[n + 1 :]}
    m = be.pair_metrics(pred, idx_group, gt_pos, copies)
    return {
        "images": len(files),
        "groups": len(groups),
        "precision": round(m["precision"], 4),
        "recall": round(m["recall"], 4),
        "f1": round(m["f1"], 4),
        "predicted_pairs": m["predicted_pairs"],
        "true_pairs_found": m["tp"],
        "gt_pairs": gt_pos,
        "orig_copy_recall": round(m["orig_copy_recall"], 4),
        "per_family_orig_copy_recall": m["per_transform_recall"],
        "pairs_by_signal": signals,
        "ingest_and_detect_seconds": round(elapsed, 1),
        "target": "F1 >= 0.95 with precision >= 0.99",
    }


def grouping_100k(n: int = 100_000, runs: int = 3) -> dict:
    from apps.duplicates.grouping import components, hash_pairs

    rng = np.random.default_rng(5)
    base = rng.integers(0, 2**63, size=n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(
        0, 2, size=n
    ).astype(np.uint64)
    copies = rng.choice(n, size=n // 5, replace=False)
    sources = rng.integers(0, n, size=len(copies))
    for c, s in zip(copies, sources, strict=True):
        flips = rng.choice(64, size=rng.integers(0, 5), replace=False)
        value = int(base[s])
        for bit in flips:
            value ^= 1 << int(bit)
        base[c] = np.uint64(value)
    times, groups = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        pairs = hash_pairs(base, max_distance=6)
        groups = len(components(pairs))
        times.append(time.perf_counter() - t0)
    return {
        "images": n,
        "pairs": len(pairs),
        "groups": groups,
        "median_seconds": round(float(np.median(times)), 2),
        "runs": runs,
        "target_seconds": 120,
    }


def duplicates_benchmark(context: dict) -> dict:
    out = {"grouping_100k": grouping_100k()}
    if os.environ.get("DEEPLENS_BENCH_DUP_QUALITY", "1") != "0":
        out["quality"] = quality()
    return out
