"""Per-image state of the later pipeline stages (apps/images/pipeline.py): claims, results, and the
release of claims whose worker died."""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from apps.core import workers
from apps.images.models import Image, ImageStage, ImageStatus, StageState

logger = logging.getLogger(__name__)

# A stage that gave up on a transient error is tried again after this long, this many times in all.
RETRY_AFTER = timedelta(minutes=10)
MAX_ATTEMPTS = 5
# A claim older than this is dead whatever the heartbeats say: claims are taken a small batch at a
# time, which takes seconds; one this old was left behind (a lost connection, a task killed).
CLAIM_MAX_AGE = timedelta(minutes=3)


@dataclass(frozen=True)
class StageResult:
    image_id: uuid.UUID | str
    stage: str
    state: str
    reason: str = ""
    retryable: bool = False
    duration_ms: int | None = None


# Images ready (before `ready_before`, when given), live, whose stage has not run, waits, or is due
# for a retry, claimed in one statement: the row becomes "running" under this worker's identity.
# Two claimers of one image serialise on the unique index, and the DO UPDATE's WHERE lets only the
# first have it. FOR KEY SHARE waits for a purge of the image (which locks it FOR UPDATE) and then
# leaves the purged image out.
CLAIMABLE_SQL = """
    SELECT i.id FROM {images} i
    LEFT JOIN {stages} s ON s.image_id = i.id AND s.stage = %(stage)s
    WHERE i.status = 'ready' AND i.deleted_at IS NULL
      AND (%(ids)s::uuid[] IS NULL OR i.id = ANY(%(ids)s::uuid[]))
      AND (%(ready_before)s::timestamptz IS NULL OR i.processed_at < %(ready_before)s::timestamptz)
      AND (s.id IS NULL OR s.state = 'pending'
           OR (s.state = 'failed' AND s.retryable AND s.updated_at < %(retry_before)s
               AND s.attempts < %(max_attempts)s))
"""
CLAIM_SQL = """
WITH picked AS MATERIALIZED (
    {claimable}
    ORDER BY i.processed_at
    LIMIT %(limit)s
    FOR KEY SHARE OF i)
INSERT INTO {stages} AS s (image_id, stage, state, attempts, retryable, reason, claimed_by, started_at,
                           finished_at, duration_ms, updated_at)
SELECT id, %(stage)s, 'running', 1, false, '', %(me)s, now(), NULL, NULL, now() FROM picked
ON CONFLICT (image_id, stage) DO UPDATE
SET state = 'running', attempts = s.attempts + 1, retryable = false, reason = '',
    claimed_by = EXCLUDED.claimed_by, started_at = now(), finished_at = NULL, updated_at = now()
WHERE s.state = 'pending' OR (s.state = 'failed' AND s.retryable)
RETURNING s.image_id
"""


def _params(*, stage: str, image_ids, limit: int, ready_before) -> dict:
    return {
        "stage": stage,
        "ids": [str(i) for i in image_ids] if image_ids is not None else None,
        "ready_before": ready_before,
        "retry_before": timezone.now() - RETRY_AFTER,
        "max_attempts": MAX_ATTEMPTS,
        "limit": limit,
        "me": workers.identity(),
    }


def _tables() -> dict:
    return {"images": Image._meta.db_table, "stages": ImageStage._meta.db_table}


def stage_claim(*, stage: str, image_ids=None, limit: int = 16, ready_before=None) -> list:
    """Claim up to `limit` images for `stage` (of `image_ids`, when given); returns their ids."""
    params = _params(stage=stage, image_ids=image_ids, limit=limit, ready_before=ready_before)
    sql = CLAIM_SQL.format(claimable=CLAIMABLE_SQL.format(**_tables()), **_tables())
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def stage_claimable_exists(*, stage: str, ready_before=None) -> bool:
    """Whether any image waits for `stage` (the sweep's question)."""
    params = _params(stage=stage, image_ids=None, limit=1, ready_before=ready_before)
    sql = f"SELECT EXISTS ({CLAIMABLE_SQL.format(**_tables())})"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return bool(cursor.fetchone()[0])


