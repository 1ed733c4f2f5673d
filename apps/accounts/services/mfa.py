"""Two-factor sign-in: TOTP authenticators (pyotp), one-time recovery codes, the challenge between a
correct password and the second factor, the tenant's policy and an administrator's reset.

A sign-in whose password is right but that still owes a second factor gets a challenge: a random
token kept in Redis for DEEPLENS_MFA_CHALLENGE_SECONDS, naming the user and whether they must enrol
first (their tenant requires a second factor for admins and owners and they have none). A wrong code
counts as a failed sign-in (the same per account+client, per account and per client counters as
passwords) and against the challenge, which dies after DEEPLENS_MFA_CHALLENGE_MAX_ATTEMPTS.
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

import pyotp
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.accounts.errors import (
    MfaAlreadyEnabled,
    MfaChallengeInvalid,
    MfaCodeInvalid,
    MfaNotEnabled,
    MfaRequired,
)
from apps.accounts.models import RecoveryCode, RefreshToken, Role, TotpDevice, User
from apps.accounts.services.attempts import (
    login_attempt_record,
    login_tenant_key,
    login_throttle_raise,
)
from apps.accounts.throttling import login_failure_record
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.crypto import InvalidToken, fernet_decrypt, fernet_encrypt
from apps.core.redis import get_redis, redis_key
from apps.tenants.models import Tenant

RECOVERY_CODE_COUNT = 10
MFA_ROLES = (Role.ADMIN, Role.OWNER)


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    otpauth_uri: str


@dataclass(frozen=True)
class MfaPending:
    challenge: str
    enrolment_required: bool
    expires_in: int


@dataclass(frozen=True)
class MfaPassed:
    user: User
    # Set when this sign-in enrolled the authenticator: shown once, never stored in the clear.
    recovery_codes: list[str] | None


# --- state --------------------------------------------------------------------------------------


def mfa_enabled(user: User) -> bool:
    return TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()


def mfa_required_by_policy(user: User) -> bool:
    tenant = user.tenant
    return bool(tenant is not None and tenant.mfa_required_for_admins and user.role in MFA_ROLES)


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


# --- codes --------------------------------------------------------------------------------------


def _normalise(code: str) -> str:
    return "".join((code or "").split()).replace("-", "").lower()


def _recovery_hash(code: str) -> str:
    return hmac.new(
        settings.SECRET_KEY.encode(), b"deeplens-recovery:" + _normalise(code).encode(), hashlib.sha256
    ).hexdigest()


def _totp(device: TotpDevice) -> pyotp.TOTP:
    try:
        return pyotp.TOTP(fernet_decrypt(device.secret_encrypted))
    except InvalidToken as exc:
        raise MfaCodeInvalid(
            "The authenticator's seed cannot be read with the current DEEPLENS_STORAGE_KEY; ask an "
            "administrator to reset your second factor.",
            code="mfa_seed_unreadable",
        ) from exc


def _totp_accept(device: TotpDevice, code: str) -> bool:
    """A 6-digit code of the current time step or one either side, never one already used."""
    code = _normalise(code)
    if len(code) != 6 or not code.isdigit():
        return False
    totp = _totp(device)
    now = totp.timecode(timezone.now())
    for step in (now - 1, now, now + 1):
        if device.last_used_step is not None and step <= device.last_used_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            device.last_used_step = step
            device.save(update_fields=["last_used_step"])
            return True
    return False


def _recovery_accept(user: User, code: str) -> bool:
    normalised = _normalise(code)
    if len(normalised) != 10:
        return False
    used = RecoveryCode.objects.filter(
        user=user, code_hash=_recovery_hash(normalised), used_at__isnull=True
    ).update(used_at=timezone.now())
    return used == 1


def _recovery_codes_issue(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [secrets.token_hex(5) for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        [RecoveryCode(user=user, code_hash=_recovery_hash(code)) for code in codes]
    )
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def _verify(user: User, code: str) -> str | None:
    """Which factor the code proved ("totp" or "recovery_code"), or None. Locks the device row."""
    device = TotpDevice.objects.select_for_update().filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        return None
    if _totp_accept(device, code):
        return "totp"
    if _recovery_accept(user, code):
        return "recovery_code"
    return None


# --- enrolment from the profile (signed in) -----------------------------------------------------


def _provisioning_uri(user: User, secret: str) -> str:
    """The otpauth:// URI an authenticator app scans; the issuer names the workspace."""
    issuer = settings.DEEPLENS_MFA_ISSUER
    if user.tenant is not None:
        issuer = f"{issuer} ({user.tenant.slug})"
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


