"""Taking images in: validate by content, store the original, record it, enqueue processing."""

import contextlib
import hashlib
import logging
import re
import unicodedata
import uuid

import kombu.exceptions
import redis
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from apps.audit.context import Actor
from apps.core import queueing
from apps.core.connection import connection
from apps.core.errors import InvalidInput
from apps.core.process_cache import cached
from apps.core.redis import get_redis, redis_key
from apps.images import imaging
from apps.images.errors import (
    EmptyFile,
    FileTooLarge,
    ImageDecodeBudgetExceeded,
    ImageTooLarge,
    QuotaExceeded,
    UnsupportedMediaType,
)
from apps.images.models import Image, ImageStatus
from apps.images.services.identical_uploads import identical_upload_check
from apps.images.services.processing import image_settings_get
from apps.images.services.usage import quota_warning_check, usage_commit, usage_release, usage_reserve
from apps.storage.backends import original_key, storage_for
from apps.storage.models import StorageLocation
from apps.tenants.models import Tenant

logger = logging.getLogger(__name__)

MAX_TAGS = 50


def sanitize_filename(name: str) -> str:
    """The last path component, without control characters or leading dots, at most 255 characters."""
    name = re.split(r"[\\/]", name or "")[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", name).strip().lstrip(".").strip()
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) <= 16 else name[:255]
    return name or "image"


def clean_tags(tags) -> list[str]:
    cleaned: list[str] = []
    for tag in tags or []:
        tag = re.sub(
            r"\s+", " ", "".join(ch for ch in str(tag) if unicodedata.category(ch)[0] != "C")
        ).strip()
        if not tag:
            continue
        if len(tag) > 64:
            raise InvalidInput(
                "A tag is at most 64 characters.", code="tag_invalid", extra={"tags": [tag[:70]]}
            )
        if tag not in cleaned:
            cleaned.append(tag)
    if len(cleaned) > MAX_TAGS:
        raise InvalidInput(f"At most {MAX_TAGS} tags.", code="tag_invalid")
    return cleaned


def _upload_location(location_id) -> StorageLocation:
    if location_id:
        location = StorageLocation.objects.filter(pk=location_id).first()
        if location is None:
            raise InvalidInput(
                "No such storage location.",
                code="storage_location_not_found",
                extra={"storage_config_id": [str(location_id)]},
            )
        if location.index_only:
            raise InvalidInput(
                f"{location.name!r} is index-only; DeepLens does not write there.",
                code="storage_location_read_only",
            )
        return location
    location = cached(
        (connection.schema_name, "default-storage-location"),
        settings.DEEPLENS_PROCESS_CACHE_SECONDS,
        lambda: StorageLocation.objects.filter(is_default=True).first(),
        scope=connection.schema_name,
    )
    if location is None:
        raise InvalidInput(
            "This workspace has no default storage location.", code="storage_location_not_found"
        )
    return location


def _sha256_of(file) -> str:
    sha = hashlib.sha256()
    file.seek(0)
    for chunk in file.chunks():
        sha.update(chunk)
    file.seek(0)
    return sha.hexdigest()


def image_ingest(
    *,
    tenant: Tenant,
    file,
    filename: str,
    actor: Actor,
    location_id=None,
    tags=None,
    source_url: str = "",
) -> Image:
    """Accept one image. Every refusal happens before anything is stored; if recording it fails,
    the stored original is removed again."""
    size = file.size or 0
    if size == 0:
        raise EmptyFile("The file is empty.")
    policy = image_settings_get()
    if size > policy.max_upload_bytes:
        raise FileTooLarge(
            f"The file is larger than this workspace's limit of {policy.max_upload_bytes:,} bytes.",
            extra={"max_upload_bytes": policy.max_upload_bytes},
        )
    try:
        sniffed = imaging.sniff(file)
    except imaging.NotAnImage as exc:
        raise UnsupportedMediaType(
            f"The file is not a supported image ({imaging.supported_formats_text()}).",
            extra={"filename": sanitize_filename(filename)},
        ) from exc
    except imaging.DecodeBudgetExceeded as exc:
        raise ImageDecodeBudgetExceeded(
            f"The image declares far more pixels than its file holds ({exc}); it is refused so that "
            "decoding it cannot exhaust memory.",
            extra={
                "width": exc.width,
                "height": exc.height,
                "max_decode_ratio": settings.DEEPLENS_DECODE_MAX_RATIO,
            },
        ) from exc
    except imaging.TooManyPixels as exc:
        raise ImageTooLarge(
            f"The image has too many pixels ({exc}).", extra={"width": exc.width, "height": exc.height}
        ) from exc
    tags = clean_tags(tags)
    location = _upload_location(location_id)
    sha256 = getattr(file, "sha256", None) or _sha256_of(file)
    duplicate_of = identical_upload_check(sha256=sha256, policy=policy)

    max_storage_bytes = tenant.limits.max_storage_bytes
    reservation = usage_reserve(size=size, limit=max_storage_bytes)
    if reservation is None:
        raise QuotaExceeded(
            "The workspace's storage quota would be exceeded.",
            extra={"max_storage_bytes": max_storage_bytes},
        )
    recorded = False
    try:
        image = _store_and_record(
            tenant=tenant,
            file=file,
            filename=filename,
            actor=actor,
            location=location,
            sha256=sha256,
            sniffed=sniffed,
            size=size,
            tags=tags,
            source_url=source_url,
            reservation=reservation,
        )
        recorded = True
        image.duplicate_of = duplicate_of
        return image
    finally:
        if not recorded:
            usage_release(reservation=reservation, size=size)


