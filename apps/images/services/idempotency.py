"""Idempotency-Key for uploads: a retry with the same key gets the first answer, stored once.

A key is claimed by inserting its row (unique per principal and key, in the tenant's schema) in
state `in_progress`, and the request holds a PostgreSQL session advisory lock on it while it runs.
The answer (2xx or 4xx) is written to the row when the request ends; a 5xx or an unexpected error
deletes the row, so a retry runs again (a 5xx upload stored nothing). A second request with the key
while the first runs gets 409; if the first one's worker died, its connection (and so its lock) is
gone, and the retry takes the key over. Keys expire after DEEPLENS_IDEMPOTENCY_KEY_SECONDS.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from apps.core.connection import connection
from apps.images.errors import IdempotencyInProgress, IdempotencyKeyReused
from apps.images.models import IdempotencyKey, IdempotencyState

logger = logging.getLogger(__name__)


@dataclass
class IdempotencyClaim:
    row: IdempotencyKey
    # True when the row holds a finished answer to replay; False when this request owns the key.
    replay: bool


def _lock_id(row: IdempotencyKey) -> str:
    return f"idempotency:{connection.schema_name}:{row.pk}"


def _try_lock(row: IdempotencyKey) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))", [_lock_id(row)])
        return bool(cursor.fetchone()[0])


def _unlock(row: IdempotencyKey) -> None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", [_lock_id(row)])
    except DatabaseError as exc:  # the connection is gone, and the lock with it
        logger.warning("idempotency lock not released: %s", exc)


def idempotency_claim(*, key: str, principal: str, fingerprint: str) -> IdempotencyClaim:
    """Own the key for this request, or get the finished answer to replay. Raises 422 when the key
    was used for a different request, 409 while another request with it is running."""
    cutoff = timezone.now() - timedelta(seconds=settings.DEEPLENS_IDEMPOTENCY_KEY_SECONDS)
    for _attempt in range(3):
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(key=key, principal=principal, fingerprint=fingerprint)
        except IntegrityError:
            found = IdempotencyKey.objects.filter(principal=principal, key=key).first()
            if found is None:
                continue  # expired and deleted meanwhile
            row = found
            if row.created_at < cutoff:
                IdempotencyKey.objects.filter(pk=row.pk, created_at__lt=cutoff).delete()
                continue
            if row.fingerprint != fingerprint:
                raise IdempotencyKeyReused(
                    "This Idempotency-Key was used for a different request; use a new key for a new request.",
                    extra={"idempotency_key": key},
                ) from None
            if row.state == IdempotencyState.DONE:
                return IdempotencyClaim(row=row, replay=True)
            if not _try_lock(row):
                raise IdempotencyInProgress(
                    "A request with this Idempotency-Key is still running; retry when it has finished.",
                    extra={"idempotency_key": key, "retry_after": 1},
                ) from None
            row.refresh_from_db()  # its owner died; unless it finished just before that
            if row.state == IdempotencyState.DONE:
                _unlock(row)
                return IdempotencyClaim(row=row, replay=True)
            logger.warning("taking over idempotency key %s of %s from a request that died", key, principal)
            return IdempotencyClaim(row=row, replay=False)
        else:
            _try_lock(row)
            return IdempotencyClaim(row=row, replay=False)
    raise IdempotencyInProgress(
        "A request with this Idempotency-Key is still running; retry when it has finished.",
        extra={"idempotency_key": key, "retry_after": 1},
    )


def idempotency_finish(*, claim: IdempotencyClaim, status: int, body) -> None:
    """Keep the answer for retries (2xx and 4xx); after a 5xx forget the key, so a retry runs again."""
    try:
        if status >= 500:
            IdempotencyKey.objects.filter(pk=claim.row.pk).delete()
            return
        claim.row.state = IdempotencyState.DONE
        claim.row.response_status = status
        claim.row.response_body = body
        claim.row.save(update_fields=["state", "response_status", "response_body"])
    finally:
        _unlock(claim.row)


def idempotency_abandon(*, claim: IdempotencyClaim) -> None:
    """The request failed unexpectedly: forget the key. If the database is what failed, the row
    stays `in_progress` without a lock, and the retry takes it over."""
    try:
        IdempotencyKey.objects.filter(pk=claim.row.pk).delete()
    except DatabaseError as exc:
        logger.warning("idempotency key %s left to be taken over: %s", claim.row.key, exc)
    _unlock(claim.row)


def idempotency_keys_purge() -> int:
    """Delete expired keys (periodically); returns how many."""
    cutoff = timezone.now() - timedelta(seconds=settings.DEEPLENS_IDEMPOTENCY_KEY_SECONDS)
    return IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()[0]