@transaction.atomic
def mfa_setup_start(*, user: User) -> TotpSetup:
    """A fresh seed, not yet in force: the next code confirms it (mfa_setup_confirm)."""
    if mfa_enabled(user):
        raise MfaAlreadyEnabled("Two-factor authentication is already on; turn it off first.")
    secret = pyotp.random_base32()
    TotpDevice.objects.update_or_create(
        user=user,
        defaults={"secret_encrypted": fernet_encrypt(secret), "confirmed_at": None, "last_used_step": None},
    )
    return TotpSetup(secret=secret, otpauth_uri=_provisioning_uri(user, secret))


def mfa_setup_pending(*, user: User) -> TotpSetup | None:
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        return None
    secret = _totp(device).secret
    return TotpSetup(secret=secret, otpauth_uri=_provisioning_uri(user, secret))


@transaction.atomic
def mfa_setup_confirm(*, user: User, code: str, actor: Actor) -> list[str]:
    """Put the pending authenticator in force with its first code; returns the recovery codes."""
    device = TotpDevice.objects.select_for_update().filter(user=user).first()
    if device is None or device.confirmed_at is not None:
        raise MfaNotEnabled("Start the set-up first: there is no authenticator waiting for a code.")
    if not _totp_accept(device, code):
        raise MfaCodeInvalid("That code is not the authenticator's current one.")
    device.confirmed_at = timezone.now()
    device.save(update_fields=["confirmed_at"])
    codes = _recovery_codes_issue(user)
    audit_record(actor=actor, action=AuditAction.MFA_ENROLLED, tenant=user.tenant, target=user, details={})
    return codes


@transaction.atomic
def mfa_disable(*, user: User, code: str, actor: Actor) -> None:
    if not mfa_enabled(user):
        raise MfaNotEnabled("Two-factor authentication is not on.")
    if mfa_required_by_policy(user):
        raise MfaRequired("Your workspace requires a second factor for admins and owners.")
    if _verify(user, code) is None:
        raise MfaCodeInvalid("That code is not valid.")
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    audit_record(actor=actor, action=AuditAction.MFA_DISABLED, tenant=user.tenant, target=user, details={})


@transaction.atomic
def mfa_recovery_codes_regenerate(*, user: User, code: str, actor: Actor) -> list[str]:
    if not mfa_enabled(user):
        raise MfaNotEnabled("Two-factor authentication is not on.")
    if _verify(user, code) is None:
        raise MfaCodeInvalid("That code is not valid.")
    codes = _recovery_codes_issue(user)
    audit_record(
        actor=actor,
        action=AuditAction.MFA_RECOVERY_CODES_REGENERATED,
        tenant=user.tenant,
        target=user,
        details={},
    )
    return codes


@transaction.atomic
def mfa_reset(*, user: User, actor: Actor) -> bool:
    """A global admin removes a person's second factor (lost phone and codes). Their API sessions end
    too. False where there was nothing to reset."""
    had = TotpDevice.objects.filter(user=user).exists()
    TotpDevice.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    if not had:
        return False
    RefreshToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_reason=RefreshToken.RevokedReason.REVOKED_BY_USER
    )
    audit_record(actor=actor, action=AuditAction.MFA_RESET, tenant=user.tenant, target=user, details={})
    return True


@transaction.atomic
def tenant_mfa_policy_set(*, tenant: Tenant, required_for_admins: bool, actor: Actor) -> Tenant:
    if tenant.mfa_required_for_admins != required_for_admins:
        tenant.mfa_required_for_admins = required_for_admins
        tenant.full_clean()
        tenant.save(update_fields=["mfa_required_for_admins", "updated_at"])
        audit_record(
            actor=actor,
            action=AuditAction.MFA_POLICY_CHANGED,
            tenant=tenant,
            target=tenant,
            details={"mfa_required_for_admins": required_for_admins},
        )
    return tenant


