"""The `ingest` stage of `make bench`: real photographs through the real API and Celery worker.

1,200 distinct files are made from the public bench photos (their own sizes, at most 1024 px; each
copy re-encoded with one pixel changed so every file is distinct), uploaded over HTTP by a few
client threads with an API key, and timed until the worker has made every image ready. Then the
same for 12-megapixel camera-sized JPEGs, and for DNG files (written by pidng from the photos'
pixels, camera-sized) with an embedded full-size preview (the fast path: one JPEG decode) and
without one (LibRaw develops the sensor data). Per-stage figures come from the rows' stage timestamps.
"""

import http.client
import io
import json
import os
import random
import statistics
import threading
import time
import uuid
from pathlib import Path

import psycopg
from PIL import Image

from tests.imagefiles import BENCH_IMAGES, dng
from tests.runtime.product import Product

PHOTOS = BENCH_IMAGES
CLIENT_THREADS = int(os.environ.get("DEEPLENS_BENCH_CLIENTS", "4"))


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))] if ordered else None


def summary(values_ms) -> dict:
    return {
        "median_ms": round(statistics.median(values_ms), 1),
        "p95_ms": round(percentile(values_ms, 0.95), 1),
    }


def distinct_photos(count: int, max_side: int = 1024) -> list[tuple[str, bytes]]:
    sources = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))
    rng = random.Random(7)
    files = []
    for n in range(count):
        path = sources[n % len(sources)]
        with Image.open(path) as img:
            img = img.convert("RGB")
            img.thumbnail((max_side, max_side))
            img.putpixel((rng.randrange(img.width), rng.randrange(img.height)), (n % 256, 0, 255 - n % 256))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=88)
        files.append((f"{path.stem}-{n}.jpg", out.getvalue()))
    return files


def camera_photos(count: int) -> list[tuple[str, bytes]]:
    sources = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() == ".jpg")
    rng = random.Random(12)
    files = []
    for n in range(count):
        with Image.open(sources[n % len(sources)]) as img:
            big = img.convert("RGB").resize((4000, 3000), Image.Resampling.BICUBIC)
        noise = Image.effect_noise((4000, 3000), 12).convert("RGB")
        big = Image.blend(big, noise, 0.06)
        big.putpixel((rng.randrange(4000), rng.randrange(3000)), (n % 256, 10, 10))
        out = io.BytesIO()
        big.save(out, "JPEG", quality=90)
        files.append((f"camera-{n}.jpg", out.getvalue()))
    return files


def dng_photos(count: int, *, preview: bool, size=(3000, 2000)) -> list[tuple[str, bytes]]:
    """Distinct 6-megapixel DNGs (16-bit RGGB mosaic, about 12 MB of sensor data each)."""
    sources = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() == ".jpg")
    rng = random.Random(21 + preview)
    files = []
    for n in range(count):
        with Image.open(sources[n % len(sources)]) as img:
            big = img.convert("RGB").resize(size, Image.Resampling.BILINEAR)
        big.putpixel((rng.randrange(size[0]), rng.randrange(size[1])), (n % 256, 10, 10))
        taken = f"2024:05:{1 + n % 28:02d} 10:{n // 60 % 60:02d}:{n % 60:02d}"
        files.append((f"IMG_{n:04d}.DNG", dng(big, preview=preview, taken=taken)))
    return files


