"""Reading images: list and search, one, many, status, metadata, download; the dead-letter queue;
and their lifecycle: retry, soft delete, restore, the trash."""

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.accounts.principal import principal_permissions
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.errors import ApplicationError
from apps.core.filtering import FilterBackend
from apps.core.pagination import Pagination
from apps.core.schema import list_schema
from apps.images.api.serializers import (
    ImageMetadataOutput,
    ImageOutput,
    ImageStatusOutput,
    image_status,
)
from apps.images.errors import ImageNotFound
from apps.images.filters import ImageFilter
from apps.images.selectors import image_get, image_list, images_by_ids
from apps.images.services import image_delete, image_restore, image_retry
from apps.images.services.editing import BULK_ACTIONS, image_update, images_bulk_edit
from apps.images.services.trash import (
    image_may_restore,
    trash_empty_start,
    trash_restore_all,
    trash_summary,
)
from apps.jobs.api import JobOutput
from apps.storage.backends import storage_for

MAX_BULK = 500


def image_or_404(request, image_id, *, include_deleted: bool = True):
    request_tenant(request)
    image = image_get(image_id=image_id, include_deleted=include_deleted)
    if image is None:
        raise ImageNotFound("No such image in this workspace.")
    return image


def image_viewable_or_404(request, image_id):
    """A live image, or a trashed one for whoever may restore it (its preview, detail and download);
    to anyone else a trashed image does not exist."""
    image = image_or_404(request, image_id)
    if image.deleted_at is not None and not image_may_restore(
        image=image, actor=Actor.from_request(request), permissions=principal_permissions(request)
    ):
        raise ImageNotFound("No such image in this workspace.")
    return image


def paginated(request, view, images):
    paginator = Pagination()
    page = paginator.paginate_queryset(images, request, view=view)
    return paginator.get_paginated_response(ImageOutput(page, many=True).data)


class ImageListApi(APIView):
    """GET /images with filters (also served as GET /images/search)."""

    required_permission = Perm.IMAGES_VIEW
    filter_backends = [FilterBackend]
    filterset_class = ImageFilter

    @list_schema(ImageOutput, "ImagePage")
    def get(self, request):
        request_tenant(request)
        return paginated(request, self, image_list(filters=request.query_params))


class ImageFailedListApi(APIView):
    """The dead-letter queue: images whose processing failed, with the stage and reason."""

    required_permission = Perm.IMAGES_VIEW

    @list_schema(ImageOutput, "FailedImagePage")
    def get(self, request):
        request_tenant(request)
        return paginated(request, self, image_list(status="failed"))


class ImageDeletedListApi(APIView):
    required_permission = Perm.IMAGES_VIEW

    @list_schema(ImageOutput, "DeletedImagePage")
    def get(self, request):
        request_tenant(request)
        return paginated(request, self, image_list(deleted=True))


class ImageBulkApi(APIView):
    required_permission = Perm.IMAGES_VIEW

    class Input(serializers.Serializer):
        ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=MAX_BULK)

    @extend_schema(
        responses={
            200: inline_serializer(
                "ImageBulk",
                {
                    "results": ImageOutput(many=True),
                    "missing": serializers.ListField(child=serializers.UUIDField()),
                },
            )
        }
    )
    def post(self, request):
        request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["ids"]
        found = images_by_ids(ids=ids)
        missing = sorted({str(i) for i in ids} - {str(image.pk) for image in found})
        return Response({"results": ImageOutput(found, many=True).data, "missing": missing})


# Deleting and restoring: one's own images (delete_own), or any (delete_any: an admin-scope API key
# has only this one); the service decides per image.
MAY_DELETE = (Perm.IMAGES_DELETE_OWN, Perm.IMAGES_DELETE_ANY)


# Editing tags, description and capture date: one's own uploads (images.upload), or any image
# (images.delete_any); the service decides per image.
MAY_EDIT = (Perm.IMAGES_UPLOAD, Perm.IMAGES_DELETE_ANY)


