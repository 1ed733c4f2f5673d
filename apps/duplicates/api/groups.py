"""/api/v1/duplicates/...: groups, resolution, jobs, the storage report; /search/duplicates."""

import hashlib

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.accounts.principal import principal_permissions
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.errors import InvalidInput
from apps.core.filtering import FilterBackend
from apps.core.pagination import Pagination
from apps.core.schema import list_schema
from apps.duplicates.errors import GroupNotFound, ResolutionNotFound
from apps.duplicates.filters import GroupFilter
from apps.duplicates.models import GroupStatus, Kind
from apps.duplicates.selectors import group_get, group_list, resolution_get, resolution_of_job, with_members
from apps.duplicates.services import (
    duplicates_job_create,
    group_dismiss,
    group_resolve,
    lookup,
    report,
    resolve_all_preview,
)
from apps.duplicates.services.jobs import DUPLICATES_JOB_KINDS, DUPLICATES_RESCAN, DUPLICATES_RESOLVE_ALL
from apps.duplicates.services.resolutions import resolution_undo, resolution_undoable, resolutions_of_groups
from apps.images import imaging
from apps.images.models import Image
from apps.jobs.selectors import job_get


class MemberOutput(serializers.Serializer):
    image_id = serializers.UUIDField()
    filename = serializers.CharField()
    format = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    size_bytes = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    taken_at = serializers.DateTimeField(allow_null=True)
    storage_location = serializers.CharField()
    deleted = serializers.BooleanField()
    suggested_keeper = serializers.BooleanField()
    kept = serializers.BooleanField(allow_null=True)
    thumbnail_url = serializers.CharField()


class GroupOutput(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=Kind.values)
    status = serializers.ChoiceField(choices=GroupStatus.values)
    confidence = serializers.FloatField()
    member_count = serializers.IntegerField()
    total_bytes = serializers.IntegerField()
    reclaimable_bytes = serializers.IntegerField()
    reclaimed_bytes = serializers.IntegerField()
    suggested_keeper = serializers.UUIDField(allow_null=True)
    keeper_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution_id = serializers.UUIDField(
        allow_null=True, help_text="The resolution that resolved it: POST duplicates/resolutions/{id}/undo"
    )
    members = MemberOutput(many=True)


