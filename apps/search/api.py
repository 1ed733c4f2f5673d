"""The search API: similar images (by upload, id or URL), text to image, hash neighbours, and the
tenant's models (list, switch on, switch off)."""

import base64
import binascii

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.parsers import JSONParser
from apps.core.schema import ErrorResponse
from apps.images.api.serializers import DATE_INPUTS
from apps.images.errors import FileTooLarge
from apps.images.fetch import fetch
from apps.images.models import ImageFormat
from apps.jobs.models import Job
from apps.search.confidence import DEFAULT_MIN_CONFIDENCE
from apps.search.embedders.registry import KEYS, model_catalogue
from apps.search.errors import ImageNotIndexed, InvalidSearch, QueryImageNotFound
from apps.search.selectors import SearchFilters, hash_neighbours, images_for_results, search_model_list
from apps.search.services.models import search_model_activate, search_model_deactivate, search_models_active
from apps.search.services.search import (
    SearchOptions,
    image_vector,
    picture_extract,
    search_by_bytes,
    search_by_image_id,
    search_by_text,
    search_by_vector,
)
from apps.storage.selectors import storage_location_ids
from apps.usage.ratelimit import EndpointClass


class FiltersInput(serializers.Serializer):
    format = serializers.ListField(child=serializers.ChoiceField(choices=ImageFormat.values), required=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False)
    uploaded_after = serializers.DateTimeField(required=False, input_formats=DATE_INPUTS)
    uploaded_before = serializers.DateTimeField(required=False, input_formats=DATE_INPUTS)
    taken_after = serializers.DateTimeField(required=False, input_formats=DATE_INPUTS)
    taken_before = serializers.DateTimeField(required=False, input_formats=DATE_INPUTS)
    storage_location = serializers.UUIDField(required=False)
    storage_locations = serializers.ListField(
        child=serializers.CharField(max_length=100),
        required=False,
        max_length=50,
        help_text="Storage locations by id or by name (the seeds' shape); any of them.",
    )

    def validate_storage_locations(self, refs: list[str]) -> list[str]:
        found = storage_location_ids(refs=refs)
        unknown = [ref for ref in refs if ref not in found]
        if unknown:
            raise serializers.ValidationError(
                f"No storage location has this id or name: {', '.join(unknown)}.",
                code="unknown_storage_location",
            )
        return [found[ref] for ref in refs]

    def to_filters(self) -> SearchFilters:
        data = self.validated_data
        locations = list(dict.fromkeys(data.get("storage_locations", [])))
        if data.get("storage_location"):
            locations.append(str(data["storage_location"]))
        return SearchFilters(
            formats=data.get("format", []),
            tags=data.get("tags", []),
            uploaded_after=data.get("uploaded_after"),
            uploaded_before=data.get("uploaded_before"),
            taken_after=data.get("taken_after"),
            taken_before=data.get("taken_before"),
            storage_locations=locations,
        )


class OptionsInput(serializers.Serializer):
    similarity_threshold = serializers.FloatField(min_value=0.0, max_value=1.0, required=False, default=0.0)
    max_results = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=50)
    include_metadata = serializers.BooleanField(required=False, default=False)
    sort = serializers.ChoiceField(choices=["score", "date", "-date"], required=False, default="score")
    model = serializers.ChoiceField(choices=list(KEYS), required=False, allow_blank=True, default="")
    min_confidence = serializers.FloatField(
        min_value=0.0,
        max_value=1.0,
        required=False,
        default=DEFAULT_MIN_CONFIDENCE,
        help_text="Least `confidence` (the calibrated probability of the same picture) a result needs; "
        "verified matches have about 1. Results without a confidence (text, vectors, CLIP/ResNet "
        "similar) are judged by similarity_threshold alone.",
    )
    collapse_duplicates = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Results that are duplicates of each other (one open duplicate group, or the same "
        "bytes) as one entry, with the others in `duplicates`.",
    )


def _valid(name: str, field: serializers.Field, value):
    """`value` validated by `field`, its errors under `name` (a bare field's errors name nothing)."""
    try:
        return field.run_validation(value)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({name: exc.detail}) from exc


def _listish(data, key):
    """Form posts repeat a key (an empty select or text box sends ""); JSON sends a list."""
    getlist = getattr(data, "getlist", None)
    if getlist:
        return [value for value in getlist(key) if value]
    return data.get(key)


