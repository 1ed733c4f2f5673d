"""Celery entry points of the duplicates domain: ids in, one service call."""

import logging

from django.db import OperationalError, connection

from apps.duplicates.services.detection import image_detect
from apps.duplicates.services.jobs import duplicates_job_run
from celery_app import TenantTask, app

logger = logging.getLogger(__name__)


@app.task(base=TenantTask, name="index.detect_duplicates", bind=True, max_retries=3)
def duplicates_detect_task(self, image_ids: list[str]) -> int:
    """Incremental detection for images that just became READY."""
    found = 0
    for image_id in image_ids:
        try:
            found += image_detect(image_id=image_id) is not None
        except OperationalError as exc:  # lock timeout, connection lost: transient
            raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    return found


@app.task(base=TenantTask, name="maintenance.duplicates_job")
def duplicates_job_task(job_id: str) -> str | None:
    job = duplicates_job_run(job_id=job_id, tenant=connection.tenant)
    return job.state if job else None
