"""Sign-in over the API: login, refresh-token rotation with reuse detection, logout, sessions."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from django.contrib.auth import authenticate
from django.db import transaction
from django.utils import timezone

from apps.accounts.errors import InvalidCredentials, TokenInvalid, TokenReused, TokenRevoked
from apps.accounts.models import RefreshToken, User
from apps.accounts.services.attempts import login_attempt_record, login_throttle_raise
from apps.accounts.services.mfa import MfaPending, mfa_challenge_complete, mfa_pending_for
from apps.accounts.services.sso import password_sign_in_refusal, sso_handoff_user
from apps.accounts.tokens import access_token_for, parse_refresh, refresh_token_for, token_hash
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.tenants.errors import TenantUnavailable
from apps.tenants.models import Tenant, TenantStatus

INVALID_CREDENTIALS = "The tenant, email and password do not match an account."


@dataclass(frozen=True)
class LoginResult:
    user: User
    access: str
    refresh: str


def auth_login(
    *, tenant_slug: str | None, email: str, password: str, actor: Actor
) -> LoginResult | MfaPending:
    """A token pair, or, where the account owes a second factor, the challenge that
    auth_login_mfa_complete finishes."""
    tenant = None
    if tenant_slug:
        tenant = Tenant.objects.exclude(status=TenantStatus.DELETED).filter(slug=tenant_slug).first()
    login_throttle_raise(tenant=tenant, email=email, actor=actor)
    user = None
    if tenant is not None or not tenant_slug:
        user = authenticate(None, email=email, password=password, tenant=tenant)
        if user is not None and not tenant_slug and not user.is_global_admin:
            user = None
    if user is None:
        login_attempt_record(tenant=tenant, email=email, user=None, actor=actor, channel="api")
        raise InvalidCredentials(INVALID_CREDENTIALS)
    if user.tenant is not None and user.tenant.status != TenantStatus.ACTIVE:
        raise TenantUnavailable(f"The workspace {user.tenant.name!r} is not active.", code="tenant_suspended")
    refusal = password_sign_in_refusal(user)
    if refusal is not None:
        raise refusal
    pending = mfa_pending_for(user)
    if pending is not None:
        return pending
    login_attempt_record(tenant=tenant, email=email, user=user, actor=actor, channel="api")
    access, refresh, _row = _session_start(user=user, actor=actor)
    return LoginResult(user=user, access=access, refresh=refresh)


def auth_session_for(*, user: User, actor: Actor) -> LoginResult:
    """A new API session for a person just created and proven (a confirmed sign-up)."""
    access, refresh, _row = _session_start(user=user, actor=actor)
    return LoginResult(user=user, access=access, refresh=refresh)


def auth_sso_token(
    *, code: str, code_verifier: str, tenant: Tenant | None, actor: Actor
) -> LoginResult | MfaPending:
    """An API client's SSO sign-in, finished: the one-time code and its PKCE verifier."""
    user = sso_handoff_user(code=code, code_verifier=code_verifier, tenant=tenant)
    pending = mfa_pending_for(user)
    if pending is not None:
        return pending
    login_attempt_record(tenant=user.tenant, email=user.email, user=user, actor=actor, channel="sso:api")
    access, refresh, _row = _session_start(user=user, actor=actor)
    return LoginResult(user=user, access=access, refresh=refresh)


def auth_login_mfa_complete(
    *, challenge: str, code: str, actor: Actor
) -> tuple[LoginResult, list[str] | None]:
    """The second step of an API sign-in: the challenge and a code (authenticator or recovery code;
    where the sign-in enrols, the new authenticator's first code). Returns the token pair and, after
    an enrolment, the recovery codes."""
    passed = mfa_challenge_complete(challenge=challenge, code=code, actor=actor, channel="api")
    access, refresh, _row = _session_start(user=passed.user, actor=actor)
    return LoginResult(user=passed.user, access=access, refresh=refresh), passed.recovery_codes


