"""Similarity search: image to image (by id, upload or URL) and text to image.

The query vector comes from the stored embedding (by id), from the descriptor computed here (it
needs no model), or from the `embed` queue where torch models run (`embed.query`), so the web
process never loads torch. Results are cached per tenant (apps/search/services/cache.py)."""

import base64
import hashlib
import time
import uuid
from dataclasses import asdict, dataclass

import numpy as np
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings

from apps.images import imaging
from apps.images.models import Image, ImageStatus
from apps.search import descriptor
from apps.search.embedders.registry import CLIP, DESCRIPTOR, RESNET50, embedder_get, unavailable_reason
from apps.search.errors import (
    EmbedderTimeout,
    ImageNotIndexed,
    InvalidQueryImage,
    ModelUnavailable,
    QueryImageNotFound,
)
from apps.search.selectors import (
    SearchFilters,
    embedding_of,
    images_for_results,
    search_model_get,
    vector_neighbours,
    vector_of,
)
from apps.search.services.cache import cache_get, cache_put
from apps.search.services.embedding import INDEX_DECODE_SIDE, decode_bytes, descriptor_of, embeddings_record
from apps.search.services.models import search_models_active

PREFERENCE = (CLIP, RESNET50, DESCRIPTOR)


@dataclass
class SearchOptions:
    threshold: float = 0.0
    max_results: int = 50
    include_metadata: bool = False
    sort: str = "score"  # score | date | -date
    filters: SearchFilters | None = None


def model_version(key: str) -> str:
    """The version searches of this model use: what the collection was embedded with."""
    if key == DESCRIPTOR:
        return descriptor.VERSION
    row = search_model_get(key=key)
    if row is None or not row.is_active:
        raise ModelUnavailable(f"{key} is not switched on in this workspace.", extra={"model": key})
    reason = unavailable_reason(key)
    if reason:
        raise ModelUnavailable(reason, extra={"model": key})
    if not row.version:
        raise ModelUnavailable(f"{key} is still being prepared; try again shortly.", extra={"model": key})
    return row.version


def search_model_choose(requested: str = "", *, text: bool = False) -> str:
    """The requested model if it can serve, else the best active one that can."""
    active = search_models_active()
    if requested:
        if requested not in active:
            raise ModelUnavailable(
                f"{requested} is not switched on in this workspace.", extra={"model": requested}
            )
        if text and requested != CLIP:
            raise ModelUnavailable(
                f"{requested} cannot search by text; CLIP can.", extra={"model": requested}
            )
        return requested
    for key in PREFERENCE:
        if text and key != CLIP:
            continue
        if key in active and not unavailable_reason(key):
            row = search_model_get(key=key) if key != DESCRIPTOR else None
            if key == DESCRIPTOR or (row and row.version):
                return key
    if text:
        raise ModelUnavailable(
            "Text search needs a CLIP model: configure its weights and switch it on.", extra={"model": CLIP}
        )
    raise ModelUnavailable("No search model is available.")


def _remote(payload: dict) -> np.ndarray:
    from apps.search.tasks import embed_query_task

    result = embed_query_task.apply_async(kwargs=payload)
    try:
        answer = result.get(timeout=settings.DEEPLENS_SEARCH_EMBED_TIMEOUT_SECONDS, propagate=True)
    except CeleryTimeout as exc:
        raise EmbedderTimeout(
            "No embed worker answered in time; is a worker running on the embed queue?"
        ) from exc
    finally:
        result.forget()
    if "error" in answer:
        error = {"model_unavailable": ModelUnavailable, "unsupported_media_type": InvalidQueryImage}
        raise error.get(answer["error"], ModelUnavailable)(
            answer["message"], extra={"model": payload["model"]}
        )
    return np.asarray(answer["vector"], dtype=np.float32)


def query_vector_for_bytes(*, model: str, data: bytes) -> np.ndarray:
    if model == DESCRIPTOR:
        try:
            return embedder_get(DESCRIPTOR).embed_images([decode_bytes(data, descriptor.SIDE)])[0]
        except (imaging.NotAnImage, imaging.CorruptImage) as exc:
            raise InvalidQueryImage("The query is not an image this installation can read.") from exc
        except imaging.TooManyPixels as exc:
            raise InvalidQueryImage(f"The query image is too large: {exc}.") from exc
    return _remote({"model": model, "image_b64": base64.b64encode(data).decode()})


def query_vector_for_text(*, model: str, text: str) -> np.ndarray:
    return _remote({"model": model, "text": text})


