"""Single sign-on per workspace: providers, the SSO-required policy, sign-in with just-in-time
provisioning, and the hand-off that gives API clients a token pair after a browser sign-in."""

import base64
import hashlib
import hmac
import json
import re
import secrets

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.accounts.errors import SsoFailed, SsoRequired, TokenInvalid, UserQuotaExceeded
from apps.accounts.models import TENANT_ROLES, Role, SsoIdentity, SsoPolicy, SsoProvider, User
from apps.accounts.sso.client import provider_url_check
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.crypto import fernet_encrypt
from apps.core.errors import InvalidInput
from apps.core.redis import get_redis, redis_key
from apps.tenants.models import Tenant

ROLE_ORDER = [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER]
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
HANDOFF_SECONDS = 120


# --- configuration ------------------------------------------------------------------------------


def _clean_domains(domains) -> list[str]:
    cleaned = sorted({str(d).strip().lower().lstrip("@") for d in domains or [] if str(d).strip()})
    bad = [d for d in cleaned if not _DOMAIN.match(d)]
    if bad:
        raise InvalidInput("Not an e-mail domain.", extra={"allowed_domains": bad})
    return cleaned


def _clean_mapping(mapping) -> dict[str, str]:
    if not isinstance(mapping, dict):
        raise InvalidInput("A mapping of claim values to roles.", extra={"role_mapping": ["invalid"]})
    bad = {k: v for k, v in mapping.items() if v not in TENANT_ROLES or not str(k).strip()}
    if bad:
        raise InvalidInput(
            f"Roles are one of {', '.join(TENANT_ROLES)}.", extra={"role_mapping": sorted(map(str, bad))}
        )
    return {str(k): str(v) for k, v in mapping.items()}


_FIELDS = (
    "slug",
    "name",
    "issuer",
    "client_id",
    "scopes",
    "allowed_domains",
    "default_role",
    "role_claim",
    "role_mapping",
    "is_active",
)


def _apply(provider: SsoProvider, data: dict) -> list[str]:
    changed = []
    if "issuer" in data:
        data["issuer"] = provider_url_check(str(data["issuer"]).strip())
    if "allowed_domains" in data:
        data["allowed_domains"] = _clean_domains(data["allowed_domains"])
    if "role_mapping" in data:
        data["role_mapping"] = _clean_mapping(data["role_mapping"])
    if "default_role" in data and data["default_role"] not in TENANT_ROLES:
        raise InvalidInput("Not a workspace role.", extra={"default_role": ["invalid_choice"]})
    if "scopes" in data and "openid" not in str(data["scopes"]).split():
        raise InvalidInput("The scopes must include openid.", extra={"scopes": ["openid_missing"]})
    for field in _FIELDS:
        if field in data and getattr(provider, field) != data[field]:
            setattr(provider, field, data[field])
            changed.append(field)
    if data.get("client_secret"):
        provider.client_secret_encrypted = fernet_encrypt(data["client_secret"])
        changed.append("client_secret")
    return changed


def _save(provider: SsoProvider) -> None:
    provider.full_clean(exclude=["tenant"], validate_unique=False)
    try:
        with transaction.atomic():
            provider.save()
    except IntegrityError as exc:
        raise InvalidInput(
            "Another provider of this workspace has that slug.", extra={"slug": ["unique"]}
        ) from exc


@transaction.atomic
def sso_provider_create(*, tenant: Tenant, actor: Actor, **data) -> SsoProvider:
    provider = SsoProvider(tenant=tenant)
    _apply(provider, data)
    _save(provider)
    audit_record(
        actor=actor,
        action=AuditAction.SSO_PROVIDER_CREATED,
        tenant=tenant,
        target=provider,
        details={"slug": provider.slug, "issuer": provider.issuer, "client_id": provider.client_id},
    )
    return provider


@transaction.atomic
def sso_provider_update(*, provider: SsoProvider, actor: Actor, **data) -> SsoProvider:
    changed = _apply(provider, data)
    if changed:
        _save(provider)
        audit_record(
            actor=actor,
            action=AuditAction.SSO_PROVIDER_UPDATED,
            tenant=provider.tenant,
            target=provider,
            details={"changed": sorted(changed)},
        )
    return provider


