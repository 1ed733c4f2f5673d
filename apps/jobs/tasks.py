"""Celery entry points of the jobs app: jobs.run runs any kind (sent to the kind's queue with its
time limit), and beat's resumer."""

import logging

from celery.exceptions import SoftTimeLimitExceeded

from apps.jobs.runner import job_run
from apps.jobs.services import jobs_resume_stalled
from celery_app import SharedTask, TenantTask, app

logger = logging.getLogger(__name__)


@app.task(base=TenantTask, name="jobs.run", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def job_run_task(job_id: str) -> str | None:
    try:
        job = job_run(job_id=job_id)
    except SoftTimeLimitExceeded:
        logger.warning("job %s hit its time limit; the resumer takes it up again", job_id)
        return None
    return job.state if job else None


@app.task(base=TenantTask, name="maintenance.jobs_resume_stalled_tenant")
def jobs_resume_stalled_tenant_task() -> int:
    return jobs_resume_stalled()


@app.task(base=SharedTask, name="maintenance.jobs_resume_stalled")
def jobs_resume_stalled_task() -> int:
    """Every minute (beat), in every tenant: enqueue again the jobs whose worker went silent."""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(jobs_resume_stalled_tenant_task)
