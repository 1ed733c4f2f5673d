"""Moving images between storage locations, one image at a time:

1. copy the original and its thumbnails to the target under the same keys;
2. read them back at the target and compare SHA-256 with what was read at the source (and the
   original with the image's recorded SHA-256);
3. switch the image to the target in one transaction, which also records the job's cursor and the
   source keys still to delete;
4. delete the source keys, then forget them.

Reads go to the source until step 3 commits and to the verified copy after, so no image is ever
unreadable. A worker killed anywhere resumes from the cursor: an image not yet switched is copied
again (same keys, overwritten), a switched image's leftover source keys are deleted first.
"""

import logging
from concurrent.futures import ThreadPoolExecutor

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.errors import InvalidInput
from apps.images.models import Image, ImageStatus
from apps.jobs.errors import JobCancelled
from apps.jobs.models import Job
from apps.jobs.runner import JobContext
from apps.storage.backends import copy_object, sha256_of, storage_for, transfer_errors
from apps.storage.errors import StorageConfigInvalid, StorageJobConflict
from apps.storage.models import StorageLocation
from apps.storage.services.jobs import (
    STORAGE_MIGRATE,
    location_gone_fails_the_job,
    storage_job_active,
    storage_job_create,
    storage_migration_emptying,
    storage_migrations_lock,
)

logger = logging.getLogger(__name__)
BATCH = 20
COPIERS = 8


class VerifyFailed(Exception):
    pass


def _clean_filters(filters: dict | None) -> dict:
    filters = dict(filters or {})
    unknown = sorted(set(filters) - {"image_ids", "status", "uploaded_after", "uploaded_before"})
    if unknown:
        raise InvalidInput(f"Unknown filters: {', '.join(unknown)}.", code="filters_invalid")
    cleaned: dict = {}
    if ids := filters.get("image_ids"):
        import uuid

        try:
            cleaned["image_ids"] = [str(uuid.UUID(str(value))) for value in ids]
        except (ValueError, TypeError) as exc:
            raise InvalidInput("image_ids must be image ids.", code="filters_invalid") from exc
    if status := filters.get("status"):
        statuses = [status] if isinstance(status, str) else list(status)
        if not set(statuses) <= {ImageStatus.READY, ImageStatus.FAILED}:
            raise InvalidInput("status is ready and/or failed.", code="filters_invalid")
        cleaned["status"] = statuses
    for name in ("uploaded_after", "uploaded_before"):
        if value := filters.get(name):
            if parse_datetime(str(value)) is None:
                raise InvalidInput(f"{name} must be an ISO date-time.", code="filters_invalid")
            cleaned[name] = str(value)
    return cleaned


def migration_start(
    *, tenant, actor: Actor, source: StorageLocation, target: StorageLocation, filters: dict | None
) -> Job:
    if source.pk == target.pk:
        raise StorageConfigInvalid("The target is the source.", extra={"target_config_id": ["same"]})
    if source.index_only or target.index_only:
        raise StorageConfigInvalid(
            "Index-only locations are never written to or emptied; images indexed in place stay there.",
            code="storage_location_read_only",
        )
    filters = _clean_filters(filters)
    with transaction.atomic():
        storage_migrations_lock()
        # A source is one migration's alone (into it or out of it); a target may take in several
        # migrations at once (each moves its own images), but not while a migration empties it.
        if running := storage_job_active(location_id=source.pk, kind=STORAGE_MIGRATE):
            raise StorageJobConflict(
                f"A migration involving {source.name!r} is already running.",
                extra={"job_id": str(running.pk)},
            )
        if running := storage_migration_emptying(location_id=target.pk):
            raise StorageJobConflict(
                f"A migration out of {target.name!r} is already running.",
                extra={"job_id": str(running.pk)},
            )
        job = storage_job_create(
            kind=STORAGE_MIGRATE,
            actor=actor,
            params={
                "location_id": str(source.pk),
                "target_id": str(target.pk),
                "filters": filters,
                "cursor": None,
                "pending_delete": [],
            },
        )
        audit_record(
            actor=actor,
            action=AuditAction.STORAGE_CHANGED,
            tenant=tenant,
            target_type="jobs.job",
            target_id=str(job.pk),
            details={
                "change": "migration_started",
                "source": source.name,
                "target": target.name,
                "filters": filters,
            },
        )
    return job


def _images(source: StorageLocation, filters: dict):
    images = Image.objects.filter(storage_location=source)
    if ids := filters.get("image_ids"):
        images = images.filter(pk__in=ids)
    if statuses := filters.get("status"):
        images = images.filter(status__in=statuses)
    if after := filters.get("uploaded_after"):
        images = images.filter(created_at__gte=parse_datetime(after))
    if before := filters.get("uploaded_before"):
        images = images.filter(created_at__lt=parse_datetime(before))
    return images.order_by("pk")


