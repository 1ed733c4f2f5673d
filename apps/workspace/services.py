"""The workspace's settings in one place: each field belongs to the domain that owns it (tenant name
and time zone, the image policy, the duplicate policy, thumbnail sizes) and needs its own permission.
One change is validated whole first, then written in one transaction, each part audited by its
owner with its before and after."""

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.errors import InvalidInput, PermissionDenied
from apps.duplicates.errors import SimilarNeedsModel
from apps.duplicates.keeper import CRITERIA_LABELS
from apps.duplicates.services import duplicate_settings_get
from apps.duplicates.services.policy import (
    SIMILAR_NEEDS_MODEL,
    duplicate_settings_update,
    duplicate_settings_validate,
    similar_model_check,
)
from apps.images.selectors import image_settings_current, thumbnail_spec_list
from apps.images.services.policy import image_settings_update, image_settings_validate, max_upload_cap
from apps.images.services.thumbnails import thumbnail_config_update, thumbnail_config_validate
from apps.search.services.models import similarity_model
from apps.tenants.models import validate_time_zone
from apps.tenants.services import tenant_update

# Who may change each setting. Tenant-wide policy is the owner's; duplicates and thumbnails are
# the admins' (as their own endpoints already are).
FIELD_PERMISSIONS: dict[str, Perm] = {
    "name": Perm.TENANT_SETTINGS,
    "time_zone": Perm.TENANT_SETTINGS,
    "retention_days": Perm.TENANT_SETTINGS,
    "keep_gps": Perm.TENANT_SETTINGS,
    "max_upload_bytes": Perm.TENANT_SETTINGS,
    "identical_uploads": Perm.DUPLICATES_MANAGE,
    "keeper_criteria": Perm.DUPLICATES_MANAGE,
    "format_priority": Perm.DUPLICATES_MANAGE,
    "similar_enabled": Perm.DUPLICATES_MANAGE,
    "similar_threshold": Perm.DUPLICATES_MANAGE,
    "thumbnail_specs": Perm.THUMBNAILS_MANAGE,
}
SETTINGS_PERMISSIONS = tuple(dict.fromkeys(FIELD_PERMISSIONS.values()))
IMAGE_FIELDS = ("retention_days", "keep_gps", "max_upload_bytes", "identical_uploads")
DUPLICATE_FIELDS = ("keeper_criteria", "format_priority", "similar_enabled", "similar_threshold")
SPEC_FIELDS = ("name", "max_width", "max_height", "format", "quality")


def _spec(spec) -> dict:
    return {field: getattr(spec, field) for field in SPEC_FIELDS}


def workspace_settings_get(*, tenant, granted: frozenset = frozenset()) -> dict:
    """Every setting as stored now, the upload cap, and which of them `granted` may change."""
    images = image_settings_current()
    duplicates = duplicate_settings_get()
    return {
        "name": tenant.name,
        "slug": tenant.slug,
        "tier": tenant.tier,
        "time_zone": tenant.time_zone,
        "retention_days": images.retention_days,
        "keep_gps": images.keep_gps,
        "max_upload_bytes": images.max_upload_bytes,
        "max_upload_bytes_cap": max_upload_cap(tenant),
        "identical_uploads": images.identical_uploads,
        "keeper_criteria": list(duplicates.keeper_criteria),
        "keeper_criteria_labels": CRITERIA_LABELS,
        "format_priority": list(duplicates.format_priority),
        "similar_enabled": duplicates.similar_enabled,
        "similar_threshold": duplicates.similar_threshold,
        "similar_model": model.key if (model := similarity_model()) else None,
        "similar_needs_model": SIMILAR_NEEDS_MODEL,
        "thumbnail_specs": [_spec(spec) for spec in thumbnail_spec_list()],
        "editable": {field: perm in granted for field, perm in FIELD_PERMISSIONS.items()},
    }


