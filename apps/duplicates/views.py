"""Pages: the duplicates review (groups side by side, keep / trash / not duplicates, bulk resolve
with a preview) and the storage report."""

from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm, role_permissions
from apps.audit.context import Actor
from apps.core.errors import ApplicationError
from apps.core.filtering import FilterErrors, InvalidFilter
from apps.duplicates.errors import SimilarNotBulkResolvable
from apps.duplicates.filters import DEFAULTS, SORT_CHOICES, GroupFilter
from apps.duplicates.identical import identical_sets
from apps.duplicates.models import GroupStatus, Kind
from apps.duplicates.selectors import (
    group_get,
    group_list,
    resolution_get,
    resolution_of_job,
    resolutions_recent,
    with_members,
)
from apps.duplicates.services import (
    duplicates_job_create,
    group_dismiss,
    group_resolve,
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
from apps.duplicates.services.resolutions import resolution_undo, resolution_undoable, resolutions_of_groups
from apps.duplicates.services.review import SIMILAR_NOT_BULK
from apps.jobs.errors import JobAlreadyRunning
from apps.jobs.selectors import job_list

PAGE_SIZE = 20
UNDOABLE_JOB_KINDS = (DUPLICATES_RESOLVE_ALL, DUPLICATES_REMOVE_IDENTICAL)


class ReviewPage(PermissionRequiredPage, View):
    required_permission = Perm.IMAGES_VIEW

    def get(self, request):
        try:
            groups, errors = with_members(group_list(filters=request.GET)), FilterErrors()
        except InvalidFilter as exc:
            groups, errors = [], FilterErrors.from_exception(exc, GroupFilter)
        page = Paginator(groups, PAGE_SIZE).get_page(request.GET.get("page"))
        kind = request.GET.get("kind") or None
        preview = None
        if request.GET.get("preview") and not errors:
            try:
                preview = resolve_all_preview(kind=kind, sample=10)
            except SimilarNotBulkResolvable as exc:
                messages.error(request, exc.message)
        identical_preview = (
            identical_remove_preview(sample=0) if request.GET.get("identical") and not errors else None
        )
        # Each job gets `resolution` and `undoable` for the template (attributes mypy cannot see).
        jobs: list[Any] = list(job_list(kinds=DUPLICATES_JOB_KINDS)[:3])
        can_manage = Perm.DUPLICATES_MANAGE in role_permissions(request.user.role)
        resolutions = resolutions_of_groups([g.pk for g in page if g.status == GroupStatus.RESOLVED])
        for group in page:
            label_identical(group)
            group.resolution = resolutions.get(group.pk)
        for job in jobs:
            job.resolution = resolution_of_job(job_id=job.pk) if job.kind in UNDOABLE_JOB_KINDS else None
            job.undoable = bool(job.resolution) and resolution_undoable(job.resolution)
        recent = [r for r in resolutions_recent() if resolution_undoable(r)] if can_manage else []
        return render(
            request,
            "duplicates/review.html",
            {
                "page": page,
                "kind": kind or "",
                "sort": request.GET.get("sort") or DEFAULTS["sort"],
                "kinds": Kind.choices,
                "sorts": SORT_CHOICES,
                "filter_errors": errors,
                "preview": preview,
                "identical_preview": identical_preview,
                "jobs": jobs,
                "recent_resolutions": recent,
                "can_manage": can_manage,
                "section": "duplicates",
            },
            status=400 if errors else 200,
        )


def label_identical(group) -> None:
    """Mark each member shown with its identical set's number and size (the card's badge)."""
    members = list(group.members.all())
    sets = identical_sets([m.image for m in members])
    number = {same[0].sha256: (n, len(same)) for n, same in enumerate(sets, start=1)}
    for member in members:
        member.exact_set, member.identical_count = number.get(member.image.sha256, (None, 0))


class GroupActionPage(PermissionRequiredPage, View):
    required_permission = Perm.DUPLICATES_MANAGE

    def post(self, request, group_id):
        group = group_get(group_id=group_id)
        if group is None:
            raise Http404
        actor, permissions = Actor.from_request(request), role_permissions(request.user.role)
        try:
            if request.POST.get("action") == "dismiss":
                group_dismiss(group=group, actor=actor, tenant=request.tenant)
                messages.success(request, "Marked as not duplicates; this group will not come back.")
            else:
                group = group_resolve(
                    group=group,
                    keep=request.POST.getlist("keep"),
                    merge_tags=bool(request.POST.get("merge_tags")),
                    actor=actor,
                    permissions=permissions,
                    tenant=request.tenant,
                )
                messages.success(request, f"Resolved: {group.reclaimed_bytes:,} bytes moved to the trash.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("duplicates:review")


class ResolutionUndoPage(PermissionRequiredPage, View):
    """POST: undo one resolution (a group's, or a resolve-all job's): its trashed images come back
    and its groups open again."""

    required_permission = Perm.DUPLICATES_MANAGE

    def post(self, request, resolution_id):
        resolution = resolution_get(resolution_id=resolution_id)
        if resolution is None:
            raise Http404
        try:
            resolution = resolution_undo(
                resolution=resolution,
                actor=Actor.from_request(request),
                permissions=role_permissions(request.user.role),
                tenant=request.tenant,
            )
            count = len(resolution.group_ids)
            messages.success(
                request,
                f"Undone: {count:,} group{'s' if count != 1 else ''} open again, their images restored.",
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("duplicates:review")


class BulkActionPage(PermissionRequiredPage, View):
    required_permission = Perm.DUPLICATES_MANAGE

    def post(self, request):
        actor = Actor.from_request(request)
        if request.POST.get("action") == "rescan":
            try:
                duplicates_job_create(kind=DUPLICATES_RESCAN, actor=actor)
            except JobAlreadyRunning:
                messages.info(request, "A full re-scan is already running; its progress is below.")
            else:
                messages.success(request, "A full re-scan has started.")
        elif request.POST.get("action") == "remove_identical":
            duplicates_job_create(kind=DUPLICATES_REMOVE_IDENTICAL, actor=actor)
            messages.success(request, "Removing identical copies has started; progress is below.")
        elif request.POST.get("kind") == Kind.SIMILAR:
            messages.error(request, SIMILAR_NOT_BULK)
        else:
            kind = request.POST.get("kind") if request.POST.get("kind") in Kind.values else None
            duplicates_job_create(
                kind=DUPLICATES_RESOLVE_ALL,
                actor=actor,
                params={
                    "kind": kind,
                    "policy": "suggested_keeper",
                    "merge_tags": bool(request.POST.get("merge_tags")),
                },
            )
            messages.success(request, "Resolving every group by the policy has started; progress is below.")
        return redirect("duplicates:review")


class ReportPage(PermissionRequiredPage, View):
    required_permission = Perm.IMAGES_VIEW

    def get(self, request):
        data = report()
        top = max(
            [
                *data["by_kind"].values(),
                *data["by_storage_location"].values(),
                data["reclaimed_bytes"],
                *(row["bytes"] for row in data["in_trash"]),
                1,
            ]
        )
        bars = {
            "by_kind": [
                (dict(Kind.choices)[k], v, round(100 * v / top, 1)) for k, v in data["by_kind"].items()
            ],
            "by_location": [
                (k, v, round(100 * v / top, 1)) for k, v in sorted(data["by_storage_location"].items())
            ],
            "reclaimed": round(100 * data["reclaimed_bytes"] / top, 1),
            "in_trash": [
                (row["freed_on"], row["bytes"], round(100 * row["bytes"] / top, 1))
                for row in data["in_trash"]
            ],
        }
        return render(
            request, "duplicates/report.html", {"report": data, "bars": bars, "section": "duplicates"}
        )
