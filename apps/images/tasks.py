"""Celery entry points of the images domain: ids in, one service call."""

import contextlib
import logging
from datetime import timedelta

import redis
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from apps.core.connection import connection
from apps.core.redis import get_redis
from apps.images import pipeline
from apps.images.errors import TransientProcessingError
from apps.images.models import Image
from apps.images.services import image_mark_failed, images_process, images_purge_expired
from apps.images.services.ingest import ingest_wake, wake_key
from apps.images.services.processing import images_requeue_waiting
from apps.images.services.stages import claims_release_dead, claims_release_mine
from apps.jobs.runner import job_run
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
        claims_release_mine()
        while done < settings.DEEPLENS_INGEST_TASK_MAX:
            batch = images_process(
                image_id=image_id, tenant_slug=_tenant().slug, limit=settings.DEEPLENS_INGEST_BATCH
            )
            if not batch:
                _drained()
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
    except (OperationalError, InterfaceError) as exc:  # the database went away: the images wait
        if self.request.retries >= MAX_RETRIES:
            logger.warning("processing stops until the sweep wakes it (database unavailable): %s", exc)
            return done
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc
    ingest_wake()
    return done


def _drained() -> None:
    """Work that yielded to ingestion may start; if that cannot be said now, the sweep says it."""
    try:
        pipeline.ingest_drained()
    except (DatabaseError, redis.RedisError, BrokerError) as exc:
        logger.warning("after ingestion: later stages not woken (the sweep will): %s", exc)


@app.task(base=TenantTask, name="thumbnails.run_job")
def job_run_task(job_id: str) -> str | None:
    """Messages sent before jobs.run existed: the same run (apps/jobs)."""
    job = job_run(job_id=job_id)
    return job.state if job else None


@app.task(base=TenantTask, name="maintenance.purge_expired_images")
def images_purge_expired_task() -> int:
    return images_purge_expired(tenant=_tenant())


@app.task(base=TenantTask, name="maintenance.pipeline_sweep_tenant")
def pipeline_sweep_tenant_task(restarted: str = "") -> int:
    """This tenant's waiting or orphaned images back to work, at every stage."""
    released = claims_release_dead(restarted=restarted)
    # When a worker has just started or claims were released, whatever waits is woken now.
    urgent = bool(restarted or released)
    # (Not the last seconds' uploads: their own wake-up message is on its way.)
    waiting = images_requeue_waiting(older_than=timedelta(seconds=10) if urgent else timedelta(minutes=1))
    return waiting + pipeline.stages_sweep(worker_started=urgent)


@app.task(base=SharedTask, name="maintenance.pipeline_sweep")
def pipeline_sweep_task(restarted: str = "") -> int:
    """Every minute (beat) and when a worker starts: in every tenant, images left waiting, claimed by
    a worker that is gone, or missing a later stage go back on the queues."""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(pipeline_sweep_tenant_task, restarted=restarted)


# Messages of the names before the sweep (already queued when an installation upgrades).
@app.task(base=SharedTask, name="maintenance.requeue_stalled")
def requeue_stalled_task() -> int:
    return pipeline_sweep_task()


@app.task(base=SharedTask, name="maintenance.purge_trash")
def purge_trash_task() -> int:
    """Hourly (beat): purge every tenant's expired trash, one task per tenant."""
    from apps.tenants.services import tenants_fan_out

    return tenants_fan_out(images_purge_expired_task)
