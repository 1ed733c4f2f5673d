"""The whole-workspace export: a background job writing one zip to the default storage location
(images.csv and images.jsonl with every image's metadata, duplicate_groups.csv, audit.csv, and
manifest.json listing each original with its storage location and key), downloadable once done.
Rows are read in batches and written straight into the zip, so memory stays flat for large
workspaces."""

import csv
import io
import json
import tempfile
import zipfile
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.models import AuditAction, AuditEvent
from apps.audit.services import audit_record
from apps.core.connection import connection
from apps.core.errors import Conflict, NotFound
from apps.duplicates.models import Group, Member
from apps.images.models import Image
from apps.jobs.errors import JobFailed
from apps.jobs.models import Job
from apps.jobs.services import job_create
from apps.storage.backends import storage_for
from apps.storage.models import StorageLocation
from apps.tenants.services import in_tenant

TENANT_EXPORT = "tenant_export"
IMAGE_COLUMNS = [
    "id", "filename", "sha256", "size_bytes", "width", "height", "format", "status", "taken_at", "camera",
    "tags", "description", "exif", "storage_location", "storage_key", "duplicate_group", "created_at",
    "deleted_at",
]  # fmt: skip
MANIFEST_COLUMNS = ("id", "storage_location", "storage_key", "sha256", "size_bytes")
GROUP_COLUMNS = [
    "id", "kind", "status", "member_count", "reclaimable_bytes", "suggested_keeper", "images", "created_at",
]  # fmt: skip
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BATCH = 1000


def _cell(value) -> str:
    """Plain text for spreadsheets: JSON for structures, and no cell that a spreadsheet would run."""
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _image_row(image: Image, group_of: dict, names: dict) -> dict:
    return {
        "id": str(image.pk),
        "filename": image.original_filename,
        "sha256": image.sha256,
        "size_bytes": image.size_bytes,
        "width": image.width,
        "height": image.height,
        "format": image.format,
        "status": image.status,
        "taken_at": image.taken_at.isoformat() if image.taken_at else None,
        "camera": image.camera,
        "tags": list(image.tags),
        "description": image.description,
        "exif": image.exif,
        "storage_location": names.get(str(image.storage_location_id), ""),
        "storage_key": image.storage_key,
        "duplicate_group": group_of.get(str(image.pk)),
        "created_at": image.created_at.isoformat(),
        "deleted_at": image.deleted_at.isoformat() if image.deleted_at else None,
    }


def _csv_text(rows, columns) -> io.StringIO:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in columns])
    return out


