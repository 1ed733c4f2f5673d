"""Celery entry points of the storage domain: ids in, one service call."""

import logging

from apps.jobs.runner import job_run
from apps.storage.services.scanning import storage_scans_due
from celery_app import SharedTask, TenantTask, app

logger = logging.getLogger(__name__)


@app.task(base=TenantTask, name="scan.run_storage_job", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def storage_job_run_task(job_id: str) -> str | None:
    """Messages sent before jobs.run existed: the same run (apps/jobs)."""
    job = job_run(job_id=job_id)
    return job.state if job else None


@app.task(base=TenantTask, name="maintenance.storage_scans_due")
def storage_scans_due_task() -> int:
    return storage_scans_due()


@app.task(base=SharedTask, name="maintenance.storage_jobs")
def storage_maintenance_task() -> int:
    """Every minute (beat), in every tenant: start the scans that a location's schedule says are
    due. (Resuming stalled jobs of every kind is maintenance.jobs_resume_stalled, apps/jobs.)"""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(storage_scans_due_task)


@app.task(base=TenantTask, name="maintenance.storage_resume_stalled")
def storage_jobs_resume_stalled_task() -> int:
    """Messages sent before maintenance.jobs_resume_stalled existed: the same resumer (apps/jobs)."""
    from apps.jobs.services import jobs_resume_stalled

    return jobs_resume_stalled()
