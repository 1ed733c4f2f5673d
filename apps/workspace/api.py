"""GET/PATCH /api/v1/tenant/settings: every setting of the workspace in one place."""

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.accounts.principal import principal_permissions
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.api import request_tenant
from apps.core.errors import InvalidInput, NotFound
from apps.duplicates.keeper import CRITERIA
from apps.images.models import IdenticalUploads, ImageFormat, ThumbnailFormat
from apps.jobs.api import JobOutput
from apps.jobs.selectors import job_get
from apps.workspace.exports import (
    TENANT_EXPORT,
    duplicates_csv_stream,
    images_csv_stream,
    images_jsonl_stream,
    tenant_export_open,
    tenant_export_start,
)
from apps.workspace.services import (
    FIELD_PERMISSIONS,
    SETTINGS_PERMISSIONS,
    workspace_settings_get,
    workspace_settings_update,
)


class SpecIO(serializers.Serializer):
    name = serializers.SlugField(max_length=50)
    max_width = serializers.IntegerField(min_value=16, max_value=4096)
    max_height = serializers.IntegerField(min_value=16, max_value=4096)
    format = serializers.ChoiceField(choices=ThumbnailFormat.values)
    quality = serializers.IntegerField(min_value=1, max_value=100)


class SettingsInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    time_zone = serializers.CharField(
        max_length=64, required=False, help_text="An IANA zone, e.g. Europe/Berlin."
    )
    retention_days = serializers.IntegerField(required=False, help_text="1 to 3650 days in the trash.")
    keep_gps = serializers.BooleanField(required=False)
    max_upload_bytes = serializers.IntegerField(
        required=False, help_text="At least 1024, at most max_upload_bytes_cap."
    )
    identical_uploads = serializers.ChoiceField(choices=IdenticalUploads.values, required=False)
    keeper_criteria = serializers.ListField(
        child=serializers.CharField(), required=False, help_text=f"An order of: {', '.join(CRITERIA)}."
    )
    format_priority = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text=f"An order of: {', '.join(ImageFormat.values)}.",
    )
    similar_enabled = serializers.BooleanField(
        required=False,
        help_text="Needs an active embedding model (similar_model), else 400 similar_needs_model.",
    )
    similar_threshold = serializers.FloatField(
        required=False,
        help_text="0.8 to 0.99: the cosine similarity at which images form a similar group. Changing it "
        "needs an active embedding model too.",
    )
    thumbnail_specs = SpecIO(many=True, required=False, allow_empty=False)


class SettingsOutput(serializers.Serializer):
    name = serializers.CharField()
    slug = serializers.CharField()
    tier = serializers.CharField()
    time_zone = serializers.CharField()
    retention_days = serializers.IntegerField()
    keep_gps = serializers.BooleanField()
    max_upload_bytes = serializers.IntegerField()
    max_upload_bytes_cap = serializers.IntegerField(help_text="The most max_upload_bytes may be here.")
    identical_uploads = serializers.ChoiceField(choices=IdenticalUploads.values)
    keeper_criteria = serializers.ListField(child=serializers.CharField())
    keeper_criteria_labels = serializers.DictField(child=serializers.CharField())
    format_priority = serializers.ListField(child=serializers.CharField())
    similar_enabled = serializers.BooleanField()
    similar_threshold = serializers.FloatField()
    similar_model = serializers.CharField(
        allow_null=True,
        help_text="The embedding model similar grouping uses (clip or resnet50, switched on under Search "
        "with its weights installed); null: none, so similar grouping cannot run.",
    )
    similar_needs_model = serializers.CharField(help_text="What to do when similar_model is null.")
    thumbnail_specs = SpecIO(many=True)
    editable = serializers.DictField(
        child=serializers.BooleanField(), help_text="Which settings the caller may change."
    )


