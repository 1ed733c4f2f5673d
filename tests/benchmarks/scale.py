"""`make bench` stage scale: the real index stage against a tenant holding N images' worth of
real-shaped detection data.

For each size N (DEEPLENS_BENCH_SCALE_SIZES, default "10000,100000"; "1000000" is opt-in, like the
search bench's DEEPLENS_BENCH_SEARCH_VECTORS):

1. A fresh product starts; at least QUERY_IMAGES real bench photos, whole families of an original
   and its copies, are uploaded over HTTP and indexed by its worker as usual.
2. The features of BASE_IMAGES other bench photos (none of the query photos' families) are
   computed with the product's own code (`features.extract` and the weight-free search descriptor,
   on the decode the index stage uses),
   then perturbed into N distinct rows: every ORB descriptor (stored set and anchors) has each bit
   flipped with probability DESCRIPTOR_FLIP, anchors are drawn from the whole pool of real anchors,
   keypoints jitter, each pHash bit flips with probability PHASH_FLIP, and the descriptor vector gets
   Gaussian noise (similarity ~0.95 to its photo). Images, their index-stage records, signatures,
   anchors and descriptor vectors are written with COPY, with the anchor and vector HNSW indexes
   dropped first and built afterwards (timed).
3. The product's own index stage (`detection.image_index`, what the Celery task runs) runs again on
   each query image, in this process, against the N rows: wall time per image, the candidate-search
   part of it, the number of ORB verifications, and the pairs among the query photos it found
   (true and false, by ground_truth.csv).

Figures per size: index stage p50/p95, candidate search p50/p95, verifications per image, database
bytes per image (signature, anchors, vectors and their indexes, / N), index build time and size,
and the estimated full rescan time (N x mean stage time, per worker process).

The part inside Django runs as `python -m tests.benchmarks.scale N` with the product's environment.
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deeplens.settings.local")

QUERY_IMAGES = int(os.environ.get("DEEPLENS_BENCH_SCALE_QUERIES", "50"))
BASE_IMAGES = int(os.environ.get("DEEPLENS_BENCH_SCALE_BASE", "300"))
DESCRIPTOR_FLIP = 0.2  # ~51 bits from the real descriptor, ~82 between two rows: unrelated anchors
PHASH_FLIP = 0.25
VECTOR_NOISE = 0.3


def _photos() -> list[Path]:
    from tests.imagefiles import BENCH_IMAGES

    return sorted(p for p in BENCH_IMAGES.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".webp"))


def _families() -> dict[str, str]:
    """Each bench file's original (ground_truth.csv's orig_id)."""
    from tests.imagefiles import bench_truth

    return {row["file"]: row["orig_id"] for row in bench_truth()}


def query_photos() -> list[Path]:
    """At least QUERY_IMAGES bench photos in whole families (an original and all its copies): the
    pairs among them are what each size's detection is scored on."""
    photos = _photos()
    family = _families()
    chosen: list[Path] = []
    for orig_id in sorted({family[p.name] for p in photos if p.name in family}):
        if len(chosen) >= QUERY_IMAGES:
            break
        chosen += [p for p in photos if family.get(p.name) == orig_id]
    return chosen


def base_photos() -> list[Path]:
    """The photos the base rows are made from: none of the query photos' families (a perturbed row
    of a query photo would be a candidate of its copies)."""
    family = _families()
    queried = {family.get(p.name) for p in query_photos()}
    return [p for p in _photos() if family.get(p.name) not in queried]


def percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))] * 1000, 1),
    }


# ---- inside Django (the product's environment) -------------------------------------------------


def base_features(count: int) -> list:
    import numpy as np
    from PIL import Image as PILImage

    from apps.duplicates import features as F
    from apps.duplicates.services.detection import DECODE_SIDE
    from apps.search import descriptor

    out = []
    for path in base_photos()[:count]:
        with PILImage.open(path) as img:
            img.draft("RGB", (DECODE_SIDE, DECODE_SIDE))
            rgb = img.convert("RGB")
            rgb.thumbnail((DECODE_SIDE, DECODE_SIDE))
            features = F.extract(rgb)
            if len(features.descriptors) == 0:
                continue
            out.append((features, np.asarray(descriptor.describe(rgb), dtype=np.float32)))
    return out


