"""The `duplicates` stage of `make bench`.

1. Quality: the 793 files of ../shared/bench/public are uploaded over HTTP into a fresh product
   (real web, worker, PostgreSQL), processed by the real pipeline, and detected incrementally on the
   `index` queue at default settings. The open groups the product forms are read back and scored
   with bench_eval.py's own definitions: pair precision/recall/F1 over every pair inside a group,
   and original-copy recall per transform family.
2. Scale: grouping 100k images from synthetic hashes (20 % of them near copies of another):
   candidate pairs by multi-index hashing on 16-bit bands, the distance check, union-find.
3. Review at scale: 100k open groups (200k synthetic image rows) written into a fresh product's
   tenant, then the groups API (first and a deep page, each sort, a kind filter), the report and the
   review page timed over HTTP.
"""

import importlib.util
import os
import time
from pathlib import Path

import numpy as np

from tests.benchmarks.ingest import Client, _api_key, _db
from tests.imagefiles import BENCH_IMAGES, bench_truth
from tests.runtime.product import Product

SET_DIR = BENCH_IMAGES.parent


def _bench_eval():
    spec = importlib.util.spec_from_file_location("bench_eval", SET_DIR.parent / "bench_eval.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def quality(timeout: float = 1800) -> dict:
    be = _bench_eval()
    gt = bench_truth()
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
                keepers = dict(
                    db.execute(
                        """SELECT g.id, i.original_filename FROM demo.duplicates_group g
                           JOIN demo.images_image i ON i.id = g.suggested_keeper_id
                           WHERE g.status = 'open'"""
                    ).fetchall()
                )
                members = db.execute(
                    """SELECT m.group_id, i.original_filename FROM demo.duplicates_member m
                       JOIN demo.duplicates_group g ON g.id = m.group_id
                       JOIN demo.images_image i ON i.id = m.image_id
                       WHERE g.status = 'open'"""
                ).fetchall()
                signals = dict(
                    db.execute("SELECT signal, count(*) FROM demo.duplicates_pair GROUP BY 1").fetchall()
                )
            index_cpu = index_stage_cpu(product)
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
    names = {gid: [files[i] for i in ids] for gid, ids in groups.items()}
    return {
        "keeper": keeper_figures(names, keepers, row),
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
        "index_stage_cpu": index_cpu,
        "target": "F1 >= 0.95 with precision >= 0.99",
    }


INDEX_CPU_IMAGES = int(os.environ.get("DEEPLENS_BENCH_INDEX_CPU_IMAGES", "200"))


def index_stage_cpu(product: Product, count: int = INDEX_CPU_IMAGES, where: str = "") -> dict:
    """CPU per image of the index stage (features, candidates, verification) on the product's stored
    images, worker and PostgreSQL backend counted apart (tests/benchmarks/index_cpu.py)."""
    import json
    import subprocess
    import sys

    env = {**product.env(), "DEEPLENS_BENCH_INDEX_CPU_WHERE": where}
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.index_cpu", str(count)],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=True,
    )
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "target": "total_cpu_ms median <= 30"}