class JobOutput(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.CharField()
    state = serializers.CharField()
    params = serializers.JSONField()
    total = serializers.IntegerField()
    processed = serializers.IntegerField()
    failed = serializers.IntegerField()
    progress = serializers.FloatField()
    status_url = serializers.CharField()
    resolution_id = serializers.UUIDField(
        allow_null=True, help_text="A resolve-all job's resolution: POST duplicates/resolutions/{id}/undo"
    )


class ResolutionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    source = serializers.CharField()
    job_id = serializers.UUIDField(allow_null=True)
    group_ids = serializers.ListField(child=serializers.UUIDField())
    trashed_ids = serializers.ListField(child=serializers.UUIDField())
    trashed_bytes = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    undone_at = serializers.DateTimeField(allow_null=True)
    undoable = serializers.BooleanField()


class PreviewOutput(serializers.Serializer):
    dry_run = serializers.BooleanField()
    kind = serializers.CharField()
    groups = serializers.IntegerField()
    images_to_trash = serializers.IntegerField()
    reclaimable_bytes = serializers.IntegerField()
    sample = serializers.ListField(child=serializers.JSONField())


class ReportOutput(serializers.Serializer):
    groups = serializers.IntegerField()
    duplicate_images = serializers.IntegerField()
    reclaimable_bytes = serializers.IntegerField()
    by_kind = serializers.DictField(child=serializers.IntegerField())
    by_storage_location = serializers.DictField(child=serializers.IntegerField())
    reclaimed_bytes = serializers.IntegerField()


class MatchOutput(serializers.Serializer):
    image_id = serializers.UUIDField()
    filename = serializers.CharField()
    kind = serializers.CharField()
    signal = serializers.CharField()
    score = serializers.FloatField()


class SearchDuplicatesOutput(serializers.Serializer):
    results = MatchOutput(many=True)


def member_output(member, group) -> dict:
    image = member.image
    return {
        "image_id": str(image.pk),
        "filename": image.original_filename,
        "format": image.format,
        "width": image.width,
        "height": image.height,
        "size_bytes": image.size_bytes,
        "created_at": image.created_at,
        "taken_at": image.taken_at,
        "storage_location": image.storage_location.name,
        "deleted": image.deleted_at is not None,
        "suggested_keeper": image.pk == group.suggested_keeper_id,
        "kept": member.kept,
        "thumbnail_url": f"/api/v1/images/{image.pk}/thumbnail?spec=small",
    }


def group_output(group, *, members: bool = True, resolutions: dict | None = None) -> dict:
    if resolutions is None:
        resolutions = resolutions_of_groups([group.pk]) if group.status == GroupStatus.RESOLVED else {}
    resolution = resolutions.get(group.pk)
    out = {
        "id": str(group.pk),
        "kind": group.kind,
        "status": group.status,
        "confidence": group.confidence,
        "member_count": group.member_count,
        "total_bytes": group.total_bytes,
        "reclaimable_bytes": group.reclaimable_bytes,
        "reclaimed_bytes": group.reclaimed_bytes,
        "suggested_keeper": str(group.suggested_keeper_id) if group.suggested_keeper_id else None,
        "keeper_reason": group.keeper_reason,
        "created_at": group.created_at,
        "resolved_at": group.resolved_at,
        "resolution_id": str(resolution.pk) if resolution else None,
    }
    if members:
        out["members"] = [member_output(m, group) for m in group.members.all()]
    return out


def group_or_404(request, group_id):
    request_tenant(request)
    group = group_get(group_id=group_id)
    if group is None:
        raise GroupNotFound("No such duplicate group in this workspace.")
    return group


class GroupListApi(APIView):
    required_permission = Perm.IMAGES_VIEW
    filter_backends = [FilterBackend]
    filterset_class = GroupFilter

    @list_schema(GroupOutput, "DuplicateGroupPage")
    def get(self, request):
        request_tenant(request)
        groups = with_members(group_list(filters=request.query_params))
        paginator = Pagination()
        page = paginator.paginate_queryset(groups, request, view=self)
        resolutions = resolutions_of_groups([g.pk for g in page if g.status == GroupStatus.RESOLVED])
        return paginator.get_paginated_response([group_output(g, resolutions=resolutions) for g in page])


class GroupDetailApi(APIView):
    required_permission = Perm.IMAGES_VIEW

    @extend_schema(responses={200: GroupOutput})
    def get(self, request, group_id):
        return Response(group_output(group_or_404(request, group_id)))


class GroupResolveApi(APIView):
    required_permission = Perm.DUPLICATES_MANAGE

    class Input(serializers.Serializer):
        keep = serializers.ListField(child=serializers.UUIDField(), allow_empty=False, max_length=1000)
        merge_tags = serializers.BooleanField(default=False)

    @extend_schema(responses={200: GroupOutput})
    def post(self, request, group_id):
        group = group_or_404(request, group_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        group = group_resolve(
            group=group,
            keep=data.validated_data["keep"],
            merge_tags=data.validated_data["merge_tags"],
            actor=Actor.from_request(request),
            permissions=principal_permissions(request),
            tenant=request.tenant,
        )
        return Response(group_output(group_get(group_id=group.pk)))


class GroupDismissApi(APIView):
    required_permission = Perm.DUPLICATES_MANAGE

    @extend_schema(request=None, responses={200: GroupOutput})
    def post(self, request, group_id):
        group = group_or_404(request, group_id)
        group = group_dismiss(group=group, actor=Actor.from_request(request), tenant=request.tenant)
        return Response(group_output(group_get(group_id=group.pk)))


def job_output(job) -> dict:
    return {
        "id": str(job.pk),
        "kind": job.kind,
        "state": job.state,
        "params": {k: v for k, v in job.params.items() if k != "cursor"},
        "total": job.total,
        "processed": job.processed,
        "failed": job.failed,
        "progress": job.progress,
        "status_url": f"/api/v1/duplicates/jobs/{job.pk}",
        "resolution_id": str(resolution.pk) if (resolution := resolution_of_job(job_id=job.pk)) else None,
    }


def resolution_output(resolution) -> dict:
    return {
        "id": str(resolution.pk),
        "source": resolution.source,
        "job_id": str(resolution.job_id) if resolution.job_id else None,
        "group_ids": [str(i) for i in resolution.group_ids],
        "trashed_ids": [str(i) for i in resolution.trashed_ids],
        "trashed_bytes": resolution.trashed_bytes,
        "created_at": resolution.created_at,
        "undone_at": resolution.undone_at,
        "undoable": resolution_undoable(resolution),
    }


class ResolveAllApi(APIView):
    required_permission = Perm.DUPLICATES_MANAGE

    class Input(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Kind.values, required=False, allow_null=True)
        policy = serializers.ChoiceField(choices=["suggested_keeper"], default="suggested_keeper")
        dry_run = serializers.BooleanField(default=True)
        merge_tags = serializers.BooleanField(default=False)

    @extend_schema(responses={200: PreviewOutput, 202: JobOutput})
    def post(self, request):
        request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["dry_run"]:
            return Response(resolve_all_preview(kind=v.get("kind")))
        job = duplicates_job_create(
            kind=DUPLICATES_RESOLVE_ALL,
            actor=Actor.from_request(request),
            params={"kind": v.get("kind"), "policy": v["policy"], "merge_tags": v["merge_tags"]},
        )
        return Response(job_output(job), status=status.HTTP_202_ACCEPTED)


class RescanApi(APIView):
    required_permission = Perm.DUPLICATES_MANAGE

    @extend_schema(request=None, responses={202: JobOutput})
    def post(self, request):
        request_tenant(request)
        job = duplicates_job_create(kind=DUPLICATES_RESCAN, actor=Actor.from_request(request))
        return Response(job_output(job), status=status.HTTP_202_ACCEPTED)


class JobDetailApi(APIView):
    required_permission = Perm.DUPLICATES_MANAGE

    @extend_schema(responses={200: JobOutput})
    def get(self, request, job_id):
        request_tenant(request)
        job = job_get(job_id=job_id, kinds=DUPLICATES_JOB_KINDS)
        if job is None:
            raise GroupNotFound("No such duplicates job in this workspace.", code="job_not_found")
        return Response(job_output(job))


class ResolutionUndoApi(APIView):
    """POST /duplicates/resolutions/{id}/undo: undo one resolution (one group's, or every group a
    resolve-all job resolved): the images it moved to the trash that are still there come back and
    its groups open again. The id is a group's or a resolve-all job's `resolution_id`. 409
    resolution_not_undoable (nothing changed) once undone, while its job runs, or when nothing of it
    is left in the trash."""

    required_permission = Perm.DUPLICATES_MANAGE

    @extend_schema(request=None, responses={200: ResolutionOutput})
    def post(self, request, resolution_id):
        request_tenant(request)
        resolution = resolution_get(resolution_id=resolution_id)
        if resolution is None:
            raise ResolutionNotFound("No such resolution in this workspace.")
        resolution = resolution_undo(
            resolution=resolution,
            actor=Actor.from_request(request),
            permissions=principal_permissions(request),
            tenant=request.tenant,
        )
        return Response(resolution_output(resolution))


class ReportApi(APIView):
    required_permission = Perm.IMAGES_VIEW

    @extend_schema(responses={200: ReportOutput})
    def get(self, request):
        request_tenant(request)
        return Response(report())


class SearchDuplicatesApi(APIView):
    """Duplicates of an uploaded image, without storing it."""

    required_permission = Perm.SEARCH
    parser_classes = [MultiPartParser, FormParser]

    class Input(serializers.Serializer):
        file = serializers.FileField()

    @extend_schema(responses={200: SearchDuplicatesOutput})
    def post(self, request):
        request_tenant(request)
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput("Send the image as the multipart field 'file'.", code="file_missing")
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        try:
            found = lookup(data=upload, sha256=digest.hexdigest())
        except imaging.TooManyPixels as exc:
            raise InvalidInput(str(exc), code="too_many_pixels") from exc
        except (imaging.NotAnImage, imaging.CorruptImage) as exc:
            raise InvalidInput(
                "The file is not an image this installation can read.", code="not_an_image"
            ) from exc
        names = dict(
            Image.objects.filter(pk__in=[i for i, _d in found]).values_list("pk", "original_filename")
        )
        results = sorted(
            (
                {
                    "image_id": str(i),
                    "filename": names.get(i, ""),
                    "kind": d.kind,
                    "signal": d.signal,
                    "score": d.score,
                }
                for i, d in found
            ),
            key=lambda r: -r["score"],
        )
        return Response({"results": results})
