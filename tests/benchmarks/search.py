"""The `search` stage of `make bench`: N clustered 512-d vectors (shaped like CLIP embeddings) in
the demo tenant of a fresh product, stored the way the product stores them (halfvec rows of
search_embedding, one images_image row each), then:

- the HNSW build time (the product's own CREATE INDEX, m/ef_construction from settings);
- raw query p50/p95 and recall@10 against exact search (numpy) at several ef_search, with the
  product's query (apps/search/selectors.NEIGHBOURS_SQL: the join, the filters, iterative scan);
- the search API by image_id over HTTP (one client, distinct query images, cache off), p50/p95,
  and side by side with it (just before, same run) the raw query for images drawn the same way:
  each one's stored vector as the query, itself excluded. Searching by a stored vector costs the index more
  than a new vector does (about 3.3 against 2.1 ms at 100k): the ratio API / raw is taken on the
  same queries.

The synthetic images are marked as through every stage (index, detect, embed:clip done), as a
library that has finished indexing: otherwise the product's worker would take them up in the
background (and fail them: they have no originals) while the queries are timed. The tables are
vacuumed before the index is built, for the same reason (autovacuum would come for the rows just
copied in during the queries).

N is 100,000 by default; DEEPLENS_BENCH_SEARCH_VECTORS=1000000 runs the 1M case (its index build
alone takes ~5-7 minutes on 2 cores; about 2 GB of memory for the vectors).
"""

import http.client
import json
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psycopg

from tests.benchmarks.ingest import _api_key
from tests.runtime.product import Product

DIM = 512
VERSION = "bench-random"
# Intrinsic dimension and cluster spread of the synthetic vectors: 48 / 0.6 is easy for HNSW (recall@10
# ~1.0 at ef_search 40); higher values are harder. Real CLIP embeddings lie in between.
LATENT = int(os.environ.get("DEEPLENS_BENCH_SEARCH_LATENT", "48"))
SPREAD = float(os.environ.get("DEEPLENS_BENCH_SEARCH_SPREAD", "0.6"))


def clustered(count: int, seed: int, clusters: int = 2000, latent: int = LATENT) -> np.ndarray:
    """Unit vectors with the structure of real embeddings: clusters in a low-dimensional latent
    space mapped into 512 dimensions, plus a little isotropic noise. (Isotropic Gaussian noise in
    all 512 dimensions would make every neighbour nearly equidistant: no real model's output.)"""
    structure = np.random.default_rng(0)  # the same space and clusters for data and queries
    mixing = structure.standard_normal((latent, DIM)).astype(np.float32) / np.sqrt(latent)
    centres = structure.standard_normal((clusters, latent)).astype(np.float32)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, count)
    out = np.empty((count, DIM), dtype=np.float32)
    for start in range(0, count, 50_000):
        part = slice(start, min(count, start + 50_000))
        size = part.stop - part.start
        z = centres[labels[part]] + SPREAD * rng.standard_normal((size, latent)).astype(np.float32)
        out[part] = z @ mixing + 0.05 * rng.standard_normal((size, DIM)).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def percentiles(values_ms: list[float]) -> dict:
    ordered = sorted(values_ms)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 2),
    }


def _connect(product: Product):
    conn = psycopg.connect(
        f"postgresql://postgres@/deeplens?host={product.data_dir / 'postgres'}", autocommit=True
    )
    conn.execute("SET search_path = demo, public, extensions")
    from pgvector.psycopg import register_vector

    register_vector(conn)
    return conn


EMPTY = {"character varying": "", "text": "", "integer": 0, "smallint": 0, "bigint": 0, "boolean": False,
         "jsonb": "{}", "ARRAY": "{}"}  # fmt: skip