def keeper_figures(groups: dict, keepers: dict, row: dict) -> dict:
    """Of the groups holding a ground-truth original, the share whose suggested keeper is that
    original, and what was picked instead, by transform family (the copy's transform; "other photo"
    where the keeper belongs to another original)."""
    judged = right = 0
    instead: dict = {}
    per_family: dict = {}
    for gid, names in groups.items():
        originals = [n for n in names if row[n]["role"] == "original"]
        keeper = keepers.get(gid)
        if not originals or keeper is None:
            continue
        judged += 1
        if keeper in originals:
            right += 1
        else:
            pick = (
                row[keeper]["transform"]
                if row[keeper]["orig_id"] in {row[o]["orig_id"] for o in originals}
                else "other photo"
            )
            instead[pick] = instead.get(pick, 0) + 1
        # per family: in groups where the original and a copy of that family meet, the copy lost
        for n in names:
            r = row[n]
            if r["role"] == "copy" and any(row[o]["orig_id"] == r["orig_id"] for o in originals):
                won = per_family.setdefault(r["transform"], [0, 0])
                won[1] += 1
                won[0] += keeper != n
    return {
        "groups_with_original": judged,
        "groups_without_original": len(groups) - judged,
        "original_kept": right,
        "original_kept_share": round(right / judged, 4) if judged else None,
        "picked_instead_by_family": dict(sorted(instead.items())),
        "copy_not_kept_share_by_family": {
            f: round(won / seen, 4) for f, (won, seen) in sorted(per_family.items())
        },
        "target": "original_kept_share >= 0.99",
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


SYNTHETIC_IMAGES_SQL = """
INSERT INTO demo.images_image (id, original_filename, format, content_type, width, height, size_bytes,
    sha256, storage_location_id, storage_key, source_url, status, failed_stage, failure_reason, attempts,
    created_at, updated_at, exif, camera, tags, source_version)
SELECT gen_random_uuid(), 'synthetic-' || g || '.jpg', 'jpeg', 'image/jpeg', 1024, 768,
    100000 + (g * 7919) %% 900000, md5(g::text) || md5((g + 1)::text), %s,
    'demo/images/synthetic/' || g || '.jpg', '', 'ready', '', '', 1,
    now() - make_interval(secs => g), now(), '{}', '', '{}', ''
FROM generate_series(1, %s) g
"""
SYNTHETIC_GROUPS_SQL = [
    """CREATE TEMP TABLE syn AS SELECT id, size_bytes, row_number() OVER (ORDER BY created_at, id) AS rn
       FROM demo.images_image WHERE original_filename LIKE 'synthetic-%%'""",
    "CREATE TEMP TABLE gmap AS SELECT gen_random_uuid() AS gid, g FROM generate_series(1, %s) g",
    """INSERT INTO demo.duplicates_group (id, kind, status, confidence, member_count, total_bytes,
           reclaimable_bytes, reclaimed_bytes, suggested_keeper_id, keeper_reason, created_at, updated_at)
       SELECT m.gid, CASE WHEN m.g %% 4 = 0 THEN 'exact' ELSE 'near' END, 'open', 0.9, 2,
              a.size_bytes + b.size_bytes, LEAST(a.size_bytes, b.size_bytes), 0, a.id, 'larger file',
              now() - make_interval(secs => m.g), now()
       FROM gmap m JOIN syn a ON a.rn = 2 * m.g - 1 JOIN syn b ON b.rn = 2 * m.g""",
    """INSERT INTO demo.duplicates_member (group_id, image_id)
       SELECT m.gid, s.id FROM gmap m JOIN syn s ON s.rn = 2 * m.g - 1
       UNION ALL
       SELECT m.gid, s.id FROM gmap m JOIN syn s ON s.rn = 2 * m.g""",
    "ANALYZE demo.images_image",
    "ANALYZE demo.duplicates_group",
    "ANALYZE demo.duplicates_member",
]


def review_at_scale(groups: int = 100_000, requests: int = 30) -> dict:
    import tempfile
    import urllib.request

    from tests.benchmarks.run import signed_in_browser, timed_requests

    with tempfile.TemporaryDirectory(prefix="deeplens-bench-groups-") as folder:
        product = Product(Path(folder) / "var")
        product.start()
        try:
            started = time.perf_counter()
            with _db(product) as db:
                location = db.execute(
                    "SELECT id FROM demo.storage_storagelocation WHERE is_default"
                ).fetchone()[0]
                db.execute(SYNTHETIC_IMAGES_SQL, [location, 2 * groups])
                for statement in SYNTHETIC_GROUPS_SQL:
                    db.execute(statement, [groups] if "%s" in statement else [])
                stored = db.execute("SELECT count(*) FROM demo.duplicates_group").fetchone()[0]
            written = time.perf_counter() - started
            key = _api_key(product)
            api = urllib.request.build_opener()
            headers = {"Host": "localhost", "Authorization": f"Api-Key {key}"}
            base = product.url("/api/v1/duplicates/groups", "127.0.0.1")
            figures = {
                "groups_stored": stored,
                "write_seconds": round(written, 1),
                "api_first_page": timed_requests(api, base, requests, headers=headers),
                "api_last_page": timed_requests(
                    api, f"{base}?offset={groups - 50}&limit=50", requests, headers=headers
                ),
                "api_by_date": timed_requests(api, f"{base}?sort=-date", requests, headers=headers),
                "api_kind_exact": timed_requests(api, f"{base}?kind=exact", requests, headers=headers),
                "api_report": timed_requests(
                    api, product.url("/api/v1/duplicates/report", "127.0.0.1"), requests, headers=headers
                ),
            }
            browser, direct = signed_in_browser(product)
            figures["page_first"] = timed_requests(
                browser, product.url("/duplicates/", "127.0.0.1"), requests, headers=direct
            )
            figures["page_deep"] = timed_requests(
                browser,
                product.url(f"/duplicates/?page={groups // 20 // 2}", "127.0.0.1"),
                requests,
                headers=direct,
            )
        finally:
            product.stop()
    return figures


def duplicates_benchmark(context: dict) -> dict:
    out = {"grouping_100k": grouping_100k()}
    if os.environ.get("DEEPLENS_BENCH_DUP_REVIEW", "1") != "0":
        out["review_100k_groups"] = review_at_scale()
    if os.environ.get("DEEPLENS_BENCH_DUP_QUALITY", "1") != "0":
        out["quality"] = quality()
    return out
