"""Resolutions as undoable actions: each single, bulk, resolve-all or remove-identical action is one
Resolution row (the groups it resolved or took identical copies from, the images it moved to the
trash); undo restores those still in the trash and reopens the groups it resolved."""

from django.db import transaction
from django.utils import timezone

from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.duplicates.errors import ResolutionNotUndoable
from apps.duplicates.models import Group, GroupStatus, Member, Resolution, ResolutionSource, TrashedCopy
from apps.duplicates.services.groups import group_refresh
from apps.images.models import Image
from apps.images.services import image_restore
from apps.jobs.models import Job


def resolution_start(*, source: str, actor: Actor, job: Job | None = None) -> Resolution:
    """A new, empty resolution; a resolve-all job has one, found again when the job resumes."""
    if job is not None:
        existing = Resolution.objects.filter(job=job).first()
        if existing is not None:
            return existing
    resolution = Resolution(source=source, job=job, created_by=actor.user)
    resolution.full_clean()
    resolution.save()
    return resolution


def resolution_record(*, resolution: Resolution, group: Group, trashed: list[Image]) -> Resolution:
    """Add one resolved group and the images it trashed (inside the resolving transaction)."""
    resolution = Resolution.objects.select_for_update().get(pk=resolution.pk)
    resolution.group_ids = [*resolution.group_ids, group.pk]
    resolution.trashed_ids = [*resolution.trashed_ids, *(i.pk for i in trashed)]
    resolution.trashed_bytes += sum(i.size_bytes for i in trashed)
    resolution.save(update_fields=["group_ids", "trashed_ids", "trashed_bytes"])
    return resolution


def _still_resolved(resolution: Resolution, *, lock: bool = False) -> list[Group]:
    """Its groups that are resolved and were not resolved again by a later resolution (a group a
    remove-identical job left open and someone resolved afterwards belongs to that resolution)."""
    groups = Group.objects.filter(pk__in=resolution.group_ids, status=GroupStatus.RESOLVED).order_by("pk")
    found = list(groups.select_for_update() if lock else groups)
    if not found:
        return []
    later = Resolution.objects.filter(
        created_at__gt=resolution.created_at,
        undone_at__isnull=True,
        group_ids__overlap=[g.pk for g in found],
    ).values_list("group_ids", flat=True)
    claimed = {group_id for group_ids in later for group_id in group_ids}
    return [g for g in found if g.pk not in claimed]


def resolution_undoable(resolution: Resolution) -> bool:
    """Not undone yet, its job (if any) finished, and something of it is still in the trash or
    still resolved."""
    if resolution.undone_at is not None:
        return False
    if resolution.job_id and Job.objects.filter(pk=resolution.job_id, state__in=Job.ACTIVE).exists():
        return False
    return Image.objects.filter(pk__in=resolution.trashed_ids, deleted_at__isnull=False).exists() or bool(
        _still_resolved(resolution)
    )


@transaction.atomic
def resolution_undo(*, resolution: Resolution, actor: Actor, permissions, tenant) -> Resolution:
    """Restore the images the resolution trashed that are still in the trash (purged ones are gone)
    and reopen the groups it resolved (groups it only took identical copies from get those copies
    back). Refused (409, nothing changed) once undone, while its job still runs, or when nothing of
    it is left; a restore the caller may not make refuses the whole undo."""
    resolution = Resolution.objects.select_for_update().get(pk=resolution.pk)
    if resolution.undone_at is not None:
        raise ResolutionNotUndoable(
            "This resolution was already undone.", extra={"resolution_id": str(resolution.pk)}
        )
    if resolution.job_id and Job.objects.filter(pk=resolution.job_id, state__in=Job.ACTIVE).exists():
        raise ResolutionNotUndoable(
            "The job is still resolving groups; cancel it or wait until it ends, then undo.",
            extra={"resolution_id": str(resolution.pk), "job_id": str(resolution.job_id)},
        )
    in_trash = list(
        Image.objects.filter(pk__in=resolution.trashed_ids, deleted_at__isnull=False).order_by("pk")
    )
    groups = _still_resolved(resolution, lock=True)
    if not in_trash and not groups:
        raise ResolutionNotUndoable(
            "Nothing of this resolution is left to undo: its images were restored or purged.",
            extra={"resolution_id": str(resolution.pk)},
        )
    for image in in_trash:
        image_restore(image=image, actor=actor, permissions=permissions, tenant=tenant)
    for group in groups:
        Member.objects.filter(group=group).update(kept=None)
        group.status, group.resolved_at, group.resolved_by, group.reclaimed_bytes = (
            GroupStatus.OPEN,
            None,
            None,
            0,
        )
        group.full_clean()
        group.save(update_fields=["status", "resolved_at", "resolved_by", "reclaimed_bytes", "updated_at"])
        group_refresh(group)
    reopened = {g.pk for g in groups}
    for group in Group.objects.filter(pk__in=resolution.group_ids, status=GroupStatus.OPEN).exclude(
        pk__in=reopened
    ):
        group_refresh(group)  # a group it took identical copies from: they are members again
    restored = {i.pk for i in in_trash}
    # restored copies were not reclaimed and are no longer in the trash
    TrashedCopy.objects.filter(group_id__in=resolution.group_ids, image_id__in=restored).delete()
    resolution.undone_at, resolution.undone_by = timezone.now(), actor.user
    resolution.save(update_fields=["undone_at", "undone_by"])
    audit_record(
        actor=actor,
        action=AuditAction.DUPLICATES_RESOLUTION_UNDONE,
        tenant=tenant,
        target_type="duplicates.resolution",
        target_id=str(resolution.pk),
        details={
            "source": resolution.source,
            "job_id": str(resolution.job_id) if resolution.job_id else None,
            "restored": [str(i) for i in sorted(restored, key=str)],
            "not_in_trash": [str(i) for i in resolution.trashed_ids if i not in restored],
            "reopened": [str(g.pk) for g in groups],
        },
    )
    return resolution


def resolutions_of_groups(group_ids) -> dict:
    """group id → the resolution (not undone) that resolved it, for the review page and the API."""
    found: dict = {}
    wanted = set(group_ids)
    for resolution in Resolution.objects.filter(group_ids__overlap=list(wanted), undone_at__isnull=True):
        for group_id in resolution.group_ids:
            if group_id in wanted:
                found.setdefault(group_id, resolution)
    return found


__all__ = [
    "ResolutionSource",
    "resolution_record",
    "resolution_start",
    "resolution_undo",
    "resolution_undoable",
    "resolutions_of_groups",
]
