"""Computing and storing embeddings.

- The descriptor is computed in the index stage (apps/duplicates, the `index` queue) from the decode
  that also makes the duplicate signature, after the image is READY: ingestion keeps its speed, and
  one decode serves both.
- Torch models run on the `embed` queue (`images_embed`): images are decoded at reduced size by a
  thread pool while the model runs the previous batch, several images per forward pass.
"""

import io
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image as PILImage

from apps.core import metrics
from apps.images import imaging
from apps.images.models import Image, ImageStatus, StageState
from apps.images.services.stages import StageResult, stages_record
from apps.search import descriptor
from apps.search.embedders.base import Embedder
from apps.search.embedders.registry import DESCRIPTOR, embedder_get
from apps.search.models import Embedding
from apps.search.services.cache import index_changed
from apps.storage.backends import storage_for

logger = logging.getLogger(__name__)


# The index stage decodes originals at this side (longest): the descriptor of a stored image, and the
# duplicate signature (apps/duplicates), come from that decode.
INDEX_DECODE_SIDE = 1024


def descriptor_of(decoded: PILImage.Image) -> np.ndarray:
    """The weight-free descriptor of a decoded original, counted in the embeddings metric."""
    started = time.perf_counter()
    vector = descriptor.describe(decoded)
    metrics.embeddings_record(count=1, seconds=time.perf_counter() - started, model=DESCRIPTOR)
    return vector


# Called with (model=key, image_ids=[...]) once a model's vectors of those images are stored (the
# embed stage and the activation job, each chunk committed): duplicates groups similar images here.
_stored_listeners: list[Callable[..., object]] = []


def embeddings_stored_connect(listener: Callable[..., object]) -> None:
    """Plug in a listener for stored model embeddings (from an AppConfig.ready(); once each)."""
    if listener not in _stored_listeners:
        _stored_listeners.append(listener)


def embeddings_stored(*, model: str, image_ids: list) -> None:
    """A torch model's vectors of these images are stored and committed: tell the listeners."""
    if not image_ids:
        return
    for listener in _stored_listeners:
        listener(model=model, image_ids=list(image_ids))


def embeddings_record(*, model: str, version: str, vectors: dict) -> int:
    """Insert or replace embeddings {image_id: vector} of one model; bumps the search cache."""
    if not vectors:
        return 0
    rows = [
        Embedding(image_id=image_id, model=model, version=version, dimensions=len(vector), vector=vector)
        for image_id, vector in vectors.items()
    ]
    Embedding.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["image", "model"],
        update_fields=["version", "dimensions", "vector", "created_at"],
    )
    transaction.on_commit(index_changed)
    return len(rows)


def _decode(image: Image, side: int) -> PILImage.Image | None:
    try:
        with storage_for(image.storage_location).open(image.storage_key, "rb") as handle:
            return imaging.decode(handle, longest_needed=side).image
    except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels, FileNotFoundError) as exc:
        logger.warning("image %s cannot be embedded: %s", image.pk, exc)
        return None


def decode_bytes(data: bytes, side: int) -> PILImage.Image:
    """A query image from bytes (raises imaging.NotAnImage / CorruptImage / TooManyPixels)."""
    return imaging.decode(io.BytesIO(data), longest_needed=side).image


def _prepared(embedder: Embedder, image: Image):
    decoded = _decode(image, embedder.input_side)
    if decoded is None:
        return None
    preprocess = getattr(embedder, "preprocess", None)
    return preprocess(decoded) if preprocess else decoded


def embed_stream(embedder: Embedder, items: Iterable, prepare, *, batch: int, threads: int = 2) -> Iterator:
    """Yield (items, vectors) per batch. `prepare(item)` (decode + preprocess, in threads, releasing
    the GIL in Pillow) runs for the next batch while the model runs this one. Items whose prepare
    returns None are left out of the batch."""
    items = list(items)
    chunks = [items[i : i + batch] for i in range(0, len(items), batch)]
    if not chunks:
        return
    arrays_of = getattr(embedder, "embed_arrays", None) or embedder.embed_images
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending = [pool.submit(prepare, item) for item in chunks[0]]
        for index, chunk in enumerate(chunks):
            ready = [future.result() for future in pending]
            if index + 1 < len(chunks):
                pending = [pool.submit(prepare, item) for item in chunks[index + 1]]
            kept = [(item, value) for item, value in zip(chunk, ready, strict=True) if value is not None]
            if kept:
                started = time.perf_counter()
                vectors = arrays_of([value for _i, value in kept])
                metrics.embeddings_record(
                    count=len(kept), seconds=time.perf_counter() - started, model=embedder.key
                )
                yield [item for item, _v in kept], vectors


def images_embed(*, model: str, image_ids: list) -> int:
    """Embed these images with this model (the embed queue); images already embedded with the
    current version are skipped, so a repeated task is harmless. Returns how many were stored."""
    embedder = embedder_get(model)
    stage = embed_stage_name(model)
    done = {
        str(image_id)
        for image_id in Embedding.objects.filter(
            image_id__in=image_ids, model=model, version=embedder.version
        ).values_list("image_id", flat=True)
    }
    images = list(
        Image.objects.select_related("storage_location").filter(
            pk__in=[i for i in image_ids if str(i) not in done],
            status=ImageStatus.READY,
            deleted_at__isnull=True,
        )
    )
    stored, embedded = 0, set[uuid.UUID]()
    for chunk, vectors in embed_stream(
        embedder, images, lambda image: _prepared(embedder, image), batch=settings.DEEPLENS_EMBED_BATCH
    ):
        with transaction.atomic():
            stored += embeddings_record(
                model=model,
                version=embedder.version,
                vectors={image.pk: vector for image, vector in zip(chunk, vectors, strict=True)},
            )
            stages_record(
                [StageResult(image_id=image.pk, stage=stage, state=StageState.DONE) for image in chunk]
            )
        embedded.update(image.pk for image in chunk)
        embeddings_stored(model=model, image_ids=[image.pk for image in chunk])
    stages_record(
        [
            StageResult(
                image_id=image.pk,
                stage=stage,
                state=StageState.FAILED,
                reason="The image could not be decoded.",
            )
            for image in images
            if image.pk not in embedded
        ]
    )
    return stored


def embed_stage_name(model: str) -> str:
    return f"embed:{model}"


def embed_failed(*, model: str, image_ids: list, reason: str) -> None:
    """The model cannot run here (no weights, no torch): the images say so."""
    stages_record(
        [
            StageResult(
                image_id=image_id, stage=embed_stage_name(model), state=StageState.FAILED, reason=reason
            )
            for image_id in image_ids
        ]
    )


def query_vector_from_bytes(*, model: str, data: bytes) -> np.ndarray:
    embedder = embedder_get(model)
    return embedder.embed_images([decode_bytes(data, embedder.input_side)])[0]


def query_vector_from_text(*, model: str, text: str) -> np.ndarray:
    return embedder_get(model).embed_texts([text])[0]
