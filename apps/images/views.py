"""Pages: upload (drag and drop, progress per file, live status), gallery, detail, trash, failed."""

import uuid
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm, role_permissions
from apps.audit.context import Actor
from apps.core.errors import ApplicationError, InvalidInput
from apps.core.filtering import FilterErrors, InvalidFilter
from apps.images.api.serializers import image_status
from apps.images.filters import ORDERINGS, ImageFilter
from apps.images.models import Image, ImageFormat
from apps.images.selectors import image_get, image_list, images_by_ids, images_stage_summary
from apps.images.services import image_delete, image_restore, image_retry
from apps.images.services.editing import image_may_edit, image_update, images_bulk_edit
from apps.images.services.ingest import clean_tags
from apps.images.services.processing import image_settings_get
from apps.images.services.trash import (
    TRASH_EMPTY,
    TRASH_RESTORE,
    image_may_restore,
    trash_empty_start,
    trash_of,
    trash_restore_all,
    trash_summary,
)
from apps.jobs.selectors import job_list

PAGE_SIZE = 48


class GalleryPage(PermissionRequiredPage, View):
    required_permission = Perm.IMAGES_VIEW
    template_name = "images/gallery.html"
    title = "Images"
    list_kwargs: dict = {}

    def get(self, request):
        params = {k: v for k, v in request.GET.items() if v and k != "page"}
        images: QuerySet[Image] | list[Image]
        try:
            images = image_list(filters=request.GET, **self.list_kwargs)
            errors = FilterErrors()
        except InvalidFilter as exc:
            images, errors = [], FilterErrors.from_exception(exc, ImageFilter)
        page = Paginator(images, PAGE_SIZE).get_page(request.GET.get("page"))
        actor, permissions = Actor.from_request(request), role_permissions(request.user.role)
        tiles = [
            replace(
                tile,
                may_preview=tile.image.deleted_at is None
                or image_may_restore(image=tile.image, actor=actor, permissions=permissions),
            )
            for tile in images_stage_summary(list(page.object_list))
        ]
        return render(
            request,
            self.template_name,
            {
                "page": page,
                "tiles": tiles,
                "params": params,
                "filter_errors": errors,
                "formats": ImageFormat.choices,
                "orderings": ORDERINGS,
                "title": self.title,
                "query": urlencode(params),
                "view_name": request.resolver_match.url_name,
                "can_select": Perm.IMAGES_DELETE_OWN in permissions,
                **self.extra_context(request, actor=actor, permissions=permissions),
            },
            status=400 if errors else 200,
        )

    def extra_context(self, request, *, actor, permissions) -> dict:
        return {}


class TrashPage(GalleryPage):
    title = "Trash"
    list_kwargs = {"deleted": True}

    def extra_context(self, request, *, actor, permissions) -> dict:
        may_empty = Perm.IMAGES_DELETE_ANY in permissions
        recent = timezone.now() - timedelta(hours=1)
        return {
            "trash": trash_summary(images=trash_of(actor=actor, permissions=permissions)),
            "trash_all": trash_summary() if may_empty else None,
            # the last hour's "empty trash" job (administrators) and the caller's own "restore all"
            "trash_jobs": [
                *(job_list(kinds=[TRASH_EMPTY]).filter(created_at__gte=recent)[:1] if may_empty else []),
                *job_list(kinds=[TRASH_RESTORE]).filter(created_at__gte=recent, created_by=request.user)[:1],
            ],
        }


class FailedPage(GalleryPage):
    title = "Failed processing"
    list_kwargs = {"status": "failed"}


class UploadPage(PermissionRequiredPage, View):
    required_permission = Perm.IMAGES_UPLOAD

    def get(self, request):
        return render(request, "images/upload.html", {"policy": image_settings_get()})


class ImageDetailPage(PermissionRequiredPage, View):
    required_permission = Perm.IMAGES_VIEW

    def get(self, request, image_id):
        image = image_get(image_id=image_id)
        if image is None:
            raise Http404
        permissions = role_permissions(request.user.role)
        may_delete = image_may_restore(
            image=image, actor=Actor.from_request(request), permissions=permissions
        )
        return render(
            request,
            "images/detail.html",
            {
                "image": image,
                "status": image_status(image),
                "may_delete": may_delete,
                # A trashed image's preview and download: for whoever may restore it.
                "may_see": image.deleted_at is None or may_delete,
                "may_retry": Perm.IMAGES_UPLOAD in permissions,
                "may_edit": image.deleted_at is None
                and image_may_edit(image=image, actor=Actor.from_request(request), permissions=permissions),
            },
        )