class ImageDetailApi(APIView):
    """GET one image; PATCH its tags, description or capture date (`taken_at`, null clears it);
    DELETE moves it to the trash."""

    required_permission = {"GET": Perm.IMAGES_VIEW, "PATCH": MAY_EDIT, "DELETE": MAY_DELETE}

    class Input(serializers.Serializer):
        tags = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False)
        description = serializers.CharField(allow_blank=True, required=False, max_length=2000)
        taken_at = serializers.DateTimeField(allow_null=True, required=False)

    @extend_schema(responses={200: ImageOutput})
    def get(self, request, image_id):
        return Response(ImageOutput(image_or_404(request, image_id)).data)

    @extend_schema(responses={200: ImageOutput})
    def patch(self, request, image_id):
        image = image_or_404(request, image_id, include_deleted=False)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        image = image_update(
            image=image,
            actor=Actor.from_request(request),
            permissions=principal_permissions(request),
            tenant=request.tenant,
            **data.validated_data,
        )
        return Response(ImageOutput(image_or_404(request, image.pk)).data)

    def delete(self, request, image_id):
        image = image_or_404(request, image_id)
        image_delete(
            image=image,
            actor=Actor.from_request(request),
            permissions=principal_permissions(request),
            tenant=request.tenant,
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class ImageStatusApi(APIView):
    required_permission = Perm.IMAGES_VIEW

    @extend_schema(responses={200: ImageStatusOutput})
    def get(self, request, image_id):
        return Response(image_status(image_or_404(request, image_id)))


class ImageMetadataApi(APIView):
    required_permission = Perm.IMAGES_VIEW

    @extend_schema(responses={200: ImageMetadataOutput})
    def get(self, request, image_id):
        return Response(ImageMetadataOutput(image_or_404(request, image_id)).data)


class ImageDownloadApi(APIView):
    """The original, streamed, with a Content-Disposition that is safe whatever the file was called.
    A trashed image downloads for whoever may restore it (404 to anyone else)."""

    required_permission = Perm.IMAGES_VIEW

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    def get(self, request, image_id):
        image = image_viewable_or_404(request, image_id)
        original = storage_for(image.storage_location).open(image.storage_key, "rb")
        response = FileResponse(
            original, as_attachment=True, filename=image.original_filename, content_type=image.content_type
        )
        response["X-Content-Type-Options"] = "nosniff"
        response["ETag"] = f'"{image.sha256}"'
        return response


class ImageRetryApi(APIView):
    required_permission = Perm.IMAGES_UPLOAD

    @extend_schema(request=None, responses={202: ImageStatusOutput})
    def post(self, request, image_id):
        image = image_retry(
            image=image_or_404(request, image_id, include_deleted=False), actor=Actor.from_request(request)
        )
        return Response(image_status(image), status=status.HTTP_202_ACCEPTED)


class ImageRestoreApi(APIView):
    required_permission = MAY_DELETE

    @extend_schema(request=None, responses={200: ImageOutput})
    def post(self, request, image_id):
        image = image_restore(
            image=image_or_404(request, image_id),
            actor=Actor.from_request(request),
            permissions=principal_permissions(request),
            tenant=request.tenant,
        )
        return Response(ImageOutput(image).data)


class ImageBulkEditApi(APIView):
    """POST images/bulk-edit {ids, action: tag|untag|delete, tags}: each image the caller may change
    is changed (audited one by one); the others are listed with the reason."""

    required_permission = (*MAY_EDIT, Perm.IMAGES_DELETE_OWN)

    class Input(serializers.Serializer):
        ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=MAX_BULK)
        action = serializers.ChoiceField(choices=BULK_ACTIONS)
        tags = serializers.ListField(child=serializers.CharField(), required=False, default=list)

    @extend_schema(
        responses={
            200: inline_serializer(
                "ImageBulkEdit",
                {
                    "changed": serializers.ListField(child=serializers.UUIDField()),
                    "errors": serializers.ListField(
                        child=serializers.JSONField(), help_text="[{id, code, message}]"
                    ),
                    "missing": serializers.ListField(child=serializers.UUIDField()),
                },
            )
        }
    )
    def post(self, request):
        request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        ids = data.validated_data["ids"]
        found = images_by_ids(ids=ids)
        changed, errors = images_bulk_edit(
            images=found,
            action=data.validated_data["action"],
            tags=data.validated_data["tags"],
            actor=Actor.from_request(request),
            permissions=principal_permissions(request),
            tenant=request.tenant,
        )
        missing = sorted({str(i) for i in ids} - {str(image.pk) for image in found})
        return Response({"changed": changed, "errors": errors, "missing": missing})


