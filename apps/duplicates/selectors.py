"""Reading duplicate groups: a page of groups (keyset-friendly indexes, no N x N), one group."""

from django.db.models import Prefetch

from apps.duplicates.models import Group, GroupStatus, Member

SORTS = {
    "reclaimable": ("-reclaimable_bytes", "-id"),
    "-reclaimable": ("reclaimable_bytes", "id"),
    "date": ("created_at", "id"),
    "-date": ("-created_at", "-id"),
}


def group_list(*, kind: str | None = None, status: str = GroupStatus.OPEN, sort: str = "reclaimable"):
    qs = Group.objects.filter(status=status)
    if status == GroupStatus.OPEN:
        qs = qs.filter(member_count__gte=2)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by(*SORTS[sort])


def with_members(groups):
    members = Member.objects.select_related("image__storage_location").order_by("image__created_at")
    return groups.prefetch_related(Prefetch("members", queryset=members))


def group_get(*, group_id) -> Group | None:
    return with_members(Group.objects.filter(pk=group_id)).first()
