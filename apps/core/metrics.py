"""DeepLens's own Prometheus metrics, all in one module, with small helpers the domains call.

Processes: gunicorn's workers and the Celery workers (and their prefork children) are separate
processes. With PROMETHEUS_MULTIPROC_DIR set (the runner and docker-compose set it; it must be set
before prometheus_client is imported), every process writes its samples to files in that folder and
`/metrics` on the web server adds them all up, so one scrape covers web and workers on one host.
Workers on other hosts serve the same folder on their own port (DEEPLENS_WORKER_METRICS_PORT, see
celery_app.py). Without it (tests, a single process) the process's own registry is served.

Figures that are true of the whole installation rather than of one process (queue depth, whether
the database answers, duplicate groups across tenants) are read at scrape time by
`ScrapeTimeCollector`, never kept in the processes.

Labels: stage, outcome, queue, endpoint class, scope, search kind: all bounded. No tenant labels.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

# Seconds: processing stages of one image take milliseconds to seconds (12-megapixel photos).
STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
SEARCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5)

IMAGES_INGESTED = Counter(
    "deeplens_images_ingested",
    "Images processed to the end of the pipeline (status ready).",
)
IMAGES_FAILED = Counter(
    "deeplens_images_failed",
    "Images whose processing failed for good, by the stage that failed.",
    ["stage"],
)
STAGE_DURATION = Histogram(
    "deeplens_stage_duration_seconds",
    "Time one image spends in a processing stage (decode, thumbnails, hashes, total).",
    ["stage"],
    buckets=STAGE_BUCKETS,
)
EMBEDDINGS = Counter(
    "deeplens_embeddings",
    "Embeddings computed; rate() of it is embeddings per second.",
    ["model"],
)
EMBEDDING_BATCH_DURATION = Histogram(
    "deeplens_embedding_batch_duration_seconds",
    "Time to compute one batch of embeddings.",
    ["model"],
    buckets=STAGE_BUCKETS,
)
SEARCH_DURATION = Histogram(
    "deeplens_search_duration_seconds",
    "Search latency as the API sees it, by kind of search (image, text, vector, duplicates...).",
    ["kind"],
    buckets=SEARCH_BUCKETS,
)
RATE_LIMIT_REJECTIONS = Counter(
    "deeplens_rate_limit_rejections",
    "API requests refused by a rate limit or the daily quota, by endpoint class and limit scope.",
    ["endpoint_class", "scope"],
)

# Redis hashes the duplicates domain writes per tenant; the scrape adds them up (no tenant label).
DUPLICATES_KEY = "deeplens:metrics:duplicates"


# --- helpers the domains call ---------------------------------------------------------------


def image_stage_observe(stage: str, seconds: float) -> None:
    STAGE_DURATION.labels(stage=stage).observe(seconds)


class StageClock:
    """Times the stages of one image: `lap(stage)` at the end of each, `done()` at the end. Each lap
    goes to the stage histogram and, when tracing is on, becomes a span of its own (start and end
    given explicitly, so the pipeline's code needs no extra nesting)."""

    def __init__(self, **span_attributes):
        self.attributes = span_attributes
        self.started = self.last = time.perf_counter()
        self.started_ns = self.last_ns = time.time_ns()

    def lap(self, stage: str) -> None:
        now, now_ns = time.perf_counter(), time.time_ns()
        image_stage_observe(stage, now - self.last)
        timed_span(f"image.{stage}", self.last_ns, now_ns, **self.attributes)
        self.last, self.last_ns = now, now_ns

    def done(self) -> None:
        image_stage_observe("total", time.perf_counter() - self.started)
        timed_span("image.process", self.started_ns, time.time_ns(), **self.attributes)


def timed_span(name: str, start_ns: int, end_ns: int, **attributes) -> None:
    from apps.core import tracing

    if tracing.tracing_enabled():
        tracing.record_span(name, start_ns, end_ns, **attributes)


def image_outcome_record(*, status: str, failed_stage: str = "") -> None:
    """One image left the pipeline: ready (ingested) or failed at `failed_stage`."""
    if status == "ready":
        IMAGES_INGESTED.inc()
    elif status == "failed":
        IMAGES_FAILED.labels(stage=failed_stage or "unknown").inc()


def embeddings_record(*, count: int, seconds: float | None = None, model: str = "default") -> None:
    """Call after computing a batch of `count` embeddings (optionally how long the batch took)."""
    EMBEDDINGS.labels(model=model).inc(count)
    if seconds is not None:
        EMBEDDING_BATCH_DURATION.labels(model=model).observe(seconds)


def search_observe(*, kind: str, seconds: float) -> None:
    SEARCH_DURATION.labels(kind=kind).observe(seconds)


@contextmanager
def search_timer(kind: str) -> Iterator[None]:
    """`with search_timer("image"): results = ...` records the block's duration."""
    started = time.perf_counter()
    try:
        yield
    finally:
        search_observe(kind=kind, seconds=time.perf_counter() - started)


def duplicates_report(*, tenant_slug: str, groups: int, reclaimable_bytes: int) -> None:
    """The duplicates domain reports a tenant's current figures after each detection run; the
    gauges show the sum over tenants. A deleted tenant's figures go with duplicates_forget."""
    from apps.core.redis import get_redis

    pipe = get_redis().pipeline(transaction=False)
    pipe.hset(f"{DUPLICATES_KEY}:groups", tenant_slug, int(groups))
    pipe.hset(f"{DUPLICATES_KEY}:reclaimable_bytes", tenant_slug, int(reclaimable_bytes))
    pipe.execute()


def duplicates_forget(*, tenant_slug: str) -> None:
    from apps.core.redis import get_redis

    pipe = get_redis().pipeline(transaction=False)
    pipe.hdel(f"{DUPLICATES_KEY}:groups", tenant_slug)
    pipe.hdel(f"{DUPLICATES_KEY}:reclaimable_bytes", tenant_slug)
    pipe.execute()


def rate_limit_rejection_record(*, endpoint_class: str, scope: str) -> None:
    RATE_LIMIT_REJECTIONS.labels(endpoint_class=endpoint_class, scope=scope).inc()


# --- read at scrape time ----------------------------------------------------------------------


def queue_consumers() -> tuple[int, dict[str, int]] | None:
    """(live workers, how many of them consume each queue) from the workers' heartbeats in Redis
    (apps/core/workers.py), or None when Redis cannot be reached. A worker that stopped or froze
    drops out within its heartbeat's TTL."""
    from apps.core.workers import live_workers
    from celery_app import QUEUES

    workers = live_workers()
    if workers is None:
        return None
    consumers = dict.fromkeys(QUEUES, 0)
    for queues in workers.values():
        for queue in queues:
            if queue in consumers:
                consumers[queue] += 1
    return len(workers), consumers


class ScrapeTimeCollector:
    """Queue depth per Celery queue (Redis LLEN), the workers consuming them, database and Redis
    reachability, duplicate totals."""

    def collect(self):
        import redis
        from django.db import DatabaseError, connection

        from apps.core.queueing import queue_depths
        from apps.core.redis import get_redis

        depth = GaugeMetricFamily(
            "deeplens_queue_depth", "Tasks waiting in each Celery queue (Redis LLEN).", labels=["queue"]
        )
        depths = queue_depths()
        for queue, length in depths.items():
            if length is not None:
                depth.add_metric([queue], length)
        yield depth

        answered = queue_consumers() if any(v is not None for v in depths.values()) else None
        if answered is not None:
            workers, consumers = answered
            yield GaugeMetricFamily(
                "deeplens_celery_workers",
                "Celery workers alive (a heartbeat in Redis within the last 20 s).",
                value=workers,
            )
            consuming = GaugeMetricFamily(
                "deeplens_queue_consumers",
                "Live Celery workers consuming each queue.",
                labels=["queue"],
            )
            for queue, count in consumers.items():
                consuming.add_metric([queue], count)
            yield consuming

        database_up = 1
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            database_up = 0
        yield GaugeMetricFamily(
            "deeplens_database_up", "1 when PostgreSQL answered the scrape's probe.", value=database_up
        )

        groups = reclaimable = 0
        redis_up = 1
        try:
            client = get_redis()
            groups = sum(int(v) for v in client.hvals(f"{DUPLICATES_KEY}:groups"))
            reclaimable = sum(int(v) for v in client.hvals(f"{DUPLICATES_KEY}:reclaimable_bytes"))
        except redis.RedisError:
            redis_up = 0
        yield GaugeMetricFamily("deeplens_redis_up", "1 when Redis answered the scrape.", value=redis_up)
        yield GaugeMetricFamily(
            "deeplens_duplicate_groups", "Open duplicate groups, all tenants together.", value=groups
        )
        yield GaugeMetricFamily(
            "deeplens_duplicate_reclaimable_bytes",
            "Bytes that resolving every open duplicate group would free, all tenants together.",
            value=reclaimable,
        )


# Every metric name this module exports, as Prometheus sees it (dashboards and alert rules are
# checked against this list in tests/core/test_deployment.py).
EXPORTED_METRICS = (
    "deeplens_images_ingested_total",
    "deeplens_images_failed_total",
    "deeplens_stage_duration_seconds",
    "deeplens_embeddings_total",
    "deeplens_embedding_batch_duration_seconds",
    "deeplens_search_duration_seconds",
    "deeplens_rate_limit_rejections_total",
    "deeplens_queue_depth",
    "deeplens_celery_workers",
    "deeplens_queue_consumers",
    "deeplens_database_up",
    "deeplens_redis_up",
    "deeplens_duplicate_groups",
    "deeplens_duplicate_reclaimable_bytes",
)
