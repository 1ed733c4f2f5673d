"""Per-tenant models: switching a model on re-embeds the collection in a background job."""

import functools
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.services import audit_record
from apps.core.process_cache import cached
from apps.images.models import Image, ImageStatus, Job
from apps.search.embedders.base import EmbedderUnavailable
from apps.search.embedders.registry import DESCRIPTOR, KEYS, embedder_get, unavailable_reason
from apps.search.errors import InvalidSearch, ModelUnavailable
from apps.search.models import Embedding, SearchModel
from apps.search.services.embedding import _prepared as prepared_for
from apps.search.services.embedding import embed_stream, embeddings_record
from apps.search.services.index import vector_index_ensure

logger = logging.getLogger(__name__)
JOB_CHUNK = 256


def search_models_active() -> list[str]:
    """Keys of the models switched on in this tenant; the descriptor always is."""
    from apps.tenants.connection import connection

    return cached(
        (connection.schema_name, "search-models"),
        settings.DEEPLENS_PROCESS_CACHE_SECONDS,
        lambda: [
            DESCRIPTOR,
            *SearchModel.objects.filter(is_active=True).exclude(key=DESCRIPTOR).values_list("key", flat=True),
        ],
    )


@transaction.atomic
def search_model_activate(*, key: str, actor: Actor, tenant=None) -> tuple[SearchModel, Job]:
    """Switch a model on and start the job that embeds every image with it (progress in jobs/{id}).
    For the descriptor (always on) the job embeds images processed before it existed."""
    if key not in KEYS:
        raise InvalidSearch(f"Unknown model {key!r}; choose one of {', '.join(KEYS)}.")
    reason = unavailable_reason(key)
    if reason:
        raise ModelUnavailable(reason, extra={"model": key})
    model, _created = SearchModel.objects.select_for_update().get_or_create(key=key)
    job = Job.objects.create(kind=Job.Kind.SEARCH_EMBED, params={"model": key}, created_by=actor.user)
    model.is_active, model.activated_at, model.job = True, timezone.now(), job
    model.save(update_fields=["is_active", "activated_at", "job", "updated_at"])
    audit_record(
        actor=actor, action="search.model_activated", tenant=tenant, target=model, details={"model": key}
    )
    job_id = str(job.pk)
    transaction.on_commit(lambda: _enqueue_job(job_id))
    return model, job


def _enqueue_job(job_id: str) -> None:
    from apps.search.tasks import embed_job_task

    embed_job_task.delay(job_id=job_id)


@transaction.atomic
def search_model_deactivate(*, key: str, actor: Actor, tenant=None) -> SearchModel:
    if key == DESCRIPTOR:
        raise InvalidSearch("The built-in descriptor is always on.")
    model = SearchModel.objects.select_for_update().filter(key=key).first()
    if model is None or not model.is_active:
        raise ModelUnavailable(f"{key} is not switched on.", extra={"model": key})
    model.is_active = False
    model.save(update_fields=["is_active", "updated_at"])
    audit_record(
        actor=actor, action="search.model_deactivated", tenant=tenant, target=model, details={"model": key}
    )
    return model


def embed_job_run(*, job_id) -> Job | None:
    """Embed every ready image that lacks an embedding of the model's current version. Resumable:
    a second run picks up what is still missing."""
    job = Job.objects.filter(pk=job_id, kind=Job.Kind.SEARCH_EMBED).first()
    if job is None or job.state in (Job.State.DONE, Job.State.FAILED):
        return job
    key = job.params.get("model", "")
    try:
        embedder = embedder_get(key)
    except EmbedderUnavailable as exc:
        Job.objects.filter(pk=job.pk).update(
            state=Job.State.FAILED, error=str(exc)[:500], finished_at=timezone.now()
        )
        job.refresh_from_db()
        return job
    SearchModel.objects.filter(key=key).update(version=embedder.version, dimensions=embedder.dimensions)
    images = Image.objects.filter(deleted_at__isnull=True, status=ImageStatus.READY)
    missing = (
        images.exclude(
            pk__in=Embedding.objects.filter(model=key, version=embedder.version).values("image_id")
        )
        .select_related("storage_location")
        .order_by("pk")
    )
    if job.state == Job.State.QUEUED:
        Job.objects.filter(pk=job.pk).update(
            state=Job.State.RUNNING, started_at=timezone.now(), total=missing.count()
        )
    cursor = None
    while True:
        chunk = list((missing.filter(pk__gt=cursor) if cursor else missing)[:JOB_CHUNK])
        if not chunk:
            break
        cursor = chunk[-1].pk
        stored = 0
        for done, vectors in embed_stream(
            embedder, chunk, lambda image: prepared_for(embedder, image), batch=settings.DEEPLENS_EMBED_BATCH
        ):
            with transaction.atomic():
                stored += embeddings_record(
                    model=key,
                    version=embedder.version,
                    vectors={image.pk: vector for image, vector in zip(done, vectors, strict=True)},
                )
        Job.objects.filter(pk=job.pk).update(
            processed=F("processed") + stored, failed=F("failed") + (len(chunk) - stored)
        )
    vector_index_ensure(model=key, dimensions=embedder.dimensions)
    Job.objects.filter(pk=job.pk).update(state=Job.State.DONE, finished_at=timezone.now())
    job.refresh_from_db()
    return job


def after_processing(image_ids: list) -> None:
    """Images just became ready: the embed queue embeds them with every active torch model."""
    keys = [key for key in search_models_active() if key != DESCRIPTOR]
    if not keys or not image_ids:
        return
    from apps.search.tasks import images_embed_task

    ids = [str(image_id) for image_id in image_ids]
    for key in keys:
        transaction.on_commit(functools.partial(images_embed_task.delay, model=key, image_ids=ids))