def _flip(rng, array, share: float):
    import numpy as np

    bits = np.unpackbits(array, axis=-1)
    noise = (rng.random(bits.shape) < share).astype(np.uint8)
    return np.packbits(bits ^ noise, axis=-1)


def fill(conn, count: int, base: list, seed: int = 1) -> dict:
    """COPY `count` perturbed rows into the demo schema; returns the timings."""
    import numpy as np
    from django.utils import timezone
    from pgvector import HalfVector

    from apps.duplicates import features as F
    from apps.duplicates.services.indexing import CLAIM_STAGE, INDEX
    from apps.duplicates.signatures import VERSION, bands, keypoints_bytes, signed, thumb_bytes
    from apps.search import descriptor

    rng = np.random.default_rng(seed)
    # the grey thumbnails as indexing stores them (PNG), encoded once per photo
    thumbs = [thumb_bytes(F.thumb_pixels(features)) for features, _vector in base]
    now = timezone.now()
    location = conn.execute("SELECT id FROM storage_storagelocation WHERE is_default").fetchone()[0]
    pool = np.concatenate([f.anchors for f, _v in base])
    started = time.perf_counter()
    ids = [uuid.uuid4() for _ in range(count)]
    with conn.cursor() as cursor:
        # Every column of the image row as Django would write it (fields added later included).
        from django.db import connection as django_connection

        from apps.images.models import Image

        template = Image(
            original_filename="scale.jpg", format="jpeg", content_type="image/jpeg", width=1024, height=768,
            size_bytes=300_000, sha256="0" * 64, storage_location_id=location, storage_key="",
            status="ready", attempts=1, created_at=now, updated_at=now, processed_at=now,
        )  # fmt: skip
        fields = list(Image._meta.concrete_fields)
        values = {
            f.column: f.get_db_prep_save(getattr(template, f.attname), django_connection) for f in fields
        }
        columns = [str(c) for c in values]
        with cursor.copy(f"COPY images_image ({', '.join(columns)}) FROM STDIN") as copy:
            for number, image_id in enumerate(ids):
                values.update(
                    id=image_id,
                    original_filename=f"scale-{number}.jpg",
                    sha256=f"{number:064x}",
                    storage_key=f"demo/images/scale/{image_id}.jpg",
                )
                copy.write_row([values[c] for c in columns])
        with cursor.copy(
            "COPY images_imagestage (image_id, stage, state, attempts, retryable, reason, claimed_by,"
            " started_at, finished_at, duration_ms, updated_at) FROM STDIN"
        ) as copy:
            for image_id in ids:
                for stage in (INDEX, CLAIM_STAGE):
                    copy.write_row((image_id, stage, "done", 1, False, "", "", now, now, 100, now))
        with cursor.copy(
            "COPY duplicates_signature (image_id, version, width, height, phashes, band0, band1, band2,"
            " band3, keypoints, descriptors, mirrored_keypoints, mirrored_descriptors, thumb, thumb_width,"
            " created_at) FROM STDIN"
        ) as sig_copy:
            for number, image_id in enumerate(ids):
                features, _vector = base[number % len(base)]
                mask = np.packbits(rng.random((8, 64)) < PHASH_FLIP, axis=-1).view(">u8").ravel()
                phashes = [int(h) ^ int(m) for h, m in zip(features.phashes, mask, strict=True)]
                b = bands(phashes[0])
                keypoints = features.keypoints + rng.normal(0, 2, features.keypoints.shape)
                sig_copy.write_row(
                    (image_id, VERSION, features.width, features.height, [signed(h) for h in phashes],
                     b[0], b[1], b[2], b[3], keypoints_bytes(keypoints),
                     _flip(rng, features.descriptors, DESCRIPTOR_FLIP).tobytes(), b"", b"",
                     thumbs[number % len(base)], int(F.thumb_pixels(features).shape[1]), now)
                )  # fmt: skip
        with cursor.copy("COPY duplicates_anchor (image_id, descriptor) FROM STDIN") as copy:
            for image_id in ids:
                picked = _flip(rng, pool[rng.integers(0, len(pool), F.ANCHORS)], DESCRIPTOR_FLIP)
                for bits in np.unpackbits(picked, axis=-1):
                    copy.write_row((image_id, (bits + ord("0")).tobytes().decode("ascii")))
        with cursor.copy(
            "COPY search_embedding (image_id, model, version, dimensions, vector, created_at) FROM STDIN "
            "WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["uuid", "varchar", "varchar", "int2", "halfvec", "timestamptz"])
            for number, image_id in enumerate(ids):
                _features, vector = base[number % len(base)]
                noisy = vector + rng.normal(0, VECTOR_NOISE / np.sqrt(len(vector)), vector.shape)
                noisy = (noisy / np.linalg.norm(noisy)).astype(np.float32)
                copy.write_row(
                    (image_id, "descriptor", descriptor.VERSION, len(vector), HalfVector(noisy), now)
                )
    return {"copy_s": round(time.perf_counter() - started, 1)}


def indexes_drop(conn) -> list[tuple[str, str]]:
    """The HNSW indexes of the anchors and the descriptor vectors: (name, definition), dropped."""
    rows = conn.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'demo' "
        "AND tablename IN ('duplicates_anchor', 'search_embedding') AND indexdef ILIKE '%hnsw%'"
    ).fetchall()
    for name, _definition in rows:
        conn.execute(f'DROP INDEX demo."{name}"')
    return rows