@transaction.atomic
def sso_provider_delete(*, provider: SsoProvider, actor: Actor) -> None:
    policy = SsoPolicy.objects.filter(tenant=provider.tenant, sso_required=True).first()
    if policy and not provider.tenant.sso_providers.exclude(pk=provider.pk).filter(is_active=True).exists():
        raise InvalidInput(
            "The workspace requires SSO: keep one active provider or turn the requirement off first.",
            code="sso_required_needs_provider",
        )
    audit_record(
        actor=actor,
        action=AuditAction.SSO_PROVIDER_DELETED,
        tenant=provider.tenant,
        target=provider,
        details={"slug": provider.slug, "issuer": provider.issuer},
    )
    provider.delete()


def sso_policy_get(*, tenant: Tenant) -> SsoPolicy:
    return SsoPolicy.objects.filter(tenant=tenant).select_related("break_glass_user").first() or SsoPolicy(
        tenant=tenant
    )


@transaction.atomic
def sso_policy_set(*, tenant: Tenant, sso_required: bool, break_glass_user_id, actor: Actor) -> SsoPolicy:
    """SSO required needs an active provider and a break-glass owner, who alone keeps a password."""
    policy, _created = SsoPolicy.objects.select_for_update().get_or_create(tenant=tenant)
    break_glass = None
    if break_glass_user_id:
        break_glass = User.objects.filter(
            pk=break_glass_user_id, tenant=tenant, role=Role.OWNER, is_active=True, deleted_at__isnull=True
        ).first()
        if break_glass is None:
            raise InvalidInput(
                "The break-glass account must be an active owner of this workspace.",
                extra={"break_glass_user_id": ["not_an_owner"]},
            )
    if sso_required:
        if break_glass is None:
            raise InvalidInput(
                "Name a break-glass owner who keeps a password in case the provider fails.",
                extra={"break_glass_user_id": ["required"]},
            )
        if not tenant.sso_providers.filter(is_active=True).exists():
            raise InvalidInput("Add an active identity provider first.", code="sso_required_needs_provider")
    policy.sso_required = sso_required
    policy.break_glass_user = break_glass
    policy.save()
    audit_record(
        actor=actor,
        action=AuditAction.SSO_POLICY_CHANGED,
        tenant=tenant,
        target=tenant,
        details={"sso_required": sso_required, "break_glass": break_glass.email if break_glass else None},
    )
    return policy


def password_sign_in_refusal(user: User) -> SsoRequired | None:
    """Where the user's workspace signs in only through SSO (and they are not its break-glass
    owner), the error to answer a correct password with."""
    if user.tenant_id is None:
        return None
    policy = SsoPolicy.objects.filter(tenant_id=user.tenant_id, sso_required=True).first()
    if policy is None or policy.break_glass_user_id == user.pk:
        return None
    return SsoRequired("This workspace signs in through its identity provider (SSO), not with a password.")


# --- sign-in ------------------------------------------------------------------------------------


def _refuse(*, provider: SsoProvider, actor: Actor, code: str, message: str, email: str = "") -> SsoFailed:
    audit_record(
        actor=actor,
        action=AuditAction.SSO_LOGIN_REFUSED,
        tenant=provider.tenant,
        target=provider,
        details={"reason": code, "email": email[:254], "provider": provider.slug},
    )
    return SsoFailed(message, code=code)


def _mapped_role(provider: SsoProvider, claims: dict) -> str | None:
    """The highest role the claim's values map to; None where the claim maps to nothing."""
    if not provider.role_claim:
        return None
    value = claims.get(provider.role_claim)
    values = value if isinstance(value, list) else [value] if value is not None else []
    roles = [provider.role_mapping[str(v)] for v in values if str(v) in provider.role_mapping]
    return max(roles, key=ROLE_ORDER.index) if roles else None


