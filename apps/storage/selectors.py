import contextlib
import uuid

from django.db.models import Count, F, Q, QuerySet, Sum

from apps.images.models import Image, Thumbnail
from apps.jobs.models import Job
from apps.jobs.selectors import job_get, job_list
from apps.storage.errors import StorageLocationNotFound
from apps.storage.models import StorageLocation
from apps.storage.services.jobs import STORAGE_JOB_KINDS


def storage_location_list() -> QuerySet[StorageLocation]:
    return StorageLocation.objects.select_related("thumbnail_location").order_by("-is_default", "name")


def storage_move_targets() -> QuerySet[StorageLocation]:
    """Where images may be moved to: the locations DeepLens writes to (not index-only ones)."""
    return StorageLocation.objects.filter(index_only=False).order_by("-is_default", "name")


def storage_location_get(*, location_id) -> StorageLocation:
    try:
        uuid.UUID(str(location_id))
    except ValueError as exc:
        raise StorageLocationNotFound(
            "No such storage location.", extra={"id": str(location_id)[:40]}
        ) from exc
    location = StorageLocation.objects.select_related("thumbnail_location").filter(pk=location_id).first()
    if location is None:
        raise StorageLocationNotFound("No such storage location.", extra={"id": str(location_id)})
    return location


def storage_usage_by_location() -> dict[str, dict]:
    """{location id: {images, objects, bytes}} for every location, in two queries. Objects and
    bytes count originals and the thumbnails stored apart from them (an original that serves as its
    own thumbnail is counted once)."""
    usage: dict[str, dict] = {}
    for row in Image.objects.values("storage_location").annotate(images=Count("id"), bytes=Sum("size_bytes")):
        usage[str(row["storage_location"])] = {
            "images": row["images"],
            "objects": row["images"],
            "bytes": row["bytes"] or 0,
        }
    thumbnails = (
        Thumbnail.objects.exclude(storage_key=F("image__storage_key"))
        .values("image__storage_location")
        .annotate(thumbnails=Count("id"), bytes=Sum("size_bytes"))
    )
    for thumbnail_row in thumbnails:
        location_id = str(thumbnail_row["image__storage_location"])
        entry = usage.setdefault(location_id, {"images": 0, "objects": 0, "bytes": 0})
        entry["objects"] += thumbnail_row["thumbnails"]
        entry["bytes"] += thumbnail_row["bytes"] or 0
    return usage


def storage_location_usage(*, location: StorageLocation) -> dict:
    return storage_usage_by_location().get(str(location.pk), {"images": 0, "objects": 0, "bytes": 0})


def storage_job_get(*, job_id, kind: str | None = None) -> Job:
    job = job_get(job_id=job_id, kinds=[kind] if kind else STORAGE_JOB_KINDS)
    if job is None:
        from apps.storage.errors import StorageJobNotFound

        raise StorageJobNotFound("No such storage job.", extra={"job_id": str(job_id)})
    return job


def storage_job_list(*, location_id=None, kind: str | None = None, limit: int = 20) -> list[Job]:
    jobs = job_list(kinds=[kind] if kind else STORAGE_JOB_KINDS)
    if location_id:
        jobs = jobs.filter(params__location_id=str(location_id)) | jobs.filter(
            params__target_id=str(location_id)
        )
    return list(jobs[:limit])


def storage_location_ids(*, refs: list[str]) -> dict[str, str]:
    """{ref: location id} for storage locations given by id or by name; refs that name none are
    left out."""
    as_ids: dict[str, str] = {}
    for ref in refs:
        with contextlib.suppress(ValueError):
            as_ids[ref] = str(uuid.UUID(str(ref)))
    rows = StorageLocation.objects.filter(Q(pk__in=list(as_ids.values())) | Q(name__in=refs))
    by_id = {str(pk): str(pk) for pk in rows.values_list("pk", flat=True)}
    by_name = {name: str(pk) for pk, name in rows.values_list("pk", "name")}
    out = {}
    for ref in refs:
        found = by_id.get(as_ids.get(ref, "")) or by_name.get(ref)
        if found:
            out[ref] = found
    return out