class Client:
    def __init__(self, port: int, api_key: str):
        self.port, self.api_key = port, api_key

    def upload_all(self, files) -> list[float]:
        queue = list(files)
        lock = threading.Lock()
        latencies: list[float] = []
        errors: list[str] = []

        def worker():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            while True:
                with lock:
                    if not queue:
                        break
                    name, data = queue.pop()
                boundary = uuid.uuid4().hex
                body = (
                    (
                        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                        "Content-Type: image/jpeg\r\n\r\n"
                    ).encode()
                    + data
                    + f"\r\n--{boundary}--\r\n".encode()
                )
                started = time.perf_counter()
                conn.request(
                    "POST",
                    "/api/v1/images/upload",
                    body=body,
                    headers={
                        "Host": "localhost",
                        "Authorization": f"Api-Key {self.api_key}",
                        "Content-Type": f"multipart/form-data; boundary={boundary}",
                    },
                )
                response = conn.getresponse()
                payload = response.read()
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(elapsed)
                    if response.status != 202:
                        errors.append(f"{response.status} {payload[:200]!r}")
            conn.close()

        threads = [threading.Thread(target=worker) for _ in range(CLIENT_THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise RuntimeError(f"{len(errors)} uploads failed, e.g. {errors[0]}")
        return latencies


def _db(product: Product):
    return psycopg.connect(
        f"postgresql://postgres@/deeplens?host={product.data_dir / 'postgres'}", autocommit=True
    )


def _lift_rate_limits(product: Product) -> None:
    """The demo tenant's plan allows 1,000 uploads a minute; the bench measures the pipeline, not the
    plan, so it overrides the per-minute and daily limits (as a global admin could)."""
    with _db(product) as db:
        db.execute(
            "UPDATE tenants_tenant SET requests_per_minute = 10000000, uploads_per_minute = 10000000, "
            "max_api_calls_per_day = 100000000, max_storage_bytes = 1099511627776 WHERE slug = 'demo'"
        )
    time.sleep(6)  # processes re-read tenants within DEEPLENS_PROCESS_CACHE_SECONDS


def _api_key(product: Product, scopes: tuple[str, ...] = ("upload", "search")) -> str:
    """An API key of the demo tenant's admin with these scopes."""
    conn = http.client.HTTPConnection("127.0.0.1", product.port, timeout=30)
    conn.request(
        "POST",
        "/api/v1/auth/login",
        headers={"Host": "localhost", "Content-Type": "application/json"},
        body=json.dumps({"tenant": "demo", "email": "admin@demo.local", "password": "demo-admin"}),
    )
    token = json.loads(conn.getresponse().read())["access"]
    conn.request(
        "POST",
        "/api/v1/api-keys",
        headers={"Host": "localhost", "Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        body=json.dumps({"name": "bench", "scopes": list(scopes)}),
    )
    return json.loads(conn.getresponse().read())["key"]


def cpu_by_role() -> dict[str, float]:
    """CPU seconds used so far by each kind of process on the machine (web, worker, postgres, ...),
    with the CPU of their children that ended: a PostgreSQL backend that closes between two readings
    is counted through the postmaster, which reaped it (without it the difference can be negative)."""
    import psutil

    roles: dict[str, float] = {}
    for proc in psutil.process_iter(["cmdline", "name", "cpu_times"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if "gunicorn" in cmd:
            role = "web"
        elif "celery" in cmd and "worker" in cmd:
            role = "worker"
        elif proc.info["name"] == "postgres" or "postgres:" in cmd:
            role = "postgres"
        elif "redis-server" in cmd:
            role = "redis"
        else:
            continue
        times = proc.info["cpu_times"]
        used = times.user + times.system + times.children_user + times.children_system if times else 0.0
        roles[role] = roles.get(role, 0.0) + used
    return roles


NEWEST = """SELECT id FROM demo.images_image ORDER BY created_at DESC LIMIT %s"""
# Searchable: the index stage is done (descriptor stored). Deduplicated: the detect stage is done or
# failed for good (the image is checked). Both read the stage rows the status API shows.
STAGE_DONE_SQL = f"""
SELECT count(*) FROM demo.images_imagestage s
WHERE s.stage = %s AND s.state IN ('done', 'failed') AND s.image_id IN ({NEWEST})
"""


def run_batch(product: Product, client: Client, files, label: str, timeout: float) -> dict:
    cpu_before = cpu_by_role()
    with _db(product) as db:
        before = db.execute("SELECT count(*) FROM demo.images_image").fetchone()[0]
    started = time.perf_counter()
    latencies = client.upload_all(files)
    uploaded = time.perf_counter() - started
    with _db(product) as db:
        while True:
            done = (
                db.execute(
                    "SELECT count(*) FROM demo.images_image WHERE status IN ('ready','failed')"
                ).fetchone()[0]
                - before
            )
            if done >= len(files) or time.perf_counter() - started > timeout:
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - started
        cpu_ready = cpu_by_role()  # the rest is the index phase: detection yields to processing
        # The index stage (searchable) and detection (checked for duplicates) yield to processing
        # and catch up after: timed until every new image is searchable, then checked.
        searchable_elapsed = None
        while True:
            searchable = db.execute(STAGE_DONE_SQL, ["index", len(files)]).fetchone()[0]
            detected = db.execute(STAGE_DONE_SQL, ["detect", len(files)]).fetchone()[0]
            if searchable_elapsed is None and searchable >= done:
                searchable_elapsed = time.perf_counter() - started
            if detected >= done or time.perf_counter() - started > timeout:
                break
            # Once a second: these counts cost PostgreSQL CPU that the index stage would otherwise
            # get (polled five times a second, they took a fifth of a core).
            time.sleep(1.0)
        detected_elapsed = time.perf_counter() - started
        searchable_elapsed = searchable_elapsed or detected_elapsed
        rows = db.execute(
            """SELECT status, extract(epoch FROM processing_started_at - created_at) * 1000,
                      extract(epoch FROM decoded_at - processing_started_at) * 1000,
                      extract(epoch FROM thumbnails_at - decoded_at) * 1000,
                      extract(epoch FROM hashed_at - thumbnails_at) * 1000,
                      extract(epoch FROM processed_at - processing_started_at) * 1000
               FROM demo.images_image ORDER BY created_at DESC LIMIT %s""",
            [len(files)],
        ).fetchall()
    cpu_after = cpu_by_role()

    def per_image(later: dict, earlier: dict) -> dict:
        return {role: round((later[role] - earlier.get(role, 0)) * 1000 / len(files), 1) for role in later}

    ready = [row for row in rows if row[0] == "ready"]
    names = ("queue_wait", "decode", "thumbnails", "hashes", "processing_total")
    stages = {name: [row[1 + i] for row in ready] for i, name in enumerate(names)}
    return {
        "label": label,
        "images": len(files),
        "ready": len(ready),
        "failed": sum(1 for row in rows if row[0] == "failed"),
        "seconds": round(elapsed, 2),
        "images_per_min": round(len(ready) / elapsed * 60),
        "searchable_seconds": round(searchable_elapsed, 2),
        "searchable_images_per_min": round(searchable / searchable_elapsed * 60),
        "detected_seconds": round(detected_elapsed, 2),
        "detected_images_per_min": round(detected / detected_elapsed * 60),
        "deduplicated_target_per_min": 1500 if "12-megapixel" not in label else 500,
        "upload_seconds": round(uploaded, 2),
        "upload_request": summary(latencies),
        "stages": {name: summary([float(v) for v in values]) for name, values in stages.items()},
        "mean_bytes": round(sum(len(d) for _n, d in files) / len(files)),
        "cpu_ms_per_image": per_image(cpu_after, cpu_before),
        # until the last image was ready (processing), and after it (index and detect)
        "cpu_ms_per_image_processing": per_image(cpu_ready, cpu_before),
        "cpu_ms_per_image_index": per_image(cpu_after, cpu_ready),
    }


def _save_metrics_page(product: Product) -> str:
    """The /metrics page after the run (read from loopback, which local settings allow)."""
    import urllib.request

    target = Path(__file__).resolve().parents[2] / "var" / "bench" / "metrics.txt"
    target.parent.mkdir(parents=True, exist_ok=True)
    with urllib.request.urlopen(f"http://127.0.0.1:{product.port}/metrics", timeout=30) as response:
        target.write_bytes(response.read())
    return str(target)


def ingest_benchmark(context: dict) -> dict:
    count = int(os.environ.get("DEEPLENS_BENCH_INGEST_IMAGES", "1200"))
    cameras = int(os.environ.get("DEEPLENS_BENCH_CAMERA_IMAGES", "60"))
    raws = int(os.environ.get("DEEPLENS_BENCH_DNG_IMAGES", "40"))
    photos = distinct_photos(max(count, 20))  # the first 20 warm the processes up
    camera = camera_photos(cameras)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="deeplens-bench-ingest-") as folder:
        product = Product(Path(folder) / "var")
        product.extra_env = {"DEEPLENS_WEB_WORKERS": "2", "DEEPLENS_WORKER_CONCURRENCY": "2"}
        product.start()
        try:
            _lift_rate_limits(product)
            client = Client(product.port, _api_key(product))
            client.upload_all(photos[:20])  # warm the processes up; not counted
            time.sleep(3)
            results: dict = {}
            if count > 20:
                results["photos"] = run_batch(
                    product, client, photos[20:], "bench photos, <=1024 px", timeout=900
                )
            if cameras:
                results["camera_12mp"] = run_batch(product, client, camera, "12-megapixel JPEGs", timeout=900)
            for preview, key, label in (
                (True, "dng_preview", "6-megapixel DNGs with an embedded full-size preview (fast path)"),
                (False, "dng_developed", "6-megapixel DNGs without a preview (developed by LibRaw)"),
            ):
                if raws:  # made batch by batch: a batch is about 0.5 GB in memory
                    results[key] = run_batch(
                        product, client, dng_photos(raws, preview=preview), label, timeout=900
                    )
            results |= {
                "client_threads": CLIENT_THREADS,
                "processes": "gunicorn 2x4 threads, celery worker concurrency 2, on 2 cores",
                "metrics_page": _save_metrics_page(product),
            }
        finally:
            product.stop()
    return results
