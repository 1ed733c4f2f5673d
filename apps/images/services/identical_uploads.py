"""Uploads whose bytes are already in the workspace: found by SHA-256, kept and grouped by default,
or refused when the tenant says so (ImageSettings.identical_uploads)."""

from django.db import transaction

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.connection import connection
from apps.core.process_cache import invalidate
from apps.images.errors import IdenticalUploadRefused
from apps.images.models import IdenticalUploads, Image, ImageSettings
from apps.images.services.processing import image_settings_get


def identical_image_of(*, sha256: str) -> str | None:
    """The oldest live image with these bytes (the trash does not count: it is on its way out)."""
    found = (
        Image.objects.filter(sha256=sha256, deleted_at__isnull=True)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    return str(found) if found else None


def identical_upload_check(*, sha256: str, policy: ImageSettings) -> str | None:
    """The id of the image the upload's bytes already are, or None; refuses it (nothing stored yet)
    when the tenant refuses identical uploads."""
    duplicate_of = identical_image_of(sha256=sha256)
    if duplicate_of and policy.identical_uploads == IdenticalUploads.REFUSE:
        raise IdenticalUploadRefused(
            "This workspace already holds an image with exactly these bytes, and it refuses identical "
            "uploads.",
            extra={"duplicate_of": duplicate_of},
        )
    return duplicate_of


@transaction.atomic
def identical_uploads_set(*, value: str, actor: Actor, tenant) -> ImageSettings:
    """Keep (and group) or refuse uploads whose bytes are already in the workspace."""
    policy = ImageSettings.objects.select_for_update().first() or ImageSettings.objects.create()
    before = policy.identical_uploads
    policy.identical_uploads = value
    policy.full_clean()
    if before != value:
        policy.save(update_fields=["identical_uploads", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.IMAGE_SETTINGS_CHANGED,
            tenant=tenant,
            target_type="images.imagesettings",
            target_id=str(policy.pk),
            details={"identical_uploads": {"from": before, "to": value}},
        )
    # every process (web and workers) sees the change at its next read once it is committed
    schema = connection.schema_name
    transaction.on_commit(lambda: invalidate(schema, (schema, "image-settings")))
    return policy


def identical_uploads_get() -> str:
    return image_settings_get().identical_uploads
