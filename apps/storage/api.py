"""Storage locations of the caller's tenant, migrations between them, scans of index-only ones.

/api/v1/tenants/{id}/storage-config...: {id} must be the caller's own tenant (anything else: 404).
Credentials go in, never come out.
"""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.errors import NotFound
from apps.jobs.models import Job
from apps.storage.models import StorageLocation, StorageProvider
from apps.storage.selectors import (
    storage_job_get,
    storage_job_list,
    storage_location_get,
    storage_location_list,
    storage_location_usage,
    storage_usage_by_location,
)
from apps.storage.services import (
    storage_location_create,
    storage_location_delete,
    storage_location_set_default,
    storage_location_test,
)
from apps.storage.services.jobs import STORAGE_JOB_KINDS, STORAGE_SCAN, storage_job_cancel
from apps.storage.services.locations import storage_location_update
from apps.storage.services.migration import migration_start
from apps.storage.services.moving import MAX_MOVE, REFUSALS, images_move
from apps.storage.services.scanning import scan_start


def own_tenant(request, tenant_id):
    tenant = request_tenant(request)
    if str(tenant.pk) != str(tenant_id):
        raise NotFound("No such tenant here.", code="tenant_not_found")
    return tenant


class LocationOutput(serializers.ModelSerializer):
    has_credentials = serializers.BooleanField(read_only=True)
    target = serializers.CharField(read_only=True)
    thumbnail_location_id = serializers.UUIDField(read_only=True, allow_null=True)

    class Meta:
        model = StorageLocation
        fields = [
            "id",
            "name",
            "provider",
            "config",
            "target",
            "has_credentials",
            "is_default",
            "index_only",
            "ambient_credentials",
            "thumbnail_location_id",
            "scan_interval_minutes",
            "last_scan_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


def location_data(location: StorageLocation, usage: dict | None = None) -> dict:
    data = LocationOutput(location).data
    data["has_credentials"] = location.has_secrets
    if usage is not None:
        data["usage"] = usage
    return data


class StorageJobOutput(serializers.Serializer):
    """What job_data returns (documentation of the storage job responses)."""

    job_id = serializers.UUIDField()
    kind = serializers.ChoiceField(choices=list(STORAGE_JOB_KINDS))
    state = serializers.ChoiceField(choices=Job.State.choices)
    discovered = serializers.IntegerField()
    processed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    progress = serializers.FloatField()
    missing = serializers.IntegerField()
    location_id = serializers.UUIDField(allow_null=True)
    target_id = serializers.UUIDField(allow_null=True)
    prefix = serializers.CharField(allow_null=True)
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    heartbeat_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    status_url = serializers.CharField()


class UsageOutput(serializers.Serializer):
    images = serializers.IntegerField()
    objects = serializers.IntegerField()
    bytes = serializers.IntegerField()


class LocationWithUsageOutput(LocationOutput):
    usage = UsageOutput()

    class Meta(LocationOutput.Meta):
        fields = [*LocationOutput.Meta.fields, "usage"]
        read_only_fields = fields


class ConnectionTestOutput(serializers.Serializer):
    ok = serializers.BooleanField()
    writable = serializers.BooleanField(required=False)
    latency_ms = serializers.IntegerField(required=False)
    error = serializers.DictField(required=False)


def _status_url(job: Job, tenant_id) -> str:
    if job.kind == STORAGE_SCAN:
        return f"/api/v1/index/status/{job.pk}"
    if tenant_id:
        return f"/api/v1/tenants/{tenant_id}/storage-jobs/{job.pk}"
    return f"/api/v1/jobs/{job.pk}"


def job_data(job: Job, tenant_id=None) -> dict:
    """The job as the seeds name it: discovered (listed or selected), processed, skipped, failed."""
    done = job.processed + job.skipped + job.failed
    progress = 1.0 if job.state == Job.State.DONE else (round(done / job.total, 4) if job.total else 0.0)
    params = job.params or {}
    return {
        "job_id": str(job.pk),
        "kind": job.kind,
        "state": job.state,
        "discovered": job.total,
        "processed": job.processed,
        "skipped": job.skipped,
        "failed": job.failed,
        "progress": min(progress, 1.0),
        "missing": params.get("missing", 0),
        "location_id": params.get("location_id"),
        "target_id": params.get("target_id"),
        "prefix": params.get("prefix"),
        "error": job.error,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "heartbeat_at": job.heartbeat_at,
        "finished_at": job.finished_at,
        "status_url": _status_url(job, tenant_id),
    }


class StorageConfigCreateApi(APIView):
    """POST /tenants/{id}/storage-config: 201 after the location was reached as configured."""

    required_permission = Perm.STORAGE_MANAGE

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        provider = serializers.ChoiceField(choices=StorageProvider.values)
        config = serializers.DictField(required=False, default=dict)
        credentials = serializers.DictField(required=False, default=dict)
        index_only = serializers.BooleanField(required=False, default=False)
        is_default = serializers.BooleanField(required=False, default=False)
        scan_interval_minutes = serializers.IntegerField(
            required=False, allow_null=True, min_value=5, max_value=7 * 24 * 60
        )

    @extend_schema(responses={201: LocationOutput})
    def post(self, request, tenant_id):
        tenant = own_tenant(request, tenant_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["secrets"] = values.pop("credentials")
        location = storage_location_create(tenant=tenant, actor=Actor.from_request(request), **values)
        return Response(location_data(location), status=status.HTTP_201_CREATED)


class StorageConfigListApi(APIView):
    """GET /tenants/{id}/storage-configs, each with its usage."""

    required_permission = Perm.STORAGE_MANAGE

    @extend_schema(
        responses={
            200: inline_serializer("StorageConfigList", {"results": LocationWithUsageOutput(many=True)})
        }
    )
    def get(self, request, tenant_id):
        own_tenant(request, tenant_id)
        usage = storage_usage_by_location()
        empty = {"images": 0, "objects": 0, "bytes": 0}
        return Response(
            {
                "results": [
                    location_data(location, usage.get(str(location.pk), empty))
                    for location in storage_location_list()
                ]
            }
        )


class StorageConfigDeleteApi(APIView):
    """PATCH /tenants/{id}/storage-config/{configId} {name, credentials, scan_interval_minutes,
    prefix}: rename, rotate credentials (checked like at creation, then a fresh connection test),
    change the scan schedule, or the prefix of a location holding no images; the provider stays.
    DELETE: 409 while it holds images or is the default."""

    required_permission = Perm.STORAGE_MANAGE

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=100, required=False)
        credentials = serializers.DictField(required=False)
        scan_interval_minutes = serializers.IntegerField(
            required=False, allow_null=True, min_value=5, max_value=7 * 24 * 60
        )
        prefix = serializers.CharField(
            required=False,
            allow_blank=True,
            max_length=400,
            help_text="Bucket/container locations holding no images only (400 prefix_in_use otherwise); "
            "must be reachable. Objects under the old prefix stay where they are.",
        )

    @extend_schema(responses={200: LocationOutput})
    def patch(self, request, tenant_id, config_id):
        tenant = own_tenant(request, tenant_id)
        location = storage_location_get(location_id=config_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        location = storage_location_update(
            tenant=tenant, actor=Actor.from_request(request), location=location, **data.validated_data
        )
        return Response(location_data(location))

    @extend_schema(responses={204: None})
    def delete(self, request, tenant_id, config_id):
        tenant = own_tenant(request, tenant_id)
        location = storage_location_get(location_id=config_id)
        storage_location_delete(tenant=tenant, actor=Actor.from_request(request), location=location)
        return Response(status=status.HTTP_204_NO_CONTENT)


class StorageConfigSetDefaultApi(APIView):
    required_permission = Perm.STORAGE_MANAGE

    @extend_schema(request=None, responses={200: LocationOutput})
    def put(self, request, tenant_id, config_id):
        tenant = own_tenant(request, tenant_id)
        location = storage_location_get(location_id=config_id)
        location = storage_location_set_default(
            tenant=tenant, actor=Actor.from_request(request), location=location
        )
        return Response(location_data(location))


class StorageConfigTestApi(APIView):
    """POST .../test: 200 {"ok": true, "latency_ms"} or {"ok": false, "error": {code, message}}."""

    required_permission = Perm.STORAGE_MANAGE

    @extend_schema(request=None, responses={200: ConnectionTestOutput})
    def post(self, request, tenant_id, config_id):
        own_tenant(request, tenant_id)
        return Response(storage_location_test(location=storage_location_get(location_id=config_id)))


class StorageConfigUsageApi(APIView):
    required_permission = Perm.STORAGE_MANAGE

    @extend_schema(
        responses={
            200: inline_serializer(
                "StorageConfigUsage",
                {
                    "id": serializers.UUIDField(),
                    "images": serializers.IntegerField(),
                    "objects": serializers.IntegerField(),
                    "bytes": serializers.IntegerField(),
                },
            )
        }
    )
    def get(self, request, tenant_id, config_id):
        own_tenant(request, tenant_id)
        location = storage_location_get(location_id=config_id)
        return Response({"id": str(location.pk), **storage_location_usage(location=location)})


class StorageConfigMigrateApi(APIView):
    """POST .../migrate {target_config_id, filters}: 202 with the job to watch."""

    required_permission = Perm.STORAGE_MANAGE

    class Input(serializers.Serializer):
        target_config_id = serializers.UUIDField()
        filters = serializers.DictField(required=False, default=dict)

    @extend_schema(responses={202: StorageJobOutput})
    def post(self, request, tenant_id, config_id):
        tenant = own_tenant(request, tenant_id)
        source = storage_location_get(location_id=config_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        target = storage_location_get(location_id=data.validated_data["target_config_id"])
        job = migration_start(
            tenant=tenant,
            actor=Actor.from_request(request),
            source=source,
            target=target,
            filters=data.validated_data["filters"],
        )
        return Response(job_data(job, tenant.pk), status=status.HTTP_202_ACCEPTED)


class StorageMoveApi(APIView):
    """POST /storage/move {ids, target_id}: move the selected images (originals and thumbnails) to
    the target location, one migration job per location they are at now. 202 even when nothing
    had to move; refused images are listed with the reason, the others still move."""

    required_permission = Perm.STORAGE_MANAGE

    class Input(serializers.Serializer):
        ids = serializers.ListField(
            child=serializers.UUIDField(),
            help_text=f"Image ids, 1 to {MAX_MOVE} (400 ids_required / too_many_ids).",
        )
        target_id = serializers.CharField(
            help_text="A storage location of this workspace that is not index-only "
            "(400 storage_target_not_found / storage_location_read_only; 409 storage_job_conflict "
            "while a migration is emptying it)."
        )

    class Output(serializers.Serializer):
        jobs = StorageJobOutput(many=True)
        moving = serializers.IntegerField(help_text="Images the jobs move.")
        already_there = serializers.IntegerField(help_text="Images already at the target.")
        refused = serializers.ListField(
            child=inline_serializer(
                "StorageMoveRefused",
                {
                    "id": serializers.CharField(),
                    "reason": serializers.ChoiceField(choices=list(REFUSALS)),
                    "message": serializers.CharField(),
                },
            )
        )

    @extend_schema(responses={202: Output})
    def post(self, request):
        tenant = request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        result = images_move(
            tenant=tenant,
            actor=Actor.from_request(request),
            ids=data.validated_data["ids"],
            target_id=data.validated_data["target_id"],
        )
        return Response(
            {
                "jobs": [job_data(job, tenant.pk) for job in result.jobs],
                "moving": result.moving,
                "already_there": result.already_there,
                "refused": result.refused,
            },
            status=status.HTTP_202_ACCEPTED,
        )


class StorageConfigJobsApi(APIView):
    """GET .../jobs: the location's migrations and scans, newest first (history)."""

    required_permission = Perm.STORAGE_MANAGE

    @extend_schema(
        responses={200: inline_serializer("StorageJobList", {"results": StorageJobOutput(many=True)})}
    )
    def get(self, request, tenant_id, config_id):
        own_tenant(request, tenant_id)
        location = storage_location_get(location_id=config_id)
        jobs = storage_job_list(location_id=location.pk)
        return Response({"results": [job_data(job, tenant_id) for job in jobs]})


class StorageJobApi(APIView):
    required_permission = Perm.STORAGE_MANAGE

    @extend_schema(responses={200: StorageJobOutput})
    def get(self, request, tenant_id, job_id):
        own_tenant(request, tenant_id)
        return Response(job_data(storage_job_get(job_id=job_id), tenant_id))


class StorageJobCancelApi(APIView):
    """POST /tenants/{id}/storage-jobs/{jobId}/cancel: stops a migration or scan at the next image
    or page; 409 when it already ended."""

    required_permission = Perm.STORAGE_MANAGE

    @extend_schema(request=None, responses={200: StorageJobOutput})
    def post(self, request, tenant_id, job_id):
        tenant = own_tenant(request, tenant_id)
        job = storage_job_get(job_id=job_id)
        return Response(
            job_data(storage_job_cancel(job=job, actor=Actor.from_request(request), tenant=tenant))
        )


class IndexScanApi(APIView):
    """POST /index/scan {storage_config_id, prefix}: 202 {job_id}."""

    required_permission = Perm.STORAGE_MANAGE

    class Input(serializers.Serializer):
        storage_config_id = serializers.UUIDField()
        prefix = serializers.CharField(required=False, allow_blank=True, default="", max_length=400)

    @extend_schema(responses={202: StorageJobOutput})
    def post(self, request):
        tenant = request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        location = storage_location_get(location_id=data.validated_data["storage_config_id"])
        job = scan_start(
            tenant=tenant,
            actor=Actor.from_request(request),
            location=location,
            prefix=data.validated_data["prefix"],
        )
        return Response(job_data(job), status=status.HTTP_202_ACCEPTED)


class IndexStatusApi(APIView):
    """GET /index/status/{jobId}: state, discovered, processed, skipped, failed, progress."""

    required_permission = Perm.STORAGE_MANAGE

    @extend_schema(responses={200: StorageJobOutput})
    def get(self, request, job_id):
        request_tenant(request)
        return Response(job_data(storage_job_get(job_id=job_id, kind=STORAGE_SCAN)))
