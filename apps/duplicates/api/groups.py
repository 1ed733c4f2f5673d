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
from apps.core.schema import ErrorResponse, list_schema
from apps.duplicates.errors import GroupNotFound, ResolutionNotFound
from apps.duplicates.filters import GroupFilter
from apps.duplicates.identical import identical_sets
from apps.duplicates.keeper import CRITERIA, CRITERIA_LABELS
from apps.duplicates.models import GroupStatus, Kind, RawJpegPairs
from apps.duplicates.selectors import group_get, group_list, resolution_get, resolution_of_job, with_members
from apps.duplicates.services import (
    duplicate_settings_get,
    duplicate_settings_update,
    duplicates_job_create,
    group_dismiss,
    group_resolve,
    lookup,
    report,
    resolve_all_preview,
)
from apps.duplicates.services.identical import identical_remove_preview
from apps.duplicates.services.jobs import (
    DUPLICATES_JOB_KINDS,
    DUPLICATES_REMOVE_IDENTICAL,
    DUPLICATES_RESCAN,
    DUPLICATES_RESOLVE_ALL,
)
from apps.duplicates.services.reclaimed import copies_figures
from apps.duplicates.services.resolutions import resolution_undo, resolution_undoable, resolutions_of_groups
from apps.duplicates.services.review import resolve_all_check
from apps.images import imaging
from apps.images.models import IdenticalUploads, Image, ImageFormat
from apps.images.services.identical_uploads import identical_uploads_get, identical_uploads_set
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
    sha256 = serializers.CharField()
    exact_set = serializers.IntegerField(
        allow_null=True,
        help_text="Members with the same number hold byte-identical files (same SHA-256); null when "
        "no other member is identical to this one.",
    )
    identical_to = serializers.ListField(
        child=serializers.UUIDField(), help_text="The other members byte-identical to this one."
    )


class GroupOutput(serializers.Serializer):
    id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=Kind.values)
    status = serializers.ChoiceField(choices=GroupStatus.values)
    confidence = serializers.FloatField()
    member_count = serializers.IntegerField()
    total_bytes = serializers.IntegerField()
    reclaimable_bytes = serializers.IntegerField()
    exact_copies = serializers.IntegerField(
        help_text="Live members that are byte-identical copies of another (all but one per SHA-256)."
    )
    exact_bytes = serializers.IntegerField(
        help_text="The part of reclaimable_bytes that removing only identical copies wins."
    )
    reclaimed_bytes = serializers.IntegerField(
        help_text="Bytes of members this group's resolution trashed that were since purged or "
        "permanently deleted (bytes still in the trash are in_trash_bytes)."
    )
    in_trash_bytes = serializers.IntegerField(help_text="Trashed by resolving, still restorable.")
    freed_on = serializers.DateField(
        allow_null=True, help_text="When the last of in_trash_bytes is purged (trash date + retention)."
    )
    suggested_keeper = serializers.UUIDField(allow_null=True)
    keeper_reason = serializers.CharField()
    # a field named like Field.label: DRF takes declared fields out of the class, mypy cannot see that
    label = serializers.CharField(  # type: ignore[assignment]
        help_text='What the group is, when known: "RAW + JPEG of one shot".'
    )
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)
    resolution_id = serializers.UUIDField(
        allow_null=True, help_text="The resolution that resolved it: POST duplicates/resolutions/{id}/undo"
    )
    members = MemberOutput(many=True)


class DuplicatesJobOutput(serializers.Serializer):
    """A duplicates job as job_output answers it (its own component: apps/jobs has a JobOutput)."""

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
        allow_null=True,
        help_text="A resolve-all or remove-identical job's resolution: POST duplicates/resolutions/{id}/undo",
    )


class ResolutionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    # a field named like Field.source: DRF takes declared fields out of the class, mypy cannot see that
    source = serializers.CharField()  # type: ignore[assignment]
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


class InTrashOutput(serializers.Serializer):
    freed_on = serializers.DateField()
    bytes = serializers.IntegerField()


class ReportOutput(serializers.Serializer):
    groups = serializers.IntegerField(help_text="Open exact and near groups (similar ones: similar_groups).")
    duplicate_images = serializers.IntegerField()
    reclaimable_bytes = serializers.IntegerField(help_text="Of exact and near groups only.")
    by_kind = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="Reclaimable bytes split at the member level: `exact` counts every byte-identical "
        "copy (also in groups with near copies), `near` the rest; `similar` what resolving the "
        "similar groups would free, apart (not in reclaimable_bytes: similar images are no copies).",
    )
    similar_groups = serializers.IntegerField(help_text="Open similar groups.")
    similar_images = serializers.IntegerField(help_text="Images in open similar groups.")
    by_storage_location = serializers.DictField(child=serializers.IntegerField())
    reclaimed_bytes = serializers.IntegerField(
        help_text="Bytes resolving trashed that were since purged or permanently deleted."
    )
    reclaimed_identical_bytes = serializers.IntegerField()
    in_trash_bytes = serializers.IntegerField(help_text="Bytes resolving trashed, still in the trash.")
    in_trash = InTrashOutput(many=True, help_text="in_trash_bytes by the day they are freed.")


