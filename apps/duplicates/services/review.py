"""Resolving and dismissing groups, one at a time or all of a kind; the storage report."""

import itertools
import logging

from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core import metrics
from apps.core.connection import connection
from apps.duplicates.errors import GroupNotOpen, InvalidKeep, SimilarNotBulkResolvable
from apps.duplicates.models import Dismissal, Group, GroupStatus, Kind, Member, Resolution, ResolutionSource
from apps.duplicates.services.groups import group_refresh
from apps.duplicates.services.reclaimed import reclaimed_report, trashed_copies_record
from apps.duplicates.services.resolutions import resolution_record, resolution_start
from apps.images.models import Image
from apps.images.services import image_delete, image_settings_get
from apps.jobs.runner import JobContext
from apps.webhooks.models import WebhookEvent
from apps.webhooks.services import webhook_emit

logger = logging.getLogger(__name__)
ALL_PERMISSIONS = frozenset(Perm)


def _ordered(a, b):
    return (a, b) if str(a) < str(b) else (b, a)


@transaction.atomic
def group_resolve(
    *,
    group: Group,
    keep: list,
    actor: Actor,
    permissions,
    tenant,
    merge_tags: bool = False,
    source: str = "review",
    resolution: Resolution | None = None,
) -> Group:
    """Keep `keep` (one or more members), move the other members to the trash (restorable). The
    resolution is recorded in `resolution` (a bulk's or a job's), or in a new one of its own, so
    that it can be undone."""
    group = Group.objects.select_for_update().get(pk=group.pk)
    if group.status != GroupStatus.OPEN:
        raise GroupNotOpen(f"This group is already {group.get_status_display().lower()}.")
    # what was suggested when it was resolved stays its history (trashing members refreshes the
    # group while it is still open, which would leave "only image")
    suggested, reason = group.suggested_keeper_id, group.keeper_reason
    members = list(
        Image.objects.filter(
            pk__in=Member.objects.filter(group=group).values("image_id"), deleted_at__isnull=True
        )
    )
    by_id = {str(i.pk): i for i in members}
    keep_ids = {str(k) for k in keep}
    if not keep_ids:
        raise InvalidKeep("Keep at least one image of the group.")
    if unknown := sorted(keep_ids - set(by_id)):
        raise InvalidKeep("Keep only images of this group.", extra={"not_members": unknown})
    trashed = [i for key, i in by_id.items() if key not in keep_ids]
    for image in trashed:
        image_delete(image=image, actor=actor, permissions=permissions, tenant=tenant)
    kept = [by_id[k] for k in sorted(keep_ids)]
    if merge_tags and trashed:
        tags = sorted({t for i in members for t in i.tags})
        for image in kept:
            image.tags = tags
            image.save(update_fields=["tags", "updated_at"])
    group_metadata_merge(group=group, kept=kept, trashed=trashed, actor=actor, tenant=tenant)
    Member.objects.filter(group=group, image_id__in=[i.pk for i in kept]).update(kept=True)
    Member.objects.filter(group=group, image_id__in=[i.pk for i in trashed]).update(kept=False)
    trashed_copies_record(group=group, trashed=trashed, kept=kept)
    reclaimed = sum(i.size_bytes for i in trashed)
    if resolution is None:
        resolution = resolution_start(source=ResolutionSource.SINGLE, actor=actor)
    resolution = resolution_record(resolution=resolution, group=group, trashed=trashed)
    group.refresh_from_db()
    group.status, group.resolved_at, group.resolved_by = GroupStatus.RESOLVED, timezone.now(), actor.user
    group.reclaimed_bytes, group.reclaimable_bytes = reclaimed, 0
    group.suggested_keeper_id, group.keeper_reason = suggested, reason
    group.save(
        update_fields=[
            "status",
            "resolved_at",
            "resolved_by",
            "reclaimed_bytes",
            "reclaimable_bytes",
            "suggested_keeper",
            "keeper_reason",
            "updated_at",
        ]
    )
    audit_record(
        actor=actor,
        action=AuditAction.DUPLICATES_RESOLVED,
        tenant=tenant,
        target=group,
        details={
            "action": "resolved",
            "source": source,
            "kept": [str(i.pk) for i in kept],
            "trashed": [str(i.pk) for i in trashed],
            "reclaimed_bytes": reclaimed,
            "merged_tags": bool(merge_tags),
            "resolution_id": str(resolution.pk),
        },
    )
    webhook_emit(
        event=WebhookEvent.DUPLICATES_RESOLVED,
        data={
            "group_id": str(group.pk),
            "source": source,
            "kept": [str(i.pk) for i in kept],
            "trashed": [str(i.pk) for i in trashed],
            "reclaimed_bytes": reclaimed,
        },
    )
    return group


