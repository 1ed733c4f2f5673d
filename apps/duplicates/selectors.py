"""Reading duplicate groups: a page of groups (keyset-friendly indexes, no N x N), one group."""

from django.db.models import Exists, OuterRef, Prefetch, QuerySet, Subquery

from apps.core.filtering import FilterData, apply_filters
from apps.duplicates.filters import GroupFilter
from apps.duplicates.models import Group, Member, Resolution, TrashedCopy
from apps.images.models import Image


def group_list(*, filters: FilterData | None = None) -> QuerySet[Group]:
    """The groups GroupFilter selects from `filters` (by default the open ones, most space first);
    raises InvalidFilter for a value it does not know."""
    return apply_filters(GroupFilter, filters, Group.objects.all())


def with_image_state(copies: QuerySet[TrashedCopy]) -> QuerySet[TrashedCopy]:
    """Each trashed copy with `exists` (False once purged) and `deleted_at` (None once restored)."""
    image = Image.objects.filter(pk=OuterRef("image_id"))
    return copies.annotate(exists=Exists(image), deleted_at=Subquery(image.values("deleted_at")[:1]))


def with_members(groups):
    members = Member.objects.select_related("image__storage_location").order_by("image__created_at")
    return groups.prefetch_related(
        Prefetch("members", queryset=members),
        Prefetch("trashed_copies", queryset=with_image_state(TrashedCopy.objects.all())),
    )


def group_get(*, group_id) -> Group | None:
    return with_members(Group.objects.filter(pk=group_id)).first()


def resolution_get(*, resolution_id) -> Resolution | None:
    return Resolution.objects.filter(pk=resolution_id).first()


def resolution_of_job(*, job_id) -> Resolution | None:
    """A resolve-all job's resolution (None before the job started resolving)."""
    return Resolution.objects.filter(job_id=job_id).first()


def resolutions_recent(*, limit: int = 5) -> list[Resolution]:
    """The newest resolutions not yet undone (the review page offers their Undo)."""
    return list(Resolution.objects.filter(undone_at__isnull=True).select_related("job")[:limit])
