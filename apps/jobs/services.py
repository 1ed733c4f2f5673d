"""Writes on jobs of every kind: create (the run enqueued after commit on the kind's queue), cancel,
and the resumer that takes up jobs whose worker went silent."""

import logging
import zlib
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core import queueing
from apps.core.connection import connection
from apps.jobs.errors import JobAlreadyRunning, JobConflict
from apps.jobs.models import Job
from apps.jobs.registry import _KINDS, job_kind_get, job_retryable
from apps.jobs.runner import job_fail

logger = logging.getLogger(__name__)


def _enqueue(job_id: str, *, queue: str, time_limit: int) -> None:
    queueing.task("jobs.run").apply_async(
        kwargs={"job_id": job_id}, queue=queue, time_limit=time_limit, soft_time_limit=max(time_limit - 60, 1)
    )


def job_enqueue(*, job: Job) -> None:
    """Send jobs.run for the job to its kind's queue once the caller's transaction commits."""
    spec = job_kind_get(job.kind)
    job_id = str(job.pk)
    transaction.on_commit(lambda: _enqueue(job_id, queue=spec.queue, time_limit=spec.time_limit))


@transaction.atomic
def job_create(*, kind: str, actor: Actor, params: dict | None = None, single_flight: bool = False) -> Job:
    """Create a job of a registered kind (UnknownJobKind otherwise, nothing written) and enqueue its
    run after commit. Call it inside the caller's transaction to create it with the caller's rows.
    `single_flight`: while a job of the kind is queued or running in this workspace, refuse with
    JobAlreadyRunning (409, the job's id in the detail) instead of starting another."""
    job_kind_get(kind)
    if single_flight:
        _single_flight_check(kind)
    job = Job(kind=kind, params=params or {}, created_by=actor.user)
    job.full_clean()
    job.save()
    job_enqueue(job=job)
    return job


def _single_flight_check(kind: str) -> None:
    """Under a transaction lock per workspace and kind, so two concurrent creations cannot both see
    none running: the second waits for the first to commit, then sees its job."""
    key = zlib.crc32(f"jobs:single-flight:{connection.schema_name}:{kind}".encode()) - (1 << 31)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(2, %s)", [key])
    active = Job.objects.filter(kind=kind, state__in=Job.ACTIVE).order_by("created_at").first()
    if active is not None:
        raise JobAlreadyRunning(
            f"A {job_kind_get(kind).label.lower()} job is already {active.state}; it must finish or be "
            "cancelled before another starts.",
            extra={"job_id": str(active.pk), "state": active.state, "kind": kind},
        )


@transaction.atomic
def job_cancel(
    *,
    job: Job,
    actor: Actor,
    tenant=None,
    audit_action: AuditAction = AuditAction.JOB_CANCELLED,
    audit_details: dict | None = None,
) -> Job:
    """Stop a queued or running job: a queued one never starts, a running one stops at its runner's
    next heartbeat; what it finished stays finished."""
    spec = job_kind_get(job.kind)
    if not spec.cancellable:
        raise JobConflict(
            f"{spec.label} cannot be cancelled.", extra={"job_id": str(job.pk), "kind": job.kind}
        )
    updated = Job.objects.filter(pk=job.pk, state__in=Job.ACTIVE).update(
        state=Job.State.CANCELLED, finished_at=timezone.now()
    )
    if not updated:
        job.refresh_from_db()
        raise JobConflict(
            f"The job is {job.state}; only queued or running jobs can be cancelled.",
            extra={"job_id": str(job.pk), "state": job.state},
        )
    audit_record(
        actor=actor,
        action=audit_action,
        tenant=tenant,
        target_type="jobs.job",
        target_id=str(job.pk),
        details={"kind": job.kind, **(audit_details or {})},
    )
    job.refresh_from_db()
    return job


@transaction.atomic
def job_retry(*, job: Job, actor: Actor, tenant=None) -> Job:
    """Start a failed or cancelled job again as a new job of its kind with the same input (its
    kind's retry_params; the cursor and what it found stay with the old job). JobConflict (409)
    for a job that is queued, running or done, or of a kind that cannot be retried."""
    spec = job_kind_get(job.kind)
    if spec.retry_params is None:
        raise JobConflict(
            f"{spec.label} cannot be retried; start a new one.",
            extra={"job_id": str(job.pk), "kind": job.kind},
        )
    if not job_retryable(job):
        raise JobConflict(
            f"The job is {job.state}; only failed or cancelled jobs can be retried.",
            extra={"job_id": str(job.pk), "state": job.state},
        )
    params = {key: job.params[key] for key in spec.retry_params if key in job.params}
    new = job_create(
        kind=job.kind,
        actor=actor,
        params={**params, "retry_of": str(job.pk)},
        single_flight=spec.single_flight,
    )
    audit_record(
        actor=actor,
        action=AuditAction.JOB_RETRIED,
        tenant=tenant,
        target_type="jobs.job",
        target_id=str(new.pk),
        details={"kind": job.kind, "retry_of": str(job.pk)},
    )
    return new


def jobs_resume_stalled(*, stale_after: timedelta | None = None, max_attempts: int | None = None) -> int:
    """Enqueue again the jobs whose worker went silent (killed, host lost) or whose message was lost;
    the per-job lock makes a duplicate harmless. A stalled job of a kind that cannot resume, or one
    taken up max_attempts times already, is failed instead. Returns how many were enqueued."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.DEEPLENS_JOB_STALE_SECONDS)
    if max_attempts is None:
        max_attempts = settings.DEEPLENS_JOB_MAX_ATTEMPTS
    now = timezone.now()
    cutoff = now - stale_after
    silent = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=cutoff)
    lost = Q(state=Job.State.QUEUED, created_at__lt=cutoff) & silent
    stalled = Job.objects.filter(Q(state=Job.State.RUNNING, heartbeat_at__lt=cutoff) | lost).only(
        "pk", "kind", "state", "attempts"
    )
    count = 0
    for job in stalled:
        spec = _KINDS.get(job.kind)
        if spec is None:
            job_fail(job_id=job.pk, reason=f"Unknown job kind {job.kind!r}.")
            continue
        if job.state == Job.State.RUNNING and not spec.resumable:
            job_fail(job_id=job.pk, reason="Its worker stopped, and this kind of job cannot resume.")
            continue
        if job.attempts >= max_attempts:
            job_fail(
                job_id=job.pk, reason=f"Stopped after {job.attempts} attempts; its worker kept stopping."
            )
            continue
        # Counts as a sign of life: a job waiting in a long queue is sent again once per period.
        Job.objects.filter(pk=job.pk, state=job.state).update(heartbeat_at=now)
        logger.info("job %s (%s, %s) went silent; enqueued again", job.pk, job.kind, job.state)
        _enqueue(str(job.pk), queue=spec.queue, time_limit=spec.time_limit)
        count += 1
    return count