def sso_sign_in(*, provider: SsoProvider, claims: dict, actor: Actor) -> User:
    """The person the verified ID token claims name: linked by subject, else by e-mail within the
    workspace, else provisioned just in time. Name and mapped role follow the provider at each
    sign-in (never for the break-glass owner). Not audited as a sign-in yet: the caller does that
    once any second factor is passed."""
    subject = str(claims.get("sub") or "")
    email = User.objects.normalize_email(str(claims.get("email") or "")).strip().lower()
    if not subject or not email or "@" not in email:
        raise _refuse(
            provider=provider,
            actor=actor,
            code="sso_email_missing",
            message="The provider did not send an e-mail address; add the email scope/claim.",
        )
    if claims.get("email_verified") is False:
        raise _refuse(
            provider=provider,
            actor=actor,
            code="sso_email_unverified",
            email=email,
            message="The provider says this e-mail address is not verified.",
        )
    domain = email.rsplit("@", 1)[1]
    if provider.allowed_domains and domain not in provider.allowed_domains:
        raise _refuse(
            provider=provider,
            actor=actor,
            code="sso_domain_not_allowed",
            email=email,
            message=f"Accounts of {domain} may not sign in to this workspace.",
        )
    tenant = provider.tenant
    mapped = _mapped_role(provider, claims)
    with transaction.atomic():
        identity = (
            SsoIdentity.objects.select_for_update()
            .select_related("user")
            .filter(provider=provider, subject=subject)
            .first()
        )
        user = identity.user if identity else None
        if user is None:
            user = User.objects.filter(tenant=tenant, email=email, deleted_at__isnull=True).first()
        if user is not None and (not user.is_active or user.deleted_at is not None):
            raise _refuse(
                provider=provider,
                actor=actor,
                code="account_deactivated",
                email=email,
                message="This account is deactivated.",
            )
        if user is None:
            user = _provision(
                provider=provider, email=email, role=mapped or provider.default_role, actor=actor
            )
        else:
            _follow_provider(provider=provider, user=user, claims=claims, role=mapped, actor=actor)
        if identity is None:
            identity = SsoIdentity.objects.create(provider=provider, user=user, subject=subject)
        identity.last_login_at = timezone.now()
        identity.save(update_fields=["last_login_at"])
    names = {
        field: str(claims.get(claim) or "")[:150]
        for field, claim in (("first_name", "given_name"), ("last_name", "family_name"))
    }
    changed = {field: value for field, value in names.items() if value and getattr(user, field) != value}
    if changed:
        User.objects.filter(pk=user.pk).update(**changed)
        user.refresh_from_db()
    return user


def _provision(*, provider: SsoProvider, email: str, role: str, actor: Actor) -> User:
    tenant = Tenant.objects.select_for_update().get(pk=provider.tenant_id)
    max_users = tenant.limits.max_users
    if User.objects.filter(tenant=tenant, deleted_at__isnull=True, is_active=True).count() >= max_users:
        raise UserQuotaExceeded(
            f"The workspace has reached its limit of {max_users} users.", extra={"max_users": max_users}
        )
    user = User(tenant=tenant, email=email, role=role, email_confirmed=True)
    user.set_unusable_password()
    user.full_clean()
    user.save()
    audit_record(
        actor=Actor(user=user, ip_address=actor.ip_address, user_agent=actor.user_agent),
        action=AuditAction.SSO_USER_PROVISIONED,
        tenant=tenant,
        target=user,
        details={"email": email, "role": role, "provider": provider.slug},
    )
    return user


def _follow_provider(
    *, provider: SsoProvider, user: User, claims: dict, role: str | None, actor: Actor
) -> None:
    if role is None or role == user.role:
        return
    policy = SsoPolicy.objects.filter(tenant=provider.tenant).first()
    if policy is not None and policy.break_glass_user_id == user.pk:
        return
    previous = user.role
    user.role = role
    user.save(update_fields=["role", "updated_at"])
    audit_record(
        actor=Actor(user=user, ip_address=actor.ip_address, user_agent=actor.user_agent),
        action=AuditAction.USER_ROLE_CHANGED,
        tenant=user.tenant,
        target=user,
        details={"from": previous, "to": role, "by": f"sso:{provider.slug}"},
    )


# --- the API hand-off ---------------------------------------------------------------------------


def _handoff_key(code: str) -> str:
    return redis_key("sso-handoff", hashlib.sha256(code.encode()).hexdigest())


def sso_handoff_create(*, user: User, code_challenge: str) -> str:
    """A one-time code (HANDOFF_SECONDS) an API client trades, with its PKCE verifier, for tokens."""
    code = secrets.token_urlsafe(32)
    get_redis().set(
        _handoff_key(code),
        json.dumps({"user": str(user.pk), "challenge": code_challenge}),
        ex=HANDOFF_SECONDS,
    )
    return code


def sso_handoff_user(*, code: str, code_verifier: str, tenant: Tenant | None) -> User:
    raw = get_redis().getdel(_handoff_key(code or ""))
    if raw is None:
        raise TokenInvalid("The sign-in code is unknown, used or expired.", code="sso_code_invalid")
    state = json.loads(raw)
    digest = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
    if not hmac.compare_digest(digest, state["challenge"]):
        raise TokenInvalid("The code_verifier does not match the code_challenge.", code="sso_code_invalid")
    user = (
        User.objects.select_related("tenant")
        .filter(pk=state["user"], is_active=True, deleted_at__isnull=True)
        .first()
    )
    if user is None or (tenant is not None and user.tenant_id != tenant.pk):
        raise TokenInvalid("The sign-in code is unknown, used or expired.", code="sso_code_invalid")
    return user