def parse_options(data) -> tuple[SearchOptions, str]:
    # The field names from the class: an instance deep-copies every field (a search's hot path).
    options = OptionsInput(
        data={key: data.get(key) for key in OptionsInput._declared_fields if data.get(key) is not None}
    )
    options.is_valid(raise_exception=True)
    raw_filters = data.get("filters") if isinstance(data.get("filters"), dict) else None
    if raw_filters is None:
        raw_filters = {}
        for key in FiltersInput._declared_fields:
            value = _listish(data, key) if key in ("format", "tags", "storage_locations") else data.get(key)
            if value not in (None, "", []):
                raw_filters[key] = value
    filters = SearchFilters()  # none given: no serializer to build (its fields are deep-copied)
    if raw_filters:
        given = FiltersInput(data=raw_filters)
        given.is_valid(raise_exception=True)
        filters = given.to_filters()
    valid = options.validated_data
    return (
        SearchOptions(
            threshold=valid["similarity_threshold"],
            min_confidence=valid["min_confidence"],
            collapse=valid["collapse_duplicates"],
            max_results=valid["max_results"],
            include_metadata=valid["include_metadata"],
            sort=valid["sort"],
            filters=filters,
        ),
        valid["model"],
    )


SearchResponse = inline_serializer(
    "SearchResponse",
    {
        "query_id": serializers.UUIDField(),
        "results": inline_serializer(
            "SearchResultList",
            {
                "image_id": serializers.UUIDField(),
                "similarity_score": serializers.FloatField(
                    allow_null=True, help_text="Cosine similarity in the model's space, 0 to 1."
                ),
                "match": serializers.ChoiceField(
                    choices=["identical", "same_picture", "similar"],
                    help_text="identical: the same bytes; same_picture: a copy duplicate detection "
                    "verified (crop, re-encode, edit); similar: neither, ranked by similarity_score.",
                ),
                "verified_by": serializers.CharField(
                    allow_null=True,
                    help_text="The signal that verified the match (sha256, phash, orb, group).",
                ),
                "confidence": serializers.FloatField(
                    allow_null=True,
                    help_text="Calibrated probability that the result is the same picture as the query "
                    "(fitted on the public bench); null where no calibration applies.",
                ),
                "duplicate_count": serializers.IntegerField(help_text="With collapse_duplicates."),
                "duplicates": serializers.ListField(child=serializers.UUIDField()),
                "file_path": serializers.CharField(),
                "storage_location": serializers.CharField(),
                "metadata": serializers.JSONField(allow_null=True, help_text="With include_metadata."),
                "thumbnail_url": serializers.CharField(),
            },
            many=True,
        ),
        "total_results": serializers.IntegerField(
            help_text="Results that pass the options (not only those shown); a lower bound when "
            "total_exact is false."
        ),
        "total_exact": serializers.BooleanField(),
        "shown": serializers.IntegerField(),
        "has_more": serializers.BooleanField(help_text="More pass than max_results shows."),
        "verified_results": serializers.IntegerField(help_text="Identical and same-picture results."),
        "processing_time_ms": serializers.FloatField(),
        "model": serializers.CharField(),
        "cached": serializers.BooleanField(),
    },
)
SEARCH_ERRORS = {
    400: ErrorResponse,
    404: ErrorResponse,
    409: ErrorResponse,
    413: ErrorResponse,
    415: ErrorResponse,
    422: ErrorResponse,
    503: ErrorResponse,
}


def thumbnail_url(image_id: str) -> str:
    return f"/api/v1/images/{image_id}/thumbnail?spec=small"


def image_metadata(image) -> dict:
    return {
        "filename": image.original_filename,
        "format": image.format,
        "width": image.width,
        "height": image.height,
        "size_bytes": image.size_bytes,
        "tags": image.tags,
        "camera": image.camera,
        "taken_at": image.taken_at.isoformat() if image.taken_at else None,
        "uploaded_at": image.created_at.isoformat(),
        "exif": image.exif,
    }


