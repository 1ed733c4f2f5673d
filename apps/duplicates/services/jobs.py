"""Enqueueing detection and creating the duplicates jobs (re-scan, resolve all, remove identical
copies, re-rank after a policy change, regroup similar images; their runners are rescan_run,
resolve_all_run, identical_remove_run, rerank_run and similar_regroup_run, registered in apps.py)."""

from apps.audit.context import Actor
from apps.jobs.models import Job
from apps.jobs.services import job_create

DUPLICATES_RESCAN = "duplicates_rescan"
DUPLICATES_RESOLVE_ALL = "duplicates_resolve_all"
DUPLICATES_REMOVE_IDENTICAL = "duplicates_remove_identical"
DUPLICATES_RERANK = "duplicates_rerank"
DUPLICATES_SIMILAR_REGROUP = "duplicates_similar_regroup"
DUPLICATES_JOB_KINDS = (
    DUPLICATES_RESCAN,
    DUPLICATES_RESOLVE_ALL,
    DUPLICATES_REMOVE_IDENTICAL,
    DUPLICATES_RERANK,
    DUPLICATES_SIMILAR_REGROUP,
)


def duplicates_job_create(*, kind: str, actor: Actor, params: dict | None = None) -> Job:
    """A re-scan or resolve-all job (run by apps/jobs, after commit). Re-scans are single-flight:
    while one is queued or running another is refused (JobAlreadyRunning, 409 with its id)."""
    if kind not in DUPLICATES_JOB_KINDS:
        raise ValueError(f"{kind!r} is not a duplicates job")
    return job_create(kind=kind, actor=actor, params=params, single_flight=kind == DUPLICATES_RESCAN)
