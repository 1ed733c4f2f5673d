from django.db.models import QuerySet

from apps.audit.filters import AuditEventFilter
from apps.audit.models import AuditEvent
from apps.core.filtering import FilterData, apply_filters


def audit_event_list(
    *, tenant=None, all_tenants: bool = False, filters: FilterData | None = None
) -> QuerySet[AuditEvent]:
    """Events of one tenant, or of every tenant (and the platform) when all_tenants, newest first,
    narrowed by AuditEventFilter; raises InvalidFilter for a value it does not accept."""
    events = AuditEvent.objects.select_related("tenant")
    if not all_tenants or tenant is not None:
        events = events.filter(tenant=tenant)
    return apply_filters(AuditEventFilter, filters, events.order_by("-created_at", "-id"))