def build_memory(count: int) -> str:
    """maintenance_work_mem for building the HNSW indexes over `count` images: the anchors' graph
    must fit in memory while it is built, or pgvector builds it on disk, many times slower (100k
    images: 51 min at 1 GB, the index being 1.05 GB). In memory the graph takes about 360 bytes per
    anchor at m 6, 17 KB per image (1M: 11 GB held 30M of the 48M anchors): 6 GB at least, at most
    the machine's memory less 8 GB (shared_buffers and the processes). DEEPLENS_BENCH_SCALE_BUILD_MEMORY
    sets it."""
    if configured := os.environ.get("DEEPLENS_BENCH_SCALE_BUILD_MEMORY"):
        return configured
    machine_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**30
    wanted_gb = -(-count * 18 // 1_000_000)  # 18 KB per image, rounded up
    return f"{max(6, min(wanted_gb, machine_gb - 8))}GB"


def indexes_build(conn, definitions, count: int) -> dict:
    conn.execute(f"SET maintenance_work_mem = '{build_memory(count)}'")
    out = {}
    for name, definition in definitions:
        started = time.perf_counter()
        conn.execute(definition)
        size = conn.execute("SELECT pg_relation_size(%s)", [f'demo."{name}"']).fetchone()[0]
        out[name] = {"build_s": round(time.perf_counter() - started, 1), "size_mb": round(size / 2**20, 1)}
    return out


def database_bytes(conn) -> dict:
    out = {}
    for table in ("duplicates_signature", "duplicates_anchor", "search_embedding"):
        out[table] = conn.execute("SELECT pg_total_relation_size(%s)", [f"demo.{table}"]).fetchone()[0]
    return out


FILLED_TABLES = (
    "images_image",
    "images_imagestage",
    "duplicates_signature",
    "duplicates_anchor",
    "search_embedding",
)


def _autovacuums(conn) -> dict:
    rows = conn.execute(
        "SELECT relname, autovacuum_count + autoanalyze_count FROM pg_stat_user_tables"
        " WHERE schemaname = 'demo' AND relname = ANY(%s)",
        [list(FILLED_TABLES)],
    ).fetchall()
    return dict(rows)


def measure(count: int) -> dict:
    import django

    django.setup()
    import psycopg
    from django.conf import settings
    from django_tenants.utils import schema_context
    from pgvector.psycopg import register_vector

    from apps.duplicates import candidates
    from apps.duplicates.services import detection
    from apps.images.models import Image

    db = settings.DATABASES["default"]
    conn = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"], password=db["PASSWORD"],
        autocommit=True,
    )  # fmt: skip
    conn.execute("SET search_path = demo, public, extensions")
    register_vector(conn)
    started = time.perf_counter()
    base = base_features(BASE_IMAGES)
    figures: dict = {
        "images": count,
        "base_photos": len(base),
        "features_s": round(time.perf_counter() - started, 1),
    }
    definitions = indexes_drop(conn)
    figures |= fill(conn, count, base)
    # Vacuumed before the HNSW indexes exist (cheap then): otherwise autovacuum comes for the
    # millions of rows just copied in, and vacuuming an HNSW index scans all of it, in the middle of
    # the timed queries.
    started = time.perf_counter()
    for table in FILLED_TABLES:
        conn.execute(f"VACUUM (ANALYZE) {table}")
    figures["vacuum_s"] = round(time.perf_counter() - started, 1)
    figures["hnsw"] = indexes_build(conn, definitions, count)
    vacuums_before = _autovacuums(conn)
    stored = database_bytes(conn)
    (total_images,) = conn.execute("SELECT count(*) FROM duplicates_signature").fetchone() or (0,)
    figures["database_bytes_per_image"] = {
        **{table: round(size / total_images) for table, size in stored.items()},
        "total": round(sum(stored.values()) / total_images),
    }

    # The index stage again on each query image, against the N rows: what the task runs.
    timings: dict[str, list[float]] = {"stage": [], "candidates": [], "verifications": []}
    real_find, real_verified = detection.candidates_find, candidates.decide_verified
    counter = {"candidates": 0.0, "verifications": 0}

    def timed_find(query, **kwargs):
        t0 = time.perf_counter()
        try:
            return real_find(query, **kwargs)
        finally:
            counter["candidates"] += time.perf_counter() - t0

    def counted_verified(**kwargs):
        counter["verifications"] += 1
        return real_verified(**kwargs)

    found_pairs: set = set()
    real_record = detection.pairs_record

    def recorded(*, image_id, found):
        found_pairs.update(frozenset((image_id, other)) for other, _d in found)
        return real_record(image_id=image_id, found=found)

    detection.candidates_find = timed_find
    candidates.decide_verified = counted_verified
    detection.pairs_record = recorded
    names = {p.name.rsplit(".", 1)[0] for p in query_photos()}
    with schema_context("demo"):
        family_of = {name.rsplit(".", 1)[0]: orig for name, orig in _families().items()}
        origin = {
            image.pk: family_of.get(image.original_filename.rsplit(".", 1)[0])
            for image in Image.objects.filter(deleted_at__isnull=True)
            if image.original_filename.rsplit(".", 1)[0] in names
        }
        queries = list(origin)
        for rounds in range(2):  # the first round warms the caches and the HNSW pages
            found_pairs.clear()
            for image_id in queries:
                counter.update(candidates=0.0, verifications=0)
                t0 = time.perf_counter()
                detection.image_index(image_id=image_id)
                if rounds:
                    timings["stage"].append(time.perf_counter() - t0)
                    timings["candidates"].append(counter["candidates"])
                    timings["verifications"].append(counter["verifications"])
    # Recall apart from timing: each query photo's duplicates among all rows, every candidate
    # verified (the stage itself skips candidates already grouped with a match).
    direct: set = set()
    with schema_context("demo"):
        for image in Image.objects.filter(pk__in=queries).select_related("storage_location"):
            query = detection.image_query(image)
            direct.update(frozenset((image.pk, other)) for other, _d in detection.matches_find(query))
    mean = statistics.mean(timings["stage"])
    truth = {
        frozenset((a, b)) for a in queries for b in queries if a != b and origin[a] and origin[a] == origin[b]
    }
    query_set = set(queries)
    among = {pair for pair in found_pairs if pair <= query_set}
    figures |= {
        # the copy-original and copy-copy pairs among the query photos that their index stage found
        # directly (not through a group) against the N rows: the same share at every size means
        # the candidate search does not lose copies as the collection grows
        "query_pairs": {
            "true": len(truth),
            "found": len(among & truth),
            "false": len(found_pairs - truth),
            "recall": round(len(among & truth) / len(truth), 4) if truth else None,
        },
        "query_pairs_all_verified": {
            "found": len(direct & truth),
            "false": len(direct - truth),  # a base row is never a copy of a query photo
            "recall": round(len(direct & truth) / len(truth), 4) if truth else None,
        },
        "query_images": len(queries),
        "index_stage": percentiles(timings["stage"]),
        "candidate_search": percentiles(timings["candidates"]),
        "verifications_per_image": {
            "mean": round(statistics.mean(timings["verifications"]), 1),
            "max": max(timings["verifications"]),
        },
        "full_rescan_estimate_h_one_process": round(total_images * mean / 3600, 2),
        # tables autovacuum or autoanalyze worked on while the queries were timed (none expected)
        "autovacuum_during_queries": sorted(
            table for table, n in _autovacuums(conn).items() if n != vacuums_before.get(table)
        ),
    }
    conn.close()
    return figures


