"""/admin/storage/: the storage locations of every tenant, for global admins (Django admin), with
the one setting tenants cannot change themselves: whether a location without keys may act with the
host's own cloud identity (instance metadata, environment variables, ~/.aws). That takes effect only
where DEEPLENS_STORAGE_AMBIENT_CREDENTIALS also allows it for the installation."""

import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from apps.accounts.permissions import Perm, role_permissions
from apps.audit.context import Actor
from apps.storage.models import StorageProvider
from apps.storage.selectors import storage_location_list
from apps.storage.services import storage_location_ambient_set
from apps.tenants.selectors import tenant_list
from apps.tenants.services import in_tenant

CLOUD_PROVIDERS = (StorageProvider.S3, StorageProvider.GCS)


def _uuid(value) -> str:
    """The value if it is a UUID, else one that matches nothing."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return str(uuid.UUID(int=0))


@require_http_methods(["GET", "POST"])
def storage_locations_admin_view(request):
    if Perm.PLATFORM_ADMIN not in role_permissions(request.user.role):
        raise PermissionDenied
    if request.method == "POST":
        tenant = tenant_list().filter(pk=_uuid(request.POST.get("tenant_id"))).first()
        if tenant is None:
            messages.error(request, "No such tenant.")
        else:
            with in_tenant(tenant):
                location = (
                    storage_location_list()
                    .filter(pk=_uuid(request.POST.get("location_id")), provider__in=CLOUD_PROVIDERS)
                    .first()
                )
                if location is None:
                    messages.error(request, "No such S3 or Google Cloud Storage location.")
                else:
                    allowed = request.POST.get("ambient_credentials") == "on"
                    storage_location_ambient_set(
                        tenant=tenant, actor=Actor.from_request(request), location=location, allowed=allowed
                    )
                    messages.success(
                        request,
                        f"{tenant.name} / {location.name}: the host's credentials are "
                        f"{'allowed' if allowed else 'not allowed'}.",
                    )
        return HttpResponseRedirect(reverse("admin-storage"))
    rows: list[dict] = []
    for tenant in tenant_list():
        with in_tenant(tenant):
            rows.extend(
                {"tenant": tenant, "location": location}
                for location in storage_location_list().filter(provider__in=CLOUD_PROVIDERS)
            )
    context = {
        **admin.site.each_context(request),
        "title": "Storage locations of all tenants",
        "rows": rows,
        "installation_allows": settings.DEEPLENS_STORAGE_AMBIENT_CREDENTIALS,
    }
    return render(request, "admin/storage_locations.html", context)