def _run(
    *, model: str, version: str, vector_fn, exclude_image_id, options: SearchOptions, cache_request: dict
) -> dict:
    started = time.perf_counter()
    cached = cache_get(cache_request)
    if cached is not None:
        alive = images_for_results([row["image_id"] for row in cached["rows"]])
        rows = [row for row in cached["rows"] if row["image_id"] in alive]
        return _response(rows, alive, model=model, options=options, started=started, cached=True)
    neighbours = vector_neighbours(
        model=model,
        version=version,
        vector=vector_fn(),
        limit=options.max_results,
        filters=options.filters,
        exclude_image_id=exclude_image_id,
    )
    # The threshold applies to the score as shown, so a score copied from a result keeps that result.
    scored = [(image_id, round(max(0.0, min(1.0, score)), 6)) for image_id, score in neighbours]
    rows = [
        {"image_id": image_id, "similarity_score": score}
        for image_id, score in scored
        if options.threshold <= 0 or score >= options.threshold
    ]
    images = images_for_results([row["image_id"] for row in rows])
    rows = [row for row in rows if row["image_id"] in images]
    cache_put(cache_request, {"rows": rows})
    return _response(rows, images, model=model, options=options, started=started, cached=False)


def _response(rows, images: dict[str, Image], *, model, options: SearchOptions, started, cached) -> dict:
    if options.sort in ("date", "-date"):
        rows = sorted(
            rows, key=lambda row: images[row["image_id"]].created_at, reverse=options.sort == "-date"
        )
    return {
        "query_id": str(uuid.uuid4()),
        "rows": rows,
        "images": images,
        "total_results": len(rows),
        "processing_time_ms": round((time.perf_counter() - started) * 1000, 2),
        "model": model,
        "cached": cached,
        "include_metadata": options.include_metadata,
    }


def _cache_request(kind: str, identity: str, model: str, version: str, options: SearchOptions) -> dict:
    return {
        "kind": kind,
        "identity": identity,
        "model": model,
        "version": version,
        "threshold": options.threshold,
        "max_results": options.max_results,
        "filters": asdict(options.filters) if options.filters else None,
    }


def _descriptor_now(image: Image) -> np.ndarray:
    """The descriptor of a ready image the index stage has not reached yet, computed as that stage
    computes it (and stored, so it is not computed twice)."""
    from apps.images.originals import decode_original

    try:
        decoded = decode_original(image, longest_needed=INDEX_DECODE_SIDE)
    except (imaging.NotAnImage, imaging.CorruptImage, imaging.TooManyPixels) as exc:
        raise ImageNotIndexed(
            f"The image cannot be read for search: {exc}",
            extra={"image_id": str(image.pk), "model": DESCRIPTOR},
        ) from exc
    vector = descriptor_of(decoded.image)
    embeddings_record(model=DESCRIPTOR, version=descriptor.VERSION, vectors={image.pk: vector})
    return vector


def search_by_image_id(*, image_id, options: SearchOptions, model: str = "") -> dict:
    image = Image.objects.filter(pk=image_id, deleted_at__isnull=True).first()
    if image is None:
        raise QueryImageNotFound("No such image in this workspace.", extra={"image_id": str(image_id)})
    key = search_model_choose(model)
    version = model_version(key)
    embedding = embedding_of(image_id=image.pk, model=key)
    if embedding is not None and embedding.version == version:
        vector = vector_of(embedding)
    elif key == DESCRIPTOR and image.status == ImageStatus.READY:
        vector = _descriptor_now(image)  # ready, the index stage not there yet: no need to wait
    else:
        state = (
            "still being processed" if image.status != ImageStatus.READY else f"not yet embedded with {key}"
        )
        raise ImageNotIndexed(f"The image is {state}.", extra={"image_id": str(image.pk), "model": key})
    request = _cache_request("image", str(image.pk), key, version, options)
    return _run(
        model=key,
        version=version,
        vector_fn=lambda: vector,
        exclude_image_id=image.pk,
        options=options,
        cache_request=request,
    )


def search_by_bytes(*, data: bytes, options: SearchOptions, model: str = "") -> dict:
    key = search_model_choose(model)
    version = model_version(key)
    request = _cache_request("bytes", hashlib.sha256(data).hexdigest(), key, version, options)
    return _run(
        model=key,
        version=version,
        vector_fn=lambda: query_vector_for_bytes(model=key, data=data),
        exclude_image_id=None,
        options=options,
        cache_request=request,
    )


def search_by_text(*, text: str, options: SearchOptions, model: str = "") -> dict:
    key = search_model_choose(model, text=True)
    version = model_version(key)
    request = _cache_request("text", text, key, version, options)
    return _run(
        model=key,
        version=version,
        vector_fn=lambda: query_vector_for_text(model=key, text=text),
        exclude_image_id=None,
        options=options,
        cache_request=request,
    )
