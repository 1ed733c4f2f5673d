"""The tenant's image policy: trash retention, GPS, the largest upload and identical uploads."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.connection import connection
from apps.core.errors import InvalidInput
from apps.core.process_cache import invalidate
from apps.images.models import ImageSettings

POLICY_FIELDS = ("retention_days", "keep_gps", "max_upload_bytes", "identical_uploads")


def max_upload_cap(tenant) -> int:
    """The largest per-file limit a tenant may set: the installation's limit, and never more than its
    plan's storage."""
    return min(settings.DEEPLENS_MAX_UPLOAD_BYTES, tenant.limits.max_storage_bytes)


def image_settings_validate(*, tenant, changes: dict) -> dict[str, list[str]]:
    """Per-field messages for what cannot be stored (empty when all is well); writes nothing."""
    errors: dict[str, list[str]] = {}
    candidate = ImageSettings(**{field: value for field, value in changes.items() if field in POLICY_FIELDS})
    try:
        candidate.clean_fields(exclude=[f.name for f in ImageSettings._meta.fields if f.name not in changes])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    cap = max_upload_cap(tenant)
    if (
        "max_upload_bytes" in changes
        and "max_upload_bytes" not in errors
        and changes["max_upload_bytes"] > cap
    ):
        errors["max_upload_bytes"] = [f"At most {cap:,} bytes on this workspace's plan and installation."]
    return errors


@transaction.atomic
def image_settings_update(*, actor: Actor, tenant, **changes) -> ImageSettings:
    """Change any of POLICY_FIELDS (audited with before and after). Bad input changes nothing
    (InvalidInput with a message per field)."""
    unknown = sorted(set(changes) - set(POLICY_FIELDS))
    if unknown:
        raise ValueError(f"Not image settings: {', '.join(unknown)}")
    if errors := image_settings_validate(tenant=tenant, changes=changes):
        raise InvalidInput("Some settings are not valid.", code="settings_invalid", extra=errors)
    policy = ImageSettings.objects.select_for_update().first() or ImageSettings.objects.create()
    changed = {field: value for field, value in changes.items() if getattr(policy, field) != value}
    if not changed:
        return policy
    before = {field: getattr(policy, field) for field in changed}
    for field, value in changed.items():
        setattr(policy, field, value)
    policy.full_clean()
    policy.save(update_fields=[*changed, "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.IMAGE_SETTINGS_CHANGED,
        tenant=tenant,
        target_type="images.imagesettings",
        target_id=str(policy.pk),
        details={"before": before, "after": changed},
    )
    # every process (web and workers) sees the change at its next read once it is committed
    schema = connection.schema_name
    transaction.on_commit(lambda: invalidate(schema, (schema, "image-settings")))
    return policy