def _session_start(
    *, user: User, actor: Actor, family: uuid.UUID | None = None
) -> tuple[str, str, RefreshToken]:
    family = family or uuid.uuid4()
    refresh = refresh_token_for(user=user, family=family)
    raw_refresh = str(refresh)
    row = RefreshToken.objects.create(
        id=uuid.UUID(refresh["jti"]),
        user=user,
        family=family,
        token_hash=token_hash(raw_refresh),
        expires_at=datetime.fromtimestamp(refresh["exp"], tz=UTC),
        ip_address=actor.ip_address,
        user_agent=actor.user_agent,
    )
    return str(access_token_for(user=user, session_id=family)), raw_refresh, row


def auth_refresh(*, raw_refresh: str, actor: Actor) -> tuple[str, str]:
    """Rotate: the presented token is spent and a new pair is issued in the same family. A spent
    token presented again means it was stolen or replayed: the whole family is revoked."""
    token = parse_refresh(raw_refresh)
    with transaction.atomic():
        row = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("user", "user__tenant")
            .filter(id=token["jti"])
            .first()
        )
        if row is None or row.token_hash != token_hash(raw_refresh):
            raise TokenInvalid("The refresh token is not recognised.")
        reused = row.revoked_at is not None and row.revoked_reason == RefreshToken.RevokedReason.ROTATED
        if row.revoked_at is None:
            user = row.user
            if not user.is_active or user.deleted_at is not None:
                raise TokenRevoked("This account is deactivated.")
            if user.tenant is not None and user.tenant.status != TenantStatus.ACTIVE:
                raise TenantUnavailable("The workspace is not active.", code="tenant_suspended")
            access, new_raw, new_row = _session_start(user=user, actor=actor, family=row.family)
            row.revoked_at = timezone.now()
            row.revoked_reason = RefreshToken.RevokedReason.ROTATED
            row.last_used_at = row.revoked_at
            row.replaced_by = new_row
            row.save(update_fields=["revoked_at", "revoked_reason", "last_used_at", "replaced_by"])
            return access, new_raw
    if reused:
        _family_revoke_for_reuse(row=row, actor=actor)
        raise TokenReused("This refresh token was already used; every session of its family is now revoked.")
    raise TokenRevoked("This session has been revoked.")


@transaction.atomic
def _family_revoke_for_reuse(*, row: RefreshToken, actor: Actor) -> None:
    revoked = RefreshToken.objects.filter(family=row.family, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=RefreshToken.RevokedReason.REUSE_DETECTED
    )
    audit_record(
        actor=Actor(user=row.user, ip_address=actor.ip_address, user_agent=actor.user_agent),
        action=AuditAction.REFRESH_REUSED,
        tenant=row.user.tenant,
        target=row.user,
        details={"family": str(row.family), "sessions_revoked": revoked},
    )


@transaction.atomic
def auth_logout(*, user: User, session_id: str | None, actor: Actor) -> int:
    """End the session the access token belongs to (its whole refresh family)."""
    revoked = 0
    if session_id:
        revoked = RefreshToken.objects.filter(user=user, family=session_id, revoked_at__isnull=True).update(
            revoked_at=timezone.now(), revoked_reason=RefreshToken.RevokedReason.LOGOUT
        )
    audit_record(
        actor=actor,
        action=AuditAction.LOGOUT,
        tenant=user.tenant,
        target=user,
        details={"session": session_id or ""},
    )
    return revoked


@transaction.atomic
def session_revoke(*, user: User, family: uuid.UUID, actor: Actor) -> bool:
    revoked = RefreshToken.objects.filter(user=user, family=family, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=RefreshToken.RevokedReason.REVOKED_BY_USER
    )
    if revoked:
        audit_record(
            actor=actor,
            action=AuditAction.SESSION_REVOKED,
            tenant=user.tenant,
            target=user,
            details={"session": str(family)},
        )
    return bool(revoked)


def sessions_revoke_all(*, user: User, reason: str, except_family: str | None = None) -> int:
    sessions = RefreshToken.objects.filter(user=user, revoked_at__isnull=True)
    if except_family:
        sessions = sessions.exclude(family=except_family)
    return sessions.update(revoked_at=timezone.now(), revoked_reason=reason)
