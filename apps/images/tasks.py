"""Celery entry points of the images domain: ids in, one service call."""

import contextlib
import logging

import redis
from django.conf import settings

from apps.core.redis import get_redis
from apps.images.errors import TransientProcessingError
from apps.images.models import Image
from apps.images.services import image_mark_failed, images_process, images_purge_expired
from apps.images.services.ingest import ingest_wake, wake_key
from apps.images.services.jobs import job_run
from apps.images.services.processing import images_requeue_stalled
from apps.tenants.connection import connection
from celery_app import SharedTask, TenantTask, app

logger = logging.getLogger(__name__)
MAX_RETRIES = 3


def _tenant():
    return connection.tenant


@app.task(base=TenantTask, name="ingest.process_image", bind=True, max_retries=MAX_RETRIES)
def image_process_task(self, image_id: str | None = None) -> int:
    """Processes waiting images in batches of DEEPLENS_INGEST_BATCH (this one first, when given),
    one claim and one write per batch, until none waits or DEEPLENS_INGEST_TASK_MAX are done; then
    it wakes another task rather than holding the worker."""
    with contextlib.suppress(redis.RedisError):
        get_redis().delete(wake_key())  # uploads from here on send a new task
    done = 0
    try:
        while done < settings.DEEPLENS_INGEST_TASK_MAX:
            batch = images_process(
                image_id=image_id, tenant_slug=_tenant().slug, limit=settings.DEEPLENS_INGEST_BATCH
            )
            if not batch:
                return done
            done, image_id = done + len(batch), None
    except TransientProcessingError as exc:
        if self.request.retries >= MAX_RETRIES:
            for image in Image.objects.filter(pk__in=exc.image_ids):
                image_mark_failed(
                    image=image, stage=exc.stage, reason=f"Gave up after {MAX_RETRIES + 1} tries: {exc}"
                )
            return done
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    ingest_wake()
    return done


@app.task(base=TenantTask, name="thumbnails.run_job")
def job_run_task(job_id: str) -> str | None:
    job = job_run(job_id=job_id, tenant_slug=_tenant().slug)
    return job.state if job else None


@app.task(base=TenantTask, name="maintenance.purge_expired_images")
def images_purge_expired_task() -> int:
    return images_purge_expired(tenant=_tenant())


@app.task(base=TenantTask, name="maintenance.requeue_stalled_images")
def images_requeue_stalled_task() -> int:
    return images_requeue_stalled()


@app.task(base=SharedTask, name="maintenance.requeue_stalled")
def requeue_stalled_task() -> int:
    """Every 5 minutes (beat): images that waited too long go back on the queue, in every tenant."""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(images_requeue_stalled_task)


@app.task(base=SharedTask, name="maintenance.purge_trash")
def purge_trash_task() -> int:
    """Hourly (beat): purge every tenant's expired trash, one task per tenant."""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(images_purge_expired_task)
