"""Running one job of any kind: under a per-job lock, with state, heartbeat, progress and cancel
built once here and handed to the kind's runner as a JobContext."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection
from django.db.models import F
from django.utils import timezone

from apps.core.errors import ApplicationError
from apps.jobs.errors import JobCancelled, JobFailed
from apps.jobs.models import Job
from apps.jobs.registry import JobKind, job_kind_get
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import webhook_emit

logger = logging.getLogger(__name__)


class JobContext:
    """What a runner gets: the job (params, counters as they were when it started) and the means to
    report progress and notice a cancel."""

    def __init__(self, job: Job, spec: JobKind):
        self.job = job
        self.spec = spec

    @property
    def params(self) -> dict:
        return self.job.params

    @property
    def tenant(self):
        return getattr(connection, "tenant", None)

    def heartbeat(self, *, params: dict | None = None, **counters: int) -> None:
        """Add to the counters (processed=, failed=, skipped=, total=), merge `params` (a cursor) in
        the same write, and record a sign of life; raises JobCancelled once someone cancelled the
        job (the runner stops there)."""
        updates = {name: F(name) + value for name, value in counters.items() if value}
        if params:
            self.job.params = {**self.job.params, **params}
            updates["params"] = self.job.params
        Job.objects.filter(pk=self.job.pk).update(heartbeat_at=timezone.now(), **updates)
        if self.spec.cancellable and self.cancelled():
            raise JobCancelled

    def progress(self, **values: int) -> None:
        """Set counters to absolute values (total= once the runner knows it)."""
        Job.objects.filter(pk=self.job.pk).update(heartbeat_at=timezone.now(), **values)
        for name, value in values.items():
            setattr(self.job, name, value)

    def params_update(self, **values) -> None:
        """Merge into params and store them (a cursor, what the runner found)."""
        self.job.params = {**self.job.params, **values}
        Job.objects.filter(pk=self.job.pk).update(params=self.job.params, heartbeat_at=timezone.now())

    def cancelled(self) -> bool:
        return Job.objects.filter(pk=self.job.pk, state=Job.State.CANCELLED).exists()


def lock_key(job_id) -> int:
    """64 bits of the job's UUID: advisory locks are per database, and ids are unique across tenants."""
    import uuid

    return int.from_bytes(uuid.UUID(str(job_id)).bytes[:8], "big", signed=True)


@contextmanager
def job_lock(job_id) -> Iterator[bool]:
    """A session-level advisory lock: released by PostgreSQL when the worker's connection dies, so
    a job whose worker was killed can be taken up again at once."""
    key = lock_key(job_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


def job_fail(*, job_id, reason: str) -> None:
    Job.objects.filter(pk=job_id, state__in=Job.ACTIVE).update(
        state=Job.State.FAILED, error=reason[:500], finished_at=timezone.now()
    )


def job_run(*, job_id) -> Job | None:
    """Run or resume a job of any kind. A second delivery while it runs elsewhere is a no-op (None);
    a finished job is returned as it is."""
    with job_lock(job_id) as got:
        if not got:
            logger.info("job %s is running elsewhere", job_id)
            return None
        job = Job.objects.filter(pk=job_id).first()
        if job is None or job.state not in Job.ACTIVE:
            return job
        try:
            spec = job_kind_get(job.kind)
        except ApplicationError as exc:
            job_fail(job_id=job.pk, reason=exc.message)
            job.refresh_from_db()
            return job
        now = timezone.now()
        if job.state == Job.State.QUEUED:
            Job.objects.filter(pk=job.pk, state=Job.State.QUEUED).update(
                state=Job.State.RUNNING, started_at=now, heartbeat_at=now, attempts=F("attempts") + 1
            )
        else:
            logger.info("resuming job %s (%s)", job.pk, job.kind)
            Job.objects.filter(pk=job.pk).update(heartbeat_at=now, attempts=F("attempts") + 1)
        job.refresh_from_db()
        if job.state != Job.State.RUNNING:
            return job
        try:
            spec.resolve_runner()(JobContext(job, spec))
        except JobCancelled:
            logger.info("job %s (%s) cancelled", job.pk, job.kind)
        except JobFailed as exc:
            job_fail(job_id=job.pk, reason=exc.reason)
        except ApplicationError as exc:
            job_fail(job_id=job.pk, reason=exc.message)
        else:
            Job.objects.filter(pk=job.pk, state=Job.State.RUNNING).update(
                state=Job.State.DONE, finished_at=timezone.now()
            )
        job.refresh_from_db()
        if job.state in Job.FINISHED:
            webhook_emit(
                event=WebhookEvent.JOB_FINISHED,
                data={
                    "job_id": str(job.pk),
                    "kind": job.kind,
                    "state": job.state,
                    "total": job.total,
                    "processed": job.processed,
                    "failed": job.failed,
                    "error": job.error,
                },
            )
        return job