def render(result: dict) -> dict:
    images = result["images"]
    out = []
    for row in result["rows"]:
        image = images[row["image_id"]]
        out.append(
            {
                "image_id": row["image_id"],
                "similarity_score": row["similarity_score"],
                "match": row["match"],
                "verified_by": row["verified_by"],
                "confidence": row["confidence"],
                "duplicate_count": len(row.get("duplicates", [])),
                "duplicates": row.get("duplicates", []),
                "file_path": image.storage_key,
                "storage_location": image.storage_location_name,
                "metadata": image_metadata(image) if result["include_metadata"] else None,
                "thumbnail_url": thumbnail_url(row["image_id"]),
            }
        )
    return {
        "query_id": result["query_id"],
        "results": out,
        "total_results": result["total_results"],
        "total_exact": result["total_exact"],
        "shown": len(out),
        "has_more": result["has_more"],
        "verified_results": result["verified_results"],
        "processing_time_ms": result["processing_time_ms"],
        "model": result["model"],
        "cached": result["cached"],
    }


def query_bytes(request, *, field: str = "image") -> bytes | None:
    """The query image's bytes: a multipart file, or base64 (optionally a data: URL) in a JSON or
    form field; None when neither is given. Size limited as a search query."""
    limit = settings.DEEPLENS_SEARCH_MAX_QUERY_BYTES
    too_large = FileTooLarge(f"A query image may be at most {limit:,} bytes.", extra={"max_bytes": limit})
    upload = request.FILES.get(field)
    if upload is not None:
        if upload.size > limit:
            raise too_large
        return upload.read() or None
    text = request.data.get(field)
    if text in (None, ""):
        return None
    if not isinstance(text, str):
        raise InvalidSearch(
            f"{field} must be a file (multipart) or a base64 string (JSON).", extra={"field": field}
        )
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    if len(text) > (limit * 4) // 3 + 8:
        raise too_large
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidSearch(
            f"{field} is not valid base64.", code="invalid_base64", extra={"field": field}
        ) from exc
    if len(data) > limit:
        raise too_large
    if not data:
        raise InvalidSearch(f"{field} is empty.", code="empty_file", extra={"field": field})
    return data


class SearchJsonInput(OptionsInput):
    image = serializers.CharField(required=False, help_text="A query image, base64 (the seeds' shape).")
    image_id = serializers.UUIDField(required=False)
    url = serializers.URLField(required=False, max_length=2000)
    vector = serializers.ListField(
        child=serializers.FloatField(), required=False, help_text="A query vector in `model`'s space."
    )
    filters = FiltersInput(required=False)
    storage_locations = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Ids or names (also inside filters)."
    )


class SearchMultipartInput(OptionsInput):
    image = serializers.ImageField(required=False, help_text="A query image (multipart).")
    image_id = serializers.UUIDField(required=False)
    url = serializers.URLField(required=False, max_length=2000)


class SimilaritySearchApi(APIView):
    """POST search/similarity: the query is one of `image` (a multipart file, or base64 in JSON),
    `image_id`, `url`, or `vector` with `model`. Verified matches (identical, then the same picture
    however edited, as duplicate detection decides) come first, then the similar by score."""

    required_permission = Perm.SEARCH
    rate_limit_class = EndpointClass.SEARCH
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={
            "application/json": SearchJsonInput,
            "multipart/form-data": SearchMultipartInput,
            "application/x-www-form-urlencoded": SearchMultipartInput,
        },
        responses={200: SearchResponse, **SEARCH_ERRORS},
    )
    def post(self, request):
        request_tenant(request)
        if not isinstance(request.data, dict):  # a JSON list, string or number (a QueryDict is a dict)
            raise InvalidSearch(
                "The body must be a JSON object (or a form) with one of image, image_id, url or vector.",
                extra={"body_type": type(request.data).__name__},
            )
        options, model = parse_options(request.data)
        image_id = request.data.get("image_id")
        url = request.data.get("url")
        vector = request.data.get("vector")
        present = request.FILES.get("image") is not None or request.data.get("image") not in (None, "")
        given = [
            name
            for name, value in (("image", present), ("image_id", image_id), ("url", url), ("vector", vector))
            if value
        ]
        if len(given) != 1:
            raise InvalidSearch(
                "Give exactly one of image (a file or base64), image_id, url or vector.",
                extra={"given": given},
            )
        if image_id:
            image_id = _valid("image_id", serializers.UUIDField(), image_id)
            result = search_by_image_id(image_id=image_id, options=options, model=model)
        elif vector:
            if not model:
                raise InvalidSearch(
                    "A vector needs the model whose space it is in.", extra={"field": "model"}
                )
            values = _valid(
                "vector", serializers.ListField(child=serializers.FloatField(), max_length=4096), vector
            )
            result = search_by_vector(vector=values, options=options, model=model)
        elif present:
            result = search_by_bytes(data=query_bytes(request) or b"", options=options, model=model)
        else:
            url = _valid("url", serializers.URLField(max_length=2000), url)
            fetched = fetch(url)
            with fetched.file:
                fetched.file.seek(0)
                data = fetched.file.read()
            result = search_by_bytes(data=data, options=options, model=model)
        return Response(render(result))


