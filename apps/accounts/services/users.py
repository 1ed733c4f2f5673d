"""Users of a tenant: creation and invitation, role changes, deactivation, passwords."""

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from apps.accounts.errors import (
    PasswordInvalid,
    RoleNotAssignable,
    TokenInvalid,
    TooManyAttempts,
    UserExists,
    UserQuotaExceeded,
    refuse_while_impersonating,
)
from apps.accounts.models import TENANT_ROLES, RefreshToken, Role, User
from apps.accounts.permissions import ASSIGNABLE_ROLES
from apps.accounts.services.sessions import sessions_revoke_all
from apps.accounts.throttling import password_reset_throttle_hit
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.errors import InvalidInput
from apps.tenants.models import Tenant


def _check_password(password: str, user: User | None = None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise PasswordInvalid(" ".join(exc.messages), extra={"password": exc.messages}) from exc


def _check_can_assign(*, actor: Actor, role: str) -> None:
    if role not in TENANT_ROLES:
        raise InvalidInput(
            f"{role!r} is not a tenant role.",
            code="role_invalid",
            extra={"role": [f"Choose one of {', '.join(TENANT_ROLES)}."]},
        )
    actor_role = actor.user.role if actor.user else Role.GLOBAL_ADMIN  # system seeding
    if role not in ASSIGNABLE_ROLES.get(actor_role, frozenset()):
        raise RoleNotAssignable(f"Your role cannot give the role {role!r}.")


def _live_users(tenant: Tenant | None):
    return User.objects.filter(tenant=tenant, deleted_at__isnull=True)


@transaction.atomic
def user_create(
    *,
    tenant: Tenant,
    email: str,
    role: str,
    actor: Actor,
    password: str | None = None,
    first_name: str = "",
    last_name: str = "",
    base_url: str = "",
) -> User:
    """Create a user. Without a password, an invitation to choose one is emailed (an impersonation
    may only invite: a password it chose would outlive it)."""
    if password:
        refuse_while_impersonating(actor, "set passwords")
    email = User.objects.normalize_email(email.strip()).lower()
    _check_can_assign(actor=actor, role=role)
    max_users = Tenant.objects.select_for_update().get(pk=tenant.pk).limits.max_users  # serialises the check
    if _live_users(tenant).filter(email=email).exists():
        raise UserExists(f"{email} already has an account in this workspace.")
    if _live_users(tenant).filter(is_active=True).count() >= max_users:
        raise UserQuotaExceeded(
            f"The workspace has reached its limit of {max_users} users.",
            extra={"max_users": max_users},
        )
    user = User(tenant=tenant, email=email, role=role, first_name=first_name, last_name=last_name)
    if password:
        _check_password(password, user)
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    audit_record(
        actor=actor,
        action=AuditAction.USER_CREATED,
        tenant=tenant,
        target=user,
        details={"email": email, "role": role, "invited": not password},
    )
    if not password:
        transaction.on_commit(lambda: _send_password_email(user, base_url, "accounts/email/invitation.txt"))
    return user


@transaction.atomic
def user_ensure(*, tenant: Tenant | None, email: str, password: str, role: str, **fields) -> User:
    """Create the user unless one with that email exists there (seeding; idempotent)."""
    email = email.strip().lower()
    existing = User.objects.filter(tenant=tenant, email=email, deleted_at__isnull=True).first()
    if existing is not None:
        return existing
    if tenant is None:
        return User.objects.create_superuser(email, password, **fields)
    return User.objects.create_user(email, password, tenant=tenant, role=role, **fields)


def _owners_left(tenant: Tenant | None, excluding: User) -> int:

    return _live_users(tenant).filter(role=Role.OWNER, is_active=True).exclude(pk=excluding.pk).count()


def _check_can_manage(*, actor: Actor, user: User) -> None:
    if actor.user is not None and actor.user.pk == user.pk:
        raise RoleNotAssignable(
            "You cannot change your own role or deactivate yourself.", code="cannot_change_self"
        )
    if user.role == Role.OWNER:
        _check_can_assign(actor=actor, role=Role.OWNER)


@transaction.atomic
def user_update(
    *,
    user: User,
    actor: Actor,
    role: str | None = None,
    is_active: bool | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
) -> User:
    changed: list[str] = []
    if role is not None and role != user.role:
        _check_can_manage(actor=actor, user=user)
        _check_can_assign(actor=actor, role=role)
        if user.role == Role.OWNER and _owners_left(user.tenant, user) == 0:
            raise RoleNotAssignable("A workspace keeps at least one owner.", code="last_owner")
        audit_record(
            actor=actor,
            action=AuditAction.USER_ROLE_CHANGED,
            tenant=user.tenant,
            target=user,
            details={"from": user.role, "to": role},
        )
        user.role = role
        changed.append("role")
    if is_active is not None and is_active != user.is_active:
        _check_can_manage(actor=actor, user=user)
        if not is_active and user.role == Role.OWNER and _owners_left(user.tenant, user) == 0:
            raise RoleNotAssignable("A workspace keeps at least one owner.", code="last_owner")
        user.is_active = is_active
        changed.append("is_active")
        if not is_active:
            sessions_revoke_all(user=user, reason=RefreshToken.RevokedReason.USER_DEACTIVATED)
        audit_record(
            actor=actor,
            tenant=user.tenant,
            target=user,
            action=AuditAction.USER_REACTIVATED if is_active else AuditAction.USER_DEACTIVATED,
        )
    names = {"first_name": first_name, "last_name": last_name}
    name_changes = {
        field: value for field, value in names.items() if value is not None and value != getattr(user, field)
    }
    if name_changes:
        for field, value in name_changes.items():
            setattr(user, field, value)
        changed.extend(name_changes)
        audit_record(
            actor=actor,
            action=AuditAction.USER_UPDATED,
            tenant=user.tenant,
            target=user,
            details={"fields": sorted(name_changes)},
        )
    if changed:
        user.full_clean()
        user.save(update_fields=[*changed, "updated_at"])
    return user


@transaction.atomic
def user_delete(*, user: User, actor: Actor) -> User:
    """Soft delete: the account can no longer sign in and its address is free for a new account."""
    _check_can_manage(actor=actor, user=user)
    if user.role == Role.OWNER and _owners_left(user.tenant, user) == 0:
        raise RoleNotAssignable("A workspace keeps at least one owner.", code="last_owner")
    user.deleted_at = timezone.now()
    user.is_active = False
    user.save(update_fields=["deleted_at", "is_active", "updated_at"])
    sessions_revoke_all(user=user, reason=RefreshToken.RevokedReason.USER_DEACTIVATED)
    audit_record(
        actor=actor,
        action=AuditAction.USER_DELETED,
        tenant=user.tenant,
        target=user,
        details={"email": user.email},
    )
    return user


@transaction.atomic
def user_change_password(
    *, user: User, old_password: str, new_password: str, actor: Actor, keep_session: str | None = None
) -> None:
    """Other sessions end; the one making the change (keep_session) stays signed in. Never under an
    impersonation (the password would outlive it)."""
    refuse_while_impersonating(actor, "set passwords")
    if not user.check_password(old_password):
        raise PasswordInvalid("The current password is not correct.", code="old_password_invalid")
    _check_password(new_password, user)
    user.set_password(new_password)
    user.save(update_fields=["password", "updated_at"])
    sessions_revoke_all(
        user=user, reason=RefreshToken.RevokedReason.PASSWORD_CHANGED, except_family=keep_session
    )
    audit_record(actor=actor, action=AuditAction.PASSWORD_CHANGED, tenant=user.tenant, target=user)


def _send_password_email(user: User, base_url: str, template: str) -> None:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = f"{base_url.rstrip('/')}/accounts/reset/{uid}/{token}/"
    body = render_to_string(template, {"user": user, "link": link, "tenant": user.tenant})
    subject = "Your DeepLens account" if "invitation" in template else "Reset your DeepLens password"
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])


