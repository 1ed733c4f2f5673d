"""Indexing what is already there: scan an index-only location page by page and register every
image object in place (the image's storage_key is the object's key; nothing is copied).

Per page (at most 1,000 objects, never the whole listing in memory): one query finds the rows
already known; new and changed objects (ETag, or size-mtime on a filesystem) have their first bytes
read in parallel and are kept only if the magic bytes say image; new rows are created and changed
ones reset in one transaction, and each goes through the normal processing pipeline (ingest queue)
after commit. Rows of objects seen again are stamped; at the end, rows of the scanned prefix that no
listing saw are marked missing (and unmarked when their object comes back).
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.images import imaging
from apps.images.models import Image
from apps.images.services.registration import Found, images_register_found
from apps.jobs.models import Job
from apps.jobs.runner import JobContext
from apps.storage.backends import StoredObject, list_objects, read_head, transfer_errors
from apps.storage.errors import StorageConfigInvalid, StorageJobConflict
from apps.storage.models import StorageLocation
from apps.storage.services.jobs import (
    STORAGE_SCAN,
    location_gone_fails_the_job,
    storage_job_active,
    storage_job_create,
)

logger = logging.getLogger(__name__)
HEAD_BYTES = 32
READERS = 8
# Objects named like this are never images: skipped without a request. Everything else is judged
# by its first bytes, whatever its name.
NOT_IMAGE_SUFFIXES = (
    ".txt",
    ".md",
    ".json",
    ".xml",
    ".html",
    ".htm",
    ".csv",
    ".log",
    ".pdf",
    ".zip",
    ".gz",
    ".tar",
    ".mp4",
    ".mov",
    ".avi",
    ".mkv",
    ".mp3",
    ".wav",
    ".doc",
    ".docx",
    ".xls",
    ".xlsx",
    ".db",
    ".sqlite",
)


def scan_start(*, tenant, actor: Actor, location: StorageLocation, prefix: str = "") -> Job:
    if not location.index_only:
        raise StorageConfigInvalid(
            f"{location.name!r} is not index-only; only index-only locations are scanned.",
            code="storage_location_not_index_only",
        )
    prefix = (prefix or "").lstrip("/")
    if ".." in prefix.split("/"):
        raise StorageConfigInvalid("The prefix may not contain '..'.", extra={"prefix": ["invalid"]})
    with transaction.atomic():
        StorageLocation.objects.select_for_update().filter(pk=location.pk).first()
        if running := storage_job_active(location_id=location.pk, kind=STORAGE_SCAN):
            raise StorageJobConflict(
                f"A scan of {location.name!r} is already running.", extra={"job_id": str(running.pk)}
            )
        job = storage_job_create(
            kind=STORAGE_SCAN,
            actor=actor,
            params={"location_id": str(location.pk), "prefix": prefix},
        )
        StorageLocation.objects.filter(pk=location.pk).update(last_scan_at=timezone.now())
        if actor.user is not None:
            audit_record(
                actor=actor,
                action=AuditAction.STORAGE_CHANGED,
                tenant=tenant,
                target_type="jobs.job",
                target_id=str(job.pk),
                details={"change": "scan_started", "location": location.name, "prefix": prefix},
            )
    return job


@location_gone_fails_the_job
def scan_run(ctx: JobContext) -> None:
    job = ctx.job
    location = StorageLocation.objects.get(pk=job.params["location_id"])
    prefix = job.params.get("prefix", "")
    # Rows stamped since the job started count as seen, so a resumed scan keeps what it saw.
    since = job.started_at or timezone.now()
    # A resumed scan lists again from the start: its counters start again too.
    ctx.progress(total=0, processed=0, skipped=0, failed=0)
    errors = transfer_errors()
    with ThreadPoolExecutor(max_workers=READERS) as readers:
        for page in list_objects(location, prefix=prefix):
            counts = _register_page(location, page, readers=readers, errors=errors)
            ctx.heartbeat(total=len(page), **counts)
    missing = (
        Image.objects.filter(
            storage_location=location, missing_at__isnull=True, storage_key__startswith=prefix
        )
        .filter(Q(last_seen_at__lt=since) | Q(last_seen_at__isnull=True))
        .update(missing_at=timezone.now())
    )
    if missing:
        logger.info("scan %s: %d objects of %s are gone", job.pk, missing, location.name)
    ctx.params_update(missing=missing)
    StorageLocation.objects.filter(pk=location.pk).update(last_scan_at=timezone.now())


def _read_heads(location, objects: list[StoredObject], readers, errors) -> list[bytes | None]:
    def head(obj: StoredObject) -> bytes | None:
        try:
            return read_head(location, obj.key, HEAD_BYTES)
        except errors as exc:
            logger.warning("scan: cannot read %s: %s", obj.key, exc)
            return None

    return list(readers.map(head, objects))


def _register_page(location: StorageLocation, page: list[StoredObject], *, readers, errors) -> dict:
    now = timezone.now()
    known = {
        image.storage_key: image
        for image in Image.objects.filter(
            storage_location=location, storage_key__in=[obj.key for obj in page]
        ).only("id", "storage_key", "source_version", "missing_at")
    }
    fresh = [obj for obj in page if obj.key not in known or known[obj.key].source_version != obj.version]
    # Nothing to read, or named as a kind of file that is never an image: skipped without a request.
    empty = [obj for obj in fresh if obj.size == 0 or obj.key.lower().endswith(NOT_IMAGE_SUFFIXES)]
    fresh = [obj for obj in fresh if obj.size > 0 and not obj.key.lower().endswith(NOT_IMAGE_SUFFIXES)]
    unchanged = [
        known[obj.key].pk for obj in page if obj.key in known and known[obj.key].source_version == obj.version
    ]
    heads = _read_heads(location, fresh, readers, errors) if fresh else []
    new, changed, skipped, failed = [], [], len(empty), 0
    for obj, head in zip(fresh, heads, strict=True):
        if head is None:
            failed += 1
            continue
        sniffed = imaging.sniff_head(head)
        if sniffed is None or len(obj.key) > 500:
            skipped += 1
            continue
        found = Found(
            key=obj.key, version=obj.version, size=obj.size, format=sniffed[0], content_type=sniffed[1]
        )
        if obj.key in known:
            changed.append((known[obj.key], found))
        else:
            new.append(found)
    registered = images_register_found(location=location, new=new, changed=changed, seen=unchanged, now=now)
    return {"processed": registered + len(unchanged), "skipped": skipped, "failed": failed}


def storage_scans_due(*, now=None) -> int:
    """Start the scans whose location's schedule says so (beat, every minute)."""
    now = now or timezone.now()
    started = 0
    for location in StorageLocation.objects.filter(index_only=True, scan_interval_minutes__isnull=False):
        if location.last_scan_at and location.last_scan_at > now - timedelta(
            minutes=location.scan_interval_minutes or 0
        ):
            continue
        if storage_job_active(location_id=location.pk, kind=STORAGE_SCAN):
            continue
        scan_start(tenant=None, actor=Actor.system(), location=location, prefix="")
        started += 1
    return started