VectorOutput = inline_serializer(
    "ImageVector",
    {
        "image_id": serializers.UUIDField(),
        "model": serializers.CharField(),
        "version": serializers.CharField(),
        "dimensions": serializers.IntegerField(),
        "vector": serializers.ListField(child=serializers.FloatField()),
    },
)


class ImageVectorApi(APIView):
    """GET images/{id}/vector?model=: the image's stored vector (the best active model by default)."""

    required_permission = Perm.SEARCH

    @extend_schema(
        parameters=[OpenApiParameter("model", str, enum=list(KEYS))],
        responses={200: VectorOutput, 404: ErrorResponse, 409: ErrorResponse},
    )
    def get(self, request, image_id):
        request_tenant(request)
        model = _valid(
            "model",
            serializers.ChoiceField(choices=list(KEYS), allow_blank=True),
            request.query_params.get("model", ""),
        )
        return Response(image_vector(image_id=image_id, model=model))


class ExtractJsonInput(serializers.Serializer):
    image = serializers.CharField(help_text="The image, base64.")
    model = serializers.ChoiceField(choices=list(KEYS), required=False)


class ExtractMultipartInput(serializers.Serializer):
    image = serializers.ImageField()
    model = serializers.ChoiceField(choices=list(KEYS), required=False)


class ExtractApi(APIView):
    """POST search/extract: what the product computes from an image (SHA-256, perceptual hashes,
    the weight-free descriptor and, with `model`, its embedding), without storing anything."""

    required_permission = Perm.SEARCH
    rate_limit_class = EndpointClass.SEARCH
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @extend_schema(
        request={"application/json": ExtractJsonInput, "multipart/form-data": ExtractMultipartInput},
        responses={
            200: inline_serializer(
                "ExtractResponse",
                {
                    "sha256": serializers.CharField(),
                    "width": serializers.IntegerField(),
                    "height": serializers.IntegerField(),
                    "hashes": serializers.DictField(child=serializers.CharField()),
                    "descriptor": serializers.JSONField(),
                    "embedding": serializers.JSONField(allow_null=True),
                },
            ),
            **SEARCH_ERRORS,
        },
    )
    def post(self, request):
        request_tenant(request)
        if not isinstance(request.data, dict):
            raise InvalidSearch("The body must be a JSON object (or a form) with image.")
        model = _valid(
            "model",
            serializers.ChoiceField(choices=list(KEYS), allow_blank=True),
            request.data.get("model") or "",
        )
        data = query_bytes(request)
        if data is None:
            raise InvalidSearch("Give image (a file or base64).", extra={"field": "image"})
        return Response(picture_extract(data=data, model=model))


class TextSearchApi(APIView):
    """GET search/text?q=...: needs an active text-capable model (CLIP), else 409 model_unavailable."""

    required_permission = Perm.SEARCH
    rate_limit_class = EndpointClass.SEARCH

    @extend_schema(
        parameters=[
            OpenApiParameter("q", str, required=True, description="The text to search for."),
            OpenApiParameter("similarity_threshold", float),
            OpenApiParameter("max_results", int),
            OpenApiParameter("model", str),
        ],
        responses={200: SearchResponse, **SEARCH_ERRORS},
    )
    def get(self, request):
        request_tenant(request)
        text = (request.query_params.get("q") or "").strip()
        if not text or len(text) > 500:
            raise InvalidSearch("Give q, the text to search for (1 to 500 characters).")
        options, model = parse_options(request.query_params)
        return Response(render(search_by_text(text=text, options=options, model=model)))