def group_metadata_merge(*, group: Group, kept: list, trashed: list, actor: Actor, tenant) -> dict:
    """What the trashed members had and a kept one lacks goes to the kept one: capture date, GPS
    (unless the tenant drops GPS), camera (make, model, lens), tags. One audit event per kept image
    that changed; returns {kept id: [fields merged]}. Runs inside group_resolve's transaction."""
    keep_gps = image_settings_get().keep_gps
    merged: dict = {}
    for image in kept:
        exif, fields, sources = dict(image.exif or {}), [], set()
        for other in trashed:
            o_exif = other.exif or {}
            if image.taken_at is None and other.taken_at is not None:
                image.taken_at = other.taken_at
                if o_exif.get("taken_at"):
                    exif["taken_at"] = o_exif["taken_at"]
                fields.append("taken_at")
                sources.add(str(other.pk))
            if keep_gps and not exif.get("gps") and o_exif.get("gps"):
                exif["gps"] = o_exif["gps"]
                fields.append("gps")
                sources.add(str(other.pk))
            has_camera = image.camera or exif.get("make") or exif.get("model")
            if not has_camera and (other.camera or o_exif.get("make") or o_exif.get("model")):
                image.camera = other.camera
                for key in ("make", "model", "lens"):
                    if o_exif.get(key):
                        exif[key] = o_exif[key]
                fields.append("camera")
                sources.add(str(other.pk))
            if missing := [t for t in other.tags if t not in image.tags]:
                image.tags = [*image.tags, *missing]
                fields.append("tags")
                sources.add(str(other.pk))
        if not fields:
            continue
        image.exif = exif
        image.save(update_fields=["taken_at", "exif", "camera", "tags", "updated_at"])
        merged[str(image.pk)] = sorted(set(fields))
        audit_record(
            actor=actor,
            action=AuditAction.DUPLICATES_METADATA_MERGED,
            tenant=tenant,
            target=image,
            details={"group": str(group.pk), "fields": sorted(set(fields)), "from": sorted(sources)},
        )
    return merged


@transaction.atomic
def group_dismiss(*, group: Group, actor: Actor, tenant) -> Group:
    """Not duplicates: every pair of the group is remembered and never grouped again."""
    group = Group.objects.select_for_update().get(pk=group.pk)
    if group.status != GroupStatus.OPEN:
        raise GroupNotOpen(f"This group is already {group.get_status_display().lower()}.")
    ids = list(Member.objects.filter(group=group).values_list("image_id", flat=True))
    Dismissal.objects.bulk_create(
        [
            Dismissal(image_a_id=a, image_b_id=b, created_by=actor.user)
            for x, y in itertools.combinations(ids, 2)
            for a, b in [_ordered(x, y)]
        ],
        ignore_conflicts=True,
    )
    group.status, group.resolved_at, group.resolved_by = GroupStatus.DISMISSED, timezone.now(), actor.user
    group.save(update_fields=["status", "resolved_at", "resolved_by", "updated_at"])
    audit_record(
        actor=actor,
        action=AuditAction.DUPLICATES_RESOLVED,
        tenant=tenant,
        target=group,
        details={"action": "dismissed", "images": [str(i) for i in ids]},
    )
    return group


def open_groups(*, kind: str | None = None):
    qs = Group.objects.filter(status=GroupStatus.OPEN, member_count__gte=2)
    return qs.filter(kind=kind) if kind else qs


def duplicate_groups(*, kind: str | None = None):
    """The open exact and near groups (of the kind): what bulk actions and reclaimable figures count.
    Similar groups are no copies of one picture; they are resolved one by one."""
    return open_groups(kind=kind).exclude(kind=Kind.SIMILAR)


SIMILAR_NOT_BULK = (
    "Similar groups are not copies of one picture, so they are never resolved all at once: "
    "review and resolve each similar group on its own."
)


def resolve_all_check(*, kind: str | None) -> None:
    """Resolve-all takes exact and near groups only: kind "similar" is SimilarNotBulkResolvable."""
    if kind == Kind.SIMILAR:
        raise SimilarNotBulkResolvable(SIMILAR_NOT_BULK, extra={"kind": [SIMILAR_NOT_BULK]})


def resolve_all_preview(*, kind: str | None, sample: int = 20) -> dict:
    """What resolving every open exact or near group (of the kind) by the policy would do (nothing
    is changed); kind "similar" is refused."""
    resolve_all_check(kind=kind)
    groups = duplicate_groups(kind=kind)
    totals = groups.aggregate(groups=Count("id"), images=Sum("member_count"), bytes=Sum("reclaimable_bytes"))
    first = list(
        groups.order_by("-reclaimable_bytes", "-id").values(
            "id", "kind", "member_count", "reclaimable_bytes", "suggested_keeper_id", "keeper_reason"
        )[:sample]
    )
    return {
        "dry_run": True,
        "kind": kind or "all",
        "groups": totals["groups"] or 0,
        "images_to_trash": (totals["images"] or 0) - (totals["groups"] or 0),
        "reclaimable_bytes": totals["bytes"] or 0,
        "sample": [
            {
                "group_id": str(g["id"]),
                "kind": g["kind"],
                "keep": str(g["suggested_keeper_id"]),
                "keeper_reason": g["keeper_reason"],
                "to_trash": g["member_count"] - 1,
                "reclaimable_bytes": g["reclaimable_bytes"],
            }
            for g in first
        ],
    }


