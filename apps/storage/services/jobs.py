"""Storage jobs (migration between locations, scans of index-only locations): created with their
run enqueued after commit. apps/jobs runs them (per-job lock, heartbeat, cancel, resume of a job
whose worker died); this module holds what is particular to storage."""

import functools
import logging
import zlib
from collections.abc import Callable

from django.db.models import Q

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.core.connection import connection
from apps.jobs.errors import JobConflict, JobFailed
from apps.jobs.models import Job
from apps.jobs.runner import JobContext
from apps.jobs.services import job_cancel, job_create
from apps.storage.errors import StorageJobConflict

logger = logging.getLogger(__name__)
STORAGE_MIGRATE = "storage_migrate"
STORAGE_SCAN = "storage_scan"
STORAGE_JOB_KINDS = (STORAGE_MIGRATE, STORAGE_SCAN)


def storage_job_create(*, kind: str, actor: Actor, params: dict) -> Job:
    """Call inside the caller's transaction; the run is enqueued when it commits. A scheduled scan
    has no person behind it (actor.user is None)."""
    return job_create(kind=kind, actor=actor, params=params)


def storage_job_active(*, location_id, kind: str) -> Job | None:
    return (
        Job.objects.filter(kind=kind, state__in=Job.ACTIVE)
        .filter(Q(params__location_id=str(location_id)) | Q(params__target_id=str(location_id)))
        .first()
    )


def storage_migrations_active() -> list[Job]:
    return list(Job.objects.filter(kind=STORAGE_MIGRATE, state__in=Job.ACTIVE).order_by("created_at"))


def storage_migration_emptying(*, location_id) -> Job | None:
    """The active migration whose source is this location, if any."""
    return (
        Job.objects.filter(kind=STORAGE_MIGRATE, state__in=Job.ACTIVE, params__location_id=str(location_id))
        .order_by("created_at")
        .first()
    )


def storage_migrations_lock() -> None:
    """Serialize starting migrations in this workspace until the caller's transaction ends, so two
    starts cannot both see a source free and both take it."""
    key = zlib.crc32(f"storage:migrate:{connection.schema_name}".encode()) - (1 << 31)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(3, %s)", [key])


def storage_job_cancel(*, job: Job, actor: Actor, tenant) -> Job:
    """Stop at the next image or page; what was finished stays finished (a migrated image stays
    at its target, every other one where it was)."""
    try:
        return job_cancel(
            job=job,
            actor=actor,
            tenant=tenant,
            audit_action=AuditAction.STORAGE_CHANGED,
            audit_details={"change": "job_cancelled"},
        )
    except JobConflict as exc:
        raise StorageJobConflict(exc.message, extra=exc.extra) from exc


def location_gone_fails_the_job(run: Callable[[JobContext], None]) -> Callable[[JobContext], None]:
    """A storage job's runner (registered in apps.py): a location deleted under it fails the job
    with a reason people can read."""

    @functools.wraps(run)
    def runner(ctx: JobContext) -> None:
        from apps.storage.models import StorageLocation

        try:
            run(ctx)
        except StorageLocation.DoesNotExist as exc:
            raise JobFailed("The storage location was deleted.") from exc

    return runner