# ---- the bench (outside Django) ------------------------------------------------------------------


def one_size(count: int) -> dict:
    from tests.benchmarks.ingest import Client, _api_key, _db
    from tests.runtime.product import Product
    from tests.support.waiting import eventually

    with tempfile.TemporaryDirectory(prefix="deeplens-bench-scale-") as folder:
        product = Product(Path(folder) / "var")
        product.extra_env = {"DEEPLENS_WORKER_CONCURRENCY": "2", "DEEPLENS_SEARCH_CACHE_SECONDS": "0"}
        product.start()
        try:
            files = [(p.name, p.read_bytes()) for p in query_photos()]
            key = _api_key(product)
            Client(product.port, key).upload_all(files)

            def indexed() -> bool:
                with _db(product) as db:
                    done = db.execute(
                        "SELECT count(*) FROM demo.images_imagestage"
                        " WHERE stage = 'detect' AND state = 'done'"
                    ).fetchone()[0]
                return done >= len(files)

            eventually(indexed, timeout=600, interval=1)
            done = subprocess.run(
                [sys.executable, "-m", "tests.benchmarks.scale", str(count)],
                env=product.env(),
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                raise RuntimeError(f"scale {count} failed: {done.stderr[-3000:]}")
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            figures["search_by_upload"] = upload_search(product, key, files)
            return figures
        finally:
            product.stop()


def upload_search(product, key: str, files: list[tuple[str, bytes]]) -> dict:
    """Each query photo as an upload (base64 in JSON, default options, cache off) to
    `POST search/similarity` against the N rows: what a user's search by a picture costs at that
    size (issue: p95 <= 150 ms at 100k). The first round warms the caches."""
    import base64
    import http.client

    from tests.benchmarks.search_quality import _search

    conn = http.client.HTTPConnection("127.0.0.1", product.port, timeout=120)
    latencies, errors = [], 0
    for rounds in range(2):
        for _name, data in files:
            body = {"image": base64.b64encode(data).decode()}
            started = time.perf_counter()
            status, _answer = _search(conn, key, body)
            if rounds:
                latencies.append(time.perf_counter() - started)
                errors += status != 200
    return {**percentiles(latencies), "searches": len(latencies), "errors": errors}


def scale_benchmark(context: dict) -> dict:
    sizes = [int(n) for n in os.environ.get("DEEPLENS_BENCH_SCALE_SIZES", "10000,100000").split(",")]
    return {str(n): one_size(n) for n in sizes}


if __name__ == "__main__":
    sys.path.insert(0, os.getcwd())
    print(json.dumps(measure(int(sys.argv[1]))))
