"""The `scan` stage of `make bench`: moving images between locations and indexing an S3 bucket in
place, through the real product (web, worker, PostgreSQL, Redis) against moto's S3 server.

- migrate (first, while nothing else runs): DEEPLENS_BENCH_MIGRATE_IMAGES (default 200) uploaded
  photos are moved local folder -> S3 -> local folder -> S3; images/min and MB/s per move
  (originals and thumbnails, each copied, read back and verified by SHA-256).
- scan: three prefixes of DEEPLENS_BENCH_SCAN_OBJECTS (default 5,000) small JPEGs each are scanned
  one after the other. Each scan lists and registers its prefix while the other worker process
  already processes the new images, as in production; objects/min = discovered / (finished -
  started) of the job. Then a rescan of the whole, unchanged bucket (incremental).
Medians of the three runs are reported with every run.
"""

import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from tests.benchmarks.ingest import Client, _db, distinct_photos
from tests.imagefiles import jpeg
from tests.runtime.product import Product
from tests.storage.servers import free_port, moto_user, start_moto


class Api:
    def __init__(self, port: int, token: str):
        self.port, self.token = port, token

    def call(self, method: str, path: str, body=None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request(
            method,
            path,
            body=json.dumps(body) if body is not None else None,
            headers={
                "Host": "demo.localhost",
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.token}",
            },
        )
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        return response.status, (json.loads(payload) if payload else {})


def _login(port: int) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/api/v1/auth/login",
        headers={"Host": "localhost", "Content-Type": "application/json"},
        body=json.dumps({"tenant": "demo", "email": "admin@demo.local", "password": "demo-admin"}),
    )
    return json.loads(conn.getresponse().read())["access"]


