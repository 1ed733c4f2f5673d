"""Images found in place (a storage scan of an index-only location): registered by the images
domain like uploads, so they enter the same pipeline (apps/images/pipeline.py) the same way."""

from dataclasses import dataclass

from django.db import transaction

from apps.images.models import Image, ImageStatus
from apps.images.services.ingest import image_enqueue, sanitize_filename
from apps.images.services.stages import stages_reset

# What a changed object resets: the image is processed again from the start.
RESET_FIELDS = [
    "format",
    "content_type",
    "size_bytes",
    "source_version",
    "last_seen_at",
    "missing_at",
    "sha256",
    "status",
    "attempts",
    "failed_stage",
    "failure_reason",
    "claimed_by",
    "decoded_at",
    "thumbnails_at",
    "hashed_at",
    "processed_at",
]


@dataclass(frozen=True)
class Found:
    """An image object seen by a scan: its key, version (ETag or size-mtime), size and the format
    its first bytes say."""

    key: str
    version: str
    size: int
    format: str
    content_type: str


def images_register_found(
    *, location, new: list[Found], changed: list[tuple[Image, Found]], seen: list, now
) -> int:
    """Create rows for new objects, reset rows whose object changed, stamp the ones seen unchanged,
    all in one transaction; the new and changed go to processing once it commits. Returns how many
    were registered or reset."""
    created = [
        Image(
            original_filename=sanitize_filename(found.key.rsplit("/", 1)[-1]),
            format=found.format,
            content_type=found.content_type,
            width=0,
            height=0,
            size_bytes=found.size,
            sha256="",  # hashed when first read
            storage_location=location,
            storage_key=found.key,
            status=ImageStatus.PENDING,
            source_version=found.version,
            last_seen_at=now,
            created_at=now,
        )
        for found in new
    ]
    for image, found in changed:
        image.format, image.content_type, image.size_bytes = found.format, found.content_type, found.size
        image.source_version, image.last_seen_at, image.missing_at = found.version, now, None
        image.sha256, image.status, image.attempts, image.claimed_by = "", ImageStatus.PENDING, 0, ""
        image.failed_stage = image.failure_reason = ""
        image.decoded_at = image.thumbnails_at = image.hashed_at = image.processed_at = None
    with transaction.atomic():
        if created:
            Image.objects.bulk_create(created, batch_size=500)
        if changed:
            Image.objects.bulk_update([image for image, _f in changed], RESET_FIELDS, batch_size=500)
            stages_reset(image_ids=[image.pk for image, _f in changed])
        if seen:
            Image.objects.filter(pk__in=seen).update(last_seen_at=now, missing_at=None)
        if created or changed:
            image_enqueue(image=created[0] if created else changed[0][0])
    return len(created) + len(changed)