class ImageRestoreBatchApi(APIView):
    required_permission = MAY_DELETE

    class Input(serializers.Serializer):
        ids = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=MAX_BULK)

    @extend_schema(
        responses={
            200: inline_serializer(
                "ImageRestoreBatch",
                {
                    "restored": serializers.ListField(child=serializers.UUIDField()),
                    "errors": serializers.ListField(
                        child=serializers.JSONField(), help_text="[{id, code, message}]"
                    ),
                    "missing": serializers.ListField(child=serializers.UUIDField()),
                },
            )
        }
    )
    def post(self, request):
        request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        actor, permissions = Actor.from_request(request), principal_permissions(request)
        restored, errors = [], []
        for image in images_by_ids(ids=data.validated_data["ids"]):
            try:
                image_restore(image=image, actor=actor, permissions=permissions, tenant=request.tenant)
                restored.append(str(image.pk))
            except ApplicationError as exc:
                errors.append({"id": str(image.pk), "error": exc.as_dict()["error"]})
        found = set(restored) | {e["id"] for e in errors}
        missing = sorted({str(i) for i in data.validated_data["ids"]} - found)
        return Response({"restored": restored, "errors": errors, "missing": missing})


class TrashRestoreAllApi(APIView):
    """POST /images/trash/restore-all: restore every trashed image the caller may restore (a member:
    the ones they uploaded) as a background job: 202 with the job (progress at GET /jobs/{id},
    cancellable there); a trash of up to 100 such images is restored at once and answers 200 with
    the job done. `count` and `bytes` are what was in the trash then; images trashed after the call
    stay. Restoring selected images is POST /images/restore-batch."""

    required_permission = MAY_DELETE

    output = inline_serializer(
        "TrashRestoreAll",
        {
            "job": JobOutput(),
            "count": serializers.IntegerField(help_text="Images to restore when it was asked."),
            "bytes": serializers.IntegerField(),
            "status_url": serializers.CharField(),
        },
    )

    @extend_schema(request=None, responses={200: output, 202: output})
    def post(self, request):
        request_tenant(request)
        job = trash_restore_all(actor=Actor.from_request(request), permissions=principal_permissions(request))
        return Response(
            {
                "job": JobOutput(job).data,
                "count": job.params["count"],
                "bytes": job.params["bytes"],
                "status_url": f"/api/v1/jobs/{job.pk}",
            },
            status=status.HTTP_200_OK if job.state == job.State.DONE else status.HTTP_202_ACCEPTED,
        )


class TrashEmptyApi(APIView):
    """POST /images/trash/empty: delete everything in the trash for good. With `dry_run` (the
    default) it only says how many images and bytes that is; with `dry_run: false` a background job
    purges them (202, progress at GET /jobs/{id}). Images trashed after the call are not touched."""

    required_permission = Perm.IMAGES_DELETE_ANY

    class Input(serializers.Serializer):
        dry_run = serializers.BooleanField(default=True)

    @extend_schema(
        request=Input,
        responses={
            200: inline_serializer(
                "TrashEmptyPreview",
                {
                    "dry_run": serializers.BooleanField(),
                    "count": serializers.IntegerField(),
                    "bytes": serializers.IntegerField(),
                },
            ),
            202: inline_serializer(
                "TrashEmptyJob",
                {
                    "job": JobOutput(),
                    "count": serializers.IntegerField(),
                    "bytes": serializers.IntegerField(),
                    "status_url": serializers.CharField(),
                },
            ),
        },
    )
    def post(self, request):
        request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["dry_run"]:
            return Response({"dry_run": True, **trash_summary()})
        job = trash_empty_start(actor=Actor.from_request(request), tenant=request.tenant)
        return Response(
            {
                "job": JobOutput(job).data,
                "count": job.params["count"],
                "bytes": job.params["bytes"],
                "status_url": f"/api/v1/jobs/{job.pk}",
            },
            status=status.HTTP_202_ACCEPTED,
        )
