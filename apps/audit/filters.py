"""The audit log's filters: GET /api/v1/audit-events, its CSV export and the audit log page read the
same query parameters through this one FilterSet. (Which tenant's events is not a filter: the API
and the page scope the list before filtering.)"""

import django_filters
from django.core.exceptions import ValidationError
from django.db.models import Q

from apps.audit.models import AuditAction, AuditEvent
from apps.core.filtering import FilterSet


def validate_action(value: str) -> None:
    if not value.endswith(".") and value not in AuditAction.values:
        raise ValidationError(
            f"Unknown action; one of {', '.join(AuditAction.values)}, or a prefix "
            "ending in '.' such as 'user.'."
        )


class AuditEventFilter(FilterSet):
    action = django_filters.CharFilter(
        method="filter_action",
        max_length=64,
        validators=[validate_action],
        label="Action",
        help_text="an action such as user.created, or a prefix ending in '.' such as 'user.'",
    )
    actor = django_filters.CharFilter(
        method="filter_actor",
        max_length=254,
        label="Actor email",
        help_text="the email of the actor or of the admin impersonating them (any case)",
    )
    target_type = django_filters.CharFilter(max_length=64, label="Target type")
    target_id = django_filters.CharFilter(max_length=64, label="Target id")
    since = django_filters.DateTimeFilter(field_name="created_at", lookup_expr="gte", label="Since")
    until = django_filters.DateTimeFilter(field_name="created_at", lookup_expr="lt", label="Until")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_action(self, queryset, name, value):
        return (
            queryset.filter(action__startswith=value)
            if value.endswith(".")
            else queryset.filter(action=value)
        )

    def filter_actor(self, queryset, name, value):
        return queryset.filter(Q(actor_email__iexact=value) | Q(impersonator_email__iexact=value))
