"""Enqueueing detection and creating the duplicates jobs (re-scan, resolve all; their runners are
rescan_run and resolve_all_run, registered in apps.py)."""

from django.db import transaction

from apps.audit.context import Actor
from apps.jobs.models import Job
from apps.jobs.services import job_create

DUPLICATES_RESCAN = "duplicates_rescan"
DUPLICATES_RESOLVE_ALL = "duplicates_resolve_all"
DUPLICATES_JOB_KINDS = (DUPLICATES_RESCAN, DUPLICATES_RESOLVE_ALL)


def images_detect_enqueue(*, image_ids) -> None:
    """After images become READY: detection runs on the `index` queue, once the rows are committed."""
    from apps.duplicates.tasks import duplicates_detect_task

    ids = [str(i) for i in image_ids]
    if ids:
        transaction.on_commit(lambda: duplicates_detect_task.delay(image_ids=ids))


def duplicates_job_create(*, kind: str, actor: Actor, params: dict | None = None) -> Job:
    """A re-scan or resolve-all job (run by apps/jobs, after commit). Re-scans are single-flight:
    while one is queued or running another is refused (JobAlreadyRunning, 409 with its id)."""
    if kind not in DUPLICATES_JOB_KINDS:
        raise ValueError(f"{kind!r} is not a duplicates job")
    return job_create(kind=kind, actor=actor, params=params, single_flight=kind == DUPLICATES_RESCAN)