def _required_columns(conn, table: str, *, exclude: set[str]) -> dict:
    """{column: empty value} of the table's NOT NULL columns without a default, outside `exclude`."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'demo'"
        " AND table_name = %s AND is_nullable = 'NO' AND column_default IS NULL ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return {name: EMPTY[kind] for name, kind in rows if name not in exclude}


def load(conn, vectors: np.ndarray) -> list[str]:
    from pgvector import HalfVector

    location = conn.execute("SELECT id FROM storage_storagelocation ORDER BY created_at LIMIT 1").fetchone()[
        0
    ]
    ids = [str(uuid.uuid4()) for _ in range(len(vectors))]
    now = datetime.now(UTC)
    named = (
        "id, original_filename, format, content_type, width, height, size_bytes, sha256,"
        " storage_location_id, storage_key, source_url, status, failed_stage, failure_reason, attempts,"
        " created_at, updated_at, exif, camera, tags, source_version"
    )
    # Columns added since that must not be NULL get the empty value of their type, as Django writes.
    others = _required_columns(conn, "images_image", exclude=set(named.split(", ")))
    columns = ", ".join([named, *others])
    # One transaction: the worker's sweeps never see an image without its stage rows.
    with conn.transaction(), conn.cursor() as cursor:
        with cursor.copy(f"COPY images_image ({columns}) FROM STDIN") as copy:
            for number, image_id in enumerate(ids):
                copy.write_row(
                    (
                        image_id,
                        f"bench-{number}.jpg",
                        "jpeg",
                        "image/jpeg",
                        640,
                        480,
                        50_000,
                        f"{number:064x}",
                        location,
                        f"demo/images/bench/{image_id}.jpg",
                        "",
                        "ready",
                        "",
                        "",
                        1,
                        now,
                        now,
                        "{}",
                        "",
                        "{}",
                        "",
                        *others.values(),
                    )
                )
        # Indexed images have a duplicate signature (a search by id reads its pHashes and what
        # detection decided; without one it would try to verify the image live, from an original
        # these rows do not have): pHashes only, no local features.
        rng = np.random.default_rng(5)
        phashes = rng.integers(-(2**63), 2**63 - 1, size=(len(ids), 8), dtype=np.int64)
        named = (
            "image_id, version, width, height, phashes, band0, band1, band2, band3, keypoints,"
            " descriptors, mirrored_keypoints, mirrored_descriptors, thumb, thumb_width, created_at"
        )
        others = _required_columns(conn, "duplicates_signature", exclude=set(named.split(", ")))
        with cursor.copy(f"COPY duplicates_signature ({', '.join([named, *others])}) FROM STDIN") as copy:
            for image_id, hashes in zip(ids, phashes, strict=True):
                upright = int(hashes[0]) & (2**64 - 1)
                bands = [(upright >> shift) & 0xFFFF for shift in (48, 32, 16, 0)]
                row = (
                    image_id,
                    2,
                    640,
                    480,
                    [int(h) for h in hashes],
                    *bands,
                    b"",
                    b"",
                    b"",
                    b"",
                    b"",
                    96,
                    now,
                )
                copy.write_row((*row, *others.values()))
        with cursor.copy(
            "COPY search_embedding (image_id, model, version, dimensions, vector, created_at) FROM STDIN "
            "WITH (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["uuid", "varchar", "varchar", "int2", "halfvec", "timestamptz"])
            for image_id, vector in zip(ids, vectors, strict=True):
                copy.write_row((uuid.UUID(image_id), "clip", VERSION, DIM, HalfVector(vector), now))
        # Through every stage, as an indexed library (the worker's sweeps leave them alone).
        with cursor.copy(
            "COPY images_imagestage (image_id, stage, state, attempts, retryable, reason, claimed_by,"
            " updated_at) FROM STDIN"
        ) as copy:
            for image_id in ids:
                for stage in ("index", "detect", "embed:clip"):
                    copy.write_row((image_id, stage, "done", 1, False, "", "", now))
    conn.execute(
        "INSERT INTO search_searchmodel (key, is_active, version, dimensions, activated_at, updated_at) "
        "VALUES ('clip', true, %s, %s, now(), now())",
        [VERSION, DIM],
    )
    conn.execute("ANALYZE images_image")
    conn.execute("ANALYZE search_embedding")
    conn.execute("ANALYZE duplicates_signature")
    conn.execute("ANALYZE images_imagestage")
    return ids


def build_index(conn, m: int, ef_construction: int) -> float:
    conn.execute("SET maintenance_work_mem = '3GB'")
    conn.execute("SET max_parallel_maintenance_workers = 2")
    started = time.perf_counter()
    conn.execute(
        f"CREATE INDEX search_embedding_hnsw_clip_{DIM} ON search_embedding USING hnsw "
        f"((vector::halfvec({DIM})) halfvec_cosine_ops) WITH (m = {m}, ef_construction = {ef_construction}) "
        f"WHERE model = 'clip' AND dimensions = {DIM}"
    )
    return time.perf_counter() - started


RAW_SQL = """
SELECT e.image_id FROM search_embedding e JOIN images_image i ON i.id = e.image_id
WHERE e.model = 'clip' AND e.dimensions = 512 AND e.version = %s
  AND i.deleted_at IS NULL AND i.status = 'ready'
