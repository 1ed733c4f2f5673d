"""Similarity search: image to image (by id, upload or URL) and text to image.

The query vector comes from the stored embedding (by id), from the descriptor computed here (it
needs no model), or from the `embed` queue where torch models run (`embed.query`), so the web
process never loads torch. Results are cached per tenant (apps/search/services/cache.py)."""

import base64
import hashlib
import io
import logging
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass

import numpy as np
from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings

from apps.duplicates.matching import as_hashes, phash_distances
from apps.duplicates.selectors import open_groups_of
from apps.duplicates.services.detection import IndexFailed, image_query, lookup_query, matches_find
from apps.images import imaging
from apps.images.errors import ImageDecodeBudgetExceeded, ImageTooLarge
from apps.images.models import Image, ImageStatus
from apps.search import confidence, descriptor
from apps.search.embedders.registry import CLIP, DESCRIPTOR, RESNET50, embedder_get, unavailable_reason
from apps.search.errors import (
    EmbedderTimeout,
    ImageNotIndexed,
    InvalidQueryImage,
    InvalidSearch,
    ModelUnavailable,
    QueryImageNotFound,
)
from apps.search.models import SearchModel
from apps.search.selectors import (
    QueryImage,
    SearchFilters,
    embedding_of,
    ids_passing,
    images_for_results,
    neighbours_with_phashes,
    query_image_get,
    vector_dimensions,
    vector_neighbours,
    vector_of,
)
from apps.search.services.cache import cache_get, cache_put
from apps.search.services.embedding import INDEX_DECODE_SIDE, decode_bytes, descriptor_of, embeddings_record
from apps.search.services.models import search_model_row, search_models_active
from apps.storage.backends import StorageNotSupported, transfer_errors

logger = logging.getLogger(__name__)
# An original that cannot be read now: a query by such an image is searched without verification.
UNREADABLE: tuple[type[Exception], ...] = (IndexFailed, StorageNotSupported, *transfer_errors())

PREFERENCE = (CLIP, RESNET50, DESCRIPTOR)


@dataclass
class SearchOptions:
    threshold: float = 0.0  # on similarity_score, for results that are not verified matches
    min_confidence: float = confidence.DEFAULT_MIN_CONFIDENCE
    max_results: int = 50
    include_metadata: bool = False
    sort: str = "score"  # score | date | -date
    filters: SearchFilters | None = None
    collapse: bool = False  # results that are duplicates of each other as one entry


# Neighbours read from the index per search: enough to count what passes the threshold past a page,
# in a few sizes (the neighbours query is prepared per size: its LIMIT is in the text, so a session
# holds at most eleven). A page of 10 (the API's common call) reads 25, not 100: at a million images
# each row read is a random heap page of the embeddings and of the images.
WINDOWS = (25, *range(100, 1001, 100))
# Of those, the nearest few are also verified as candidates when the query is an image not stored.
VERIFY_NEAREST = 10
MATCH_ORDER = {"identical": 0, "same_picture": 1, "similar": 2}


def search_model_resolve(requested: str = "", *, text: bool = False) -> tuple[str, str]:
    """The requested model if it can serve, else the best active one that can, and the version its
    searches use (what the collection was embedded with). Every search starts here: the model's
    row is read once."""
    key, row = _choose(requested, text=text)
    if key == DESCRIPTOR:
        return key, descriptor.VERSION
    row = row if row is not None else search_model_row(key)
    if row is None or not row.is_active:
        raise ModelUnavailable(f"{key} is not switched on in this workspace.", extra={"model": key})
    reason = unavailable_reason(key)
    if reason:
        raise ModelUnavailable(reason, extra={"model": key})
    if not row.version:
        raise ModelUnavailable(f"{key} is still being prepared; try again shortly.", extra={"model": key})
    return key, row.version


def _choose(requested: str, *, text: bool) -> tuple[str, SearchModel | None]:
    """The chosen model's key, with its row where choosing read it."""
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
        return requested, None
    for key in PREFERENCE:
        if text and key != CLIP:
            continue
        if key in active and not unavailable_reason(key):
            row = search_model_row(key) if key != DESCRIPTOR else None
            if key == DESCRIPTOR or (row and row.version):
                return key, row
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


