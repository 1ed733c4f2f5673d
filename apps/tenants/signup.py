"""Self-service sign-up (DEEPLENS_SIGNUP_ENABLED): a visitor asks for a workspace, confirms their
e-mail address with the link mailed to them, and the workspace is provisioned on the Free tier
(default storage location and thumbnail specs, as any) with them as its owner.

Nothing is created before the confirmation: the request travels in the link itself, encrypted and
authenticated (Fernet, apps/core/crypto) and expiring after DEEPLENS_SIGNUP_LINK_SECONDS, with the
password already hashed. Requests are limited per client address like sign-in failures."""

import json
import logging
import secrets

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string

from apps.accounts.errors import TooManyAttempts
from apps.accounts.models import Role, User
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.crypto import InvalidToken, fernet_decrypt, fernet_encrypt
from apps.core.errors import InvalidInput
from apps.core.redis import get_redis, incr_with_window, redis_key
from apps.tenants.errors import SignupDisabled, SignupLinkInvalid, TenantExists, TenantSlugInvalid
from apps.tenants.models import Tenant, TenantTier, validate_tenant_slug
from apps.tenants.services import tenant_provision

logger = logging.getLogger(__name__)
TICKET_SECONDS = 60


def signup_enabled() -> bool:
    return bool(settings.DEEPLENS_SIGNUP_ENABLED)


def _throttle(ip: str | None) -> None:
    key = redis_key("signup", "ip", ip or "unknown")
    count = get_redis().get(key)
    if count is not None and int(count) >= settings.DEEPLENS_SIGNUP_MAX_PER_IP:
        raise TooManyAttempts(
            "Too many sign-ups from this address. Try again later.",
            extra={"retry_after": max(1, get_redis().ttl(key))},
        )
    incr_with_window(key, settings.DEEPLENS_SIGNUP_WINDOW_SECONDS)


def _check_slug(slug: str) -> None:
    try:
        validate_tenant_slug(slug)
    except ValidationError as exc:
        raise TenantSlugInvalid(
            exc.messages[0], extra={"slug": [exc.error_list[0].code or "invalid"]}
        ) from exc
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantExists(f"The address {slug!r} is taken.", extra={"slug": ["taken"]})


def signup_request(
    *,
    name: str,
    slug: str,
    email: str,
    password: str,
    actor: Actor,
    base_url: str,
    first_name: str = "",
    last_name: str = "",
) -> None:
    """Check the request and mail the confirmation link. Creates nothing."""
    if not signup_enabled():
        raise SignupDisabled("Sign-up is not open on this installation.")
    _throttle(actor.ip_address)
    name, slug, email = (
        name.strip(),
        slug.strip().lower(),
        User.objects.normalize_email(email.strip()).lower(),
    )
    if not name:
        raise InvalidInput("A workspace needs a name.", extra={"name": ["required"]})
    _check_slug(slug)
    try:
        validate_password(password, User(email=email, first_name=first_name, last_name=last_name))
    except ValidationError as exc:
        raise InvalidInput(
            " ".join(exc.messages), code="password_invalid", extra={"password": exc.messages}
        ) from exc
    payload = {
        "name": name,
        "slug": slug,
        "email": email,
        "password": make_password(password),
        "first_name": first_name.strip()[:150],
        "last_name": last_name.strip()[:150],
    }
    link = f"{base_url}/signup/confirm/{fernet_encrypt(json.dumps(payload))}/"
    body = render_to_string("tenants/email/signup_confirm.txt", {"name": name, "slug": slug, "link": link})
    send_mail(f"Confirm your DeepLens workspace {name}", body, None, [email])
    audit_record(
        actor=actor, action=AuditAction.SIGNUP_REQUESTED, tenant=None, details={"slug": slug, "email": email}
    )


def signup_peek(*, token: str) -> dict:
    """What a confirmation link asks for (no password); SignupLinkInvalid if broken or expired."""
    if not signup_enabled():
        raise SignupDisabled("Sign-up is not open on this installation.")
    try:
        payload = json.loads(fernet_decrypt(token, max_age=settings.DEEPLENS_SIGNUP_LINK_SECONDS))
    except (InvalidToken, ValueError) as exc:
        raise SignupLinkInvalid("This confirmation link is broken or has expired; sign up again.") from exc
    return payload


def signup_confirm(*, token: str, actor: Actor) -> tuple[Tenant, User]:
    """Provision the workspace the link asks for, with its owner (e-mail confirmed). A link used
    twice, or for an address taken meanwhile, gets 409."""
    payload = signup_peek(token=token)
    slug = payload["slug"]
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantExists(
            f"The workspace {slug!r} exists already: the link was used, or the address was taken meanwhile.",
            extra={"slug": ["taken"]},
        )
    tenant = tenant_provision(name=payload["name"], slug=slug, tier=TenantTier.FREE, actor=actor)
    with transaction.atomic():
        user = User(
            tenant=tenant,
            email=payload["email"],
            role=Role.OWNER,
            first_name=payload["first_name"],
            last_name=payload["last_name"],
            email_confirmed=True,
            password=payload["password"],
        )
        user.full_clean()
        user.save()
        owner = Actor(user=user, ip_address=actor.ip_address, user_agent=actor.user_agent)
        audit_record(
            actor=owner,
            action=AuditAction.USER_CREATED,
            tenant=tenant,
            target=user,
            details={"email": user.email, "role": Role.OWNER, "invited": False},
        )
        audit_record(
            actor=owner,
            action=AuditAction.SIGNUP_COMPLETED,
            tenant=tenant,
            target=tenant,
            details={"slug": slug, "email": user.email, "tier": TenantTier.FREE},
        )
    return tenant, user


def signup_ticket_create(*, user: User) -> str:
    """A one-time ticket that signs the new owner in on the workspace's own host (another cookie)."""
    ticket = secrets.token_urlsafe(32)
    get_redis().set(redis_key("signup-ticket", ticket), str(user.pk), ex=TICKET_SECONDS)
    return ticket


def signup_ticket_user(*, ticket: str, tenant: Tenant) -> User | None:
    user_id = get_redis().getdel(redis_key("signup-ticket", ticket or "-"))
    if user_id is None:
        return None
    return User.objects.filter(
        pk=str(user_id), tenant=tenant, is_active=True, deleted_at__isnull=True
    ).first()