def export_write(fileobj, *, tenant_slug: str, heartbeat=lambda **_: None) -> dict:
    """Write the export zip into `fileobj`; returns its counts."""
    names = {str(loc.pk): loc.name for loc in StorageLocation.objects.all()}
    group_of: dict[str, str] = {}
    members: dict[str, list[str]] = defaultdict(list)
    for group_id, image_id in Member.objects.values_list("group_id", "image_id").iterator(chunk_size=BATCH):
        group_of[str(image_id)] = str(group_id)
        members[str(group_id)].append(str(image_id))
    counts = {"images": 0, "duplicate_groups": 0, "audit_events": 0}
    with zipfile.ZipFile(fileobj, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        manifest = []
        # CSV straight into the zip; JSON lines into a spool beside it (a zip takes one writer).
        with tempfile.TemporaryFile() as jsonl, archive.open("images.csv", "w") as csv_file:
            text = io.TextIOWrapper(csv_file, encoding="utf-8", newline="")
            writer = csv.writer(text)
            writer.writerow(IMAGE_COLUMNS)
            for image in Image.objects.order_by("created_at", "pk").iterator(chunk_size=BATCH):
                row = _image_row(image, group_of, names)
                jsonl.write((json.dumps(row, sort_keys=True) + "\n").encode())
                writer.writerow([_cell(row[column]) for column in IMAGE_COLUMNS])
                manifest.append({key: row[key] for key in MANIFEST_COLUMNS})
                counts["images"] += 1
                if counts["images"] % BATCH == 0:
                    heartbeat(processed=BATCH)
            text.flush()
            text.detach()
            csv_file.close()
            jsonl.seek(0)
            with archive.open("images.jsonl", "w") as out:
                while chunk := jsonl.read(1 << 20):
                    out.write(chunk)
        groups = [
            {
                "id": str(group.pk),
                "kind": group.kind,
                "status": group.status,
                "member_count": group.member_count,
                "reclaimable_bytes": group.reclaimable_bytes,
                "suggested_keeper": str(group.suggested_keeper_id) if group.suggested_keeper_id else None,
                "images": members.get(str(group.pk), []),
                "created_at": group.created_at.isoformat(),
            }
            for group in Group.objects.order_by("created_at").iterator(chunk_size=BATCH)
        ]
        counts["duplicate_groups"] = len(groups)
        archive.writestr("duplicate_groups.csv", _csv_text(groups, GROUP_COLUMNS).getvalue())
        events = AuditEvent.objects.filter(tenant=connection.tenant).order_by("created_at")
        audit_columns = ["created_at", "action", "actor", "target_type", "target_id", "details"]
        audit_rows = []
        for event in events.iterator(chunk_size=BATCH):
            audit_rows.append(
                {
                    "created_at": event.created_at.isoformat(),
                    "action": event.action,
                    "actor": event.actor_email,
                    "target_type": event.target_type,
                    "target_id": event.target_id,
                    "details": event.details,
                }
            )
        counts["audit_events"] = len(audit_rows)
        archive.writestr("audit.csv", _csv_text(audit_rows, audit_columns).getvalue())
        archive.writestr(
            "manifest.json",
            json.dumps(
                {
                    "workspace": tenant_slug,
                    "exported_at": timezone.now().isoformat(),
                    "counts": counts,
                    "originals": manifest,
                },
                indent=1,
            ),
        )
    return counts


def _export_key(tenant_slug: str, job_id) -> str:
    return f"{tenant_slug}/exports/{job_id}.zip"


def tenant_export_run(ctx) -> None:
    """The job's runner: write the zip to a temporary file, then store it in the default location."""
    location = StorageLocation.objects.filter(is_default=True).first()
    if location is None:
        raise JobFailed("This workspace has no default storage location to keep the export in.")
    slug = connection.tenant.slug
    ctx.progress(total=Image.objects.count())
    with tempfile.TemporaryFile() as spool:
        counts = export_write(spool, tenant_slug=slug, heartbeat=ctx.heartbeat)
        spool.seek(0)
        key = storage_for(location).save(_export_key(slug, ctx.job.pk), File(spool))
    ctx.params_update(location_id=str(location.pk), key=key, counts=counts)
    ctx.progress(processed=counts["images"])


@transaction.atomic
def tenant_export_start(*, actor: Actor, tenant) -> Job:
    job = job_create(kind=TENANT_EXPORT, actor=actor, single_flight=True)
    audit_record(
        actor=actor,
        action=AuditAction.EXPORT_STARTED,
        tenant=tenant,
        target_type="jobs.job",
        target_id=str(job.pk),
        details={"kind": TENANT_EXPORT},
    )
    return job


def tenant_export_open(*, job: Job):
    """The finished export's zip, opened for reading (409 until the job is done)."""
    if job.kind != TENANT_EXPORT:
        raise NotFound("No such export.", code="export_not_found")
    if job.params.get("expired_at"):
        raise NotFound(
            f"The export was deleted {settings.DEEPLENS_EXPORT_RETENTION_DAYS} days after it was made; "
            "start a new one.",
            code="export_expired",
        )
    if job.state != Job.State.DONE or "key" not in job.params:
        raise Conflict(f"The export is {job.state}; it can be downloaded once done.", code="export_not_ready")
    location = StorageLocation.objects.filter(pk=job.params["location_id"]).first()
    if location is None:
        raise NotFound("The export's storage location is gone.", code="export_not_found")
    return storage_for(location).open(job.params["key"], "rb")


def exports_expire(*, now=None) -> int:
    """Delete the zips of this workspace's exports finished more than DEEPLENS_EXPORT_RETENTION_DAYS
    ago (the periodic maintenance, daily); the job stays, marked `expired_at`, and its download
    answers 404 export_expired. A zip already gone counts as deleted. Returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.DEEPLENS_EXPORT_RETENTION_DAYS)
    old = Job.objects.filter(
        kind=TENANT_EXPORT, state=Job.State.DONE, finished_at__lt=cutoff, params__has_key="key"
    ).exclude(params__has_key="expired_at")
    count = 0
    for job in old:
        location = StorageLocation.objects.filter(pk=job.params.get("location_id")).first()
        if location is not None:
            storage_for(location).delete(job.params["key"])
        params = {k: v for k, v in job.params.items() if k != "key"}
        Job.objects.filter(pk=job.pk).update(params={**params, "expired_at": timezone.now().isoformat()})
        count += 1
    return count


class _Echo:
    """A file-like that hands back what csv.writer writes, so each row can be yielded."""

    def write(self, value: str) -> str:
        return value


def _group_of() -> dict[str, str]:
    return {
        str(image_id): str(group_id)
        for group_id, image_id in Member.objects.values_list("group_id", "image_id").iterator(
            chunk_size=BATCH
        )
    }


def _image_rows(tenant):
    # the rows are read while the response streams, after the view returned: in the tenant's schema
    with in_tenant(tenant):
        names = {str(loc.pk): loc.name for loc in StorageLocation.objects.all()}
        group_of = _group_of()
        for image in Image.objects.order_by("created_at", "pk").iterator(chunk_size=BATCH):
            yield _image_row(image, group_of, names)


def images_csv_stream(*, tenant):
    """The image metadata as CSV (the zip's images.csv), one row at a time."""
    writer = csv.writer(_Echo())
    yield writer.writerow(IMAGE_COLUMNS)
    for row in _image_rows(tenant):
        yield writer.writerow([_cell(row[column]) for column in IMAGE_COLUMNS])


def images_jsonl_stream(*, tenant):
    """The image metadata as JSON lines (the zip's images.jsonl), one line at a time."""
    for row in _image_rows(tenant):
        yield json.dumps(row, sort_keys=True) + "\n"


def duplicates_csv_stream(*, tenant):
    """The duplicates report (the zip's duplicate_groups.csv), one group a row."""
    writer = csv.writer(_Echo())
    yield writer.writerow(GROUP_COLUMNS)
    with in_tenant(tenant):
        members: dict[str, list[str]] = defaultdict(list)
        for group_id, image_id in Member.objects.values_list("group_id", "image_id").iterator(
            chunk_size=BATCH
        ):
            members[str(group_id)].append(str(image_id))
        for group in Group.objects.order_by("created_at", "pk").iterator(chunk_size=BATCH):
            row = {
                "id": str(group.pk),
                "kind": group.kind,
                "status": group.status,
                "member_count": group.member_count,
                "reclaimable_bytes": group.reclaimable_bytes,
                "suggested_keeper": str(group.suggested_keeper_id) if group.suggested_keeper_id else None,
                "images": members.get(str(group.pk), []),
                "created_at": group.created_at.isoformat(),
            }
            yield writer.writerow([_cell(row[column]) for column in GROUP_COLUMNS])
