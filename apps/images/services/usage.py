"""Storage used by a tenant's originals, reserved atomically before an upload is stored."""

from django.db.models import Count, F, Sum

from apps.images.models import Image, StorageUsage

USAGE_ROW = 1


def usage_reconcile() -> StorageUsage:
    """Recompute from the rows (hourly, and whenever the counter row is missing). Images indexed in
    place (index-only locations) live in the tenant's own storage and do not count."""
    totals = Image.objects.filter(storage_location__index_only=False).aggregate(
        bytes_used=Sum("size_bytes"), images=Count("id")
    )
    usage, _ = StorageUsage.objects.update_or_create(
        pk=USAGE_ROW, defaults={"bytes_used": totals["bytes_used"] or 0, "images": totals["images"]}
    )
    return usage


def storage_used_bytes() -> int:
    usage = StorageUsage.objects.filter(pk=USAGE_ROW).first() or usage_reconcile()
    return usage.bytes_used


def usage_reserve(*, size: int, limit: int) -> bool:
    """Add `size` unless that passes `limit`; exact under concurrency (one conditional UPDATE)."""
    for _attempt in range(2):
        updated = StorageUsage.objects.filter(pk=USAGE_ROW, bytes_used__lte=limit - size).update(
            bytes_used=F("bytes_used") + size, images=F("images") + 1
        )
        if updated or StorageUsage.objects.filter(pk=USAGE_ROW).exists():
            return bool(updated)
        usage_reconcile()
    return False


def usage_release(*, size: int) -> None:
    StorageUsage.objects.filter(pk=USAGE_ROW).update(
        bytes_used=F("bytes_used") - size, images=F("images") - 1
    )
