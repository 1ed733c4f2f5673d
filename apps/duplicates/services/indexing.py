"""The index and detect stages (apps/images/pipeline.py) over claimed images: each image's
descriptor and signature, then its duplicates. One image that fails never stops the others: a
terminal failure (an undecodable original, a file the feature extractor refuses) is recorded on the
image with its reason; a transient one (the database or the storage went away) gives the image back
and the task retries it as a whole; when the retries run out the image is marked failed, retryable,
and the sweep tries again later.

Detection yields to ingestion: while the tenant's uploads wait to be processed, fresh images are
left for the catch-up task, which runs when the processing queue runs dry (`on_drained`) or when
the sweep finds images that have waited longer than DEEPLENS_INDEX_YIELD_SECONDS.
"""

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.db.models import Exists, OuterRef
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from apps.core import queueing
from apps.core.connection import connection
from apps.core.redis import get_redis, redis_key
from apps.duplicates.services.detection import IndexFailed, image_index
from apps.images.models import Image, ImageStage, ImageStatus, StageState
from apps.images.services.stages import (
    StageResult,
    stage_claim,
    stage_claimable_exists,
    stages_record,
    stages_release,
)

logger = logging.getLogger(__name__)

INDEX, DETECT = "index", "detect"
# The claim is on the detect stage, the last of the task: an image is claimed until it is checked.
CLAIM_STAGE = DETECT
BATCH = 16
CATCH_UP_SECONDS = 60
TRANSIENT = (OperationalError, InterfaceError, ConnectionError, TimeoutError, redis.RedisError)


class TransientIndexError(Exception):
    def __init__(self, message: str, *, image_ids: list[str]):
        super().__init__(message)
        self.image_ids = image_ids


@dataclass
class Outcome:
    claimed: list = field(default_factory=list)
    grouped: int = 0
    failed: int = 0


def ingest_backlog() -> bool:
    return Image.objects.filter(
        status__in=[ImageStatus.PENDING, ImageStatus.PROCESSING], deleted_at__isnull=True
    ).exists()


def yielding() -> bool:
    return settings.DEEPLENS_INDEX_YIELD_SECONDS > 0 and ingest_backlog()


def _failure(image_id, reason: str, *, retryable: bool = False) -> list[StageResult]:
    return [
        StageResult(
            image_id=image_id, stage=INDEX, state=StageState.FAILED, reason=reason, retryable=retryable
        ),
        StageResult(
            image_id=image_id,
            stage=DETECT,
            state=StageState.FAILED,
            reason="Not checked: the image could not be indexed.",
            retryable=retryable,
        ),
    ]


def images_index(*, image_ids=None, limit: int = BATCH, ready_before=None) -> Outcome:
    """Claim up to `limit` images (of `image_ids`, when given) and run index + detect on each."""
    outcome = Outcome(
        claimed=stage_claim(stage=CLAIM_STAGE, image_ids=image_ids, limit=limit, ready_before=ready_before)
    )
    results: list[StageResult] = []
    transient: list[tuple[object, Exception]] = []
    for image_id in outcome.claimed:
        started = time.monotonic()
        try:
            group = image_index(image_id=image_id)
        except IndexFailed as exc:
            results += _failure(image_id, str(exc))
            outcome.failed += 1
            continue
        except TRANSIENT as exc:
            transient.append((image_id, exc))
            if isinstance(exc, (OperationalError, InterfaceError)):
                connection.close_if_unusable_or_obsolete()
            continue
        except DatabaseError as exc:  # a data error in one image's rows: that image fails, not the batch
            logger.exception("index: image %s failed", image_id)
            results += _failure(image_id, f"Could not be indexed: {exc}".strip()[:300])
            outcome.failed += 1
            continue
        except Exception as exc:
            logger.exception("index: image %s failed", image_id)
            results += _failure(image_id, f"Could not be indexed ({type(exc).__name__}: {exc})"[:300])
            outcome.failed += 1
            continue
        outcome.grouped += group is not None
        results.append(
            StageResult(
                image_id=image_id,
                stage=DETECT,
                state=StageState.DONE,
                duration_ms=int((time.monotonic() - started) * 1000),
            )
        )
    stages_record(results)
    if transient:
        ids = [str(image_id) for image_id, _exc in transient]
        stages_release(stage=CLAIM_STAGE, image_ids=ids)
        raise TransientIndexError(str(transient[0][1]), image_ids=ids)
    return outcome


def images_index_gave_up(*, image_ids, reason: str) -> None:
    """The task's retries ran out on a transient error: failed, retryable by the sweep."""
    stages_record([row for image_id in image_ids for row in _failure(image_id, reason, retryable=True)])


def images_index_catch_up(*, budget_seconds: float = CATCH_UP_SECONDS, slot: int = 0) -> bool:
    """Index waiting images, oldest first, until none waits or the budget is spent (True: more wait).
    While uploads wait to be processed, only images ready for longer than the yield window."""
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        _catch_up_touch(slot)
        ready_before = None
        if yielding():
            ready_before = timezone.now() - timedelta(seconds=settings.DEEPLENS_INDEX_YIELD_SECONDS)
        if not images_index(limit=BATCH, ready_before=ready_before).claimed:
            return False
    return True


