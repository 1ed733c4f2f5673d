"""Storage settings pages: locations (usage bars, add per provider with a connection test, default,
delete), migrations with progress, index-only locations with scans, progress and history."""

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.errors import ApplicationError, NotFound
from apps.images.selectors import images_by_ids
from apps.storage.api import job_data
from apps.storage.models import StorageProvider
from apps.storage.providers import FIELDS, allowed_roots
from apps.storage.selectors import (
    storage_job_get,
    storage_job_list,
    storage_location_get,
    storage_location_list,
    storage_move_targets,
    storage_usage_by_location,
)
from apps.storage.services import (
    storage_location_create,
    storage_location_delete,
    storage_location_set_default,
    storage_location_test,
)
from apps.storage.services.jobs import STORAGE_MIGRATE, STORAGE_SCAN, storage_job_cancel
from apps.storage.services.locations import storage_config_check
from apps.storage.services.migration import migration_start
from apps.storage.services.moving import images_move
from apps.storage.services.scanning import scan_start

LABELS = {
    "root": "Folder (absolute path)",
    "bucket": "Bucket",
    "prefix": "Prefix (optional)",
    "region": "Region",
    "endpoint_url": "Endpoint URL (MinIO, other S3-compatible, Azurite)",
    "addressing_style": "Addressing style (auto, path, virtual)",
    "container": "Container",
    "account_name": "Account name",
    "project_id": "Project ID",
    "access_key_id": "Access key ID",
    "secret_access_key": "Secret access key",
    "account_key": "Account key",
    "connection_string": "Connection string",
    "sas_token": "SAS token",
    "service_account_json": "Service account key (JSON)",
}


def _or_404(selector, **kwargs):
    try:
        return selector(**kwargs)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def provider_forms(values: dict | None = None) -> list[dict]:
    values = values or {}
    forms = []
    for provider, (config_fields, required, secret_fields) in FIELDS.items():
        mine = values.get("provider") == provider
        forms.append(
            {
                "provider": provider,
                "label": StorageProvider(provider).label,
                "open": mine,
                "name": values.get("name", "") if mine else "",
                "index_only": mine and values.get("index_only"),
                "is_default": mine and values.get("is_default"),
                "interval": values.get("scan_interval_minutes", "") if mine else "",
                "fields": [
                    {
                        "name": name,
                        "label": LABELS[name],
                        "required": name in required,
                        "value": values.get(name, "") if values.get("provider") == provider else "",
                    }
                    for name in config_fields
                ],
                "secrets": [{"name": name, "label": LABELS[name]} for name in secret_fields],
            }
        )
    return forms


def _locations_context(request, values=None) -> dict:
    locations = list(storage_location_list())
    usage = storage_usage_by_location()
    empty = {"images": 0, "objects": 0, "bytes": 0}
    rows: list[dict[str, Any]] = [
        {"location": location, "usage": usage.get(str(location.pk), empty)} for location in locations
    ]
    biggest = max([row["usage"]["bytes"] for row in rows] + [1])
    return {
        "rows": rows,
        "biggest": biggest,
        "providers": provider_forms(values),
        "roots": [str(root) for root in allowed_roots(request.tenant.slug)],
        "jobs": [job_data(job) for job in storage_job_list(kind=STORAGE_MIGRATE, limit=10)],
    }


class StorageLocationsPage(PermissionRequiredPage, View):
    required_permission = Perm.STORAGE_MANAGE

    def get(self, request):
        return render(request, "storage/locations.html", _locations_context(request))