@dataclass
class Query:
    """What a search looks for: a vector in one model's space and, for a picture, how to find the
    images duplicate detection decides are that picture (`verify(nearest_ids)`)."""

    model: str
    version: str
    vector: np.ndarray
    exclude_image_id: object = None
    vector_text: str | None = None  # the vector as stored (pgvector's text form), when read so
    verify: Callable[[list[str]], dict] | None = None  # {image_id: (kind, signal, score)}
    phashes: np.ndarray | None = None  # the query's eight orientation pHashes


def _match_of(kind: str) -> str:
    return "identical" if kind == "exact" else "same_picture"


def _clamped(scores) -> list[float]:
    """Similarities as results show them: within 0..1, six decimals."""
    return np.clip(np.asarray(scores, dtype=np.float64), 0.0, 1.0).round(6).tolist()


def window_for(max_results: int) -> int:
    """How many neighbours a search reads for a page of `max_results`: one more at least, to know
    whether more pass."""
    return next((size for size in WINDOWS if size > max_results), WINDOWS[-1])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    """As pgvector's `1 - (a <=> b)`: stored halfvecs are not exactly of unit length."""
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b)) / norms if norms else 0.0


def _neighbours_alone(**where) -> tuple[list[tuple[str, float]], dict[str, list[int]]]:
    return vector_neighbours(**where), {}


def ranked(query: Query, options: SearchOptions) -> dict:
    """Every result that passes the options, in order (verified matches first, identical copies
    before the others, then the similar by score), with `total_exact` false when the index window
    ran out while results still passed (so more would)."""
    window = window_for(options.max_results)
    calibrated = query.verify is not None and query.model == DESCRIPTOR
    # The neighbours and, to calibrate the similar, their pHashes, in one query; without
    # calibration no signature rows are read (a random heap page each, at a million images).
    read = neighbours_with_phashes if calibrated else _neighbours_alone
    neighbours, signed = read(
        model=query.model,
        version=query.version,
        vector=query.vector_text or query.vector,
        limit=window,
        filters=options.filters,
        exclude_image_id=query.exclude_image_id,
    )
    similarity = dict(
        zip([image_id for image_id, _s in neighbours], _clamped([s for _i, s in neighbours]), strict=True)
    )
    tenth = neighbours[9][1] if len(neighbours) >= 10 else confidence.TYPICAL_TENTH
    matches: dict[str, tuple] = {}
    if query.verify is not None:
        found = query.verify([image_id for image_id, _s in neighbours[:VERIFY_NEAREST]])
        found = {str(image_id): decision for image_id, decision in found.items()}
        # Which pass the filters, with the vectors of those outside the window: one query.
        passing = ids_passing(
            ids=list(found), filters=options.filters, model=query.model, version=query.version
        )
        matches = {
            image_id: found[image_id] for image_id in passing if image_id != str(query.exclude_image_id)
        }
        for image_id in matches:
            vector = passing[image_id]
            if image_id not in similarity and vector is not None:
                similarity[image_id] = _clamped([_cosine(vector.floats(), query.vector)])[0]
    distances: dict[str, int] = {}
    if calibrated and query.phashes is not None:
        theirs = [image_id for image_id in signed if image_id not in matches]
        found_distances = phash_distances(query.phashes, as_hashes([signed[i] for i in theirs]))
        distances = dict(zip(theirs, found_distances.tolist(), strict=True))
    rows = []
    for image_id, (kind, signal, _score) in matches.items():
        rows.append(
            {
                "image_id": image_id,
                "similarity_score": similarity.get(image_id),
                "match": _match_of(kind),
                "verified_by": signal,
                "confidence": confidence.verified(signal),
            }
        )
    rows = [row for row in rows if row["confidence"] >= options.min_confidence]
    rows.sort(key=lambda r: (MATCH_ORDER[r["match"]], -r["confidence"], -(r["similarity_score"] or 0)))
    # The similar: the window's others, passing the threshold and the confidence (all at once).
    others = [image_id for image_id, _s in neighbours if image_id not in matches]
    scores = np.array([similarity[image_id] for image_id in others], dtype=np.float64)
    chances = None
    if calibrated:
        unknown = confidence.UNKNOWN_DISTANCE
        chances = confidence.unverified_many(
            similarity=scores, tenth=tenth, distances=[distances.get(i, unknown) for i in others]
        )
    passed = scores >= options.threshold
    if chances is not None:
        passed &= chances >= options.min_confidence
    similar = [
        {
            "image_id": others[n],
            "similarity_score": float(scores[n]),
            "match": "similar",
            "verified_by": None,
            "confidence": None if chances is None else float(chances[n]),
        }
        for n in np.flatnonzero(passed).tolist()
    ]
    last_passed = bool(passed[-1]) if len(others) else False
    total_exact = not (len(neighbours) == window and last_passed)
    return {"rows": rows + similar, "total_exact": total_exact}


