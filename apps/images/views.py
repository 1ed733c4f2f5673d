"""Pages: upload (drag and drop, progress per file, live status), gallery, detail, trash, failed."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import redirect, render
from django.views import View

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm, role_permissions
from apps.audit.context import Actor
from apps.core.errors import ApplicationError
from apps.core.filtering import FilterErrors, InvalidFilter
from apps.images.api.serializers import image_status
from apps.images.filters import ORDERINGS, ImageFilter
from apps.images.models import Image, ImageFormat
from apps.images.selectors import image_get, image_list, images_stage_summary
from apps.images.services import image_delete, image_restore, image_retry
from apps.images.services.processing import image_settings_get

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
        return render(
            request,
            self.template_name,
            {
                "page": page,
                "tiles": images_stage_summary(list(page.object_list)),
                "params": params,
                "filter_errors": errors,
                "formats": ImageFormat.choices,
                "orderings": ORDERINGS,
                "title": self.title,
                "query": urlencode(params),
                "view_name": request.resolver_match.url_name,
            },
            status=400 if errors else 200,
        )


class TrashPage(GalleryPage):
    title = "Trash"
    list_kwargs = {"deleted": True}


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
        may_delete = Perm.IMAGES_DELETE_ANY in permissions or (
            Perm.IMAGES_DELETE_OWN in permissions and image.uploaded_by_id == request.user.pk
        )
        return render(
            request,
            "images/detail.html",
            {
                "image": image,
                "status": image_status(image),
                "may_delete": may_delete,
                "may_retry": Perm.IMAGES_UPLOAD in permissions,
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
            elif action == "retry" and Perm.IMAGES_UPLOAD in permissions:
                image_retry(image=image, actor=actor)
                messages.success(request, "Processing starts again.")
            else:
                messages.error(request, "You may not do that.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("images:detail", image_id=image.pk)
