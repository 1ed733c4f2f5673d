"""Honest figures for what resolving won: bytes count as reclaimed only once the image is purged or
permanently deleted; until then they are in the trash, freed on trash date + retention."""

from datetime import date, timedelta
from typing import Any

from django.db.models import Sum
from django.db.models.functions import TruncDate

from apps.duplicates.models import Group, TrashedCopy
from apps.duplicates.selectors import with_image_state
from apps.images.models import Image
from apps.images.services.processing import image_settings_get


def trashed_copies_record(*, group: Group, trashed: list[Image], kept: list[Image]) -> None:
    """Remember what a duplicates action moved to the trash (call inside its transaction)."""
    kept_shas = {image.sha256 for image in kept}
    TrashedCopy.objects.bulk_create(
        [
            TrashedCopy(
                group=group,
                image_id=image.pk,
                size_bytes=image.size_bytes,
                identical=image.sha256 in kept_shas,
            )
            for image in trashed
        ],
        ignore_conflicts=True,
    )


def freed_on(deleted_at, *, retention_days: int) -> date:
    return (deleted_at + timedelta(days=retention_days)).date()


def copies_figures(copies) -> dict:
    """Reclaimed and in-trash bytes of copies read through with_image_state (a group's prefetch)."""
    retention = image_settings_get().retention_days
    reclaimed = sum(c.size_bytes for c in copies if not c.exists)
    in_trash = [c for c in copies if c.exists and c.deleted_at is not None]
    return {
        "reclaimed_bytes": reclaimed,
        "in_trash_bytes": sum(c.size_bytes for c in in_trash),
        "freed_on": max((freed_on(c.deleted_at, retention_days=retention) for c in in_trash), default=None),
    }


def reclaimed_report() -> dict:
    """Every duplicates action's trashed copies: bytes purged (reclaimed), bytes still in the trash
    by the day they are freed, and how much of the reclaimed bytes were identical copies."""
    retention = image_settings_get().retention_days
    # Annotated with `exists` and `deleted_at` of each copy's image (mypy cannot see annotations).
    copies: Any = with_image_state(TrashedCopy.objects.all())
    purged = copies.filter(exists=False).aggregate(b=Sum("size_bytes"))
    purged_identical = copies.filter(exists=False, identical=True).aggregate(b=Sum("size_bytes"))
    days = (
        copies.filter(exists=True, deleted_at__isnull=False)
        .annotate(day=TruncDate("deleted_at"))
        .values("day")
        .annotate(b=Sum("size_bytes"))
        .order_by("day")
    )
    in_trash = [{"freed_on": row["day"] + timedelta(days=retention), "bytes": row["b"] or 0} for row in days]
    return {
        "reclaimed_bytes": purged["b"] or 0,
        "reclaimed_identical_bytes": purged_identical["b"] or 0,
        "in_trash_bytes": sum(row["bytes"] for row in in_trash),
        "in_trash": in_trash,
    }
