"""Celery entry points of the duplicates domain: ids in, one service call."""

import logging

from django.db import InterfaceError, OperationalError

from apps.duplicates.services.indexing import (
    TransientIndexError,
    catch_up_done,
    catch_up_enqueue,
    images_index,
    images_index_catch_up,
    images_index_gave_up,
    yielding,
)
from apps.duplicates.services.review import metrics_report, metrics_report_all
from apps.images.services.stages import claims_release_mine
from apps.jobs.runner import job_run
from celery_app import SharedTask, TenantTask, app

logger = logging.getLogger(__name__)


MAX_RETRIES = 3
RETRYABLE = (TransientIndexError, OperationalError, InterfaceError)


def _retry(task, exc: Exception, **kwargs):
    return task.retry(exc=exc, countdown=2 ** (task.request.retries + 1), kwargs=kwargs)


@app.task(base=TenantTask, name="index.detect_duplicates", bind=True, max_retries=MAX_RETRIES)
def duplicates_detect_task(self, image_ids: list[str], waiting_since: float | None = None) -> int:
    """Index + detect for images that just became READY. While the tenant's uploads wait, it leaves
    them to the catch-up (apps/duplicates/services/indexing.py). `waiting_since` is accepted for
    messages sent by earlier versions."""
    try:
        claims_release_mine()
        if yielding():
            return 0
        outcome = images_index(image_ids=image_ids, limit=len(image_ids))
    except RETRYABLE as exc:
        ids = getattr(exc, "image_ids", image_ids)
        if self.request.retries >= MAX_RETRIES:
            _give_up(ids, exc)
            return 0
        raise _retry(self, exc, image_ids=ids) from exc
    if outcome.grouped:
        metrics_report()
    return outcome.grouped


def _give_up(image_ids, exc: Exception) -> None:
    reason = f"Gave up after {MAX_RETRIES + 1} tries: {exc}"[:500]
    try:
        images_index_gave_up(image_ids=image_ids, reason=reason)
    except (OperationalError, InterfaceError):
        logger.warning("index: %d images stay waiting (the database is unavailable): %s", len(image_ids), exc)


@app.task(base=TenantTask, name="index.catch_up", bind=True, max_retries=MAX_RETRIES)
def index_catch_up_task(self, slot: int = 0) -> bool:
    """Images that waited (ingestion first, a lost message, a dead worker, a retry due), oldest first,
    for up to a minute; then it hands over to a fresh task if more wait. `slot`: which of the
    tenant's concurrent catch-ups this is (messages of earlier versions carry none: slot 0)."""
    try:
        claims_release_mine()
        more = images_index_catch_up(slot=slot)
    except RETRYABLE as exc:
        catch_up_done(slot)
        if self.request.retries >= MAX_RETRIES:
            _give_up(getattr(exc, "image_ids", []), exc)
            return False
        raise _retry(self, exc, slot=slot) from exc
    catch_up_done(slot)
    metrics_report()
    if more:
        catch_up_enqueue()
    return more


@app.task(base=TenantTask, name="maintenance.duplicates_job")
def duplicates_job_task(job_id: str) -> str | None:
    """Messages sent before jobs.run existed: the same run (apps/jobs)."""
    job = job_run(job_id=job_id)
    return job.state if job else None


@app.task(base=SharedTask, name="maintenance.duplicates_metrics")
def duplicates_metrics_task() -> int:
    """Every tenant's open groups and reclaimable bytes for the Prometheus gauges."""
    return metrics_report_all()