@location_gone_fails_the_job
def migration_run(ctx: JobContext) -> None:
    """Copies and verifies a batch of images in parallel (COPIERS threads: the time is network
    round trips), then switches them one by one in order, checking for cancellation before each."""
    job = ctx.job
    source = StorageLocation.objects.get(pk=job.params["location_id"])
    target = StorageLocation.objects.get(pk=job.params["target_id"])
    source_storage, target_storage = storage_for(source), storage_for(target)
    errors = transfer_errors()
    copy_failures: tuple[type[Exception], ...] = (VerifyFailed, *errors)
    _delete_pending(job, source_storage, errors)
    images = _images(source, job.params.get("filters") or {})
    if not job.total:
        Job.objects.filter(pk=job.pk).update(total=images.count())
    cursor = job.params.get("cursor")
    with ThreadPoolExecutor(max_workers=COPIERS) as copiers:
        while True:
            batch = list(
                (images.filter(pk__gt=cursor) if cursor else images).prefetch_related("thumbnails")[:BATCH]
            )
            if not batch:
                return
            movable = [i for i in batch if i.status not in (ImageStatus.PENDING, ImageStatus.PROCESSING)]
            copies = {
                image.pk: copiers.submit(_copy_and_verify, image, source_storage, target_storage)
                for image in movable
            }
            try:
                for image in batch:
                    ctx.heartbeat()
                    if image.pk not in copies:
                        # Its thumbnails are being written where it is; a later migration takes it.
                        _advance(job, cursor=str(image.pk), skipped=1)
                        continue
                    try:
                        keys = copies.pop(image.pk).result()
                    except copy_failures as exc:
                        logger.warning("migration %s: image %s not moved: %s", job.pk, image.pk, exc)
                        _advance(job, cursor=str(image.pk), failed=1)
                        continue
                    if _switch(job, image=image, source=source, target=target, keys=keys):
                        _delete_pending(job, source_storage, errors)
            except JobCancelled:
                _discard_unswitched(copies, target_storage, errors)
                raise
            cursor = str(batch[-1].pk)


def _discard_unswitched(copies: dict, target_storage, errors) -> None:
    """Copies made for images that were not switched are nobody's: remove them from the target."""
    for future in copies.values():
        try:
            keys = future.result()
        except (VerifyFailed, *errors):
            continue
        for key in keys:
            try:
                target_storage.delete(key)
            except errors as exc:
                logger.warning("could not remove the unused copy %s: %s", key, exc)


def _copy_and_verify(image: Image, source_storage, target_storage) -> list[str]:
    keys = [image.storage_key] + [
        thumbnail.storage_key
        for thumbnail in image.thumbnails.all()
        if thumbnail.storage_key != image.storage_key
    ]
    for key in keys:
        read = copy_object(source_storage, target_storage, key)
        if key == image.storage_key and image.sha256 and read != image.sha256:
            raise VerifyFailed(f"{key}: the source does not match the recorded SHA-256")
        written = sha256_of(target_storage, key)
        if written != read:
            raise VerifyFailed(f"{key}: SHA-256 at the target differs ({written} != {read})")
    return keys


def _advance(job: Job, *, cursor: str, skipped: int = 0, failed: int = 0) -> None:
    job.params["cursor"] = cursor
    Job.objects.filter(pk=job.pk).update(
        params=job.params, skipped=F("skipped") + skipped, failed=F("failed") + failed
    )


def _switch(job: Job, *, image: Image, source, target, keys: list[str]) -> bool:
    """Point the image at the target, record the cursor and the keys to delete, in one transaction."""
    with transaction.atomic():
        locked = Image.objects.select_for_update().filter(pk=image.pk, storage_location=source).first()
        job.params["cursor"] = str(image.pk)
        if locked is None:  # purged or moved meanwhile: nothing to switch, nothing to delete
            Job.objects.filter(pk=job.pk).update(params=job.params, skipped=F("skipped") + 1)
            return False
        Image.objects.filter(pk=image.pk).update(storage_location=target, updated_at=timezone.now())
        job.params["pending_delete"] = keys
        Job.objects.filter(pk=job.pk).update(params=job.params, processed=F("processed") + 1)
    return True


def _delete_pending(job: Job, source_storage, errors) -> None:
    keys = job.params.get("pending_delete") or []
    for key in keys:
        try:
            source_storage.delete(key)
        except errors as exc:  # the copy is verified and in use; a leftover only costs space
            logger.warning("migration %s: could not delete %s at the source: %s", job.pk, key, exc)
    if keys:
        job.params["pending_delete"] = []
        Job.objects.filter(pk=job.pk).update(params=job.params)
