"""Global admins acting as a tenant user, always with a reason, a time limit and an audit trail."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone

from apps.accounts.errors import CannotImpersonate, TokenInvalid
from apps.accounts.models import ImpersonationSession, User
from apps.accounts.tokens import access_token_for
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.errors import InvalidInput
from apps.tenants.models import TenantStatus

HANDOFF_SALT = "deeplens.impersonation.handoff"
HANDOFF_MAX_AGE = 120


@transaction.atomic
def impersonation_start(
    *, impersonator: User, target: User, reason: str, channel: str, actor: Actor
) -> ImpersonationSession:
    if not impersonator.is_global_admin:
        raise CannotImpersonate("Only global admins can impersonate.")
    if actor.impersonator is not None:
        raise CannotImpersonate("Stop the current impersonation first.")
    if target.is_global_admin or target.tenant is None:
        raise CannotImpersonate("Nobody can impersonate a global admin.", code="cannot_impersonate_admin")
    if not target.is_active or target.deleted_at is not None:
        raise CannotImpersonate("That user is deactivated.", code="user_inactive")
    if target.tenant.status != TenantStatus.ACTIVE:
        raise CannotImpersonate("That user's workspace is not active.", code="tenant_inactive")
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "Say why you are impersonating.",
            code="reason_required",
            extra={"reason": ["This field is required."]},
        )
    session = ImpersonationSession.objects.create(
        impersonator=impersonator,
        target=target,
        reason=reason[:500],
        channel=channel,
        expires_at=timezone.now() + timedelta(minutes=settings.DEEPLENS_IMPERSONATION_MINUTES),
    )
    audit_record(
        actor=Actor(user=impersonator, ip_address=actor.ip_address, user_agent=actor.user_agent),
        action=AuditAction.IMPERSONATION_STARTED,
        tenant=target.tenant,
        target=target,
        details={
            "reason": session.reason,
            "channel": channel,
            "session": str(session.pk),
            "expires_at": session.expires_at.isoformat(),
        },
    )
    return session


def impersonation_access_token(session: ImpersonationSession) -> str:
    """An access token for the target carrying the admin as `act`; no refresh token exists."""
    remaining = session.expires_at - timezone.now()
    lifetime = min(remaining, settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"])
    return str(
        access_token_for(
            user=session.target, session_id=session.pk, impersonator=session.impersonator, lifetime=lifetime
        )
    )


@transaction.atomic
def impersonation_stop(
    *, session: ImpersonationSession, actor: Actor, expired: bool = False
) -> ImpersonationSession:
    session = (
        ImpersonationSession.objects.select_for_update(of=("self",))
        .select_related("impersonator", "target", "target__tenant")
        .get(pk=session.pk)
    )
    if session.ended_at is None:
        session.ended_at = timezone.now()
        session.save(update_fields=["ended_at"])
        audit_record(
            actor=Actor(
                user=session.target,
                impersonator=session.impersonator,
                ip_address=actor.ip_address,
                user_agent=actor.user_agent,
            ),
            action=AuditAction.IMPERSONATION_STOPPED,
            tenant=session.target.tenant,
            target=session.target,
            details={"session": str(session.pk), "expired": expired},
        )
    return session


def impersonation_handoff_token(session: ImpersonationSession) -> str:
    """A signed, single-use ticket that carries a browser impersonation from the admin site to the
    tenant's own host (each host has its own session cookie)."""
    return signing.dumps({"sid": str(session.pk)}, salt=HANDOFF_SALT)


@transaction.atomic
def impersonation_accept_handoff(*, ticket: str) -> ImpersonationSession:
    try:
        data = signing.loads(ticket, salt=HANDOFF_SALT, max_age=HANDOFF_MAX_AGE)
    except signing.BadSignature as exc:
        raise TokenInvalid("This impersonation link is invalid or has expired.") from exc
    session = (
        ImpersonationSession.objects.select_for_update(of=("self",))
        .select_related("impersonator", "target", "target__tenant")
        .filter(pk=data.get("sid"), channel=ImpersonationSession.Channel.BROWSER)
        .first()
    )
    if session is None or session.handoff_used_at is not None or session.ended_at is not None:
        raise TokenInvalid("This impersonation link has already been used.")
    if session.expires_at <= timezone.now():
        raise TokenInvalid("This impersonation has expired.")
    session.handoff_used_at = timezone.now()
    session.save(update_fields=["handoff_used_at"])
    return session