def workspace_settings_validate(*, tenant, changes: dict) -> dict[str, list[str]]:
    """Per-field messages for every change that cannot be stored; writes nothing."""
    errors: dict[str, list[str]] = {}
    if "name" in changes and not str(changes["name"]).strip():
        errors["name"] = ["The workspace needs a name."]
    if "time_zone" in changes:
        try:
            validate_time_zone(changes["time_zone"])
        except ValidationError:
            errors["time_zone"] = [f"{changes['time_zone']!r} is not a known time zone (e.g. Europe/Berlin)."]
    errors.update(
        image_settings_validate(tenant=tenant, changes={f: changes[f] for f in IMAGE_FIELDS if f in changes})
    )
    errors.update(
        duplicate_settings_validate(
            keeper_criteria=changes.get("keeper_criteria"),
            format_priority=changes.get("format_priority"),
            similar_threshold=changes.get("similar_threshold"),
        )
    )
    if "thumbnail_specs" in changes and (problems := thumbnail_config_validate(changes["thumbnail_specs"])):
        errors["thumbnail_specs"] = problems
    return errors


def workspace_similar_model_problems(*, changes: dict) -> dict[str, list[str]]:
    """{field: [message]} when `changes` switch similar grouping on or change its threshold while
    the tenant has no active embedding model (the update itself refuses it as similar_needs_model)."""
    current = duplicate_settings_get()
    threshold = changes.get("similar_threshold")
    try:
        similar_model_check(
            switched_on=changes.get("similar_enabled") is True and not current.similar_enabled,
            threshold_changed=threshold is not None and float(threshold) != current.similar_threshold,
        )
    except SimilarNeedsModel as exc:
        return dict(exc.extra or {})
    return {}


@transaction.atomic
def workspace_settings_update(*, tenant, actor: Actor, granted: frozenset, changes: dict) -> dict:
    """Apply `changes` (field → new value) if `granted` covers every field (else PermissionDenied
    naming them) and every value is valid (else InvalidInput with a message per field); either way a
    refused change writes nothing. Unchanged values are no change and are not audited."""
    unknown = sorted(set(changes) - set(FIELD_PERMISSIONS))
    if unknown:
        raise InvalidInput(
            f"Not a setting: {', '.join(unknown)}.",
            code="settings_invalid",
            extra={field: ["Not a setting."] for field in unknown},
        )
    denied = sorted(field for field in changes if FIELD_PERMISSIONS[field] not in granted)
    if denied:
        raise PermissionDenied(
            f"Your role may not change: {', '.join(denied)}.",
            code="permission_denied",
            extra={field: [f"Needs the {str(FIELD_PERMISSIONS[field])!r} permission."] for field in denied},
        )
    if errors := workspace_settings_validate(tenant=tenant, changes=changes):
        raise InvalidInput(
            f"Not saved: check {', '.join(sorted(errors))}.", code="settings_invalid", extra=errors
        )
    if {"name", "time_zone"} & changes.keys():
        name = changes.get("name")
        tenant_update(
            tenant=tenant,
            actor=actor,
            name=name.strip() if name is not None else None,
            time_zone=changes.get("time_zone"),
        )
        tenant.refresh_from_db(fields=["name", "time_zone", "updated_at"])
    if image_changes := {f: changes[f] for f in IMAGE_FIELDS if f in changes}:
        image_settings_update(actor=actor, tenant=tenant, **image_changes)
    if duplicate_changes := {f: changes[f] for f in DUPLICATE_FIELDS if f in changes}:
        duplicate_settings_update(actor=actor, tenant=tenant, **duplicate_changes)
    if "thumbnail_specs" in changes:
        specs = [{field: spec[field] for field in SPEC_FIELDS} for spec in changes["thumbnail_specs"]]
        if specs != [_spec(spec) for spec in thumbnail_spec_list()]:
            thumbnail_config_update(specs=specs, actor=actor, tenant=tenant)
    return workspace_settings_get(tenant=tenant, granted=granted)
