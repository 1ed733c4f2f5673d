"""Celery entry points of the duplicates domain: ids in, one service call."""

import logging
import time

from django.conf import settings
from django.db import OperationalError

from apps.duplicates.services.detection import image_detect
from apps.duplicates.services.jobs import duplicates_job_run
from apps.duplicates.services.review import metrics_report, metrics_report_all
from apps.tenants.connection import connection
from celery_app import SharedTask, TenantTask, app

logger = logging.getLogger(__name__)


YIELD_STEP_SECONDS = 3


def ingest_backlog() -> bool:
    from apps.images.models import Image, ImageStatus

    return Image.objects.filter(
        status__in=[ImageStatus.PENDING, ImageStatus.PROCESSING], deleted_at__isnull=True
    ).exists()


@app.task(base=TenantTask, name="index.detect_duplicates", bind=True, max_retries=3)
def duplicates_detect_task(self, image_ids: list[str], waiting_since: float | None = None) -> int:
    """Incremental detection for images that just became READY. It yields to ingestion: while the
    tenant has images waiting to be processed, it steps back (up to DEEPLENS_INDEX_YIELD_SECONDS in
    all), so uploads become ready at full speed and detection catches up after."""
    waiting_since = waiting_since or time.time()
    if ingest_backlog() and time.time() - waiting_since < settings.DEEPLENS_INDEX_YIELD_SECONDS:
        duplicates_detect_task.apply_async(
            kwargs={"image_ids": image_ids, "waiting_since": waiting_since}, countdown=YIELD_STEP_SECONDS
        )
        return 0
    found = 0
    for image_id in image_ids:
        try:
            found += image_detect(image_id=image_id) is not None
        except OperationalError as exc:  # lock timeout, connection lost: transient
            raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    if found:
        metrics_report()
    return found


@app.task(base=TenantTask, name="maintenance.duplicates_job")
def duplicates_job_task(job_id: str) -> str | None:
    job = duplicates_job_run(job_id=job_id, tenant=connection.tenant)
    return job.state if job else None


@app.task(base=SharedTask, name="maintenance.duplicates_metrics")
def duplicates_metrics_task() -> int:
    """Every tenant's open groups and reclaimable bytes for the Prometheus gauges."""
    return metrics_report_all()
