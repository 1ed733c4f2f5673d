"""Celery entry points of the storage domain: ids in, one service call."""

import logging

from celery.exceptions import SoftTimeLimitExceeded

from apps.storage.services.jobs import storage_job_fail, storage_job_run, storage_jobs_resume_stalled
from apps.storage.services.scanning import storage_scans_due
from apps.tenants.connection import connection
from celery_app import SharedTask, TenantTask, app

logger = logging.getLogger(__name__)


@app.task(base=TenantTask, name="scan.run_storage_job", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def storage_job_run_task(job_id: str) -> str | None:
    """A migration or a scan; long-running (hours for large locations), resumable."""
    from apps.storage.errors import StorageLocationNotFound
    from apps.storage.models import StorageLocation

    try:
        job = storage_job_run(job_id=job_id, tenant_slug=connection.tenant.slug)
    except StorageLocation.DoesNotExist:
        storage_job_fail(job_id=job_id, reason="The storage location was deleted.")
        return "failed"
    except SoftTimeLimitExceeded:
        logger.warning("storage job %s hit its time limit; beat resumes it", job_id)
        return None
    except StorageLocationNotFound as exc:
        storage_job_fail(job_id=job_id, reason=exc.message)
        return "failed"
    return job.state if job else None


@app.task(base=TenantTask, name="maintenance.storage_resume_stalled")
def storage_jobs_resume_stalled_task() -> int:
    return storage_jobs_resume_stalled()


@app.task(base=TenantTask, name="maintenance.storage_scans_due")
def storage_scans_due_task() -> int:
    return storage_scans_due()


@app.task(base=SharedTask, name="maintenance.storage_jobs")
def storage_maintenance_task() -> int:
    """Every minute (beat), in every tenant: resume storage jobs whose worker died and start the
    scans that a location's schedule says are due."""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(storage_jobs_resume_stalled_task) + tenants_fan_out(storage_scans_due_task)