def _collapsed(rows: list[dict], images: dict[str, Image]) -> list[dict]:
    """Results that are duplicates of each other (one open duplicate group, or the same bytes) as
    one entry, the first in order, with the others' ids in `duplicates`."""
    groups = {str(k): v for k, v in open_groups_of(image_ids=[r["image_id"] for r in rows]).items()}
    head: dict = {}
    out = []
    for row in rows:
        image = images.get(row["image_id"])
        keys = [("group", groups.get(row["image_id"])), ("sha", image.sha256 if image else None)]
        first = next((head[key] for key in keys if key[1] and key in head), None)
        if first is not None:
            first["duplicates"].append(row["image_id"])
            for key in keys:
                if key[1]:
                    head.setdefault(key, first)
            continue
        row = {**row, "duplicates": []}
        for key in keys:
            if key[1]:
                head[key] = row
        out.append(row)
    return out


def _run(*, query_fn: Callable[[], Query], options: SearchOptions, cache_request: dict, model: str) -> dict:
    started = time.perf_counter()
    cached = cache_get(cache_request)
    if cached is None:
        found = ranked(query_fn(), options)
        cache_put(cache_request, found)
    else:
        found = cached
    rows = found["rows"]
    whole = options.sort in ("date", "-date") or options.collapse
    # The page is read (a few more in case some were deleted since); dates and collapsing read all.
    images = images_for_results(
        [row["image_id"] for row in (rows if whole else rows[: options.max_results + 20])],
        metadata=options.include_metadata,
        first=None if whole else options.max_results,
    )
    if whole:
        rows = [row for row in rows if row["image_id"] in images]
    if options.collapse:
        rows = _collapsed(rows, images)
    if options.sort in ("date", "-date"):

        def by_date(part: list[dict]) -> list[dict]:
            return sorted(
                part, key=lambda r: images[r["image_id"]].created_at, reverse=options.sort == "-date"
            )

        rows = by_date([r for r in rows if r["match"] != "similar"]) + by_date(
            [r for r in rows if r["match"] == "similar"]
        )
    page = [row for row in rows if row["image_id"] in images][: options.max_results]
    total = len(rows)
    return {
        "query_id": str(uuid.uuid4()),
        "rows": page,
        "images": images,
        "total_results": total,
        "total_exact": found["total_exact"],
        "has_more": total > len(page) or not found["total_exact"],
        "verified_results": sum(1 for row in rows if row["match"] != "similar"),
        "processing_time_ms": round((time.perf_counter() - started) * 1000, 2),
        "model": model,
        "cached": cached is not None,
        "include_metadata": options.include_metadata,
    }