# --- the sign-in challenge ----------------------------------------------------------------------


def _challenge_key(challenge: str) -> str:
    return redis_key("mfa-challenge", hashlib.sha256(challenge.encode()).hexdigest())


def mfa_pending_for(user: User) -> MfaPending | None:
    """After a correct password: the challenge this sign-in must pass, or None for none."""
    if mfa_enabled(user):
        enrol = False
    elif mfa_required_by_policy(user):
        enrol = True
    else:
        return None
    challenge = secrets.token_urlsafe(32)
    ttl = settings.DEEPLENS_MFA_CHALLENGE_SECONDS
    get_redis().set(
        _challenge_key(challenge), json.dumps({"user": str(user.pk), "enrol": enrol, "attempts": 0}), ex=ttl
    )
    return MfaPending(challenge=challenge, enrolment_required=enrol, expires_in=ttl)


def _challenge_read(challenge: str) -> tuple[dict, User]:
    raw = get_redis().get(_challenge_key(challenge or "")) if challenge else None
    if raw is None:
        raise MfaChallengeInvalid("The sign-in has expired or is unknown; sign in again.")
    state = json.loads(raw)
    user = (
        User.objects.select_related("tenant")
        .filter(pk=state["user"], is_active=True, deleted_at__isnull=True)
        .first()
    )
    if user is None:
        raise MfaChallengeInvalid("The sign-in has expired or is unknown; sign in again.")
    return state, user


def mfa_challenge_state(*, challenge: str) -> tuple[User, bool]:
    """Whose sign-in the challenge continues and whether they must enrol first."""
    state, user = _challenge_read(challenge)
    return user, bool(state["enrol"])


def mfa_challenge_setup(*, challenge: str) -> TotpSetup:
    """For a challenge that requires enrolment: the seed to scan (the same one until confirmed)."""
    state, user = _challenge_read(challenge)
    if not state["enrol"]:
        raise MfaAlreadyEnabled("This account already has an authenticator; enter its code.")
    return mfa_setup_pending(user=user) or mfa_setup_start(user=user)


def mfa_challenge_complete(*, challenge: str, code: str, actor: Actor, channel: str) -> MfaPassed:
    """Check the second factor of a pending sign-in. On success the challenge is spent and the sign-in
    audited; the caller starts the session."""
    state, user = _challenge_read(challenge)
    login_throttle_raise(tenant=user.tenant, email=user.email, actor=actor)
    recovery_codes = None
    with transaction.atomic():
        if state["enrol"]:
            try:
                recovery_codes = mfa_setup_confirm(
                    user=user,
                    code=code,
                    actor=Actor(user=user, ip_address=actor.ip_address, user_agent=actor.user_agent),
                )
                factor: str | None = "totp"
            except (MfaCodeInvalid, MfaNotEnabled):
                factor = None
        else:
            factor = _verify(user, code)
    if factor is None:
        _challenge_failed(challenge=challenge, state=state, user=user, actor=actor, channel=channel)
        raise MfaCodeInvalid("That code is not valid.")
    get_redis().delete(_challenge_key(challenge))
    login_attempt_record(
        tenant=user.tenant, email=user.email, user=user, actor=actor, channel=channel, factor=factor
    )
    return MfaPassed(user=user, recovery_codes=recovery_codes)


def _challenge_failed(*, challenge: str, state: dict, user: User, actor: Actor, channel: str) -> None:
    login_failure_record(tenant_key=login_tenant_key(user.tenant), email=user.email, ip=actor.ip_address)
    audit_record(
        actor=Actor(user=user, ip_address=actor.ip_address, user_agent=actor.user_agent),
        action=AuditAction.MFA_FAILED,
        tenant=user.tenant,
        target=user,
        details={"channel": channel},
    )
    key = _challenge_key(challenge)
    state["attempts"] += 1
    if state["attempts"] >= settings.DEEPLENS_MFA_CHALLENGE_MAX_ATTEMPTS:
        get_redis().delete(key)
    else:
        get_redis().set(key, json.dumps(state), keepttl=True)
