"""Storage jobs (migration between locations, scans of index-only locations): created with their
task enqueued after commit, run under a per-job advisory lock (a duplicate delivery waits its turn
or finds the job done), with a heartbeat; a job whose worker died is resumed by beat, and any job
can be cancelled."""

import logging
import zlib
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.images.models import Job
from apps.storage.errors import StorageJobConflict

logger = logging.getLogger(__name__)
STORAGE_JOB_KINDS = (Job.Kind.STORAGE_MIGRATE, Job.Kind.STORAGE_SCAN)
ACTIVE = (Job.State.QUEUED, Job.State.RUNNING)


class JobCancelled(Exception):
    pass


def _enqueue(job_id: str) -> None:
    from apps.storage.tasks import storage_job_run_task

    storage_job_run_task.delay(job_id=job_id)


def storage_job_create(*, kind: str, actor: Actor, params: dict) -> Job:
    """Call inside the caller's transaction; the task is enqueued when it commits."""
    job = Job(kind=kind, params=params, created_by=actor.user)
    job.full_clean(exclude=["created_by"])  # a scheduled scan has no person behind it
    job.save()
    job_id = str(job.pk)
    transaction.on_commit(lambda: _enqueue(job_id))
    return job


def storage_job_active(*, location_id, kind: str) -> Job | None:
    return (
        Job.objects.filter(kind=kind, state__in=ACTIVE)
        .filter(Q(params__location_id=str(location_id)) | Q(params__target_id=str(location_id)))
        .first()
    )


@transaction.atomic
def storage_job_cancel(*, job: Job, actor: Actor, tenant) -> Job:
    """Stop at the next image or page; what was finished stays finished (a migrated image stays
    at its target, every other one where it was)."""
    updated = Job.objects.filter(pk=job.pk, state__in=ACTIVE).update(
        state=Job.State.CANCELLED, finished_at=timezone.now()
    )
    if not updated:
        job.refresh_from_db()
        raise StorageJobConflict(f"The job is {job.state}; only queued or running jobs can be cancelled.")
    audit_record(
        actor=actor,
        action=AuditAction.STORAGE_CHANGED,
        tenant=tenant,
        target_type="images.job",
        target_id=str(job.pk),
        details={"change": "job_cancelled", "kind": job.kind},
    )
    job.refresh_from_db()
    return job


def heartbeat(job: Job, **counters) -> None:
    """Record progress and a sign of life; raises JobCancelled once someone cancelled the job."""
    from django.db.models import F

    updates = {name: F(name) + value for name, value in counters.items() if value}
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now(), **updates)
    if Job.objects.filter(pk=job.pk, state=Job.State.CANCELLED).exists():
        raise JobCancelled


@contextmanager
def _job_lock(job_id):
    """A session-level advisory lock: released by PostgreSQL when the worker's connection dies."""
    key = zlib.crc32(f"storage-job:{job_id}".encode()) - 2**31
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def storage_job_run(*, job_id, tenant_slug: str) -> Job | None:
    """Run or resume a storage job; a second delivery while it runs elsewhere is a no-op."""
    from apps.storage.services.migration import migration_run
    from apps.storage.services.scanning import scan_run

    with _job_lock(job_id) as got:
        if not got:
            logger.info("storage job %s is running elsewhere", job_id)
            return None
        job = Job.objects.filter(pk=job_id, kind__in=STORAGE_JOB_KINDS).first()
        if job is None or job.state not in ACTIVE:
            return job
        now = timezone.now()
        if job.state == Job.State.QUEUED:
            Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
                state=Job.State.RUNNING, started_at=now, heartbeat_at=now
            )
        else:
            logger.info("resuming storage job %s", job_id)
            Job.objects.filter(pk=job.pk).update(heartbeat_at=now)
        job.refresh_from_db()
        if job.state != Job.State.RUNNING:
            return job
        try:
            if job.kind == Job.Kind.STORAGE_MIGRATE:
                migration_run(job=job, tenant_slug=tenant_slug)
            else:
                scan_run(job=job, tenant_slug=tenant_slug)
        except JobCancelled:
            logger.info("storage job %s cancelled", job_id)
        else:
            Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
                state=Job.State.DONE, finished_at=timezone.now()
            )
        job.refresh_from_db()
        return job


def storage_job_fail(*, job_id, reason: str) -> None:
    Job.objects.filter(pk=job_id, state__in=ACTIVE).update(
        state=Job.State.FAILED, error=reason[:500], finished_at=timezone.now()
    )


def storage_jobs_resume_stalled(*, stale_after: timedelta | None = None) -> int:
    """Enqueue again the jobs whose worker went silent (killed, host lost) or whose message was
    lost; the advisory lock makes a duplicate harmless."""
    if stale_after is None:
        stale_after = timedelta(seconds=settings.DEEPLENS_STORAGE_JOB_STALE_SECONDS)
    cutoff = timezone.now() - stale_after
    stalled = Job.objects.filter(kind__in=STORAGE_JOB_KINDS).filter(
        Q(state=Job.State.RUNNING, heartbeat_at__lt=cutoff) | Q(state=Job.State.QUEUED, created_at__lt=cutoff)
    )
    count = 0
    for job_id in stalled.values_list("pk", flat=True):
        _enqueue(str(job_id))
        count += 1
    return count
