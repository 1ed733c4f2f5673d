"""After ingestion: retry, soft delete, restore, and purge after the retention period."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.errors import PermissionDenied
from apps.images import pipeline
from apps.images.errors import ImageNotRetryable
from apps.images.models import Image, ImageStatus, StageState
from apps.images.services.ingest import image_enqueue
from apps.images.services.processing import image_settings_get
from apps.images.services.stages import stages_reset
from apps.images.services.usage import usage_reconcile
from apps.storage.backends import storage_for, thumbnail_storage_for

logger = logging.getLogger(__name__)


def _check_may_delete(*, image: Image, actor: Actor, permissions) -> None:
    if Perm.IMAGES_DELETE_ANY in permissions:
        return
    if actor.user is None or image.uploaded_by_id != actor.user.pk:
        raise PermissionDenied(
            "Members can delete and restore only the images they uploaded.", code="not_your_image"
        )


@transaction.atomic
def image_retry(*, image: Image, actor: Actor) -> Image:
    """A failed image is processed again; a ready image whose later stage failed (index, detect,
    embed) runs its later stages again."""
    if image.status == ImageStatus.READY:
        failed = list(image.stages.filter(state=StageState.FAILED).values_list("stage", flat=True))
        if not failed:
            raise ImageNotRetryable("Nothing to retry: no stage of this image has failed.")
        stages_reset(image_ids=[image.pk], stages=failed)
        pipeline.images_ready([image.pk])
        return image
    if image.status != ImageStatus.FAILED:
        raise ImageNotRetryable(f"Only failed images are retried; this one is {image.status}.")
    stages_reset(image_ids=[image.pk])
    image.status = ImageStatus.PENDING
    image.failed_stage = ""
    image.failure_reason = ""
    image.save(update_fields=["status", "failed_stage", "failure_reason", "updated_at"])
    image_enqueue(image=image)
    return image


@transaction.atomic
def image_delete(*, image: Image, actor: Actor, permissions, tenant) -> Image:
    _check_may_delete(image=image, actor=actor, permissions=permissions)
    if image.deleted_at is None:
        image.deleted_at = timezone.now()
        image.save(update_fields=["deleted_at", "updated_at"])
        pipeline.images_changed([image.pk])
        audit_record(
            actor=actor,
            action=AuditAction.IMAGE_DELETED,
            tenant=tenant,
            target=image,
            details={"filename": image.original_filename},
        )
    return image


@transaction.atomic
def image_restore(*, image: Image, actor: Actor, permissions, tenant) -> Image:
    _check_may_delete(image=image, actor=actor, permissions=permissions)
    if image.deleted_at is not None:
        image.deleted_at = None
        image.save(update_fields=["deleted_at", "updated_at"])
        pipeline.images_changed([image.pk])
        audit_record(
            actor=actor,
            action=AuditAction.IMAGE_RESTORED,
            tenant=tenant,
            target=image,
            details={"filename": image.original_filename},
        )
    return image


def image_purge(*, image: Image, actor: Actor, tenant) -> None:
    """Remove the original, its thumbnails and its row, for good."""
    location = image.storage_location
    # An index-only location's objects belong to their owner: DeepLens forgets them, never deletes.
    originals = set() if location.index_only else {image.storage_key}
    thumbnails = set(image.thumbnails.values_list("storage_key", flat=True)) - {image.storage_key}
    with transaction.atomic():
        # Locked first, so that rows other tasks are writing for it (duplicate pairs, signatures)
        # are committed before the delete collects them, and none are written after.
        if not Image.objects.select_for_update().filter(pk=image.pk).exists():
            return
        audit_record(
            actor=actor,
            action=AuditAction.IMAGE_PURGED,
            tenant=tenant,
            target=image,
            details={"filename": image.original_filename, "size_bytes": image.size_bytes},
        )
        image.delete()
    for key in originals:
        storage_for(location).delete(key)
    for key in thumbnails:
        thumbnail_storage_for(location).delete(key)


def images_purge_expired(*, tenant, now=None, limit: int = 1000) -> int:
    """Purge what has been in the trash longer than the tenant's retention; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=image_settings_get().retention_days)
    expired = list(Image.objects.select_related("storage_location").filter(deleted_at__lt=cutoff)[:limit])
    for image in expired:
        image_purge(image=image, actor=Actor.system(), tenant=tenant)
    if expired:
        logger.info("purged %d images of %s", len(expired), tenant.slug)
    usage_reconcile()
    return len(expired)