ORDER BY e.vector::halfvec(512) <=> %s::halfvec(512) LIMIT 10
"""


def _index_settings(conn, ef_search: int) -> None:
    """The product's index settings for the raw queries (apps/search/selectors.py sends them too)."""
    conn.execute("SET hnsw.iterative_scan = relaxed_order")
    conn.execute(f"SET hnsw.ef_search = {ef_search}")


def raw_queries(conn, ids: list[str], vectors: np.ndarray, queries: np.ndarray, ef_search: int) -> dict:
    from pgvector import HalfVector

    _index_settings(conn, ef_search)
    exact = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    index_of = {image_id: n for n, image_id in enumerate(ids)}
    timings, hits = [], 0
    for query, truth in zip(queries, exact, strict=True):
        started = time.perf_counter()
        rows = conn.execute(RAW_SQL, [VERSION, HalfVector(query)], prepare=True).fetchall()
        timings.append((time.perf_counter() - started) * 1000)
        hits += len({index_of[str(row[0])] for row in rows} & set(truth.tolist()))
    return {
        "ef_search": ef_search,
        **percentiles(timings),
        "recall_at_10": round(hits / (10 * len(queries)), 4),
    }


RAW_BY_IMAGE_SQL = """
SELECT e.image_id FROM search_embedding e JOIN images_image i ON i.id = e.image_id
WHERE e.model = 'clip' AND e.dimensions = 512 AND e.version = %s
  AND i.deleted_at IS NULL AND i.status = 'ready' AND e.image_id <> %s
ORDER BY e.vector::halfvec(512) <=> %s::halfvec(512) LIMIT 10
"""


def raw_by_image(conn, query_ids: list[str], ef_search: int) -> dict:
    """The raw query for a search by each image: its stored vector, itself excluded."""
    _index_settings(conn, ef_search)
    vectors = {
        str(image_id): vector
        for image_id, vector in conn.execute(
            "SELECT image_id, vector FROM search_embedding"
            " WHERE model = 'clip' AND image_id = ANY(%s::uuid[])",
            [query_ids],
        ).fetchall()
    }
    timings = []
    for image_id in query_ids:
        started = time.perf_counter()
        conn.execute(RAW_BY_IMAGE_SQL, [VERSION, image_id, vectors[image_id]], prepare=True).fetchall()
        timings.append((time.perf_counter() - started) * 1000)
    return {"ef_search": ef_search, "queries": len(query_ids), **percentiles(timings)}


def api_queries(product: Product, key: str, query_ids: list[str]) -> dict:
    conn = http.client.HTTPConnection("127.0.0.1", product.port, timeout=30)
    headers = {
        "Host": "demo.localhost",
        "Content-Type": "application/json",
        "Authorization": f"Api-Key {key}",
    }
    timings, server = [], []
    for image_id in query_ids:
        started = time.perf_counter()
        conn.request(
            "POST",
            "/api/v1/search/similarity",
            headers=headers,
            body=json.dumps({"image_id": image_id, "max_results": 10, "min_confidence": 0}),
        )
        response = conn.getresponse()
        body = json.loads(response.read())
        timings.append((time.perf_counter() - started) * 1000)
        if response.status != 200 or body["shown"] != 10 or body["cached"]:
            raise RuntimeError(f"search API answered {response.status}: {body}")
        server.append(body["processing_time_ms"])
    return {"requests": len(query_ids), **percentiles(timings), "server_processing": percentiles(server)}


