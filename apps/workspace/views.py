"""The Settings page (every workspace setting, owner-only ones marked) and the Jobs page (every job
the person may see, with live progress, cancel and retry)."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views import View

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm, role_permissions
from apps.audit.context import Actor
from apps.core.errors import ApplicationError, InvalidInput
from apps.images.services.jobs import THUMBNAILS_APPLY
from apps.jobs.models import Job
from apps.jobs.registry import _KINDS, job_kinds, job_retryable, kinds_visible_to
from apps.jobs.selectors import job_get, job_list
from apps.jobs.services import job_cancel, job_create, job_retry
from apps.workspace.exports import TENANT_EXPORT, tenant_export_start
from apps.workspace.forms import SpecFormSet, WorkspaceSettingsForm
from apps.workspace.services import (
    SETTINGS_PERMISSIONS,
    workspace_settings_get,
    workspace_settings_update,
)

SPEC_KEYS = ("name", "max_width", "max_height", "format", "quality")


class SettingsPage(PermissionRequiredPage, View):
    required_permission = SETTINGS_PERMISSIONS
    template_name = "workspace/settings.html"

    def _render(self, request, current, form, specs, status=200, spec_errors=()):
        return render(
            request,
            self.template_name,
            {
                "form": form,
                "specs": specs,
                "spec_errors": list(spec_errors),
                "current": current,
                "may_apply_thumbnails": Perm.THUMBNAILS_MANAGE in role_permissions(request.user.role),
            },
            status=status,
        )

    def get(self, request):
        granted = role_permissions(request.user.role)
        current = workspace_settings_get(tenant=request.tenant, granted=granted)
        form = WorkspaceSettingsForm(
            initial=WorkspaceSettingsForm.initial_from(current), editable=current["editable"]
        )
        specs = SpecFormSet(initial=current["thumbnail_specs"], prefix="spec")
        return self._render(request, current, form, specs)

    def post(self, request):
        granted = role_permissions(request.user.role)
        current = workspace_settings_get(tenant=request.tenant, granted=granted)
        if request.POST.get("action") == "apply_thumbnails":
            return self._apply_thumbnails(request, granted)
        form = WorkspaceSettingsForm(
            request.POST, initial=WorkspaceSettingsForm.initial_from(current), editable=current["editable"]
        )
        specs = SpecFormSet(request.POST, initial=current["thumbnail_specs"], prefix="spec")
        if not form.is_valid() or (current["editable"]["thumbnail_specs"] and not specs.is_valid()):
            messages.error(request, "Not saved: check the fields marked below.")
            return self._render(request, current, form, specs, status=400)
        changes = form.changes(current)
        if current["editable"]["thumbnail_specs"]:
            wanted = [
                {key: row[key] for key in SPEC_KEYS}
                for row in specs.cleaned_data
                if row and not row.get("DELETE")
            ]
            if wanted != current["thumbnail_specs"]:
                changes["thumbnail_specs"] = wanted
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect("workspace:settings")
        try:
            workspace_settings_update(
                tenant=request.tenant, actor=Actor.from_request(request), granted=granted, changes=changes
            )
        except InvalidInput as exc:
            spec_errors = []
            for field, problems in exc.extra.items():
                target = {"max_upload_bytes": "max_upload_mib"}.get(field, field)
                if target == "thumbnail_specs":
                    spec_errors = [p for p in problems if isinstance(p, str)]
                elif target in form.fields:
                    form.add_error(target, problems)
                else:
                    form.add_error(None, problems)
            messages.error(request, "Not saved: check the fields marked below.")
            return self._render(request, current, form, specs, status=400, spec_errors=spec_errors)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return self._render(request, current, form, specs, status=exc.http_status)
        messages.success(request, "Settings saved.")
        return redirect("workspace:settings")

    def _apply_thumbnails(self, request, granted):
        if Perm.THUMBNAILS_MANAGE not in granted:
            messages.error(request, "Applying thumbnail sizes needs the thumbnails.manage permission.")
            return redirect("workspace:settings")
        try:
            job = job_create(kind=THUMBNAILS_APPLY, actor=Actor.from_request(request))
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("workspace:settings")
        messages.success(request, "Applying the thumbnail sizes to every image; follow it below.")
        return redirect(f"{reverse('workspace:jobs')}#job-{job.pk}")


class JobsPage(PermissionRequiredPage, View):
    """Every job of a kind the person may see, newest first, filtered by kind and state."""

    required_permission = Perm.AUTHENTICATED
    template_name = "workspace/jobs.html"

    def get(self, request):
        held = role_permissions(request.user.role)
        kinds = kinds_visible_to(held)
        kind, state = request.GET.get("kind", ""), request.GET.get("state", "")
        problems = []
        if kind and kind not in kinds:
            problems.append(f"There is no job kind “{kind}” you may see; showing no jobs.")
        if state and state not in Job.State.values:
            problems.append(f"“{state}” is not a state; choose one from the list. Showing no jobs.")
        jobs: QuerySet[Job] | list[Job] = (
            [] if problems else job_list(kinds=[kind] if kind else kinds, state=state or None)
        )
        page = Paginator(jobs, 25).get_page(request.GET.get("page"))
        rows = [
            {
                "job": job,
                "duration": _duration(job),
                "can_cancel": bool(
                    (spec := _KINDS.get(job.kind))
                    and spec.cancellable
                    and job.state in Job.ACTIVE
                    and spec.manage_permission in held
                ),
                "can_retry": bool(
                    (spec := _KINDS.get(job.kind)) and job_retryable(job) and spec.manage_permission in held
                ),
            }
            for job in page
        ]
        return render(
            request,
            self.template_name,
            {
                "page": page,
                "rows": rows,
                "kinds": [(spec.kind, spec.label) for spec in job_kinds() if spec.kind in kinds],
                "export_kind": TENANT_EXPORT,
                "states": Job.State.choices,
                "kind": kind,
                "state": state,
                "problems": problems,
                "may_export": Perm.AUDIT_VIEW in held,
            },
            status=400 if problems else 200,
        )

    def post(self, request):
        """Start the whole-workspace export (admins who may read the audit log)."""
        if Perm.AUDIT_VIEW not in role_permissions(request.user.role):
            messages.error(request, "Exporting the workspace is not part of your role.")
            return redirect("workspace:jobs")
        try:
            job = tenant_export_start(actor=Actor.from_request(request), tenant=request.tenant)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("workspace:jobs")
        messages.success(request, "Exporting the workspace; its download appears here when it is done.")
        return redirect(f"{reverse('workspace:jobs')}#job-{job.pk}")


def _duration(job: Job) -> str:
    """How long it ran (or has been running): "—" before it started, else "2 min 5 s"."""
    if job.started_at is None:
        return "—"
    seconds = int(((job.finished_at or timezone.now()) - job.started_at).total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


class JobCancelPage(PermissionRequiredPage, View):
    required_permission = Perm.AUTHENTICATED

    def post(self, request, job_id):
        held = role_permissions(request.user.role)
        job = job_get(job_id=job_id, kinds=kinds_visible_to(held))
        if job is None:
            raise Http404("No such job.")
        spec = _KINDS[job.kind]
        if spec.manage_permission not in held:
            messages.error(request, f"Cancelling a {spec.label.lower()} job is not part of your role.")
            return redirect("workspace:jobs")
        try:
            job_cancel(job=job, actor=Actor.from_request(request), tenant=request.tenant)
            messages.success(request, f"{spec.label}: cancelled; what was finished stays finished.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("workspace:jobs")


class JobRetryPage(PermissionRequiredPage, View):
    """Start a failed or cancelled job again (a new job with the same input)."""

    required_permission = Perm.AUTHENTICATED

    def post(self, request, job_id):
        held = role_permissions(request.user.role)
        job = job_get(job_id=job_id, kinds=kinds_visible_to(held))
        if job is None:
            raise Http404("No such job.")
        spec = _KINDS[job.kind]
        if spec.manage_permission not in held:
            messages.error(request, f"Retrying a {spec.label.lower()} job is not part of your role.")
            return redirect("workspace:jobs")
        try:
            new = job_retry(job=job, actor=Actor.from_request(request), tenant=request.tenant)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("workspace:jobs")
        messages.success(request, f"{spec.label}: started again.")
        return redirect(f"{reverse('workspace:jobs')}#job-{new.pk}")
