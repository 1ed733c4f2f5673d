"""Enqueueing detection and creating the duplicates jobs (re-scan, resolve all, remove identical
copies; their runners are rescan_run, resolve_all_run and identical_remove_run, registered in apps.py)."""

from apps.audit.context import Actor
from apps.jobs.models import Job
from apps.jobs.services import job_create

DUPLICATES_RESCAN = "duplicates_rescan"
DUPLICATES_RESOLVE_ALL = "duplicates_resolve_all"
DUPLICATES_REMOVE_IDENTICAL = "duplicates_remove_identical"
DUPLICATES_JOB_KINDS = (DUPLICATES_RESCAN, DUPLICATES_RESOLVE_ALL, DUPLICATES_REMOVE_IDENTICAL)


def duplicates_job_create(*, kind: str, actor: Actor, params: dict | None = None) -> Job:
    """A re-scan or resolve-all job (run by apps/jobs, after commit)."""
    if kind not in DUPLICATES_JOB_KINDS:
        raise ValueError(f"{kind!r} is not a duplicates job")
    return job_create(kind=kind, actor=actor, params=params)
