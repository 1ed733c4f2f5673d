"""Removing only byte-identical copies: of each set of members with the same SHA-256 one stays (the
suggested keeper where it is one of them), the others go to the trash; near copies are left alone."""

from django.db import transaction
from django.db.models import Count, Sum

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.duplicates.errors import GroupNotOpen
from apps.duplicates.identical import identical_sets
from apps.duplicates.keeper import keeper_suggest
from apps.duplicates.models import Group, GroupStatus, Kind, Member, Resolution, ResolutionSource
from apps.duplicates.services.groups import duplicate_settings_get, group_refresh
from apps.duplicates.services.reclaimed import trashed_copies_record
from apps.duplicates.services.resolutions import resolution_record, resolution_start
from apps.duplicates.services.review import group_resolve
from apps.images.models import Image
from apps.images.services import image_delete
from apps.jobs.runner import JobContext

ALL_PERMISSIONS = frozenset(Perm)


def groups_with_identical():
    # similar groups hold no copies to remove (identical files are exact duplicates, never similar)
    return Group.objects.filter(status=GroupStatus.OPEN, member_count__gte=2, exact_copies__gt=0).exclude(
        kind=Kind.SIMILAR
    )


def _survivor(same: list[Image], *, keeper_id) -> Image:
    for image in same:
        if image.pk == keeper_id:
            return image
    return keeper_suggest(same, format_priority=duplicate_settings_get().format_priority)[0]


@transaction.atomic
def group_identical_remove(
    *,
    group: Group,
    actor: Actor,
    permissions,
    tenant,
    source: str = "review",
    resolution: Resolution | None = None,
) -> list[Image]:
    """Trash the identical copies of an open group; returns them. A group left with one image is
    resolved (kept: that image); one that still holds near copies stays open for review. Recorded
    in `resolution` (the job's) or a new one, so that undo brings the copies back."""
    group = Group.objects.select_for_update().get(pk=group.pk)
    if group.status != GroupStatus.OPEN:
        raise GroupNotOpen(f"This group is already {group.get_status_display().lower()}.")
    live = list(
        Image.objects.filter(
            pk__in=Member.objects.filter(group=group).values("image_id"), deleted_at__isnull=True
        ).order_by("created_at", "pk")
    )
    sets = identical_sets(live)
    survivors = [_survivor(same, keeper_id=group.suggested_keeper_id) for same in sets]
    trashed = [image for same, keep in zip(sets, survivors, strict=True) for image in same if image != keep]
    if not trashed:
        return []
    if resolution is None:
        resolution = resolution_start(source=ResolutionSource.IDENTICAL, actor=actor)
    if len(live) - len(trashed) == 1:
        group_resolve(
            group=group,
            keep=[survivors[0].pk],
            actor=actor,
            permissions=permissions,
            tenant=tenant,
            source=source,
            resolution=resolution,
        )
        return trashed
    for image in trashed:
        image_delete(image=image, actor=actor, permissions=permissions, tenant=tenant)
    trashed_copies_record(group=group, trashed=trashed, kept=survivors)
    resolution = resolution_record(resolution=resolution, group=group, trashed=trashed)
    group_refresh(group)
    audit_record(
        actor=actor,
        action=AuditAction.DUPLICATES_RESOLVED,
        tenant=tenant,
        target=group,
        details={
            "action": "identical_removed",
            "source": source,
            "kept": [str(i.pk) for i in survivors],
            "trashed": [str(i.pk) for i in trashed],
            "trashed_bytes": sum(i.size_bytes for i in trashed),
            "resolution_id": str(resolution.pk),
        },
    )
    return trashed


def identical_remove_preview(*, sample: int = 20) -> dict:
    """What removing every open group's identical copies would do (nothing is changed)."""
    groups = groups_with_identical()
    totals = groups.aggregate(groups=Count("id"), images=Sum("exact_copies"), bytes=Sum("exact_bytes"))
    first = groups.order_by("-exact_bytes", "-id").values(
        "id", "kind", "member_count", "exact_copies", "exact_bytes"
    )
    return {
        "dry_run": True,
        "groups": totals["groups"] or 0,
        "images_to_trash": totals["images"] or 0,
        "reclaimable_bytes": totals["bytes"] or 0,
        "sample": [
            {
                "group_id": str(g["id"]),
                "kind": g["kind"],
                "member_count": g["member_count"],
                "to_trash": g["exact_copies"],
                "reclaimable_bytes": g["exact_bytes"],
            }
            for g in first[:sample]
        ],
    }


def identical_remove_run(ctx: JobContext, *, batch: int = 100) -> None:
    """The duplicates_remove_identical runner, behind POST /duplicates/remove-identical: every open
    group's identical copies, recorded as one undoable resolution (the job's); resumable (a group
    done has no identical copies left)."""
    job, tenant = ctx.job, ctx.tenant
    actor = Actor(user=job.created_by)
    groups = groups_with_identical()
    resolution = resolution_start(source=ResolutionSource.IDENTICAL, actor=actor, job=job)
    ctx.progress(total=job.processed + job.failed + groups.count())
    last = None
    while True:
        chunk = list((groups.filter(pk__gt=last) if last else groups).order_by("pk")[:batch])
        if not chunk:
            break
        done = failed = 0
        for group in chunk:
            try:
                group_identical_remove(
                    group=group,
                    actor=actor,
                    permissions=ALL_PERMISSIONS,
                    tenant=tenant,
                    source=f"job:{job.pk}",
                    resolution=resolution,
                )
                done += 1
            except GroupNotOpen:
                failed += 1
        last = chunk[-1].pk
        ctx.heartbeat(processed=done, failed=failed)