class MatchOutput(serializers.Serializer):
    image_id = serializers.UUIDField()
    filename = serializers.CharField()
    kind = serializers.CharField(help_text="exact (the same bytes) or near.")
    signal = serializers.CharField(
        help_text="What decided it: sha256, phash, orb, or group (in an open group with a copy the "
        "upload was verified against; not verified again, score 0)."
    )
    score = serializers.FloatField(help_text="The deciding signal's score (0 for group).")


class SearchDuplicatesOutput(serializers.Serializer):
    results = MatchOutput(many=True)


def member_output(member, group, *, identical: dict) -> dict:
    image = member.image
    exact_set, same = identical.get(image.sha256, (None, []))
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
        "sha256": image.sha256,
        "exact_set": exact_set,
        "identical_to": [str(other.pk) for other in same if other.pk != image.pk],
    }


def identical_of(group) -> dict:
    """sha256 -> (set number from 1, its images) for the members that share their SHA-256."""
    images = [m.image for m in group.members.all()]
    return {same[0].sha256: (n, same) for n, same in enumerate(identical_sets(images), start=1)}


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
        "exact_copies": group.exact_copies,
        "exact_bytes": group.exact_bytes,
        **copies_figures(group.trashed_copies.all()),
        "suggested_keeper": str(group.suggested_keeper_id) if group.suggested_keeper_id else None,
        "keeper_reason": group.keeper_reason,
        "label": group.label,
        "created_at": group.created_at,
        "resolved_at": group.resolved_at,
        "resolution_id": str(resolution.pk) if resolution else None,
    }
    if members:
        identical = identical_of(group)
        out["members"] = [member_output(m, group, identical=identical) for m in group.members.all()]
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
    """Resolve every open exact or near group (of `kind`) by the keeper policy. Similar groups are
    never resolved in bulk: `kind: "similar"` is 400 similar_not_bulk_resolvable."""

    required_permission = Perm.DUPLICATES_MANAGE

    class Input(serializers.Serializer):
        kind = serializers.ChoiceField(choices=Kind.values, required=False, allow_null=True)
        policy = serializers.ChoiceField(choices=["suggested_keeper"], default="suggested_keeper")
        dry_run = serializers.BooleanField(default=True)
        merge_tags = serializers.BooleanField(default=False)

    @extend_schema(responses={200: PreviewOutput, 202: DuplicatesJobOutput})
    def post(self, request):
        request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        if v["dry_run"]:
            return Response(resolve_all_preview(kind=v.get("kind")))
        resolve_all_check(kind=v.get("kind"))
        job = duplicates_job_create(
            kind=DUPLICATES_RESOLVE_ALL,
            actor=Actor.from_request(request),
            params={"kind": v.get("kind"), "policy": v["policy"], "merge_tags": v["merge_tags"]},
        )
        return Response(job_output(job), status=status.HTTP_202_ACCEPTED)


class IdenticalPreviewOutput(serializers.Serializer):
    dry_run = serializers.BooleanField()
    groups = serializers.IntegerField()
    images_to_trash = serializers.IntegerField()
    reclaimable_bytes = serializers.IntegerField()
    sample = serializers.ListField(child=serializers.JSONField())


class RemoveIdenticalApi(APIView):
    """Trash only byte-identical copies (same SHA-256) in every open group: of each identical set one
    stays (the suggested keeper when it is one of them); near copies stay for review. A dry run (the
    default) says what would go; `dry_run: false` starts a job (watch it at GET jobs/{id})."""

    required_permission = Perm.DUPLICATES_MANAGE

    class Input(serializers.Serializer):
        dry_run = serializers.BooleanField(default=True)

    @extend_schema(request=Input, responses={200: IdenticalPreviewOutput, 202: DuplicatesJobOutput})
    def post(self, request):
        request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        if data.validated_data["dry_run"]:
            return Response(identical_remove_preview())
        job = duplicates_job_create(kind=DUPLICATES_REMOVE_IDENTICAL, actor=Actor.from_request(request))
        return Response(job_output(job), status=status.HTTP_202_ACCEPTED)


class UploadPolicyApi(APIView):
    """GET/PATCH /duplicates/upload-policy: what an upload whose bytes are already in the workspace
    (same SHA-256) does: `keep` (the default: stored, answered with duplicate_of, grouped as an exact
    duplicate) or `refuse` (409 identical_upload_refused, nothing stored). Tenant admins."""

    required_permission = Perm.DUPLICATES_MANAGE

    class Input(serializers.Serializer):
        identical_uploads = serializers.ChoiceField(choices=IdenticalUploads.choices)

    class Output(serializers.Serializer):
        identical_uploads = serializers.ChoiceField(choices=IdenticalUploads.choices)

    @extend_schema(responses={200: Output})
    def get(self, request):
        request_tenant(request)
        return Response({"identical_uploads": identical_uploads_get()})

    @extend_schema(request=Input, responses={200: Output})
    def patch(self, request):
        tenant = request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        policy = identical_uploads_set(
            value=data.validated_data["identical_uploads"], actor=Actor.from_request(request), tenant=tenant
        )
        return Response({"identical_uploads": policy.identical_uploads})