def _cache_request(kind: str, identity: str, model: str, version: str, options: SearchOptions) -> dict:
    return {
        "kind": kind,
        "identity": identity,
        "model": model,
        "version": version,
        "threshold": options.threshold,
        "min_confidence": options.min_confidence,
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


def _stored_verify(found: QueryImage, phashes: np.ndarray | None) -> Callable[[list[str]], dict]:
    """How a stored image's matches are found: what duplicate detection decided when it indexed the
    image (its pairs and open groups), read back; for an image detection has not reached yet (no
    signature, so no `phashes`), its candidates decided now, as detection will."""
    if phashes is not None:
        return lambda _nearest: found.matches

    def live(nearest: list[str]) -> dict:
        try:
            query = image_query(found.image())
        except UNREADABLE as exc:
            logger.warning("search: image %s cannot be verified now: %s", found.pk, exc)
            return {}  # its similar are still found; its matches once detection reaches it
        matches = matches_find(query, extra=nearest, follow_groups=True)
        return {i: (d.kind, d.signal, d.score) for i, d in matches}

    return live


def _image_missing(image_id) -> QueryImageNotFound:
    return QueryImageNotFound("No such image in this workspace.", extra={"image_id": str(image_id)})


def search_by_image_id(*, image_id, options: SearchOptions, model: str = "") -> dict:
    try:
        key, version = search_model_resolve(model)
    except ModelUnavailable:
        # A missing image is the first thing to say (a query only on this error path).
        if not Image.objects.filter(pk=image_id, deleted_at__isnull=True).exists():
            raise _image_missing(image_id) from None
        raise
    # The image, its vector, its pHashes and its stored matches in one round trip (the hot path).
    found = query_image_get(image_id=image_id, model=key, version=version)
    if found is None:
        raise _image_missing(image_id)
    stored = found.vector()
    if stored is not None:
        vector, vector_text = stored, found.vector_text
    elif key == DESCRIPTOR and found.status == ImageStatus.READY:
        # ready, the index stage not there yet: no need to wait
        vector, vector_text = _descriptor_now(found.image()), None
    else:
        state = (
            "still being processed" if found.status != ImageStatus.READY else f"not yet embedded with {key}"
        )
        raise ImageNotIndexed(f"The image is {state}.", extra={"image_id": str(found.pk), "model": key})
    phashes = as_hashes(found.phashes) if found.phashes is not None else None

    def query() -> Query:
        return Query(
            model=key,
            version=version,
            vector=vector,
            vector_text=vector_text,
            exclude_image_id=found.pk,
            verify=_stored_verify(found, phashes),
            phashes=phashes,
        )

    request = _cache_request("image", str(found.pk), key, version, options)
    return _run(query_fn=query, options=options, cache_request=request, model=key)


@contextmanager
def _readable_query():
    """The errors of decoding a query image, as an upload's would be reported."""
    try:
        yield
    except imaging.DecodeBudgetExceeded as exc:
        raise ImageDecodeBudgetExceeded(
            f"The query image declares far more pixels than its file holds ({exc}).",
            extra={"width": exc.width, "height": exc.height},
        ) from exc
    except imaging.TooManyPixels as exc:
        raise ImageTooLarge(
            f"The query image has too many pixels ({exc}).", extra={"width": exc.width, "height": exc.height}
        ) from exc
    except (imaging.NotAnImage, imaging.CorruptImage) as exc:
        raise InvalidQueryImage("The query is not an image this installation can read.") from exc


def picture_extract(*, data: bytes, model: str = "") -> dict:
    """What the product computes from an image, for one that is not stored (nothing is stored):
    its SHA-256, perceptual hashes, weight-free descriptor and, with a model, its embedding."""
    with _readable_query():
        decoded = imaging.decode(io.BytesIO(data), longest_needed=INDEX_DECODE_SIDE)
        phash, dhash, whash = imaging.perceptual_hashes(decoded.image)
        vector = descriptor.describe(decoded.image)
    out = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "width": decoded.width,
        "height": decoded.height,
        "hashes": {
            "phash": imaging.hash_hex(phash),
            "dhash": imaging.hash_hex(dhash),
            "whash": imaging.hash_hex(whash),
        },
        "descriptor": {"version": descriptor.VERSION, "dimensions": len(vector), "vector": vector.tolist()},
        "embedding": None,
    }
    if model and model != DESCRIPTOR:
        key, version = search_model_resolve(model)
        embedded = query_vector_for_bytes(model=key, data=data)
        out["embedding"] = {
            "model": key,
            "version": version,
            "dimensions": len(embedded),
            "vector": [float(v) for v in embedded],
        }
    elif model == DESCRIPTOR:
        out["embedding"] = {
            "model": DESCRIPTOR,
            "version": descriptor.VERSION,
            "dimensions": len(vector),
            "vector": vector.tolist(),
        }
    return out


