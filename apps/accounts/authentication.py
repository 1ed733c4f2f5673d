"""API credentials: Bearer access tokens, `Api-Key` keys and the browser session.

Each is bound to a tenant. A credential of tenant A is refused on tenant B whatever the route: the
middleware routes by credential and refuses a mismatch with the host; these classes check again.
"""

import uuid

from django.utils import timezone
from django_tenants.utils import get_public_schema_name
from rest_framework import authentication, exceptions

from apps.accounts.credential_rows import api_key_by_prefix, token_user_get
from apps.accounts.models import ImpersonationSession
from apps.accounts.services.api_keys import api_key_matches, api_key_parse, api_key_touch
from apps.accounts.tokens import AccessToken, TokenError


class TenantMismatch(exceptions.PermissionDenied):
    default_code = "tenant_mismatch"
    default_detail = "This credential belongs to another tenant."


def _request_tenant_id(request):
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return None
    return tenant.pk


def _check_tenant(request, tenant_id) -> None:
    """A tenant-bound credential only works in its own tenant (the public site has no tenant data)."""
    request_tenant = _request_tenant_id(request)
    if request_tenant is not None and str(request_tenant) != str(tenant_id):
        raise TenantMismatch()


def _failed(message: str, code: str) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed(detail=message, code=code)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not header or header[0] != self.keyword:
            return None
        if len(header) != 2:
            raise _failed("The Authorization header must be 'Bearer <token>'.", "token_invalid")
        try:
            token = AccessToken(header[1])  # type: ignore[arg-type]  # simplejwt types it Token (#787)
        except TokenError as exc:
            code = "token_expired" if "expired" in str(exc).lower() else "token_invalid"
            raise _failed("The access token is invalid or expired.", code) from exc

        session_id = token.get("sid")
        user_id = _uuid(token.get("sub"))
        user, session_live = (
            token_user_get(user_id=user_id, family=_uuid(session_id), now=timezone.now())
            if user_id
            else (None, False)
        )
        if user is None or not user.is_active or user.deleted_at is not None:
            raise _failed("The account of this token is deactivated.", "user_inactive")
        if str(user.tenant_id) != str(token.get("tenant")) and not (
            user.tenant_id is None and token.get("tenant") is None
        ):
            raise _failed("The access token is invalid.", "token_invalid")
        if user.tenant_id is not None:
            _check_tenant(request, user.tenant_id)

        impersonator = None
        if token.get("act"):
            session = (
                ImpersonationSession.objects.select_related("impersonator")
                .filter(pk=session_id, target=user, ended_at__isnull=True, expires_at__gt=timezone.now())
                .first()
            )
            if session is None:
                raise _failed("The impersonation has ended.", "token_revoked")
            impersonator = session.impersonator
            request._request.impersonation = session
        elif not session_live:
            raise _failed("This session has been signed out or revoked.", "token_revoked")

        request._request.impersonator = impersonator
        request._request.token_session_id = session_id
        return user, token


def _uuid(value):
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Api-Key"

    def authenticate_header(self, request):
        return "Api-Key"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode(errors="replace").split()
        if not header or header[0] != self.keyword:
            return None
        parsed = api_key_parse(header[1]) if len(header) == 2 else None
        if parsed is None:
            raise _failed("The API key is malformed; it looks like 'dl_xxxxxxxx_...'.", "api_key_invalid")
        prefix, raw = parsed
        key = getattr(request._request, "api_key_row", None)
        if key is None or key.prefix != prefix:
            key = api_key_by_prefix(prefix)
        if key is None or not api_key_matches(key, raw):
            raise _failed("The API key is not valid.", "api_key_invalid")
        if not key.is_active:
            raise _failed("The API key has been revoked.", "api_key_revoked")
        if key.expires_at is not None and key.expires_at <= timezone.now():
            raise _failed("The API key has expired.", "api_key_expired")
        creator = key.created_by
        if (
            not creator.is_active
            or creator.deleted_at is not None
            or (creator.tenant_id is not None and creator.tenant_id != key.tenant_id)
        ):
            raise _failed("The API key's creator no longer has access.", "api_key_revoked")
        _check_tenant(request, key.tenant_id)
        api_key_touch(key)
        request._request.api_key = key
        request._request.impersonator = None
        return creator, key


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """The browser's session, with CSRF checks on unsafe methods; the session is already bound to
    the tenant by TenantMembershipMiddleware."""