class RescanApi(APIView):
    """Start a full re-scan; 409 job_already_running (with its job_id) while one is queued or running."""

    required_permission = Perm.DUPLICATES_MANAGE

    @extend_schema(request=None, responses={202: DuplicatesJobOutput, 409: ErrorResponse})
    def post(self, request):
        request_tenant(request)
        job = duplicates_job_create(kind=DUPLICATES_RESCAN, actor=Actor.from_request(request))
        return Response(job_output(job), status=status.HTTP_202_ACCEPTED)


class JobDetailApi(APIView):
    required_permission = Perm.DUPLICATES_MANAGE

    @extend_schema(responses={200: DuplicatesJobOutput})
    def get(self, request, job_id):
        request_tenant(request)
        job = job_get(job_id=job_id, kinds=DUPLICATES_JOB_KINDS)
        if job is None:
            raise GroupNotFound("No such duplicates job in this workspace.", code="job_not_found")
        return Response(job_output(job))


class ResolutionUndoApi(APIView):
    """POST /duplicates/resolutions/{id}/undo: undo one resolution (one group's, or every group a
    resolve-all or remove-identical job resolved or took identical copies from): the images it moved
    to the trash that are still there come back and the groups it resolved open again (not those
    resolved again since). The id is a group's or a job's `resolution_id`. 409
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
        results = [
            {
                "image_id": str(i),
                "filename": names.get(i, ""),
                "kind": d.kind,
                "signal": d.signal,
                "score": d.score,
            }
            for i, d in sorted(found, key=lambda found_one: -found_one[1].score)
        ]
        return Response({"results": results})


class SettingsOutput(serializers.Serializer):
    keeper_criteria = serializers.ListField(
        child=serializers.ChoiceField(choices=CRITERIA),
        help_text="The order in which the suggested keeper's criteria apply (first decides).",
    )
    keeper_criteria_labels = serializers.DictField(child=serializers.CharField())
    format_priority = serializers.ListField(child=serializers.ChoiceField(choices=ImageFormat.values))
    similar_enabled = serializers.BooleanField()
    similar_threshold = serializers.FloatField(
        help_text="Cosine similarity (0.8 to 0.99) at which images form a similar group."
    )
    raw_jpeg_pairs = serializers.ChoiceField(
        choices=RawJpegPairs.choices,
        help_text="RAW + JPEG of one shot: `group` (the keeper policy keeps the RAW) or `keep_both` "
        "(never grouped; switching to it takes the open RAW + JPEG groups apart).",
    )
    updated_at = serializers.DateTimeField()


class SettingsChangeOutput(SettingsOutput):
    rerank = DuplicatesJobOutput(
        allow_null=True,
        help_text="The open groups re-ranked by the new policy: done already for up to 200 groups, "
        "else a job to follow at status_url. Null when nothing changed.",
    )
    similar_regroup = DuplicatesJobOutput(
        allow_null=True,
        help_text="Similar switched on or its threshold changed: the job that groups the images again.",
    )


def settings_output(policy) -> dict:
    return {
        "keeper_criteria": list(policy.keeper_criteria),
        "keeper_criteria_labels": CRITERIA_LABELS,
        "format_priority": list(policy.format_priority),
        "similar_enabled": policy.similar_enabled,
        "similar_threshold": policy.similar_threshold,
        "raw_jpeg_pairs": policy.raw_jpeg_pairs,
        "updated_at": policy.updated_at,
    }


class DuplicateSettingsApi(APIView):
    """The tenant's keeper policy: the criteria order, the format preference and RAW + JPEG pairs
    (tenant admins). A change re-ranks the open groups' suggested keepers at once (`rerank`);
    resolved groups keep the keeper they were resolved with."""

    required_permission = Perm.DUPLICATES_MANAGE

    class Input(serializers.Serializer):
        keeper_criteria = serializers.ListField(child=serializers.CharField(), required=False)
        format_priority = serializers.ListField(child=serializers.CharField(), required=False)
        raw_jpeg_pairs = serializers.CharField(required=False)
        similar_enabled = serializers.BooleanField(required=False)
        similar_threshold = serializers.FloatField(required=False)

    @extend_schema(responses={200: SettingsOutput})
    def get(self, request):
        request_tenant(request)
        return Response(settings_output(duplicate_settings_get()))

    @extend_schema(request=Input, responses={200: SettingsChangeOutput})
    def patch(self, request):
        request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        policy, job, regroup = duplicate_settings_update(
            actor=Actor.from_request(request),
            tenant=request.tenant,
            keeper_criteria=data.validated_data.get("keeper_criteria"),
            format_priority=data.validated_data.get("format_priority"),
            raw_jpeg_pairs=data.validated_data.get("raw_jpeg_pairs"),
            similar_enabled=data.validated_data.get("similar_enabled"),
            similar_threshold=data.validated_data.get("similar_threshold"),
        )
        return Response(
            {
                **settings_output(policy),
                "rerank": job_output(job) if job else None,
                "similar_regroup": job_output(regroup) if regroup else None,
            }
        )