class StorageLocationAddPage(PermissionRequiredPage, View):
    """POST: action=test runs the connection test of the form's values; action=create saves."""

    required_permission = Perm.STORAGE_MANAGE

    def post(self, request):
        provider = request.POST.get("provider", "")
        config_fields, _required, secret_fields = FIELDS.get(provider, ((), (), ()))
        config = {name: request.POST.get(name, "") for name in config_fields}
        secrets = {name: request.POST.get(name, "") for name in secret_fields if request.POST.get(name)}
        index_only = request.POST.get("index_only") == "on"
        interval = request.POST.get("scan_interval_minutes") or None
        # everything but the secrets comes back into the form after a test or an error
        values = {
            "provider": provider,
            **config,
            "name": request.POST.get("name", ""),
            "index_only": index_only,
            "is_default": request.POST.get("is_default") == "on",
            "scan_interval_minutes": interval or "",
        }
        try:
            if request.POST.get("action") == "test":
                result = storage_config_check(
                    tenant=request.tenant,
                    provider=provider,
                    config=config,
                    secrets=secrets,
                    index_only=index_only,
                )
                if result.get("folder_missing"):
                    messages.warning(
                        request,
                        f"The folder {config.get('root', '')} does not exist yet; "
                        "“Add location” will create it. Nothing was created by this test.",
                    )
                else:
                    messages.success(request, f"Connection works ({result['latency_ms']} ms).")
                return render(request, "storage/locations.html", _locations_context(request, values))
            storage_location_create(
                tenant=request.tenant,
                actor=Actor.from_request(request),
                name=request.POST.get("name", ""),
                provider=provider,
                config=config,
                secrets=secrets,
                index_only=index_only,
                is_default=request.POST.get("is_default") == "on",
                scan_interval_minutes=int(interval) if interval and interval.isdigit() else None,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return render(
                request, "storage/locations.html", _locations_context(request, values), status=exc.http_status
            )
        messages.success(request, "Storage location added.")
        return redirect("storage:locations")


class StorageLocationActionPage(PermissionRequiredPage, View):
    """POST /settings/storage/<id>/<action>/: default, delete, test."""

    required_permission = Perm.STORAGE_MANAGE

    def post(self, request, location_id, action):
        actor = Actor.from_request(request)
        try:
            location = storage_location_get(location_id=location_id)
            if action == "default":
                storage_location_set_default(tenant=request.tenant, actor=actor, location=location)
                messages.success(request, f"New uploads go to {location.name}.")
            elif action == "delete":
                storage_location_delete(tenant=request.tenant, actor=actor, location=location)
                messages.success(request, f"{location.name} removed.")
            elif action == "test":
                result = storage_location_test(location=location)
                if result["ok"]:
                    messages.success(
                        request, f"{location.name}: connection works ({result['latency_ms']} ms)."
                    )
                else:
                    messages.error(request, f"{location.name}: {result['error']['message']}")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("storage:index" if request.POST.get("next") == "index" else "storage:locations")


class StorageMigratePage(PermissionRequiredPage, View):
    required_permission = Perm.STORAGE_MANAGE

    def get(self, request, location_id):
        location = _or_404(storage_location_get, location_id=location_id)
        targets = [other for other in storage_move_targets() if other.pk != location.pk]
        usage = storage_usage_by_location().get(str(location.pk), {"images": 0, "bytes": 0})
        return render(
            request,
            "storage/migrate.html",
            {
                "location": location,
                "targets": targets,
                "usage": usage,
                "jobs": [
                    job_data(job) for job in storage_job_list(location_id=location.pk, kind=STORAGE_MIGRATE)
                ],
            },
        )

    def post(self, request, location_id):
        try:
            source = storage_location_get(location_id=location_id)
            target = storage_location_get(
                location_id=request.POST.get("target_config_id") or "00000000-0000-0000-0000-000000000000"
            )
            filters = {"status": request.POST.getlist("status")} if request.POST.getlist("status") else {}
            job = migration_start(
                tenant=request.tenant,
                actor=Actor.from_request(request),
                source=source,
                target=target,
                filters=filters,
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("storage:migrate", location_id=location_id)
        return redirect("storage:job", job_id=job.pk)


def _plural(count: int, word: str = "image") -> str:
    return f"{count:,} {word}{'s' if count != 1 else ''}"


class StorageMoveSelectedPage(PermissionRequiredPage, View):
    """POST from the gallery's bulk bar {ids, target_id, next}: move the selected images to a
    location (migration jobs), then back to the gallery saying what moves and what does not."""

    required_permission = Perm.STORAGE_MANAGE

    def post(self, request):
        back = request.POST.get("next") or ""
        if not url_has_allowed_host_and_scheme(back, allowed_hosts={request.get_host()}):
            back = ""
        try:
            result = images_move(
                tenant=request.tenant,
                actor=Actor.from_request(request),
                ids=request.POST.getlist("ids"),
                target_id=request.POST.get("target_id", ""),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect(back or "images:gallery")
        target = result.target
        if result.moving:
            messages.success(
                request,
                f"Moving {_plural(result.moving)} to {target.name}; "
                f"the progress is under Settings → Storage ({_plural(len(result.jobs), 'job')}).",
            )
        if result.already_there:
            messages.info(request, f"{_plural(result.already_there)} already in {target.name}.")
        if result.refused:
            found = images_by_ids(
                ids=[uuid.UUID(row["id"]) for row in result.refused if row["reason"] != "not_found"]
            )
            names = {str(image.pk): image.original_filename for image in found}
            lines = [f"{names.get(row['id'], row['id'])}: {row['message']}" for row in result.refused]
            messages.error(request, f"{_plural(len(lines))} not moved — " + "; ".join(lines[:5]))
        return redirect(back or "images:gallery")


class StorageIndexPage(PermissionRequiredPage, View):
    """Index-only locations, their scans (with progress) and history."""

    required_permission = Perm.STORAGE_MANAGE

    def get(self, request):
        locations = [location for location in storage_location_list() if location.index_only]
        usage = storage_usage_by_location()
        rows = [
            {
                "location": location,
                "usage": usage.get(str(location.pk), {"images": 0, "objects": 0, "bytes": 0}),
                "jobs": [
                    job_data(job)
                    for job in storage_job_list(location_id=location.pk, kind=STORAGE_SCAN, limit=5)
                ],
            }
            for location in locations
        ]
        return render(request, "storage/index.html", {"rows": rows})

    def post(self, request):
        try:
            location = storage_location_get(
                location_id=request.POST.get("location_id") or "00000000-0000-0000-0000-000000000000"
            )
            job = scan_start(
                tenant=request.tenant,
                actor=Actor.from_request(request),
                location=location,
                prefix=request.POST.get("prefix", ""),
            )
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return redirect("storage:index")
        return redirect("storage:job", job_id=job.pk)


class StorageJobPage(PermissionRequiredPage, View):
    """A migration or scan with a live progress bar (polls the API) and a cancel button."""

    required_permission = Perm.STORAGE_MANAGE

    def get(self, request, job_id):
        job = _or_404(storage_job_get, job_id=job_id)
        data = job_data(job)
        names = {str(location.pk): location.name for location in storage_location_list()}
        return render(
            request,
            "storage/job.html",
            {
                "job": data,
                "source": names.get(data["location_id"] or "", "(deleted)"),
                "target": names.get(data["target_id"] or "", ""),
                "api_url": f"/api/v1/tenants/{request.tenant.pk}/storage-jobs/{job.pk}",
            },
        )

    def post(self, request, job_id):
        try:
            storage_job_cancel(
                job=storage_job_get(job_id=job_id), actor=Actor.from_request(request), tenant=request.tenant
            )
            messages.success(request, "Cancelled; what was finished stays finished.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
        return redirect("storage:job", job_id=job_id)
