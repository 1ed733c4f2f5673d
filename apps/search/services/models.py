"""Per-tenant models: switching a model on re-embeds the collection in a background job."""

import functools
import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.process_cache import cached
from apps.images.models import Image, ImageStatus
from apps.jobs.errors import JobFailed
from apps.jobs.models import Job
from apps.jobs.runner import JobContext
from apps.jobs.services import job_create
from apps.search.embedders.base import EmbedderUnavailable
from apps.search.embedders.registry import CLIP, DESCRIPTOR, KEYS, RESNET50, embedder_get, unavailable_reason
from apps.search.errors import InvalidSearch, ModelUnavailable
from apps.search.models import Embedding, SearchModel
from apps.search.selectors import search_model_get
from apps.search.services.embedding import _prepared as prepared_for
from apps.search.services.embedding import embed_stream, embeddings_record, embeddings_stored
from apps.search.services.index import vector_index_ensure

logger = logging.getLogger(__name__)
JOB_CHUNK = 256
SEARCH_EMBED = "search_embed"


def search_models_active() -> list[str]:
    """Keys of the models switched on in this tenant; the descriptor always is."""
    from apps.core.connection import connection

    return cached(
        (connection.schema_name, "search-models"),
        settings.DEEPLENS_PROCESS_CACHE_SECONDS,
        lambda: [
            DESCRIPTOR,
            *SearchModel.objects.filter(is_active=True).exclude(key=DESCRIPTOR).values_list("key", flat=True),
        ],
    )


def search_model_row(key: str) -> SearchModel | None:
    """The model's row in this tenant (a search by CLIP or ResNet reads its version), kept like
    search_models_active(): a change shows within DEEPLENS_PROCESS_CACHE_SECONDS, as switching a
    model on or off does."""
    from apps.core.connection import connection

    return cached(
        (connection.schema_name, "search-model", key),
        settings.DEEPLENS_PROCESS_CACHE_SECONDS,
        lambda: search_model_get(key=key),
    )


# The models whose embeddings say "visually similar" (duplicates' similar grouping), preferred first.
SIMILARITY_MODELS = (CLIP, RESNET50)


def similarity_model() -> SearchModel | None:
    """The embedding model similar grouping uses in this tenant: the first of CLIP and ResNet-50
    that is switched on here and whose weights this installation has (never the descriptor, never
    random weights). None when there is none."""
    active = search_models_active()
    for key in SIMILARITY_MODELS:
        if key in active and not unavailable_reason(key):
            model = SearchModel.objects.filter(key=key, is_active=True).first()
            if model is not None:
                return model
    return None


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
    job = job_create(kind=SEARCH_EMBED, actor=actor, params={"model": key})
    model.is_active, model.activated_at, model.job = True, timezone.now(), job
    model.save(update_fields=["is_active", "activated_at", "job", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.SEARCH_MODEL_ACTIVATED,
        tenant=tenant,
        target=model,
        details={"model": key},
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
        actor=actor,
        action=AuditAction.SEARCH_MODEL_DEACTIVATED,
        tenant=tenant,
        target=model,
        details={"model": key},
    )
    return model


def embed_job_run(ctx: JobContext) -> None:
    """The search_embed runner: embed every ready image that lacks an embedding of the model's
    current version. Resumable: a second run picks up what is still missing."""
    key = ctx.params.get("model", "")
    try:
        embedder = embedder_get(key)
    except EmbedderUnavailable as exc:
        raise JobFailed(str(exc)) from exc
    SearchModel.objects.filter(key=key).update(version=embedder.version, dimensions=embedder.dimensions)
    images = Image.objects.filter(deleted_at__isnull=True, status=ImageStatus.READY)
    missing = (
        images.exclude(
            pk__in=Embedding.objects.filter(model=key, version=embedder.version).values("image_id")
        )
        .select_related("storage_location")
        .order_by("pk")
    )
    ctx.progress(total=ctx.job.processed + ctx.job.failed + missing.count())
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
            embeddings_stored(model=key, image_ids=[image.pk for image in done])
        ctx.heartbeat(processed=stored, failed=len(chunk) - stored)
    vector_index_ensure(model=key, dimensions=embedder.dimensions)


def embed_stage_names() -> list[str]:
    """The embed stage's status names: one per active torch model."""
    return [f"embed:{key}" for key in search_models_active() if key != DESCRIPTOR]


EMBED_SWEEP_BATCH = 500
EMBED_SWEEP_AFTER_SECONDS = 10 * 60


def embed_sweep(*, worker_started: bool = False) -> int:
    """Ready images that an active torch model has not embedded (their task was lost, or failed on
    the database) go back to the embed queue, a batch per model at most every 10 minutes, so a tenant
    without an embed worker does not fill the queue. Returns how many images were sent."""
    from datetime import timedelta

    import redis

    from apps.core.connection import connection
    from apps.core.redis import get_redis, redis_key
    from apps.images.models import ImageStage
    from apps.search.tasks import images_embed_task

    sent = 0
    cutoff = timezone.now() - timedelta(seconds=EMBED_SWEEP_AFTER_SECONDS)
    for key in [k for k in search_models_active() if k != DESCRIPTOR]:
        missing = list(
            Image.objects.filter(status=ImageStatus.READY, deleted_at__isnull=True, processed_at__lt=cutoff)
            .exclude(pk__in=ImageStage.objects.filter(stage=f"embed:{key}").values("image_id"))
            .values_list("pk", flat=True)[:EMBED_SWEEP_BATCH]
        )
        if not missing:
            continue
        marker = redis_key("embed-sweep", connection.schema_name, key)
        try:
            if not get_redis().set(marker, "1", nx=True, ex=EMBED_SWEEP_AFTER_SECONDS):
                continue
        except redis.RedisError:
            continue
        images_embed_task.delay(model=key, image_ids=[str(i) for i in missing])
        sent += len(missing)
    return sent


def after_processing(image_ids: list) -> None:
    """Images just became ready: the embed queue embeds them with every active torch model."""
    keys = [key for key in search_models_active() if key != DESCRIPTOR]
    if not keys or not image_ids:
        return
    from apps.search.tasks import images_embed_task

    ids = [str(image_id) for image_id in image_ids]
    for key in keys:
        transaction.on_commit(functools.partial(images_embed_task.delay, model=key, image_ids=ids))
