"""Re-run processing for a tenant's images (operator command `manage.py reindex`)."""

from django.db import transaction
from django.db.models import QuerySet

from apps.images.models import Image, ImageStatus


def images_for_reindex(*, failed_only: bool = False) -> QuerySet[Image]:
    """Live images no worker holds: ready and failed ones (only failed with failed_only)."""
    statuses = [ImageStatus.FAILED] if failed_only else [ImageStatus.READY, ImageStatus.FAILED]
    return Image.objects.filter(deleted_at__isnull=True, status__in=statuses).order_by("created_at")


@transaction.atomic
def images_reindex_reset(*, image_ids: list) -> int:
    """Put these images back to `pending` with their thumbnail and hash markers cleared, so the
    processing task runs the whole pipeline again; decoded metadata stays until the re-run
    overwrites it. Thumbnails are always rendered again: the hashes are computed from a fresh
    rendition, and hashes from the decoded image instead would differ by several bits from those of
    images processed normally. Returns how many were reset; the caller enqueues them."""
    changes = {
        "status": ImageStatus.PENDING,
        "failed_stage": "",
        "failure_reason": "",
        "attempts": 0,
        "thumbnails_at": None,
        "hashed_at": None,
        "processed_at": None,
    }
    # Hook: when apps/embeddings lands, clear its "embedded" marker here too (or enqueue its embed.*
    # task next to image_process_task in the command), so that reindex recomputes the vectors.
    # (No audit event: an operator's maintenance run changes no content; the command prints the count.)
    return (
        Image.objects.filter(pk__in=image_ids, deleted_at__isnull=True)
        .exclude(status=ImageStatus.PROCESSING)
        .update(**changes)
    )
