"""The duplicate groups' filters: GET /api/v1/duplicates/groups and the review page read the same
query parameters through this one FilterSet."""

import django_filters
from django.db.models import Q
from django.http import QueryDict

from apps.core.filtering import FilterSet
from apps.duplicates.models import Group, GroupStatus, Kind

# Each sort ends on the id, so pages are stable; the open list's partial indexes match the first two.
SORTS = {
    "reclaimable": ("-reclaimable_bytes", "-id"),
    "-reclaimable": ("reclaimable_bytes", "id"),
    "date": ("created_at", "id"),
    "-date": ("-created_at", "-id"),
}
SORT_CHOICES = [
    ("reclaimable", "Most space to win"),
    ("-reclaimable", "Least space to win"),
    ("-date", "Newest"),
    ("date", "Oldest"),
]
DEFAULTS = {"status": GroupStatus.OPEN, "sort": "reclaimable"}


class GroupFilter(FilterSet):
    kind = django_filters.ChoiceFilter(
        choices=Kind.choices,
        method="filter_kind",
        label="Kind",
        help_text="exact: every group that holds byte-identical files (same SHA-256), near copies or not",
    )
    status = django_filters.ChoiceFilter(
        choices=GroupStatus.choices,
        method="filter_status",
        label="Status",
        help_text="open (the default: groups still to review), resolved or dismissed",
    )
    sort = django_filters.ChoiceFilter(
        choices=SORT_CHOICES, method="sort_by", label="Sort", help_text="reclaimable (the default)"
    )

    class Meta:
        model = Group
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        # An absent or empty status or sort means the default: the open groups, most space first.
        merged = data.copy() if isinstance(data, QueryDict) else dict(data or {})
        for name, value in DEFAULTS.items():
            if not merged.get(name):
                merged[name] = value
        super().__init__(merged, *args, **kwargs)

    def filter_kind(self, queryset, name, value):
        if value == Kind.EXACT:
            return queryset.filter(Q(kind=Kind.EXACT) | Q(exact_copies__gt=0))
        return queryset.filter(kind=value)

    def filter_status(self, queryset, name, value):
        queryset = queryset.filter(status=value)
        # An open group that lost members to the trash is not shown until it has two again.
        return queryset.filter(member_count__gte=2) if value == GroupStatus.OPEN else queryset

    def sort_by(self, queryset, name, value):
        return queryset.order_by(*SORTS[value])
