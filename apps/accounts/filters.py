"""The team list's filters: GET /api/v1/users and the team page (whose search box is `q`)."""

import django_filters
from django.db.models import Q

from apps.accounts.models import TENANT_ROLES, User
from apps.core.filtering import BooleanFilter, FilterSet


class UserFilter(FilterSet):
    role = django_filters.ChoiceFilter(choices=[(r.value, r.label) for r in TENANT_ROLES], label="Role")
    active = BooleanFilter(field_name="is_active", label="Active")
    search = django_filters.CharFilter(
        method="filter_search",
        max_length=100,
        label="Search",
        help_text="part of the email, first or last name (any case)",
    )

    class Meta:
        model = User
        fields: list[str] = []

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(email__icontains=value) | Q(first_name__icontains=value) | Q(last_name__icontains=value)
        )
