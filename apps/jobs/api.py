"""/api/v1/jobs/{id} (a job's progress) and /api/v1/jobs/{id}/cancel, for every kind. A job of a
kind the caller may not see answers 404, like one that does not exist."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.accounts.principal import principal_permissions
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.errors import PermissionDenied
from apps.jobs.errors import JobNotFound
from apps.jobs.models import Job
from apps.jobs.registry import _KINDS
from apps.jobs.selectors import job_get
from apps.jobs.services import job_cancel


class JobOutput(serializers.ModelSerializer):
    progress = serializers.FloatField(read_only=True)

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "state",
            "total",
            "processed",
            "failed",
            "progress",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


def job_visible_or_404(request, job_id, *, manage: bool = False) -> Job:
    """The job, if the caller may see its kind (else 404, as if it did not exist); with `manage`,
    also cancel it (else 403)."""
    job = job_get(job_id=job_id)
    spec = _KINDS.get(job.kind) if job else None
    held = principal_permissions(request)
    if job is None or spec is None or spec.permission not in held:
        raise JobNotFound("No such job.", extra={"job_id": str(job_id)})
    if manage and spec.manage_permission not in held:
        raise PermissionDenied(
            f"Cancelling this job needs the {spec.manage_permission!r} permission.",
            extra={"job_id": str(job.pk)},
        )
    return job


class JobApi(APIView):
    """GET /jobs/{id}: state and progress of a job of any kind the caller may see."""

    required_permission = Perm.IMAGES_VIEW

    @extend_schema(responses={200: JobOutput})
    def get(self, request, job_id):
        request_tenant(request)
        return Response(JobOutput(job_visible_or_404(request, job_id)).data)


class JobCancelApi(APIView):
    """POST /jobs/{id}/cancel: a queued job never starts, a running one stops at its next step;
    409 once it finished or when its kind cannot be cancelled."""

    required_permission = Perm.IMAGES_VIEW

    @extend_schema(request=None, responses={200: JobOutput})
    def post(self, request, job_id):
        tenant = request_tenant(request)
        job = job_visible_or_404(request, job_id, manage=True)
        job = job_cancel(job=job, actor=Actor.from_request(request), tenant=tenant)
        return Response(JobOutput(job).data)
