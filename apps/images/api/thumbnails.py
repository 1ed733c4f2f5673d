"""Thumbnails: serve (ETag, Cache-Control, Redis), list, regenerate, delete; the tenant's thumbnail
configuration and the job that applies it to existing images (its progress: apps/jobs/api.py)."""

import hashlib
import io

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, HttpResponseNotModified
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from PIL import Image as PILImage
from rest_framework import serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.errors import NotFound
from apps.core.redis import redis_key
from apps.images import imaging
from apps.images.api.images import image_or_404, image_viewable_or_404
from apps.images.imaging import THUMBNAIL_CONTENT_TYPES
from apps.images.models import ThumbnailFormat
from apps.images.selectors import images_by_ids, thumbnail_spec_list
from apps.images.services import spec_get, thumbnail_config_update, thumbnail_delete, thumbnail_ensure
from apps.images.services.jobs import THUMBNAILS_APPLY, THUMBNAILS_REGENERATE
from apps.images.services.thumbnails import active_specs, thumbnails_generate
from apps.jobs.api import JobOutput
from apps.jobs.models import Job
from apps.jobs.services import job_create
from apps.storage.backends import thumbnail_storage_of

THUMBNAIL_SPEC = OpenApiParameter(
    "spec", str, description="A thumbnail spec name (default medium); `size` also works."
)
# Formats served only to clients that name them in Accept: browsers send image/* whether or not they
# decode JPEG XL, so a JPEG XL thumbnail goes to the others as a JPEG made from it.
NAMED_ONLY = {"image/jxl"}


def accepts_named(accept: str, content_type: str) -> bool:
    """Whether the Accept header names this type with a non-zero quality."""
    for part in accept.split(","):
        media, *params = (p.strip() for p in part.split(";"))
        if media.lower() != content_type:
            continue
        quality = next((p[2:] for p in params if p.replace(" ", "").lower().startswith("q=")), "1")
        try:
            return float(quality) > 0
        except ValueError:
            return False
    return False