class ImageActionPage(PermissionRequiredPage, View):
    """POST delete / restore / retry from the detail page."""

    required_permission = Perm.IMAGES_VIEW

    def post(self, request, image_id):
        image = image_get(image_id=image_id)
        if image is None:
            raise Http404
        actor, permissions = Actor.from_request(request), role_permissions(request.user.role)
        action = request.POST.get("action")
        try:
            may_delete = Perm.IMAGES_DELETE_OWN in permissions or Perm.IMAGES_DELETE_ANY in permissions
            if action == "delete" and may_delete:
                image_delete(image=image, actor=actor, permissions=permissions, tenant=request.tenant)
                messages.success(request, f"{image.original_filename} is in the trash.")
            elif action == "restore" and may_delete:
                image_restore(image=image, actor=actor, permissions=permissions, tenant=request.tenant)
                messages.success(request, f"{image.original_filename} is restored.")
            elif action == "edit":
                taken = request.POST.get("taken_at", "").strip()
                taken_at = parse_datetime(taken) if taken else None
                if taken and taken_at is None:
                    raise InvalidInput(f"“{taken}” is not a date and time.", code="taken_at_invalid")
                if taken_at is not None and timezone.is_naive(taken_at):
                    taken_at = timezone.make_aware(taken_at, timezone.get_current_timezone())
                image_update(
                    image=image,
                    actor=actor,
                    permissions=permissions,
                    tenant=request.tenant,
                    tags=request.POST.get("tags", "").split(","),
                    description=request.POST.get("description", ""),
                    taken_at=taken_at,
                )
                messages.success(request, f"{image.original_filename} is saved.")
            elif action == "retry" and Perm.IMAGES_UPLOAD in permissions:
                image_retry(image=image, actor=actor)
                messages.success(request, "Processing starts again.")
            else:
                messages.error(request, "You may not do that.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("images:detail", image_id=image.pk)


class ImagesBulkActionPage(PermissionRequiredPage, View):
    """POST from the gallery and the trash: tag or untag the selected images, move them to the
    trash, restore the selected ones or all, or empty the trash (a background job; its progress
    shows on the trash). Moving them to another location is the storage app's (storage:move)."""

    required_permission = Perm.IMAGES_DELETE_OWN

    def post(self, request):
        actor, permissions = Actor.from_request(request), role_permissions(request.user.role)
        action = request.POST.get("action")
        back = request.POST.get("next") or ""
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = ""
        if action == "empty":
            if Perm.IMAGES_DELETE_ANY not in permissions:
                messages.error(request, "Only administrators may empty the trash.")
            else:
                job = trash_empty_start(actor=actor, tenant=request.tenant)
                count = job.params["count"]
                messages.success(
                    request, f"Emptying the trash: {count:,} image{'s' if count != 1 else ''} go for good."
                )
            return redirect("images:trash")
        if action == "restore_all":
            job = trash_restore_all(actor=actor, permissions=permissions)
            count = job.params["count"]
            plural = "s" if count != 1 else ""
            if job.state == job.State.DONE:
                messages.success(
                    request, f"{job.processed:,} image{'s' if job.processed != 1 else ''} restored."
                )
            else:
                messages.success(
                    request, f"Restoring {count:,} image{plural} from the trash: progress below."
                )
            return redirect(back or "images:trash")
        if action in ("tag", "untag"):
            self._tag(request, action, actor=actor, permissions=permissions)
            return redirect(back or "images:gallery")
        if action not in ("delete", "restore"):
            messages.error(request, "Unknown action.")
            return redirect(back or "images:gallery")
        service, verb = (
            (image_delete, "moved to the trash") if action == "delete" else (image_restore, "restored")
        )
        done, refused = 0, []
        for image in images_by_ids(ids=_uuids(request.POST.getlist("ids"))[:500]):
            try:
                service(image=image, actor=actor, permissions=permissions, tenant=request.tenant)
                done += 1
            except ApplicationError as exc:
                refused.append(f"{image.original_filename}: {exc.message}")
        messages.success(request, f"{done:,} image{'s' if done != 1 else ''} {verb}.")
        if refused:
            messages.error(request, f"{len(refused)} not changed — " + "; ".join(refused[:5]))
        return redirect(back or ("images:gallery" if action == "delete" else "images:trash"))

    def _tag(self, request, action: str, *, actor, permissions) -> None:
        images = images_by_ids(ids=_uuids(request.POST.getlist("ids"))[:500])
        tags = request.POST.get("tags", "").split(",")
        if not images:
            messages.error(request, "Select the images first.")
            return
        try:
            changed, refused = images_bulk_edit(
                images=images,
                action=action,
                tags=tags,
                actor=actor,
                permissions=permissions,
                tenant=request.tenant,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return
        given = ", ".join(clean_tags(tags))
        done = len(changed)
        verb = "tagged" if action == "tag" else "untagged"
        messages.success(request, f"{done:,} image{'s' if done != 1 else ''} {verb} {given}.")
        if refused:
            names = {str(image.pk): image.original_filename for image in images}
            lines = [f"{names[row['id']]}: {row['message']}" for row in refused]
            messages.error(request, f"{len(lines)} not changed — " + "; ".join(lines[:5]))


def _uuids(values: list[str]) -> list[uuid.UUID]:
    """The values that are ids; anything else is ignored."""
    found = []
    for value in values:
        try:
            found.append(uuid.UUID(value))
        except ValueError:
            continue
    return found