def password_reset_request(*, tenant: Tenant | None, email: str, actor: Actor, base_url: str) -> None:
    """Email a reset link if the account exists; the answer never says whether it does. Requests are
    throttled per address and per client whether or not the account exists (TooManyAttempts)."""
    email = email.strip().lower()
    throttled = password_reset_throttle_hit(
        tenant_key=str(tenant.pk) if tenant else "global", email=email, ip=actor.ip_address
    )
    if throttled is not None:
        raise TooManyAttempts(
            "Too many password-reset requests. Try again later.",
            extra={"retry_after": throttled.retry_after},
        )
    user = User.objects.filter(tenant=tenant, email=email, is_active=True, deleted_at__isnull=True).first()
    audit_record(
        actor=actor,
        action=AuditAction.PASSWORD_RESET_REQUESTED,
        tenant=tenant,
        target_type="accounts.user",
        target_id=str(user.pk) if user else "",
        details={"email": email[:254], "account_found": user is not None},
    )
    if user is not None:
        _send_password_email(user, base_url, "accounts/email/password_reset.txt")


def reset_token_user(*, uid: str, token: str) -> User:
    try:
        user = User.objects.get(
            pk=force_str(urlsafe_base64_decode(uid)), is_active=True, deleted_at__isnull=True
        )
    except (User.DoesNotExist, ValueError, ValidationError, TypeError, OverflowError) as exc:
        raise TokenInvalid("The reset link is invalid or has expired.") from exc
    if not default_token_generator.check_token(user, token):
        raise TokenInvalid("The reset link is invalid or has expired.")
    return user