class HashSearchApi(APIView):
    """GET search/hash?image_id=&max_distance=: nearest pHashes by Hamming distance."""

    required_permission = Perm.SEARCH
    rate_limit_class = EndpointClass.SEARCH

    class Filters(serializers.Serializer):
        image_id = serializers.UUIDField()
        max_distance = serializers.IntegerField(min_value=0, max_value=64, required=False, default=10)
        max_results = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=50)

    @extend_schema(
        responses={
            200: inline_serializer(
                "HashSearchResponse",
                {
                    "results": inline_serializer(
                        "HashSearchResult",
                        {
                            "image_id": serializers.UUIDField(),
                            "hamming_distance": serializers.IntegerField(),
                            "thumbnail_url": serializers.CharField(),
                        },
                        many=True,
                    ),
                    "total_results": serializers.IntegerField(),
                },
            ),
            409: ErrorResponse,
        }
    )
    def get(self, request):
        request_tenant(request)
        data = self.Filters(data=request.query_params)
        data.is_valid(raise_exception=True)
        valid = data.validated_data
        image = images_for_results([str(valid["image_id"])]).get(str(valid["image_id"]))
        if image is None:
            raise QueryImageNotFound("No such image in this workspace.")
        if image.phash is None:
            raise ImageNotIndexed("The image has no perceptual hash yet.", extra={"image_id": str(image.pk)})
        rows = hash_neighbours(
            phash=image.phash,
            limit=valid["max_results"],
            max_distance=valid["max_distance"],
            exclude_image_id=image.pk,
        )
        return Response(
            {
                "results": [
                    {
                        "image_id": image_id,
                        "hamming_distance": distance,
                        "thumbnail_url": thumbnail_url(image_id),
                    }
                    for image_id, distance in rows
                ],
                "total_results": len(rows),
            }
        )


def models_payload() -> list[dict]:
    rows = {row.key: row for row in search_model_list()}
    active = set(search_models_active())
    out = []
    for info in model_catalogue():
        row = rows.get(info.key)
        job: Job | None = row.job if row else None
        out.append(
            {
                "key": info.key,
                "label": info.label,
                "available": info.available,
                "unavailable_reason": info.reason,
                "text": info.text,
                "active": info.key in active,
                "version": (row.version if row and row.version else info.version),
                "dimensions": (row.dimensions if row and row.dimensions else info.dimensions) or None,
                "job": (
                    {"id": str(job.pk), "state": job.state, "progress": job.progress, "total": job.total}
                    if job
                    else None
                ),
            }
        )
    return out


ModelInfoOutput = inline_serializer(
    "SearchModelInfo",
    {
        "key": serializers.CharField(),
        "label": serializers.CharField(),
        "available": serializers.BooleanField(),
        "unavailable_reason": serializers.CharField(),
        "text": serializers.BooleanField(),
        "active": serializers.BooleanField(),
        "version": serializers.CharField(),
        "dimensions": serializers.IntegerField(allow_null=True),
        "job": serializers.JSONField(allow_null=True),
    },
    many=True,
)
ModelSwitched = inline_serializer(
    "SearchModelSwitched",
    {
        "model": serializers.CharField(),
        "active": serializers.BooleanField(),
        "job_id": serializers.UUIDField(required=False),
        "job_url": serializers.CharField(required=False),
    },
)


class SearchModelListApi(APIView):
    required_permission = Perm.SEARCH

    @extend_schema(responses={200: inline_serializer("SearchModelList", {"models": ModelInfoOutput})})
    def get(self, request):
        request_tenant(request)
        return Response({"models": models_payload()})


class SearchModelActivateApi(APIView):
    required_permission = Perm.SEARCH_MANAGE

    @extend_schema(request=None, responses={202: ModelSwitched, 409: ErrorResponse})
    def post(self, request, key):
        tenant = request_tenant(request)
        _model, job = search_model_activate(key=key, actor=Actor.from_request(request), tenant=tenant)
        return Response(
            {"model": key, "active": True, "job_id": str(job.pk), "job_url": f"/api/v1/jobs/{job.pk}"},
            status=status.HTTP_202_ACCEPTED,
        )


class SearchModelDeactivateApi(APIView):
    required_permission = Perm.SEARCH_MANAGE

    @extend_schema(request=None, responses={200: ModelSwitched, 409: ErrorResponse})
    def post(self, request, key):
        tenant = request_tenant(request)
        search_model_deactivate(key=key, actor=Actor.from_request(request), tenant=tenant)
        return Response({"model": key, "active": False})
