"""Which Celery workers are alive, so that work a dead worker had claimed is released at once.

Every worker (the main process and its pool children) has one identity, "<node>|<boot id>", fixed
when the worker starts. Claims carry it: an image being processed (`Image.claimed_by`) and a stage
running (`ImageStage.claimed_by`). The worker's main process refreshes a Redis key for its identity
every HEARTBEAT_SECONDS; a claim whose identity has no key (the worker was killed, its host lost)
is dead once it is older than HEARTBEAT_TTL, and the sweep gives the work back. A worker that
starts releases at once what an earlier run of the same node had claimed.

Processes that are not workers (the web server, operator commands, tests) claim under an identity
of their own without a heartbeat: their claims count as dead only after HEARTBEAT_TTL, and these
calls finish well before.
"""

import contextlib
import logging
import os
import socket
import threading
import uuid

import redis

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL = 20
ENV = "DEEPLENS_WORKER_ID"
KEY_PREFIX = "deeplens:worker:"

_local_identity = f"{socket.gethostname()}:{os.getpid()}|{uuid.uuid4().hex[:12]}"
_stop = threading.Event()


def identity() -> str:
    """This process's claim identity: "<node>|<boot id>/<pid>" in a worker (each pool process its
    own, so that a task can release what an earlier task of the same process left claimed), or one
    of its own elsewhere."""
    worker = os.environ.get(ENV)
    return f"{worker}/{os.getpid()}" if worker else _local_identity


def worker_of(claim: str) -> str:
    """The worker part of a claim identity (its heartbeat's key)."""
    return claim.split("/", 1)[0]


def node_of(claim: str) -> str:
    return claim.split("|", 1)[0]


def worker_start(node: str) -> str:
    """Called in the worker's main process before the pool starts (children inherit it)."""
    worker_id = f"{node}|{uuid.uuid4().hex[:12]}"
    os.environ[ENV] = worker_id
    return worker_id


def _client():
    from apps.core.redis import get_redis

    return get_redis()


_queues: list[str] = []


def beat_once(worker_id: str) -> bool:
    """The key's value lists the queues the worker consumes (the metrics read it)."""
    try:
        _client().set(KEY_PREFIX + worker_id, ",".join(_queues) or "-", ex=HEARTBEAT_TTL)
    except redis.RedisError as exc:
        logger.info("worker heartbeat not written (Redis unavailable): %s", exc)
        return False
    return True


def heartbeat_start(worker_id: str) -> threading.Thread:
    """A daemon thread in the worker's main process: the key lives while the worker does."""
    _stop.clear()

    def loop():
        while not _stop.is_set():
            beat_once(worker_id)
            _stop.wait(HEARTBEAT_SECONDS)

    thread = threading.Thread(target=loop, name="deeplens-heartbeat", daemon=True)
    thread.start()
    return thread


def heartbeat_stop(worker_id: str) -> None:
    worker_id = worker_of(worker_id)
    _stop.set()
    with contextlib.suppress(redis.RedisError):
        _client().delete(KEY_PREFIX + worker_id)


def live_workers() -> dict[str, list[str]] | None:
    """Every worker with a heartbeat and the queues it consumes; None when Redis cannot say."""
    try:
        client = _client()
        keys = sorted(client.scan_iter(match=KEY_PREFIX + "*", count=500))
        values = client.mget(keys) if keys else []
    except redis.RedisError:
        return None
    return {
        key[len(KEY_PREFIX) :]: [q for q in (value or "").split(",") if q and q != "-"]
        for key, value in zip(keys, values, strict=True)
        if value is not None
    }


def _consumed_queues(consumer) -> list[str]:
    try:
        return sorted(queue.name for queue in consumer.task_consumer.queues)
    except AttributeError:
        return []


def alive(claims: set[str]) -> set[str] | None:
    """Of these claim identities, those whose worker has a heartbeat; None when Redis cannot say
    (then no claim is judged dead by heartbeat)."""
    claims = {c for c in claims if c}
    if not claims:
        return set()
    ordered = sorted({worker_of(c) for c in claims})
    try:
        found = _client().mget([KEY_PREFIX + w for w in ordered])
    except redis.RedisError:
        return None
    beating = {w for w, value in zip(ordered, found, strict=True) if value is not None}
    return {claim for claim in claims if worker_of(claim) in beating}


def _connect_worker_signals() -> None:
    from celery import signals

    @signals.worker_init.connect(weak=False)
    def _identity(sender=None, **kwargs):
        worker_start(getattr(sender, "hostname", None) or socket.gethostname())

    @signals.worker_ready.connect(weak=False)
    def _ready(sender=None, **kwargs):
        worker_id = os.environ.get(ENV) or identity()
        _queues[:] = _consumed_queues(sender)
        beat_once(worker_id)
        heartbeat_start(worker_id)
        # What an earlier run of this node held, and whatever else waits, goes back to work now.
        with contextlib.suppress(Exception):
            sender.app.send_task("maintenance.pipeline_sweep", kwargs={"restarted": worker_id})

    @signals.worker_shutdown.connect(weak=False)
    def _shutdown(**kwargs):
        heartbeat_stop(os.environ.get(ENV) or identity())


_connect_worker_signals()
