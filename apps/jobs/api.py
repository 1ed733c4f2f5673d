"""/api/v1/jobs (the workspace's jobs of the kinds the caller may see), /api/v1/jobs/{id} (a job's
progress), /api/v1/jobs/{id}/cancel and /api/v1/jobs/{id}/retry, for every kind. A job of a kind
the caller may not see answers 404, like one that does not exist."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.accounts.principal import principal_permissions
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.errors import InvalidInput, PermissionDenied
from apps.core.pagination import Pagination
from apps.core.schema import list_schema
from apps.jobs.errors import JobNotFound
from apps.jobs.models import Job
from apps.jobs.registry import _KINDS, job_kind_get, job_retryable, kinds_visible_to
from apps.jobs.selectors import job_get, job_list
from apps.jobs.services import job_cancel, job_retry


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


def job_visible_or_404(request, job_id, *, manage: bool = False, doing: str = "Cancelling") -> Job:
    """The job, if the caller may see its kind (else 404, as if it did not exist); with `manage`,
    also cancel or retry it (else 403)."""
    job = job_get(job_id=job_id)
    spec = _KINDS.get(job.kind) if job else None
    held = principal_permissions(request)
    if job is None or spec is None or spec.permission not in held:
        raise JobNotFound("No such job.", extra={"job_id": str(job_id)})
    if manage and spec.manage_permission not in held:
        raise PermissionDenied(
            f"{doing} this job needs the {spec.manage_permission!r} permission.",
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


class JobListOutput(JobOutput):
    kind_label = serializers.CharField(source="label", read_only=True, help_text="What it does, for people.")
    created_by = serializers.SerializerMethodField(help_text="Who started it (null: the system).")
    duration_seconds = serializers.SerializerMethodField(help_text="Running time so far or in all.")
    can_cancel = serializers.SerializerMethodField(help_text="Whether the caller may cancel it now.")
    can_retry = serializers.SerializerMethodField(help_text="Whether the caller may retry it now.")

    class Meta(JobOutput.Meta):
        fields = [
            *JobOutput.Meta.fields,
            "kind_label",
            "created_by",
            "duration_seconds",
            "can_cancel",
            "can_retry",
        ]
        read_only_fields = fields

    def get_created_by(self, job) -> str | None:
        return job.created_by.email if job.created_by else None

    def get_duration_seconds(self, job) -> float | None:
        from django.utils import timezone

        if job.started_at is None:
            return None
        return round(((job.finished_at or timezone.now()) - job.started_at).total_seconds(), 1)

    def get_can_cancel(self, job) -> bool:
        spec = _KINDS.get(job.kind)
        held = self.context.get("held", frozenset())
        return bool(spec and spec.cancellable and job.state in Job.ACTIVE and spec.manage_permission in held)

    def get_can_retry(self, job) -> bool:
        spec = _KINDS.get(job.kind)
        return bool(spec and job_retryable(job) and spec.manage_permission in self.context.get("held", ()))


class JobListApi(APIView):
    """GET /jobs?kind=&state=&limit=&offset=: the workspace's jobs, newest first, of the kinds the
    caller may see (each kind's own permission); an unknown kind or state is a 400."""

    required_permission = Perm.AUTHENTICATED

    @list_schema(
        JobListOutput,
        "JobPage",
        parameters=[
            OpenApiParameter("kind", str, description="One registered kind, e.g. thumbnails_apply."),
            OpenApiParameter("state", str, enum=Job.State.values),
        ],
    )
    def get(self, request):
        request_tenant(request)
        held = principal_permissions(request)
        kinds = kinds_visible_to(held)
        if kind := request.query_params.get("kind"):
            job_kind_get(kind)
            kinds = [k for k in kinds if k == kind]
        state = request.query_params.get("state") or None
        if state is not None and state not in Job.State.values:
            raise InvalidInput(
                f"Unknown state {state!r}; the states are {', '.join(Job.State.values)}.",
                code="job_state_unknown",
                extra={"state": [f"Choose one of {', '.join(Job.State.values)}."]},
            )
        paginator = Pagination()
        page = paginator.paginate_queryset(job_list(kinds=kinds, state=state), request, view=self)
        return paginator.get_paginated_response(JobListOutput(page, many=True, context={"held": held}).data)


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


class JobRetryOutput(JobOutput):
    status_url = serializers.SerializerMethodField()

    class Meta(JobOutput.Meta):
        fields = [*JobOutput.Meta.fields, "status_url"]
        read_only_fields = fields

    def get_status_url(self, job) -> str:
        return f"/api/v1/jobs/{job.pk}"


class JobRetryApi(APIView):
    """POST /jobs/{id}/retry: a failed or cancelled job starts again as a new job (202, the new
    job) with the same input; 409 for a job still queued, running or done, or of a kind that
    cannot be retried (storage migrations and scans, re-ranking); the kind's manage permission."""

    required_permission = Perm.IMAGES_VIEW

    @extend_schema(request=None, responses={202: JobRetryOutput})
    def post(self, request, job_id):
        tenant = request_tenant(request)
        job = job_visible_or_404(request, job_id, manage=True, doing="Retrying")
        new = job_retry(job=job, actor=Actor.from_request(request), tenant=tenant)
        return Response(JobRetryOutput(new).data, status=202)