@transaction.atomic
def password_reset_confirm(*, uid: str, token: str, new_password: str, actor: Actor) -> User:
    user = reset_token_user(uid=uid, token=token)
    _check_password(new_password, user)
    user.set_password(new_password)
    user.email_confirmed = True
    user.save(update_fields=["password", "email_confirmed", "updated_at"])
    sessions_revoke_all(user=user, reason=RefreshToken.RevokedReason.PASSWORD_CHANGED)
    audit_record(
        actor=Actor(user=user, ip_address=actor.ip_address, user_agent=actor.user_agent),
        action=AuditAction.PASSWORD_RESET,
        tenant=user.tenant,
        target=user,
    )
    return user


@transaction.atomic
def user_admin_save(*, user: User, changed: list[str], actor: Actor, created: bool) -> User:
    """A global admin's change in the Django admin: saved as given, and audited like any other."""
    previous = None if created else User.objects.filter(pk=user.pk).values("role", "is_active").first()
    user.email = user.email.strip().lower()
    user.full_clean()
    user.save()
    if created:
        audit_record(
            actor=actor,
            action=AuditAction.USER_CREATED,
            tenant=user.tenant,
            target=user,
            details={"email": user.email, "role": user.role, "via": "admin"},
        )
        return user
    if "role" in changed and previous and previous["role"] != user.role:
        audit_record(
            actor=actor,
            action=AuditAction.USER_ROLE_CHANGED,
            tenant=user.tenant,
            target=user,
            details={"from": previous["role"], "to": user.role, "via": "admin"},
        )
    if "is_active" in changed and previous and previous["is_active"] != user.is_active:
        if not user.is_active:
            sessions_revoke_all(user=user, reason=RefreshToken.RevokedReason.USER_DEACTIVATED)
        audit_record(
            actor=actor,
            tenant=user.tenant,
            target=user,
            details={"via": "admin"},
            action=AuditAction.USER_REACTIVATED if user.is_active else AuditAction.USER_DEACTIVATED,
        )
    other = sorted(set(changed) - {"role", "is_active", "password"})
    if other:
        audit_record(
            actor=actor,
            action=AuditAction.USER_UPDATED,
            tenant=user.tenant,
            target=user,
            details={"fields": other, "via": "admin"},
        )
    return user
