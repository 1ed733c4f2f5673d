"""Moving selected images to another storage location (POST storage/move, the gallery's bulk bar).

The images are grouped by the location they are at and each group becomes one migration job
(apps/storage/services/migration.py copies the original and its thumbnails, verifies them, switches
the image and deletes the source copies). Images already at the target need nothing; images that
cannot move now are refused one by one with a reason, and the others still move.
"""

import uuid
from dataclasses import dataclass, field

from django.db import transaction

from apps.audit.context import Actor
from apps.core.errors import InvalidInput
from apps.images.models import Image, ImageStatus
from apps.jobs.models import Job
from apps.storage.errors import StorageConfigInvalid, StorageJobConflict
from apps.storage.models import StorageLocation
from apps.storage.selectors import storage_move_targets
from apps.storage.services.jobs import (
    storage_migration_emptying,
    storage_migrations_active,
    storage_migrations_lock,
)
from apps.storage.services.migration import migration_start

MAX_MOVE = 500

# Why an image does not move, for programs (the code) and for people (the message).
REFUSALS = {
    "not_found": "No such image in this workspace.",
    "trashed": "It is in the trash.",
    "failed": "Its processing failed; retry it before moving it.",
    "processing": "It is still being processed.",
    "index_only": "It is indexed in place; files of index-only locations are never moved or deleted.",
    "migrating": "It is being moved already.",
    "location_busy": "Another move into or out of its location is running; try again when it ends.",
}


@dataclass
class MoveResult:
    target: StorageLocation
    jobs: list[Job] = field(default_factory=list)
    moving: int = 0
    already_there: int = 0
    # [{id, reason, message}]
    refused: list[dict] = field(default_factory=list)

    def refuse(self, image_id, reason: str) -> None:
        self.refused.append({"id": str(image_id), "reason": reason, "message": REFUSALS[reason]})


def _ids(ids: list) -> list[uuid.UUID]:
    wanted: list[uuid.UUID] = []
    for value in ids:
        try:
            one = value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
        except ValueError as exc:
            raise InvalidInput(
                "ids must be image ids.", code="ids_invalid", extra={"ids": [f"Not an id: {str(value)[:40]}"]}
            ) from exc
        if one not in wanted:
            wanted.append(one)
    if not wanted:
        raise InvalidInput("Select the images to move.", code="ids_required", extra={"ids": ["Required."]})
    if len(wanted) > MAX_MOVE:
        raise InvalidInput(
            f"At most {MAX_MOVE} images move at once; {len(wanted)} were given.",
            code="too_many_ids",
            extra={"ids": [f"At most {MAX_MOVE}."]},
        )
    return wanted


def move_target_get(*, target_id) -> StorageLocation:
    """The location images may be moved to: one of this workspace's, written to by DeepLens.
    400 otherwise (a body field, not the resource of the request)."""
    try:
        target_uuid = uuid.UUID(str(target_id))
    except ValueError:
        target_uuid = None
    location = StorageLocation.objects.filter(pk=target_uuid).first() if target_uuid else None
    if location is None:
        raise InvalidInput(
            "No such storage location in this workspace.",
            code="storage_target_not_found",
            extra={"target_id": ["No such storage location."]},
        )
    if not storage_move_targets().filter(pk=location.pk).exists():
        raise StorageConfigInvalid(
            f"{location.name} is index-only: DeepLens never writes there.",
            code="storage_location_read_only",
            extra={"target_id": ["Not writable."]},
        )
    return location


def images_move(*, tenant, actor: Actor, ids: list, target_id) -> MoveResult:
    """Start moving the images with these ids to the target: one migration job per location they
    are at. Bad input (no ids, too many, an unknown or read-only target) changes nothing; a target
    that a running migration is emptying is a 409. Images of other workspaces are not found."""
    wanted = _ids(ids)
    target = move_target_get(target_id=target_id)
    result = MoveResult(target=target)
    with transaction.atomic():
        storage_migrations_lock()
        if emptying := storage_migration_emptying(location_id=target.pk):
            raise StorageJobConflict(
                f"A migration out of {target.name!r} is running; move images there when it ends.",
                extra={"job_id": str(emptying.pk)},
            )
        images = {
            image.pk: image
            for image in Image.objects.select_related("storage_location").filter(pk__in=wanted)
        }
        running = storage_migrations_active()
        busy = {job.params.get(side) for job in running for side in ("location_id", "target_id")}
        groups: dict[uuid.UUID, list[Image]] = {}
        for image_id in wanted:
            image = images.get(image_id)
            reason = _refusal(image, target=target, running=running, busy=busy)
            if reason == "already_there":
                result.already_there += 1
            elif reason or image is None:
                result.refuse(image_id, reason or "not_found")
            else:
                groups.setdefault(image.storage_location_id, []).append(image)
        for group in groups.values():
            source = group[0].storage_location
            try:
                job = migration_start(
                    tenant=tenant,
                    actor=actor,
                    source=source,
                    target=target,
                    filters={"image_ids": [str(image.pk) for image in group], "status": [ImageStatus.READY]},
                )
            except StorageJobConflict:  # not expected under the lock; refused rather than half-done
                for image in group:
                    result.refuse(image.pk, "location_busy")
                continue
            result.jobs.append(job)
            result.moving += len(group)
    return result


def _refusal(image: Image | None, *, target: StorageLocation, running: list[Job], busy: set) -> str:
    """Why this image does not move ("already_there" when it need not), or "" when it moves."""
    if image is None:
        return "not_found"
    if image.deleted_at is not None:
        return "trashed"
    if image.storage_location_id == target.pk:
        return "already_there"
    if image.status == ImageStatus.FAILED:
        return "failed"
    if image.status != ImageStatus.READY:
        return "processing"
    if image.storage_location.index_only:
        return "index_only"
    source = str(image.storage_location_id)
    for job in running:
        selected = (job.params.get("filters") or {}).get("image_ids")
        if job.params.get("location_id") == source and (not selected or str(image.pk) in selected):
            return "migrating"
    if source in busy:
        return "location_busy"
    return ""