def stages_record(results: list[StageResult]) -> None:
    """Write stage results (one upsert); a claim they close is released."""
    if not results:
        return
    now = timezone.now()
    rows = [
        ImageStage(
            image_id=r.image_id,
            stage=r.stage,
            state=r.state,
            reason=r.reason[:500],
            retryable=r.retryable,
            duration_ms=r.duration_ms,
            finished_at=now if r.state in (StageState.DONE, StageState.FAILED) else None,
            claimed_by="",
            updated_at=now,
        )
        for r in results
    ]
    alive = set(Image.objects.filter(pk__in={r.image_id for r in results}).values_list("pk", flat=True))
    ImageStage.objects.bulk_create(
        [row for row in rows if row.image_id in alive],
        update_conflicts=True,
        unique_fields=["image", "stage"],
        update_fields=[
            "state",
            "reason",
            "retryable",
            "duration_ms",
            "finished_at",
            "claimed_by",
            "updated_at",
        ],
    )


def stages_release(*, stage: str, image_ids) -> int:
    """Give claims back (a transient error; the task retries them)."""
    return ImageStage.objects.filter(
        stage=stage, image_id__in=list(image_ids), state=StageState.RUNNING
    ).update(state=StageState.PENDING, claimed_by="", updated_at=timezone.now())


def stages_reset(*, image_ids, stages: list[str] | None = None) -> int:
    """Forget stage results so the stages run again (a retry, a changed original)."""
    rows = ImageStage.objects.filter(image_id__in=list(image_ids))
    if stages is not None:
        rows = rows.filter(stage__in=stages)
    return rows.delete()[0]


def dead_claims(claims: set[str]) -> set[str]:
    """Of these claim identities, the ones whose worker is gone."""
    claims = {c for c in claims if c}
    if not claims:
        return set()
    alive = workers.alive(claims)
    if alive is None:  # Redis cannot say: only a claim's age (CLAIM_MAX_AGE) decides
        return set()
    return claims - alive


def claims_release_mine() -> int:
    """At the start of a task: whatever this process still holds was left by an earlier task of
    the same process that died half-way (its database connection lost, a time limit); it waits
    again."""
    me, now = workers.identity(), timezone.now()
    released = ImageStage.objects.filter(state=StageState.RUNNING, claimed_by=me).update(
        state=StageState.PENDING, claimed_by="", updated_at=now
    )
    released += Image.objects.filter(status=ImageStatus.PROCESSING, claimed_by=me).update(
        status=ImageStatus.PENDING, claimed_by=""
    )
    return released


def claims_release_dead(*, restarted: str = "") -> int:
    """Running stage claims and processing claims of dead workers go back to waiting. `restarted` is
    the identity of a worker that has just started: claims of an earlier run of its node are dead
    at once."""
    now = timezone.now()
    grace = now - timedelta(seconds=workers.HEARTBEAT_TTL)
    stages = ImageStage.objects.filter(state=StageState.RUNNING)
    images = Image.objects.filter(status=ImageStatus.PROCESSING)
    claims = set(stages.values_list("claimed_by", flat=True).distinct()) | set(
        images.values_list("claimed_by", flat=True).distinct()
    )
    at_once = {
        c
        for c in claims
        if restarted
        and workers.worker_of(c) != workers.worker_of(restarted)
        and workers.node_of(c) == workers.node_of(restarted)
    }
    silent = dead_claims(claims - at_once)
    stale = now - CLAIM_MAX_AGE
    released = (
        stages.filter(claimed_by__in=at_once)
        | stages.filter(claimed_by__in=silent, started_at__lt=grace)
        | stages.filter(started_at__lt=stale)
    ).update(state=StageState.PENDING, claimed_by="", updated_at=now)
    released += (
        images.filter(claimed_by__in=at_once)
        | images.filter(claimed_by__in=silent, processing_started_at__lt=grace)
        | images.filter(processing_started_at__lt=stale)
    ).update(status=ImageStatus.PENDING, claimed_by="")
    if released:
        logger.warning("released %d claims of workers that are gone", released)
    return released
