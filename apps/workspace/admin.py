"""The Django admin's tenant page also edits the workspace's policy (image and duplicate settings),
which lives in the tenant's own schema: read and written through the same service as the API."""

from django import forms
from django.contrib import admin

from apps.accounts.models import Role
from apps.accounts.permissions import role_permissions
from apps.audit.context import Actor
from apps.duplicates.keeper import CRITERIA
from apps.images.models import IdenticalUploads, ImageFormat
from apps.tenants.admin import TenantAdmin
from apps.tenants.models import Tenant
from apps.tenants.services import in_tenant
from apps.workspace.services import (
    workspace_settings_get,
    workspace_settings_update,
    workspace_settings_validate,
    workspace_similar_model_problems,
)

ORDER_FIELDS = ("keeper_criteria", "format_priority")
POLICY_FIELDS = (
    "retention_days",
    "keep_gps",
    "max_upload_bytes",
    "identical_uploads",
    "keeper_criteria",
    "format_priority",
    "similar_enabled",
    "similar_threshold",
)


def _order(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _policy_fields() -> dict[str, forms.Field]:
    return {
        # Not required: a field left out of a post (or empty) keeps its value.
        "retention_days": forms.IntegerField(
            required=False, help_text="Days in the trash before purge (1 to 3650)."
        ),
        "keep_gps": forms.NullBooleanField(required=False, help_text="Keep GPS coordinates from photos."),
        "max_upload_bytes": forms.IntegerField(required=False, help_text="The largest upload, in bytes."),
        "identical_uploads": forms.ChoiceField(
            required=False, choices=[("", "—"), *IdenticalUploads.choices]
        ),
        "keeper_criteria": forms.CharField(
            required=False, help_text=f"Comma-separated order of: {', '.join(CRITERIA)}."
        ),
        "format_priority": forms.CharField(
            required=False, help_text=f"Comma-separated order of: {', '.join(ImageFormat.values)}."
        ),
        "similar_enabled": forms.NullBooleanField(
            required=False,
            help_text="Also group visually similar images (needs CLIP or ResNet-50 switched on, with "
            "its weights).",
        ),
        "similar_threshold": forms.FloatField(
            required=False, help_text="Cosine similarity at which images form a similar group (0.8 to 0.99)."
        ),
    }


class WorkspaceTenantAdmin(TenantAdmin):
    def get_fields(self, request, obj=None):
        fields = list(super().get_fields(request, obj))
        return [*fields, *POLICY_FIELDS] if obj is not None else fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            return super().get_form(request, obj, change, **kwargs)
        kwargs["fields"] = [f for f in self.get_fields(request, obj) if f not in POLICY_FIELDS]
        base = super().get_form(request, obj, change, **kwargs)
        with in_tenant(obj):
            current = workspace_settings_get(tenant=obj)

        def clean(form):
            cleaned = base.clean(form)
            changes = _changes(form.cleaned_data, current)
            with in_tenant(obj):
                errors = workspace_settings_validate(tenant=obj, changes=changes)
                errors = errors or workspace_similar_model_problems(changes=changes)
            for field, problems in errors.items():
                form.add_error(field, problems)
            return cleaned

        fields = _policy_fields()
        for name, field in fields.items():
            value = current[name]
            field.initial = ", ".join(value) if name in ORDER_FIELDS else value
        return type("WorkspaceTenantForm", (base,), {**fields, "clean": clean, "policy_current": current})

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change:
            changes = _changes(form.cleaned_data, form.policy_current)
            if changes:
                with in_tenant(obj):
                    workspace_settings_update(
                        tenant=obj,
                        actor=Actor.from_request(request),
                        granted=role_permissions(Role.GLOBAL_ADMIN),
                        changes=changes,
                    )


def _changes(data: dict, current: dict) -> dict:
    values = {name: data.get(name) for name in POLICY_FIELDS if name in data}
    for name in ORDER_FIELDS:
        text = values.get(name)
        if isinstance(text, str):
            values[name] = _order(text)
    return {
        name: value
        for name, value in values.items()
        if value not in (None, "", []) and value != current[name]
    }


admin.site.unregister(Tenant)
admin.site.register(Tenant, WorkspaceTenantAdmin)
