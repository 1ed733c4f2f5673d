from datetime import datetime

from django.db.models import QuerySet

from apps.audit.models import AuditEvent


def audit_event_list(
    *,
    tenant=None,
    all_tenants: bool = False,
    action: str = "",
    actor: str = "",
    target_type: str = "",
    target_id: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[AuditEvent]:
    """Events of one tenant, or of every tenant (and the platform) when all_tenants."""
    events = AuditEvent.objects.select_related("tenant")
    if not all_tenants or tenant is not None:
        events = events.filter(tenant=tenant)
    if action:
        events = (
            events.filter(action__startswith=action) if action.endswith(".") else events.filter(action=action)
        )
    if actor:
        events = events.filter(actor_email__iexact=actor) | events.filter(impersonator_email__iexact=actor)
    if target_type:
        events = events.filter(target_type=target_type)
    if target_id:
        events = events.filter(target_id=target_id)
    if since:
        events = events.filter(created_at__gte=since)
    if until:
        events = events.filter(created_at__lt=until)
    return events.order_by("-created_at", "-id")
