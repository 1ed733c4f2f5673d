"""POST /api/v1/images/upload, /batch and /url: 202 with where to watch the processing."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.errors import ApplicationError, InvalidInput
from apps.core.outages import DEPENDENCY_ERRORS, dependency_unavailable
from apps.core.schema import ErrorResponse
from apps.images.api.idempotency import IDEMPOTENCY_PARAMETER, idempotent
from apps.images.fetch import fetch
from apps.images.services import image_ingest
from apps.usage.ratelimit import EndpointClass

NOT_QUEUED_NOTE = (
    "Stored and counted, but the task queue could not be reached: processing starts when waiting "
    "images are re-enqueued (the pipeline sweep, every minute)."
)


def accepted(image) -> dict:
    body = {
        "id": str(image.pk),
        "status": image.status,
        "filename": image.original_filename,
        "status_url": f"/api/v1/images/{image.pk}/status",
        "queued": getattr(image, "queued", None) is not False,
        "duplicate_of": getattr(image, "duplicate_of", None),
    }
    if not body["queued"]:
        body["note"] = NOT_QUEUED_NOTE
    return body


def _tags(raw) -> list[str]:
    """Tags as repeated form fields, one comma-separated field, or a JSON list."""
    values = raw if isinstance(raw, list) else [raw]
    return [tag for value in values if value for tag in str(value).split(",")]


class UploadInput(serializers.Serializer):
    storage_config_id = serializers.UUIDField(required=False, allow_null=True)


class UploadForm(UploadInput):
    """The multipart form of POST /images/upload, for the OpenAPI document."""

    file = serializers.FileField(help_text="The image; its type is told from its bytes, not its name.")
    tags = serializers.CharField(required=False, help_text="Comma-separated, or the field repeated.")


class BatchUploadForm(UploadInput):
    files = serializers.ListField(
        child=serializers.FileField(), help_text="The field repeated, one per image."
    )
    tags = serializers.CharField(required=False, help_text="Comma-separated, or the field repeated.")


class Accepted(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.CharField()
    filename = serializers.CharField()
    status_url = serializers.CharField()
    queued = serializers.BooleanField(
        help_text="False when the task queue was unreachable: the image is stored and counted, and "
        "processing starts when waiting images are re-enqueued (the pipeline sweep, every minute)."
    )
    note = serializers.CharField(required=False, help_text="Present when queued is false.")
    duplicate_of = serializers.UUIDField(
        allow_null=True,
        help_text="The image this upload's bytes already are (same SHA-256), or null. Kept and grouped "
        "by default; a workspace that refuses identical uploads answers 409 identical_upload_refused.",
    )


UPLOAD_ERRORS = {
    409: ErrorResponse,
    413: ErrorResponse,
    415: ErrorResponse,
    422: ErrorResponse,
    503: ErrorResponse,
}


class BatchResult(serializers.Serializer):
    accepted = serializers.IntegerField()
    rejected = serializers.IntegerField()
    results = serializers.ListField(
        child=serializers.JSONField(),
        help_text="Per file: {id, status, filename, status_url, queued, status_code} or "
        "{filename, error, status}.",
    )


class ImageUploadApi(APIView):
    required_permission = Perm.IMAGES_UPLOAD
    rate_limit_class = EndpointClass.UPLOAD
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": UploadForm},
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: Accepted, **UPLOAD_ERRORS},
    )
    @idempotent
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(
                "Send the image as the multipart field 'file'.",
                code="file_required",
                extra={"file": ["This field is required."]},
            )
        options = UploadInput(data=request.data)
        options.is_valid(raise_exception=True)
        image = image_ingest(
            tenant=request_tenant(request),
            file=upload,
            filename=upload.name,
            actor=Actor.from_request(request),
            location_id=options.validated_data.get("storage_config_id"),
            tags=_tags(request.data.getlist("tags")),
        )
        return Response(accepted(image), status=status.HTTP_202_ACCEPTED)


class ImageBatchUploadApi(APIView):
    """Many files in one request (multipart field 'files', repeated); a result or an error per file."""

    required_permission = Perm.IMAGES_UPLOAD
    rate_limit_class = EndpointClass.UPLOAD
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        request={"multipart/form-data": BatchUploadForm},
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: BatchResult, 409: ErrorResponse, 422: ErrorResponse, 503: ErrorResponse},
    )
    @idempotent
    def post(self, request):
        uploads = request.FILES.getlist("files") or request.FILES.getlist("file")
        if not uploads:
            raise InvalidInput(
                "Send the images as repeated multipart fields 'files'.",
                code="files_required",
                extra={"files": ["This field is required."]},
            )
        options = UploadInput(data=request.data)
        options.is_valid(raise_exception=True)
        tenant, actor, tags = (
            request_tenant(request),
            Actor.from_request(request),
            _tags(request.data.getlist("tags")),
        )
        results, outages = [], []
        for upload in uploads:
            try:
                image = image_ingest(
                    tenant=tenant,
                    file=upload,
                    filename=upload.name,
                    actor=actor,
                    tags=tags,
                    location_id=options.validated_data.get("storage_config_id"),
                )
            except ApplicationError as exc:
                results.append(
                    {"filename": upload.name, "error": exc.as_dict()["error"], "status": exc.http_status}
                )
            except DEPENDENCY_ERRORS as exc:
                # Files before this one are stored: their 202s must reach the client, so the outage
                # is this file's result (nothing of it is stored), not the whole answer's.
                outage = dependency_unavailable(exc)
                if outage is None:
                    raise
                outages.append(outage)
                results.append(
                    {
                        "filename": upload.name,
                        "error": outage.as_dict()["error"],
                        "status": outage.http_status,
                    }
                )
            else:
                results.append({**accepted(image), "status_code": 202})
        accepted_count = sum(1 for result in results if "id" in result)
        if outages and not accepted_count:
            raise outages[0]
        return Response(
            {"accepted": accepted_count, "rejected": len(results) - accepted_count, "results": results},
            status=status.HTTP_202_ACCEPTED if accepted_count else status.HTTP_400_BAD_REQUEST,
        )


class ImageUrlUploadApi(APIView):
    required_permission = Perm.IMAGES_UPLOAD
    rate_limit_class = EndpointClass.UPLOAD
    parser_classes = [JSONParser, FormParser]

    class Input(serializers.Serializer):
        url = serializers.URLField(max_length=2000)
        tags = serializers.ListField(child=serializers.CharField(max_length=64), required=False, default=list)
        storage_config_id = serializers.UUIDField(required=False, allow_null=True)

    @extend_schema(parameters=[IDEMPOTENCY_PARAMETER], responses={202: Accepted, **UPLOAD_ERRORS})
    @idempotent
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = request_tenant(request)
        fetched = fetch(data.validated_data["url"])
        with fetched.file:
            image = image_ingest(
                tenant=tenant,
                file=fetched.file,
                filename=fetched.filename,
                actor=Actor.from_request(request),
                location_id=data.validated_data.get("storage_config_id"),
                tags=data.validated_data["tags"],
                source_url=fetched.final_url,
            )
        return Response(accepted(image), status=status.HTTP_202_ACCEPTED)