def resolve_all_run(ctx: JobContext, *, batch: int = 100) -> None:
    """The duplicates_resolve_all runner, behind POST /duplicates/resolve-all: every open exact or
    near group (of the kind), keeper by the policy; resumable (resolved groups are no longer open).
    Similar groups are left alone."""
    job, tenant = ctx.job, ctx.tenant
    kind = job.params.get("kind") or None
    actor = Actor(user=job.created_by)
    resolve_all_check(kind=kind)
    groups = duplicate_groups(kind=kind)
    resolution = resolution_start(source=ResolutionSource.RESOLVE_ALL, actor=actor, job=job)
    ctx.progress(total=job.processed + job.failed + groups.count())
    last = None
    while True:
        chunk = list((groups.filter(pk__gt=last) if last else groups).order_by("pk")[:batch])
        if not chunk:
            break
        done = failed = 0
        for group in chunk:
            group = group_refresh(group)
            if group.suggested_keeper_id is None or group.member_count < 2:
                continue
            try:
                group_resolve(
                    group=group,
                    keep=[group.suggested_keeper_id],
                    actor=actor,
                    permissions=ALL_PERMISSIONS,
                    tenant=tenant,
                    merge_tags=bool(job.params.get("merge_tags")),
                    source=f"job:{job.pk}",
                    resolution=resolution,
                )
                done += 1
            except GroupNotOpen:
                failed += 1
        last = chunk[-1].pk
        ctx.heartbeat(processed=done, failed=failed)


def report() -> dict:
    """Open exact and near groups, the images that would go, bytes to win by kind (member level:
    identical copies are `exact` even in a near group) and storage location; bytes won (purged
    only) and in the trash. Similar groups are reported apart (`by_kind.similar`, `similar_groups`,
    `similar_images`) and counted in none of the other figures: they are not removable copies."""
    groups = duplicate_groups()
    totals = groups.aggregate(
        groups=Count("id"),
        images=Sum("member_count"),
        bytes=Sum("reclaimable_bytes"),
        exact=Sum("exact_bytes"),
    )
    similar = open_groups(kind=Kind.SIMILAR).aggregate(
        groups=Count("id"), images=Sum("member_count"), bytes=Sum("reclaimable_bytes")
    )
    by_kind = dict.fromkeys(Kind.values, 0)
    by_kind[Kind.EXACT] = totals["exact"] or 0
    by_kind[Kind.NEAR] = (totals["bytes"] or 0) - (totals["exact"] or 0)
    by_kind[Kind.SIMILAR] = similar["bytes"] or 0
    # the bytes that would go, by the location of the copies that would go (all but the keeper)
    losing = (
        Member.objects.filter(group__in=groups, image__deleted_at__isnull=True)
        .exclude(image_id=F("group__suggested_keeper_id"))
        .values("image__storage_location__name")
        .annotate(b=Sum("image__size_bytes"))
    )
    return {
        "groups": totals["groups"] or 0,
        "duplicate_images": (totals["images"] or 0) - (totals["groups"] or 0),
        "reclaimable_bytes": totals["bytes"] or 0,
        "by_kind": by_kind,
        "by_storage_location": {row["image__storage_location__name"]: row["b"] or 0 for row in losing},
        "similar_groups": similar["groups"] or 0,
        "similar_images": similar["images"] or 0,
        **reclaimed_report(),
    }


def metrics_report() -> dict:
    """The current tenant's open groups and reclaimable bytes, for the Prometheus gauges (summed over
    tenants at scrape time). Read off the open-groups index; run every minute and after detection."""
    totals = duplicate_groups().aggregate(groups=Count("id"), bytes=Sum("reclaimable_bytes"))
    figures = {"groups": totals["groups"] or 0, "reclaimable_bytes": totals["bytes"] or 0}
    metrics.duplicates_report(tenant_slug=connection.tenant.slug, **figures)
    return figures


def metrics_report_all() -> int:
    """metrics_report() for every active tenant (the beat's `maintenance.duplicates_metrics`)."""
    from apps.tenants.models import TenantStatus
    from apps.tenants.selectors import tenant_list
    from apps.tenants.services import in_tenant

    count = 0
    for tenant in tenant_list().filter(status=TenantStatus.ACTIVE):
        with in_tenant(tenant):
            metrics_report()
        count += 1
    return count


def image_groups_refresh(*, image_ids) -> int:
    """After images leave or come back from the trash, the open groups they are in are refreshed."""
    groups = Group.objects.filter(status=GroupStatus.OPEN, members__image_id__in=image_ids).distinct()
    n = 0
    for group in groups:
        group_refresh(group)
        n += 1
    return n
