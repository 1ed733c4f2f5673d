"""Celery entry points of the images domain: ids in, one service call."""

import logging

from django.db import connection

from apps.images.errors import TransientProcessingError
from apps.images.models import Image
from apps.images.services import image_mark_failed, image_process, images_purge_expired
from apps.images.services.jobs import job_run
from celery_app import SharedTask, TenantTask, app

logger = logging.getLogger(__name__)
MAX_RETRIES = 3


def _tenant():
    return connection.tenant


@app.task(base=TenantTask, name="ingest.process_image", bind=True, max_retries=MAX_RETRIES)
def image_process_task(self, image_id: str) -> str | None:
    try:
        image = image_process(image_id=image_id, tenant_slug=_tenant().slug)
    except TransientProcessingError as exc:
        if self.request.retries >= MAX_RETRIES:
            image = Image.objects.filter(pk=image_id).first()
            if image is not None:
                image_mark_failed(
                    image=image,
                    stage=str(exc).split(":", 1)[0],
                    reason=f"Gave up after {MAX_RETRIES + 1} tries: {exc}",
                )
            return None
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    return image.status if image is not None else None


@app.task(base=TenantTask, name="thumbnails.run_job")
def job_run_task(job_id: str) -> str | None:
    job = job_run(job_id=job_id, tenant_slug=_tenant().slug)
    return job.state if job else None


@app.task(base=TenantTask, name="maintenance.purge_expired_images")
def images_purge_expired_task() -> int:
    return images_purge_expired(tenant=_tenant())


@app.task(base=SharedTask, name="maintenance.purge_trash")
def purge_trash_task() -> int:
    """Hourly (beat): purge every tenant's expired trash, one task per tenant."""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(images_purge_expired_task)
