"""JWTs (djangorestframework-simplejwt) bound to a tenant, a session and, when impersonating, an actor.

Access token claims: sub (user), tenant (tenant id, null for global admins), role, sid (the session:
a refresh-token family or an impersonation session) and, while impersonating, act (RFC 8693).
"""

import hashlib
import uuid
from datetime import timedelta

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from apps.accounts.errors import TokenInvalid

__all__ = ["AccessToken", "RefreshToken", "TokenError", "access_token_for", "refresh_token_for", "token_hash"]


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _bind(token, user) -> None:
    token["tenant"] = str(user.tenant_id) if user.tenant_id else None
    token["role"] = user.role


def access_token_for(
    *, user, session_id: uuid.UUID, impersonator=None, lifetime: timedelta | None = None
) -> AccessToken:
    token = AccessToken.for_user(user)
    _bind(token, user)
    token["sid"] = str(session_id)
    if impersonator is not None:
        token["act"] = {"sub": str(impersonator.pk), "email": impersonator.email}
    if lifetime is not None:
        token.set_exp(lifetime=lifetime)
    return token


def refresh_token_for(*, user, family: uuid.UUID) -> RefreshToken:
    token = RefreshToken.for_user(user)
    _bind(token, user)
    token["fam"] = str(family)
    return token


def parse_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)  # type: ignore[arg-type]  # simplejwt types the raw token Token (#787)
    except TokenError as exc:
        raise TokenInvalid("The refresh token is invalid or expired.") from exc


def peek_access_claims(raw: str) -> dict | None:
    """Verified claims of an access token, or None; used to route API requests by credential."""
    try:
        return dict(AccessToken(raw).payload)  # type: ignore[arg-type]  # as above
    except TokenError:
        return None