def image_vector(*, image_id, model: str = "") -> dict:
    """The stored vector of an image in a model's space (the best active model by default)."""
    image = Image.objects.filter(pk=image_id, deleted_at__isnull=True).first()
    if image is None:
        raise QueryImageNotFound("No such image in this workspace.", extra={"image_id": str(image_id)})
    key, version = search_model_resolve(model)
    embedding = embedding_of(image_id=image.pk, model=key)
    if embedding is not None and embedding.version == version:
        vector = vector_of(embedding)
    elif key == DESCRIPTOR and image.status == ImageStatus.READY:
        vector = _descriptor_now(image)
    else:
        raise ImageNotIndexed(
            f"The image is not yet embedded with {key}.", extra={"image_id": str(image.pk), "model": key}
        )
    return {
        "image_id": str(image.pk),
        "model": key,
        "version": version,
        "dimensions": len(vector),
        "vector": [float(v) for v in vector],
    }


def picture_query(*, data: bytes, key: str, version: str) -> Query:
    """The search query of an image that is not stored: decoded once as the index stage decodes
    (its duplicate features and descriptor), and its vector in the space of model `key` (resolved
    by the caller, at `version`)."""
    with _readable_query():
        found = lookup_query(data=io.BytesIO(data), sha256=hashlib.sha256(data).hexdigest())
    vector = (
        found.descriptor
        if key == DESCRIPTOR and found.descriptor is not None
        else query_vector_for_bytes(model=key, data=data)
    )

    def verify(nearest: list[str]) -> dict:
        matches = matches_find(found, extra=nearest, follow_groups=True)
        return {i: (d.kind, d.signal, d.score) for i, d in matches}

    return Query(model=key, version=version, vector=vector, verify=verify, phashes=found.features.phashes)


def search_by_bytes(*, data: bytes, options: SearchOptions, model: str = "") -> dict:
    key, version = search_model_resolve(model)
    request = _cache_request("bytes", hashlib.sha256(data).hexdigest(), key, version, options)
    return _run(
        query_fn=lambda: picture_query(data=data, key=key, version=version),
        options=options,
        cache_request=request,
        model=key,
    )


def search_by_text(*, text: str, options: SearchOptions, model: str = "") -> dict:
    key, version = search_model_resolve(model, text=True)
    request = _cache_request("text", text, key, version, options)
    return _run(
        query_fn=lambda: Query(
            model=key, version=version, vector=query_vector_for_text(model=key, text=text)
        ),
        options=options,
        cache_request=request,
        model=key,
    )


def search_by_vector(*, vector: list[float], options: SearchOptions, model: str) -> dict:
    """Nearest to a vector in `model`'s space (the seeds' query shape): the similar only, since a
    vector is no picture to verify. The model must be active and the dimensions its own."""
    key, version = search_model_resolve(model)
    dimensions = vector_dimensions(model=key, version=version)
    if dimensions is None or len(vector) != dimensions:
        raise InvalidSearch(
            f"A {key} vector has {dimensions} dimensions; this one has {len(vector)}.",
            extra={"model": key, "dimensions": dimensions, "given": len(vector)},
        )
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    if not np.isfinite(array).all() or norm == 0:
        raise InvalidSearch("The vector must be finite and not all zeros.", extra={"model": key})
    array = array / norm
    digest = hashlib.sha256(array.tobytes()).hexdigest()
    request = _cache_request("vector", digest, key, version, options)
    return _run(
        query_fn=lambda: Query(model=key, version=version, vector=array),
        options=options,
        cache_request=request,
        model=key,
    )