def _store_and_record(
    *, tenant, file, filename, actor, location, sha256, sniffed, size, tags, source_url, reservation
) -> Image:
    image_id = uuid.uuid4()
    now = timezone.now()
    key = original_key(tenant_slug=tenant.slug, image_id=image_id, created=now, ext=sniffed.ext)
    storage = storage_for(location)
    file.seek(0)
    storage.save(key, file)
    try:
        # The INSERT and the quota's reserved-to-used move commit together; processing is enqueued
        # when they commit (at once, or with the caller's transaction), and that can no longer fail
        # the upload.
        with transaction.atomic():
            image = _image_create(
                image_id=image_id,
                filename=filename,
                sniffed=sniffed,
                size=size,
                sha256=sha256,
                location=location,
                key=key,
                actor=actor,
                source_url=source_url,
                tags=tags,
                now=now,
            )
            usage_commit(reservation=reservation, size=size)
            quota_warning_check(limit=tenant.limits.max_storage_bytes)
            image_enqueue(image=image)
    except DatabaseError:
        storage.delete(key)
        raise
    return image


def _image_create(
    *, image_id, filename, sniffed, size, sha256, location, key, actor, source_url, tags, now
) -> Image:
    return Image.objects.create(
        id=image_id,
        original_filename=sanitize_filename(filename),
        format=sniffed.format,
        content_type=sniffed.content_type,
        width=sniffed.width,
        height=sniffed.height,
        size_bytes=size,
        sha256=sha256,
        storage_location=location,
        storage_key=key,
        uploaded_by=actor.user,
        source_url=source_url[:2000],
        status=ImageStatus.PENDING,
        tags=tags,
        created_at=now,
    )


def image_enqueue(*, image: Image) -> None:
    """Wake processing once the image is committed. `image.queued` says afterwards whether the
    wake-up reached the broker (None until the transaction commits); when it did not, the periodic
    requeue of waiting images picks the image up."""
    image.queued = None

    def wake() -> None:
        image.queued = ingest_wake()

    transaction.on_commit(wake, robust=True)


# How long a wake-up may wait in the queue before uploads send another (a lost message costs this).
WAKE_SECONDS = 30


def wake_key() -> str:
    return redis_key("ingest-wake", connection.schema_name)


def ingest_wake() -> bool:
    """Make sure a processing task will run for this tenant's waiting images. While one is queued,
    uploads send no other: when it starts it takes every image waiting by then, in batches, so a
    stream of uploads costs a task per batch instead of one per image.

    Returns False when the broker (Redis) cannot be reached; never raises for that: the images
    wait, and the periodic requeue of waiting images (the pipeline sweep, every minute) sends them."""
    image_process_task = queueing.task("ingest.process_image")

    client = get_redis()
    try:
        if not client.set(wake_key(), "1", nx=True, ex=WAKE_SECONDS):
            return True
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        # The broker is this Redis: do not wait for the publish to fail too.
        logger.warning("processing not enqueued, Redis unavailable: %s", exc)
        return False
    except redis.RedisError:
        pass  # send it anyway; a spare task finds nothing to do
    try:
        image_process_task.delay()
    except (kombu.exceptions.OperationalError, redis.RedisError) as exc:
        logger.warning("processing not enqueued, broker unavailable: %s", exc)
        with contextlib.suppress(redis.RedisError):
            client.delete(wake_key())  # the next upload tries again
        return False
    return True
