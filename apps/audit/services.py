from typing import Any

from apps.audit.context import Actor
from apps.audit.models import AuditAction, AuditEvent


def audit_record(
    *,
    actor: Actor,
    action: AuditAction,
    tenant=None,
    target=None,
    target_type: str = "",
    target_id: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event. Call it inside the transaction of the change it records. The action is
    a member of AuditAction: a free string would be a choice the log page and its filter do not know."""
    if action not in AuditAction.values:
        raise ValueError(f"{action!r} is not an AuditAction; add it to apps/audit/models.py.")
    if target is not None:
        target_type = target_type or target._meta.label_lower
        target_id = target_id or str(target.pk)
    user = actor.user
    event = AuditEvent(
        tenant=tenant if tenant is not None else getattr(user, "tenant", None),
        actor=user,
        actor_email=getattr(user, "email", "") or "",
        actor_api_key=actor.api_key_prefix,
        impersonator=actor.impersonator,
        impersonator_email=getattr(actor.impersonator, "email", "") or "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
        details=details or {},
    )
    event.save()
    return event
