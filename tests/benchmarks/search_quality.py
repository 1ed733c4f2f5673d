"""The quality and load parts of the `search` stage of `make bench`.

Quality: the 793 photos of ../shared/bench/public are uploaded into a fresh product (real web,
worker, PostgreSQL) and processed, indexed and detected by the real pipeline at default settings.
Then every transformed copy is a query through the API, at the default options (max_results 10),
by image id and by upload (base64 in JSON): bench_eval.py's retrieval asks for the copy's original
among all originals, so the rank is the original's among the originals in the answer (a copy's
sibling copies do not count against it); an original missing from the answer is a miss.
Reported overall and per transform family, with how many answers marked the original verified.

Load: DEEPLENS_BENCH_SEARCH_CLIENTS (50) keep-alive clients search by image id (random copies and
originals) for DEEPLENS_BENCH_SEARCH_LOAD_SECONDS (20) with the result cache off: throughput,
p50/p95/p99 and errors. The clients run on the same machine as the product.
"""

import base64
import http.client
import json
import os
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from tests.benchmarks.ingest import Client, _api_key, _db
from tests.imagefiles import BENCH_IMAGES, bench_truth
from tests.runtime.product import Product


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))], 2)


def _search(conn, key: str, body: dict) -> tuple[int, dict]:
    conn.request(
        "POST",
        "/api/v1/search/similarity",
        headers={
            "Host": "demo.localhost",
            "Content-Type": "application/json",
            "Authorization": f"Api-Key {key}",
        },
        body=json.dumps(body),
    )
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def _wait_detected(product: Product, count: int, timeout: float) -> float:
    started = time.perf_counter()
    with _db(product) as db:
        last, stable_since = None, time.perf_counter()
        while time.perf_counter() - started < timeout:
            state = db.execute(
                """SELECT (SELECT count(*) FROM demo.images_image WHERE status IN ('ready','failed')),
                          (SELECT count(*) FROM demo.duplicates_signature),
                          (SELECT count(*) FROM demo.duplicates_pair)"""
            ).fetchone()
            if state != last:
                last, stable_since = state, time.perf_counter()
            if state[0] >= count and state[1] >= state[0] and time.perf_counter() - stable_since > 15:
                break
            time.sleep(1)
    return time.perf_counter() - started


def recall(product: Product, key: str, ids: dict, gt: list[dict], *, by: str) -> dict:
    originals = {ids[r["file"]] for r in gt if r["role"] == "original"}
    original_of = {r["orig_id"]: ids[r["file"]] for r in gt if r["role"] == "original"}
    conn = http.client.HTTPConnection("127.0.0.1", product.port, timeout=120)
    per: dict = {}
    timings, verified, errors = [], 0, 0
    for row in (r for r in gt if r["role"] == "copy"):
        body: dict = {"max_results": 10}
        if by == "id":
            body["image_id"] = ids[row["file"]]
        else:
            body["image"] = base64.b64encode((BENCH_IMAGES / row["file"]).read_bytes()).decode()
        started = time.perf_counter()
        status, answer = _search(conn, key, body)
        timings.append((time.perf_counter() - started) * 1000)
        if status != 200:
            errors += 1
            continue
        ranked = [r for r in answer["results"] if r["image_id"] in originals]
        target = original_of[row["orig_id"]]
        rank = next((n for n, r in enumerate(ranked) if r["image_id"] == target), None)
        if rank is not None and ranked[rank]["match"] != "similar":
            verified += 1
        family = per.setdefault(row["transform"], {"n": 0, "r@1": 0, "r@10": 0})
        family["n"] += 1
        family["r@1"] += rank == 0
        family["r@10"] += rank is not None and rank < 10
    n = sum(f["n"] for f in per.values())
    return {
        "queries": n,
        "errors": errors,
        "recall_at_1": round(sum(f["r@1"] for f in per.values()) / max(1, n), 4),
        "recall_at_10": round(sum(f["r@10"] for f in per.values()) / max(1, n), 4),
        "original_verified": round(verified / max(1, n), 4),
        "per_family": {
            t: {"recall_at_1": round(f["r@1"] / f["n"], 4), "recall_at_10": round(f["r@10"] / f["n"], 4)}
            for t, f in sorted(per.items())
        },
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": _percentile(timings, 0.95),
    }


def load(product: Product, key: str, image_ids: list[str], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    def client(seed: int) -> None:
        rng = random.Random(seed)
        conn = http.client.HTTPConnection("127.0.0.1", product.port, timeout=60)
        mine = []
        while time.perf_counter() < stop:
            started = time.perf_counter()
            try:
                status, answer = _search(conn, key, {"image_id": rng.choice(image_ids), "max_results": 10})
            except (OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
                with lock:
                    errors.append(type(exc).__name__)
                conn = http.client.HTTPConnection("127.0.0.1", product.port, timeout=60)
                continue
            mine.append((time.perf_counter() - started) * 1000)
            if status != 200 or answer.get("cached"):
                with lock:
                    errors.append(str(status))
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": len(latencies),
        "errors": len(errors),
        "searches_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies), 2) if latencies else None,
        "p95_ms": _percentile(latencies, 0.95) if latencies else None,
        "p99_ms": _percentile(latencies, 0.99) if latencies else None,
        "load_average_before": os.getloadavg(),
    }


def quality_and_load() -> dict:
    gt = sorted(bench_truth(), key=lambda r: r["file"])
    with tempfile.TemporaryDirectory(prefix="deeplens-bench-search-quality-") as folder:
        product = Product(Path(folder) / "var")
        product.extra_env = {
            "DEEPLENS_WEB_WORKERS": os.environ.get("DEEPLENS_BENCH_SEARCH_WEB_WORKERS", "2"),
            "DEEPLENS_WORKER_CONCURRENCY": "2",
            "DEEPLENS_SEARCH_CACHE_SECONDS": "0",
        }
        product.start()
        try:
            key = _api_key(product)
            Client(product.port, key).upload_all(
                [(r["file"], (BENCH_IMAGES / r["file"]).read_bytes()) for r in gt]
            )
            indexed_s = _wait_detected(product, len(gt), timeout=1800)
            with _db(product) as db:
                ids = {
                    name: str(pk)
                    for pk, name in db.execute(
                        "SELECT id, original_filename FROM demo.images_image"
                    ).fetchall()
                }
            out: dict = {"images": len(gt), "ingest_and_detect_s": round(indexed_s, 1)}
            out["by_image_id"] = recall(product, key, ids, gt, by="id")
            if os.environ.get("DEEPLENS_BENCH_SEARCH_BY_UPLOAD", "1") == "1":
                out["by_upload"] = recall(product, key, ids, gt, by="upload")
            out["load_by_image_id"] = load(
                product,
                key,
                list(ids.values()),
                clients=int(os.environ.get("DEEPLENS_BENCH_SEARCH_CLIENTS", "50")),
                seconds=float(os.environ.get("DEEPLENS_BENCH_SEARCH_LOAD_SECONDS", "20")),
            )
            out["targets"] = "recall@1 >= 0.98, recall@10 >= 0.995, every family recall@1 >= 0.90; >= 300/s"
            return out
        finally:
            product.stop()