class ImageNegotiation(BaseContentNegotiation):
    """The thumbnail answers with image bytes whatever Accept says (the view picks the image type);
    DRF's negotiation would refuse an Accept that names image types only (406). Errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def as_jpeg(data: bytes, quality: int) -> bytes:
    """A JPEG of a stored thumbnail (the JPEG XL one, for clients that do not read JPEG XL)."""
    with PILImage.open(io.BytesIO(data)) as img:
        img.load()
        return imaging.encode(
            img.convert("RGBA") if "A" in img.getbands() else img.convert("RGB"), "jpeg", quality
        )


class ThumbnailApi(APIView):
    """GET /images/{id}/thumbnail?spec=small (or size=); made on demand when missing. A trashed
    image's thumbnail answers to whoever may restore it, 404 to anyone else. Served in its spec's
    format (Content-Type says which); a JPEG XL thumbnail only to a client whose Accept names
    image/jxl, to others as a JPEG (Vary: Accept)."""

    required_permission = Perm.IMAGES_VIEW
    content_negotiation_class = ImageNegotiation

    @extend_schema(
        parameters=[THUMBNAIL_SPEC],
        responses={
            (200, "image/webp"): OpenApiTypes.BINARY,
            (200, "image/jpeg"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            (200, "image/avif"): OpenApiTypes.BINARY,
            (200, "image/jxl"): OpenApiTypes.BINARY,
            304: None,
        },
    )
    def get(self, request, image_id):
        tenant = request_tenant(request)
        # A trashed image's preview is served to whoever may restore it (the trash page).
        image = image_viewable_or_404(request, image_id)
        spec = spec_get(request.query_params.get("spec") or request.query_params.get("size") or "medium")
        fallback = THUMBNAIL_CONTENT_TYPES.get(spec.format) in NAMED_ONLY and not accepts_named(
            request.headers.get("Accept", ""), THUMBNAIL_CONTENT_TYPES[spec.format]
        )
        representation = f"{image.sha256}:{spec.name}:{spec.version}" + (":jpeg" if fallback else "")
        etag = '"' + hashlib.sha256(representation.encode()).hexdigest()[:32] + '"'
        headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
        if THUMBNAIL_CONTENT_TYPES.get(spec.format) in NAMED_ONLY:
            headers["Vary"] = "Accept"
        if etag in request.headers.get("If-None-Match", ""):
            response: HttpResponse = HttpResponseNotModified()
            for name, value in headers.items():
                response[name] = value
            return response
        key = redis_key(tenant.slug, "thumbnail", image.pk, spec.name, spec.version)
        if fallback:
            key += ":as-jpeg"
        cached_value = cache.get(key)
        if cached_value is None:
            thumbnail = thumbnail_ensure(image=image, spec=spec, tenant_slug=tenant.slug)
            storage = thumbnail_storage_of(
                image.storage_location, key=thumbnail.storage_key, original_key=image.storage_key
            )
            with storage.open(thumbnail.storage_key, "rb") as stored:
                data = stored.read()
            # The format of what is stored: an original that fits the box is served as it is.
            content_type = THUMBNAIL_CONTENT_TYPES[thumbnail.format]
            if fallback and content_type in NAMED_ONLY:
                data, content_type = as_jpeg(data, spec.quality), "image/jpeg"
            if len(data) <= settings.DEEPLENS_THUMBNAIL_CACHE_MAX_BYTES:
                cache.set(key, (content_type, data), settings.DEEPLENS_THUMBNAIL_CACHE_SECONDS)
        else:
            content_type, data = cached_value
        response = HttpResponse(data, content_type=content_type)
        for name, value in headers.items():
            response[name] = value
        response["X-Content-Type-Options"] = "nosniff"
        return response


class ThumbnailListApi(APIView):
    required_permission = Perm.IMAGES_VIEW

    @extend_schema(
        responses={
            200: inline_serializer(
                "ThumbnailList",
                {
                    "results": inline_serializer(
                        "ThumbnailInfo",
                        {
                            "spec": serializers.CharField(),
                            "width": serializers.IntegerField(),
                            "height": serializers.IntegerField(),
                            "format": serializers.CharField(),
                            "size_bytes": serializers.IntegerField(),
                            "current": serializers.BooleanField(),
                            "created_at": serializers.DateTimeField(),
                            "url": serializers.CharField(),
                        },
                        many=True,
                    )
                },
            )
        }
    )
    def get(self, request, image_id):
        image = image_or_404(request, image_id)
        current = {spec.name: spec.version for spec in active_specs()}
        return Response(
            {
                "results": [
                    {
                        "spec": t.spec,
                        "width": t.width,
                        "height": t.height,
                        "format": t.format,
                        "size_bytes": t.size_bytes,
                        "current": current.get(t.spec) == t.spec_version,
                        "created_at": t.created_at,
                        "url": f"/api/v1/images/{image.pk}/thumbnail?spec={t.spec}",
                    }
                    for t in image.thumbnails.all()
                ]
            }
        )


class ThumbnailGenerateApi(APIView):
    """Re-render this image's thumbnails now (all active specs, or `specs`)."""

    required_permission = Perm.THUMBNAILS_MANAGE

    class Input(serializers.Serializer):
        specs = serializers.ListField(child=serializers.CharField(max_length=50), required=False)

    @extend_schema(
        responses={
            200: inline_serializer(
                "ThumbnailsGenerated", {"generated": serializers.ListField(child=serializers.CharField())}
            )
        }
    )
    def post(self, request, image_id):
        tenant = request_tenant(request)
        # A trashed image's preview is served to whoever may restore it (the trash page).
        image = image_viewable_or_404(request, image_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        specs = [spec_get(name) for name in data.validated_data.get("specs") or []] or active_specs()
        written = thumbnails_generate(image=image, specs=specs, tenant_slug=tenant.slug)
        return Response({"generated": [t.spec for t in written]})


class ThumbnailDeleteApi(APIView):
    required_permission = Perm.THUMBNAILS_MANAGE

    def delete(self, request, image_id, spec):
        image = image_or_404(request, image_id)
        if not thumbnail_delete(image=image, spec_name=spec):
            raise NotFound(f"This image has no {spec!r} thumbnail.", code="thumbnail_not_found")
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobAcceptedOutput(JobOutput):
    status_url = serializers.CharField(read_only=True, help_text="GET it for the job's progress.")

    class Meta(JobOutput.Meta):
        fields = [*JobOutput.Meta.fields, "status_url"]
        read_only_fields = fields


def job_accepted(job: Job) -> Response:
    return Response(
        {**JobOutput(job).data, "status_url": f"/api/v1/jobs/{job.pk}"}, status=status.HTTP_202_ACCEPTED
    )


class ThumbnailBatchRegenerateApi(APIView):
    """A background job re-rendering the thumbnails of the given images (all without `ids`); ids of
    which none is an image of this tenant answer 404 and start nothing."""

    required_permission = Perm.THUMBNAILS_MANAGE

    class Input(serializers.Serializer):
        ids = serializers.ListField(child=serializers.UUIDField(), required=False, max_length=10_000)

    @extend_schema(responses={202: JobAcceptedOutput})
    def post(self, request):
        request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        params = {}
        if "ids" in data.validated_data:
            params["image_ids"] = [str(image.pk) for image in images_by_ids(ids=data.validated_data["ids"])]
            if not params["image_ids"]:
                raise NotFound("None of these ids is an image of this workspace.", code="images_not_found")
        job = job_create(kind=THUMBNAILS_REGENERATE, actor=Actor.from_request(request), params=params)
        return job_accepted(job)


class SpecIO(serializers.Serializer):
    name = serializers.SlugField(max_length=50)
    max_width = serializers.IntegerField(min_value=16, max_value=4096)
    max_height = serializers.IntegerField(min_value=16, max_value=4096)
    format = serializers.ChoiceField(choices=ThumbnailFormat.values)
    quality = serializers.IntegerField(min_value=1, max_value=100)


def _own_tenant(request, tenant_id):
    tenant = request_tenant(request)
    if str(tenant.pk) != str(tenant_id):
        raise NotFound("No such tenant here.", code="tenant_not_found")
    return tenant


class ThumbnailConfigApi(APIView):
    """GET/PUT /tenants/{tenantId}/thumbnail-config {specs: [...]}."""

    required_permission = {"GET": Perm.IMAGES_VIEW, "PUT": Perm.THUMBNAILS_MANAGE}

    class Input(serializers.Serializer):
        specs = SpecIO(many=True, allow_empty=False)

    @extend_schema(responses={200: inline_serializer("ThumbnailConfig", {"specs": SpecIO(many=True)})})
    def get(self, request, tenant_id):
        _own_tenant(request, tenant_id)
        return Response({"specs": SpecIO(thumbnail_spec_list(), many=True).data})

    @extend_schema(responses={200: inline_serializer("ThumbnailConfigSaved", {"specs": SpecIO(many=True)})})
    def put(self, request, tenant_id):
        tenant = _own_tenant(request, tenant_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        specs = thumbnail_config_update(
            specs=data.validated_data["specs"], actor=Actor.from_request(request), tenant=tenant
        )
        return Response({"specs": SpecIO(specs, many=True).data})


class ThumbnailConfigApplyApi(APIView):
    """Re-render what the current configuration changed, for every image, as a background job."""

    required_permission = Perm.THUMBNAILS_MANAGE

    @extend_schema(request=None, responses={202: JobAcceptedOutput})
    def post(self, request, tenant_id):
        _own_tenant(request, tenant_id)
        return job_accepted(job_create(kind=THUMBNAILS_APPLY, actor=Actor.from_request(request)))
