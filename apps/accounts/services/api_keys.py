import hmac
import secrets
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from apps.accounts.errors import ScopeNotAllowed, refuse_while_impersonating
from apps.accounts.models import ApiKey, ApiKeyScope, User
from apps.accounts.permissions import SCOPE_PERMISSIONS, role_permissions
from apps.accounts.tokens import token_hash
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core.errors import InvalidInput
from apps.tenants.models import Tenant

KEY_PREFIX = "dl_"


def api_key_parse(raw: str) -> tuple[str, str] | None:
    """'dl_<prefix>_<secret>' -> (prefix, raw); None if it is not shaped like a DeepLens key."""
    if not raw.startswith(KEY_PREFIX):
        return None
    prefix, _, secret = raw[len(KEY_PREFIX) :].partition("_")
    if len(prefix) != 8 or not secret:
        return None
    return prefix, raw


def api_key_matches(key: ApiKey, raw: str) -> bool:
    return hmac.compare_digest(key.key_hash, token_hash(raw))


@transaction.atomic
def api_key_create(
    *,
    tenant: Tenant,
    creator: User,
    name: str,
    scopes: list[str],
    actor: Actor,
    expires_at: datetime | None = None,
    requests_per_minute: int | None = None,
) -> tuple[ApiKey, str]:
    """Returns the key row and the key itself, which is shown once and never stored. Never under an
    impersonation (the key would outlive it)."""
    refuse_while_impersonating(actor, "create API keys")
    name = name.strip()
    if not name:
        raise InvalidInput(
            "An API key needs a name.", code="name_required", extra={"name": ["This field is required."]}
        )
    unknown = sorted(set(scopes) - set(ApiKeyScope.values))
    if not scopes or unknown:
        raise InvalidInput(
            f"Choose one or more scopes of {', '.join(ApiKeyScope.values)}.",
            code="scopes_invalid",
            extra={"scopes": unknown or ["At least one scope is required."]},
        )
    allowed = role_permissions(creator.role)
    beyond = sorted(scope for scope in set(scopes) if not SCOPE_PERMISSIONS[scope] <= allowed)
    if beyond:
        raise ScopeNotAllowed(
            f"Your role cannot grant the scopes {', '.join(beyond)}.", extra={"scopes": beyond}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidInput(
            "The expiry must be in the future.",
            code="expiry_invalid",
            extra={"expires_at": ["Must be in the future."]},
        )
    prefix = secrets.token_hex(4)
    raw = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        tenant=tenant,
        created_by=creator,
        name=name[:100],
        prefix=prefix,
        key_hash=token_hash(raw),
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
        requests_per_minute=requests_per_minute,
    )
    key.full_clean()
    key.save()
    audit_record(
        actor=actor,
        action=AuditAction.API_KEY_CREATED,
        tenant=tenant,
        target=key,
        details={
            "name": key.name,
            "prefix": prefix,
            "scopes": key.scopes,
            "requests_per_minute": requests_per_minute,
        },
    )
    return key, raw


@transaction.atomic
def api_key_revoke(*, key: ApiKey, actor: Actor) -> ApiKey:
    if key.is_active:
        key.is_active = False
        key.revoked_at = timezone.now()
        key.save(update_fields=["is_active", "revoked_at"])
        audit_record(
            actor=actor,
            action=AuditAction.API_KEY_REVOKED,
            tenant=key.tenant,
            target=key,
            details={"name": key.name, "prefix": key.prefix},
        )
    return key


def api_key_touch(key: ApiKey) -> None:
    """Record use at most once a minute, so busy keys do not write on every request."""
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