def _catch_up_key(slot: int = 0) -> str:
    return redis_key("index-catch-up", connection.schema_name, str(slot))


CATCH_UP_KEY_SECONDS = 30
# Catch-up tasks a tenant may have at once: one per process of a default worker (concurrency 2), so
# a backlog is indexed on every core, not on one. Claims keep them apart.
CATCH_UP_TASKS = 2


def _catch_up_touch(slot: int = 0) -> None:
    with contextlib.suppress(redis.RedisError):
        get_redis().set(_catch_up_key(slot), "1", ex=CATCH_UP_KEY_SECONDS)


def catch_up_enqueue() -> bool:
    """Up to CATCH_UP_TASKS catch-up tasks per tenant at a time: a Redis key per slot marks each
    queued or running (the task keeps it alive while it runs; it expires soon after a worker died
    with it). True when one was sent."""
    index_catch_up_task = queueing.task("index.catch_up")

    sent = False
    for slot in range(CATCH_UP_TASKS):
        try:
            if not get_redis().set(_catch_up_key(slot), "1", nx=True, ex=CATCH_UP_KEY_SECONDS):
                continue
        except redis.RedisError:
            pass  # enqueue anyway: a spare catch-up finds its images claimed and stops
        try:
            index_catch_up_task.delay(slot=slot)
        except BrokerError as exc:
            logger.warning("index catch-up not enqueued (broker unavailable; the sweep retries): %s", exc)
            return sent
        sent = True
    return sent


def catch_up_pending() -> bool:
    """A catch-up of this tenant is queued or running (a slot's marker is set); False when Redis
    does not answer."""
    try:
        return bool(get_redis().exists(*[_catch_up_key(n) for n in range(CATCH_UP_TASKS)]))
    except redis.RedisError:
        return False


def catch_up_done(slot: int | None = None) -> None:
    """The catch-up of this slot ended (every slot's marker forgotten when None)."""
    slots = range(CATCH_UP_TASKS) if slot is None else [slot]
    with contextlib.suppress(redis.RedisError):
        get_redis().delete(*[_catch_up_key(n) for n in slots])


def index_sweep(*, worker_started: bool = False) -> int:
    """The sweep's part for index + detect: a catch-up when any image waits longer than the yield
    window (or at all, when uploads are not waiting); when none waits and no upload does, the next
    STALE_BATCH images whose signature an older method made. When a worker starts, up to 10,000 of
    those are indexed again at once, and the marker of a catch-up that may have died with a
    worker is forgotten (a second catch-up beside a live one is harmless: claims keep them apart)."""
    if worker_started:
        catch_up_done()
        stale_signatures_reset()
    ready_before = None
    if yielding():
        ready_before = timezone.now() - timedelta(seconds=settings.DEEPLENS_INDEX_YIELD_SECONDS)
    if stage_claimable_exists(stage=CLAIM_STAGE, ready_before=ready_before):
        return int(catch_up_enqueue())
    # Nothing waits and no upload is being processed: the next images an older method indexed
    # are indexed again, so a whole library moves to a new method without a person starting it.
    if ready_before is None and stale_signatures_reset(limit=STALE_BATCH):
        return int(catch_up_enqueue())
    return 0


# Images with an older method's signature indexed again per idle sweep (a minute apart): new
# uploads always come first, and a library of 1M moves over in the background.
STALE_BATCH = 1000


def stale_signatures_reset(limit: int = 10_000) -> int:
    """Live, ready images whose duplicate signature an older method made wait for the index stage
    again; not those whose indexing failed since (an original that cannot be read keeps its older
    signature, which detection still uses, instead of being tried every minute)."""
    from apps.duplicates.models import Signature
    from apps.duplicates.signatures import VERSION
    from apps.images.services.stages import stages_reset

    failed = ImageStage.objects.filter(
        image_id=OuterRef("image_id"), stage__in=[INDEX, DETECT], state=StageState.FAILED
    )
    stale = list(
        Signature.objects.filter(
            version__lt=VERSION, image__deleted_at__isnull=True, image__status=ImageStatus.READY
        )
        .exclude(Exists(failed))
        .values_list("image_id", flat=True)[:limit]
    )
    if stale:
        stages_reset(image_ids=stale, stages=[INDEX, DETECT])
        logger.info("index: %d images have a signature of an older method; indexed again", len(stale))
    return len(stale)


def index_enqueue(image_ids: list[str]) -> None:
    """Images just became READY: index + detect on the `index` queue once the rows are committed."""
    from django.db import transaction

    duplicates_detect_task = queueing.task("index.detect_duplicates")

    ids = [str(i) for i in image_ids]
    if ids:
        transaction.on_commit(lambda: _send(duplicates_detect_task, image_ids=ids))


def _send(task, **kwargs) -> None:
    try:
        task.delay(**kwargs)
    except BrokerError as exc:  # the images stay unclaimed; the sweep enqueues them
        logger.warning("%s not enqueued (broker unavailable; the sweep retries): %s", task.name, exc)