class WorkspaceSettingsApi(APIView):
    """GET: every setting (any tenant admin). PATCH: the fields given, all or nothing; each field
    needs its own permission (name, time zone, retention, GPS and upload size: tenant.settings, the
    owner's; duplicates: duplicates.manage; thumbnail sizes: thumbnails.manage)."""

    required_permission = SETTINGS_PERMISSIONS

    @extend_schema(responses={200: SettingsOutput})
    def get(self, request):
        tenant = request_tenant(request)
        return Response(workspace_settings_get(tenant=tenant, granted=principal_permissions(request)))

    @extend_schema(request=SettingsInput, responses={200: SettingsOutput})
    def patch(self, request):
        tenant = request_tenant(request)
        if not isinstance(request.data, dict):
            raise InvalidInput("Send a JSON object of the settings to change.", code="settings_invalid")
        unknown = sorted(set(request.data) - set(FIELD_PERMISSIONS))
        if unknown:
            raise InvalidInput(
                f"Not a setting: {', '.join(unknown)}.",
                code="settings_invalid",
                extra={field: ["Not a setting."] for field in unknown},
            )
        data = SettingsInput(data=request.data)
        data.is_valid(raise_exception=True)
        settings = workspace_settings_update(
            tenant=tenant,
            actor=Actor.from_request(request),
            granted=principal_permissions(request),
            changes=dict(data.validated_data),
        )
        return Response(settings)


class ExportStartApi(APIView):
    """POST /exports: start the whole-workspace export (202 with the job; its progress at
    GET jobs/{id}; 409 job_already_running while one runs). Audited."""

    required_permission = Perm.AUDIT_VIEW

    @extend_schema(request=None, responses={202: JobOutput})
    def post(self, request):
        tenant = request_tenant(request)
        job = tenant_export_start(actor=Actor.from_request(request), tenant=tenant)
        return Response(JobOutput(job).data, status=status.HTTP_202_ACCEPTED)


class ExportDownloadApi(APIView):
    """GET /exports/{job_id}/download: the finished export as a zip, streamed (409 export_not_ready
    before). Each download is audited."""

    required_permission = Perm.AUDIT_VIEW

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request, job_id):
        tenant = request_tenant(request)
        job = job_get(job_id=job_id, kinds=[TENANT_EXPORT])
        if job is None:
            raise NotFound("No such export.", code="export_not_found")
        stream = tenant_export_open(job=job)
        audit_record(
            actor=Actor.from_request(request),
            action=AuditAction.EXPORT_DOWNLOADED,
            tenant=tenant,
            target_type="jobs.job",
            target_id=str(job.pk),
        )
        return FileResponse(
            stream,
            as_attachment=True,
            filename=f"deeplens-{tenant.slug}-export.zip",
            content_type="application/zip",
        )


# file name -> (what writes it, its content type)
STREAMED_EXPORTS = {
    "images.csv": (images_csv_stream, "text/csv; charset=utf-8"),
    "images.jsonl": (images_jsonl_stream, "application/jsonl; charset=utf-8"),
    "duplicates.csv": (duplicates_csv_stream, "text/csv; charset=utf-8"),
}


class StreamedExportApi(APIView):
    """GET /exports/images.csv, /exports/images.jsonl, /exports/duplicates.csv: the image metadata
    (as in the zip's images.csv / images.jsonl) or the duplicates report, streamed row by row as
    they are read, without a job. Each download is audited (export.downloaded, its name)."""

    required_permission = Perm.AUDIT_VIEW
    export_name = ""

    @extend_schema(
        responses={(200, "text/csv"): OpenApiTypes.BINARY, (200, "application/jsonl"): OpenApiTypes.BINARY}
    )
    def get(self, request):
        tenant = request_tenant(request)
        write, content_type = STREAMED_EXPORTS[self.export_name]
        audit_record(
            actor=Actor.from_request(request),
            action=AuditAction.EXPORT_DOWNLOADED,
            tenant=tenant,
            target_type="tenants.tenant",
            target_id=str(tenant.pk),
            details={"export": self.export_name},
        )
        stem, ext = self.export_name.split(".")
        response = StreamingHttpResponse(write(tenant=tenant), content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="deeplens-{tenant.slug}-{stem}.{ext}"'
        return response
