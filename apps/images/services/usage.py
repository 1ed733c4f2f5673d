"""Storage used by a tenant's originals, reserved atomically before an upload is stored.

The counter row (StorageUsage) holds the bytes of recorded images and the bytes reserved by uploads
in flight. A reservation is also a row (StorageReservation) with an expiry: the INSERT of the image
deletes it and moves its bytes from `reserved_bytes` to `bytes_used` in one transaction, a refused
or failed upload deletes it, and one whose web worker died expires. `usage_reconcile` recomputes
the counters from the images and the live reservations, so they are exact after any crash.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.connection import connection
from apps.images.models import StorageReservation, StorageUsage
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import webhook_emit

logger = logging.getLogger(__name__)

USAGE_ROW = 1
# Storage use, in percent of the quota, at which a `quota.warning` webhook goes out.
QUOTA_WARNING_LEVELS = (80, 100)

# Bytes and count of the originals that count against the quota. Images indexed in place
# (index-only locations) live in the tenant's own storage and do not count.
_TOTALS = """
SELECT COALESCE(SUM(image.size_bytes), 0), COUNT(image.id)
FROM images_image image JOIN storage_storagelocation location ON location.id = image.storage_location_id
WHERE NOT location.index_only
"""


def usage_ensure() -> None:
    """Create the counter row if it is missing, from the rows; race-free (INSERT ... ON CONFLICT DO
    NOTHING), so concurrent first uploads never overwrite each other's reservations."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO images_storageusage
                (id, bytes_used, images, reserved_bytes, warned_percent, updated_at)
            SELECT %s, totals.bytes, totals.images, 0, 0, now()
            FROM ({_TOTALS}) AS totals(bytes, images)
            ON CONFLICT (id) DO NOTHING
            """,
            [USAGE_ROW],
        )


@transaction.atomic
def usage_reconcile() -> StorageUsage:
    """Recompute from the rows and drop expired reservations (hourly with the trash purge, every
    few minutes from beat, and when an upload is refused while an expired reservation exists).
    The counter row is locked first: every change to it takes the same lock in the transaction
    that inserts the image, so what is read here is one consistent state."""
    usage_ensure()
    usage = StorageUsage.objects.select_for_update().get(pk=USAGE_ROW)
    expired = StorageReservation.objects.filter(expires_at__lte=timezone.now()).delete()[0]
    if expired:
        logger.warning("dropped %d expired upload reservations in %s", expired, connection.schema_name)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT totals.bytes, totals.images, (SELECT COALESCE(SUM(size_bytes), 0) FROM "
            f"images_storagereservation) FROM ({_TOTALS}) AS totals(bytes, images)"
        )
        usage.bytes_used, usage.images, usage.reserved_bytes = cursor.fetchone()
    usage.save(update_fields=["bytes_used", "images", "reserved_bytes", "updated_at"])
    return usage


def storage_used_bytes() -> int:
    """Bytes of the recorded originals (uploads in flight not included)."""
    usage = StorageUsage.objects.filter(pk=USAGE_ROW).first() or usage_reconcile()
    return usage.bytes_used


def _reserve_once(*, size: int, limit: int) -> int | None:
    with transaction.atomic():
        updated = StorageUsage.objects.filter(
            pk=USAGE_ROW, bytes_used__lte=limit - size - F("reserved_bytes")
        ).update(reserved_bytes=F("reserved_bytes") + size)
        if not updated:
            return None
        expires = timezone.now() + timedelta(seconds=settings.DEEPLENS_UPLOAD_RESERVATION_SECONDS)
        return StorageReservation.objects.create(size_bytes=size, expires_at=expires).pk


def usage_reserve(*, size: int, limit: int) -> int | None:
    """Hold `size` bytes unless that passes `limit`; returns the reservation's id, or None when the
    quota would be exceeded. Exact under concurrency (one conditional UPDATE of the counter row)."""
    reservation = _reserve_once(size=size, limit=limit)
    if reservation is not None:
        return reservation
    if not StorageUsage.objects.filter(pk=USAGE_ROW).exists():
        usage_ensure()
    elif not StorageReservation.objects.filter(expires_at__lte=timezone.now()).exists():
        return None
    else:
        usage_reconcile()
    return _reserve_once(size=size, limit=limit)


def _lock_counter() -> None:
    """The counter row before a reservation row, in every transaction that touches both (as
    `usage_reconcile` does): one order, no deadlock."""
    list(StorageUsage.objects.select_for_update().filter(pk=USAGE_ROW).values_list("pk", flat=True))


def usage_commit(*, reservation: int, size: int) -> None:
    """The image is being recorded (call inside the transaction of its INSERT): the reserved bytes
    become used bytes. A reservation that expired meanwhile was already dropped by a reconcile,
    which then counted the image if it was committed; otherwise the image is counted here."""
    _lock_counter()
    held = StorageReservation.objects.filter(pk=reservation).delete()[0]
    StorageUsage.objects.filter(pk=USAGE_ROW).update(
        bytes_used=F("bytes_used") + size,
        images=F("images") + 1,
        reserved_bytes=F("reserved_bytes") - (size if held else 0),
    )


def usage_release(*, reservation: int, size: int) -> None:
    """The upload was refused or failed before its image was recorded. If the database is what
    failed, the reservation stays behind and expires."""
    try:
        with transaction.atomic():
            _lock_counter()
            if StorageReservation.objects.filter(pk=reservation).delete()[0]:
                StorageUsage.objects.filter(pk=USAGE_ROW).update(reserved_bytes=F("reserved_bytes") - size)
    except DatabaseError as exc:
        logger.warning("upload reservation %s left to expire: %s", reservation, exc)


def quota_warning_check(*, limit: int) -> int | None:
    """After usage grew (inside the transaction that grew it, the counter row locked): announce
    `quota.warning` when storage use crossed 80 % or 100 % of `limit` since the last announcement,
    once per crossing; when use has fallen below the level announced last, the level is armed
    again (without an announcement). Returns the level announced, or None."""
    if limit <= 0:
        return None
    row = StorageUsage.objects.filter(pk=USAGE_ROW).values_list("bytes_used", "warned_percent").first()
    if row is None:
        return None
    used, warned = row
    percent = used * 100 / limit
    level = max((lvl for lvl in QUOTA_WARNING_LEVELS if percent >= lvl), default=0)
    if level == warned:
        return None
    # conditional: of two transactions that saw the same crossing, one announces it
    if not StorageUsage.objects.filter(pk=USAGE_ROW, warned_percent=warned).update(warned_percent=level):
        return None
    if level < warned:
        return None
    webhook_emit(
        event=WebhookEvent.QUOTA_WARNING,
        data={
            "metric": "storage",
            "level_percent": level,
            "percent": round(percent, 1),
            "used_bytes": used,
            "limit_bytes": limit,
        },
    )
    return level