def _api_key(port: int, token: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        "/api/v1/api-keys",
        headers={"Host": "localhost", "Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        body=json.dumps({"name": "bench", "scopes": ["upload", "search"]}),
    )
    return json.loads(conn.getresponse().read())["key"]


def _wait_job(api: Api, tenant_id: str, job_id: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, job = api.call("GET", f"/api/v1/tenants/{tenant_id}/storage-jobs/{job_id}")
        if status == 200 and job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    raise RuntimeError(f"job {job_id} did not finish in {timeout} s")


def _seconds(job: dict) -> float:
    return (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["started_at"])
    ).total_seconds()


def _fill(s3, bucket: str, prefix: str, count: int, body: bytes) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(
            pool.map(
                lambda n: s3.put_object(
                    Bucket=bucket, Key=f"{prefix}{n // 500:03d}/{n % 7}/img-{n:06d}.jpg", Body=body
                ),
                range(count),
            )
        )
    return time.perf_counter() - started


def scan_benchmark(context: dict) -> dict:
    import boto3

    objects = int(os.environ.get("DEEPLENS_BENCH_SCAN_OBJECTS", "5000"))
    migrate_images = int(os.environ.get("DEEPLENS_BENCH_MIGRATE_IMAGES", "200"))
    with tempfile.TemporaryDirectory(prefix="deeplens-bench-scan-") as folder:
        moto_port = free_port()
        moto = start_moto(moto_port, Path(folder) / "moto.log")
        endpoint = f"http://127.0.0.1:{moto_port}"
        key_id, secret = moto_user(endpoint)
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
        )
        credentials = {"access_key_id": key_id, "secret_access_key": secret}
        product = Product(Path(folder) / "var")
        product.extra_env = {"DEEPLENS_WEB_WORKERS": "2", "DEEPLENS_WORKER_CONCURRENCY": "2"}
        product.start()
        try:
            token = _login(product.port)
            api = Api(product.port, token)
            with _db(product) as db:
                tenant_id = str(
                    db.execute("SELECT id FROM public.tenants_tenant WHERE slug = 'demo'").fetchone()[0]
                )
            results = {"objects_per_scan": objects}

            # --- migrate ---
            s3.create_bucket(Bucket="bench-moved")
            status, target = api.call(
                "POST",
                f"/api/v1/tenants/{tenant_id}/storage-config",
                {
                    "name": "bench moved",
                    "provider": "s3",
                    "config": {"bucket": "bench-moved", "region": "us-east-1", "endpoint_url": endpoint},
                    "credentials": credentials,
                },
            )
            with _db(product) as db:
                local_id = str(
                    db.execute("SELECT id FROM demo.storage_storagelocation WHERE is_default").fetchone()[0]
                )
            uploader = Client(product.port, _api_key(product.port, token))
            photos = distinct_photos(migrate_images)
            uploader.upload_all(photos)
            with _db(product) as db:
                deadline = time.monotonic() + 900
                while time.monotonic() < deadline:
                    waiting = db.execute(
                        "SELECT count(*) FROM demo.images_image WHERE status IN ('pending','processing')"
                    ).fetchone()[0]
                    if not waiting:
                        break
                    time.sleep(0.5)
                moved_bytes = db.execute(
                    """SELECT coalesce(sum(i.size_bytes), 0) + coalesce((SELECT sum(t.size_bytes)
                           FROM demo.images_thumbnail t JOIN demo.images_image j ON j.id = t.image_id
                           WHERE j.storage_location_id = %s AND t.storage_key <> j.storage_key), 0)
                       FROM demo.images_image i WHERE i.storage_location_id = %s""",
                    [local_id, local_id],
                ).fetchone()[0]
                moved_bytes = int(moved_bytes)
            moves = []
            for source, dest, label in (
                (local_id, target["id"], "local->s3"),
                (target["id"], local_id, "s3->local"),
                (local_id, target["id"], "local->s3"),
            ):
                status, job = api.call(
                    "POST",
                    f"/api/v1/tenants/{tenant_id}/storage-config/{source}/migrate",
                    {"target_config_id": dest},
                )
                job = _wait_job(api, tenant_id, job["job_id"], timeout=1200)
                seconds = _seconds(job)
                moves.append(
                    {
                        "direction": label,
                        "images": job["processed"],
                        "failed": job["failed"],
                        "seconds": round(seconds, 2),
                        "images_per_min": round(job["processed"] / seconds * 60),
                        "mb_per_s": round(moved_bytes / seconds / 1e6, 2),
                    }
                )
                print(f"[bench] migrate: {moves[-1]}", file=sys.stderr, flush=True)
            results["migrate_runs"] = moves
            results["migrate_bytes"] = int(moved_bytes)
            results["migrate_images_per_min_median"] = statistics.median(m["images_per_min"] for m in moves)
            results["migrate_mb_per_s_median"] = statistics.median(m["mb_per_s"] for m in moves)
            # --- scan ---
            s3.create_bucket(Bucket="bench-library")
            body = jpeg(64, 48)
            fill = [_fill(s3, "bench-library", f"run{n}/", objects, body) for n in range(3)]
            results["bucket_fill_seconds"] = [round(value, 1) for value in fill]
            status, location = api.call(
                "POST",
                f"/api/v1/tenants/{tenant_id}/storage-config",
                {
                    "name": "bench library",
                    "provider": "s3",
                    "index_only": True,
                    "config": {"bucket": "bench-library", "region": "us-east-1", "endpoint_url": endpoint},
                    "credentials": credentials,
                },
            )
            if status != 201:
                raise RuntimeError(f"creating the index-only location: {status} {location}")
            runs = []
            for n in range(3):
                status, job = api.call(
                    "POST", "/api/v1/index/scan", {"storage_config_id": location["id"], "prefix": f"run{n}/"}
                )
                job = _wait_job(api, tenant_id, job["job_id"], timeout=1200)
                seconds = _seconds(job)
                runs.append(
                    {
                        "prefix": f"run{n}/",
                        "discovered": job["discovered"],
                        "registered": job["processed"],
                        "failed": job["failed"],
                        "seconds": round(seconds, 2),
                        "objects_per_min": round(job["discovered"] / seconds * 60),
                    }
                )
                print(f"[bench] scan run {n}: {runs[-1]}", file=sys.stderr, flush=True)
            results["scan_runs"] = runs
            results["scan_objects_per_min_median"] = statistics.median(run["objects_per_min"] for run in runs)
            status, job = api.call(
                "POST", "/api/v1/index/scan", {"storage_config_id": location["id"], "prefix": ""}
            )
            job = _wait_job(api, tenant_id, job["job_id"], timeout=1200)
            results["rescan_unchanged"] = {
                "discovered": job["discovered"],
                "seconds": round(_seconds(job), 2),
                "objects_per_min": round(job["discovered"] / _seconds(job) * 60),
            }
            with _db(product) as db:
                results["scanned_images_ready_when_scans_ended"] = db.execute(
                    "SELECT count(*) FROM demo.images_image i JOIN demo.storage_storagelocation l"
                    " ON l.id = i.storage_location_id WHERE l.index_only AND i.status = 'ready'"
                ).fetchone()[0]
            return results
        finally:
            product.stop()
            moto.terminate()
            try:
                moto.wait(timeout=30)
            except subprocess.TimeoutExpired:
                moto.kill()
                moto.wait(timeout=10)
