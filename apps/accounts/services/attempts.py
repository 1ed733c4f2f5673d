"""Sign-in attempts: who they concern, their audit record and the failure counters that throttle
guessing (passwords and second-factor codes alike)."""

from django.utils import timezone
from django_tenants.utils import get_public_schema_name

from apps.accounts.errors import TooManyAttempts
from apps.accounts.models import User
from apps.accounts.throttling import (
    login_failure_record,
    login_failures_clear,
    login_throttle_check,
    normalise_email,
)
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.tenants.models import Tenant


def login_tenant_key(tenant: Tenant | None) -> str:
    """Whose accounts a sign-in counter is about: a tenant's, or the global admins' (the API without a
    tenant, and the admin site on the public host, share one)."""
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return "global"
    return str(tenant.pk)


def login_attempt_record(
    *,
    tenant: Tenant | None,
    email: str,
    user: User | None,
    actor: Actor,
    channel: str,
    factor: str | None = None,
) -> None:
    """Audit a sign-in attempt and keep the failure counters that throttle guessing."""
    if user is None:
        login_failure_record(tenant_key=login_tenant_key(tenant), email=email, ip=actor.ip_address)
        audit_record(
            actor=actor,
            action=AuditAction.LOGIN_FAILED,
            tenant=tenant,
            details={"email": normalise_email(email)[:254], "channel": channel},
        )
        return
    login_failures_clear(tenant_key=login_tenant_key(tenant), email=email, ip=actor.ip_address)
    User.objects.filter(pk=user.pk).update(last_login=timezone.now())
    audit_record(
        actor=Actor(user=user, ip_address=actor.ip_address, user_agent=actor.user_agent),
        action=AuditAction.LOGIN_SUCCEEDED,
        tenant=user.tenant,
        target=user,
        details={"channel": channel, **({"factor": factor} if factor else {})},
    )


def login_throttle_raise(*, tenant: Tenant | None, email: str, actor: Actor) -> None:
    throttled = login_throttle_check(tenant_key=login_tenant_key(tenant), email=email, ip=actor.ip_address)
    if throttled is not None:
        raise TooManyAttempts(
            "Too many failed sign-in attempts. Try again later.", extra={"retry_after": throttled.retry_after}
        )