def one_size(count: int, m: int, ef_construction: int) -> dict:
    vectors = clustered(count, seed=1)
    queries = clustered(200, seed=2)
    with tempfile.TemporaryDirectory(prefix="deeplens-bench-search-") as folder:
        checkpoint = Path(folder) / "never-loaded.pt"
        checkpoint.write_bytes(b"searches by image_id never load the model")
        product = Product(Path(folder) / "var")
        product.extra_env = {
            "DEEPLENS_WEB_WORKERS": "1",
            "DEEPLENS_WORKER_CONCURRENCY": "1",
            "DEEPLENS_CLIP_CHECKPOINT": str(checkpoint),
            "DEEPLENS_SEARCH_CACHE_SECONDS": "0",
        }
        product.start()
        try:
            conn = _connect(product)
            started = time.perf_counter()
            ids = load(conn, vectors)
            loaded = time.perf_counter() - started
            # Vacuumed before the index exists, as a library that has settled: otherwise autovacuum
            # comes for the rows just copied in (and scans the whole HNSW index) while the queries
            # are timed, and each heap page's first read sets its hint bits.
            started = time.perf_counter()
            conn.execute(
                "VACUUM (ANALYZE) images_image, search_embedding, duplicates_signature, images_imagestage"
            )
            vacuumed = time.perf_counter() - started
            build = build_index(conn, m, ef_construction)
            size = conn.execute(
                "SELECT pg_relation_size(%s)", [f"demo.search_embedding_hnsw_clip_{DIM}"]
            ).fetchone()[0]
            raw = [raw_queries(conn, ids, vectors, queries, ef) for ef in (40, 100, 200)]
            rng = np.random.default_rng(3)
            key = _api_key(product, scopes=("search",))
            api_queries(product, key, [ids[i] for i in rng.integers(0, count, 20)])  # warm-up
            # Two draws of the same kind (neither warms the other's pages).
            raw_same = raw_by_image(conn, [ids[i] for i in rng.integers(0, count, 200)], ef_search=200)
            api = api_queries(product, key, [ids[i] for i in rng.integers(0, count, 200)])
            conn.close()
        finally:
            product.stop()
    return {
        "vectors": count,
        "dimensions": DIM,
        "storage": "halfvec",
        "load_s": round(loaded, 1),
        "vacuum_s": round(vacuumed, 1),
        "hnsw": {
            "m": m,
            "ef_construction": ef_construction,
            "build_s": round(build, 1),
            "index_mb": round(size / 2**20),
        },
        "raw_query": raw,
        "raw_query_by_image": raw_same,
        "api_by_image_id": {"ef_search": 200, **api},
        "api_p95_over_raw_p95": round(api["p95_ms"] / raw_same["p95_ms"], 2),
    }


def search_benchmark(context: dict) -> dict:
    """DEEPLENS_BENCH_SEARCH_PARTS (default "quality,scale"): quality = recall through the API on the
    public bench and the 50-client load test (tests/benchmarks/search_quality.py); scale = the
    synthetic vectors above."""
    parts = os.environ.get("DEEPLENS_BENCH_SEARCH_PARTS", "quality,scale").split(",")
    out: dict = {}
    if "quality" in parts:
        from tests.benchmarks.search_quality import quality_and_load

        out["public_bench"] = quality_and_load()
    if "scale" in parts:
        sizes = [int(n) for n in os.environ.get("DEEPLENS_BENCH_SEARCH_VECTORS", "100000").split(",")]
        m = int(os.environ.get("DEEPLENS_HNSW_M", "16"))
        ef_construction = int(os.environ.get("DEEPLENS_HNSW_EF_CONSTRUCTION", "64"))
        out |= {f"{n}": one_size(n, m, ef_construction) for n in sizes}
    return out
