"""Celery entry points of the search domain, all on the `embed` queue (GPU hosts run
`celery -A celery_app worker -Q embed`)."""

import base64
import binascii
import logging

from django.db import InterfaceError, OperationalError

from apps.images import imaging
from apps.jobs.runner import job_run
from apps.search.embedders.base import EmbedderUnavailable
from apps.search.services.embedding import (
    embed_failed,
    images_embed,
    query_vector_from_bytes,
    query_vector_from_text,
)
from celery_app import SharedTask, TenantTask, app

logger = logging.getLogger(__name__)


MAX_RETRIES = 3


@app.task(
    base=TenantTask,
    name="embed.images",
    bind=True,
    max_retries=MAX_RETRIES,
    time_limit=30 * 60,
    soft_time_limit=29 * 60,
)
def images_embed_task(self, model: str, image_ids: list[str]) -> int:
    """Embed freshly processed images with one of the tenant's active torch models; the database
    going away is retried as a whole task (images already embedded are skipped)."""
    try:
        return images_embed(model=model, image_ids=image_ids)
    except EmbedderUnavailable as exc:
        logger.warning("%s cannot embed here: %s", model, exc)
        embed_failed(model=model, image_ids=image_ids, reason=f"{model} is unavailable: {exc}")
        return 0
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries >= MAX_RETRIES:
            logger.warning(
                "embed %s: %d images wait for the sweep (database unavailable)", model, len(image_ids)
            )
            return 0
        raise self.retry(exc=exc, countdown=2 ** (self.request.retries + 1)) from exc


@app.task(base=TenantTask, name="embed.run_job", time_limit=6 * 3600, soft_time_limit=6 * 3600 - 60)
def embed_job_task(job_id: str) -> str | None:
    """Messages sent before jobs.run existed: the same run (apps/jobs)."""
    job = job_run(job_id=job_id)
    return job.state if job else None


@app.task(base=SharedTask, name="embed.query", ignore_result=False, time_limit=120, soft_time_limit=110)
def embed_query_task(model: str, image_b64: str = "", text: str = "") -> dict:
    """The vector of a query image or text, for the web process (which never loads torch). It
    touches no tenant data: bytes or text in, a vector out."""
    try:
        if text:
            vector = query_vector_from_text(model=model, text=text)
        else:
            vector = query_vector_from_bytes(model=model, data=base64.b64decode(image_b64, validate=True))
    except EmbedderUnavailable as exc:
        return {"error": "model_unavailable", "message": str(exc)}
    except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels, binascii.Error) as exc:
        return {"error": "unsupported_media_type", "message": f"The query is not a readable image ({exc})."}
    return {"vector": [float(x) for x in vector]}
