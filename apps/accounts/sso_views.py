"""Sign-in through a workspace's identity provider (OpenID Connect): the redirect out and the callback.

`start/?next=/path` signs a browser in. An API client (a CLI, a desktop app) opens
`start/?client=api&redirect_uri=http://127.0.0.1:<port>/<path>&code_challenge=<S256>` in the
person's browser; after the provider, DeepLens redirects to that loopback address (RFC 8252) with a
one-time `code`, which the client trades with its `code_verifier` at POST /api/v1/auth/sso/token."""

import re
from urllib.parse import urlencode, urlsplit

from django.contrib.auth import login
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from apps.accounts.errors import SsoFailed, UserQuotaExceeded
from apps.accounts.mfa_views import BACKEND, mfa_pending_store
from apps.accounts.models import SsoProvider
from apps.accounts.permissions import PUBLIC
from apps.accounts.services import login_attempt_record, mfa_pending_for
from apps.accounts.services.sso import sso_handoff_create, sso_sign_in
from apps.accounts.sso.client import WorkspaceOidcApp
from apps.audit.context import Actor
from apps.tenants.models import TenantStatus

SSO_SESSION_KEY = "deeplens_sso"
_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43,128}$")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


def _provider(request, slug: str) -> SsoProvider:
    tenant = getattr(request, "tenant", None)
    provider = (
        SsoProvider.objects.select_related("tenant").filter(tenant=tenant, slug=slug, is_active=True).first()
        if tenant is not None
        else None
    )
    if provider is None:
        raise Http404("No such identity provider in this workspace.")
    return provider


def _refused(request, exc: SsoFailed | UserQuotaExceeded, status: int = 403):
    return render(
        request,
        "errors/error.html",
        {"title": "Sign-in refused", "message": exc.message, "code": exc.code, "status": status},
        status=status,
    )


def _loopback(uri: str) -> bool:
    parts = urlsplit(uri)
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and not parts.username


class SsoStartView(View):
    required_permission = PUBLIC

    def get(self, request, slug: str):
        provider = _provider(request, slug)
        state: dict = {"provider": str(provider.pk)}
        if request.GET.get("client") == "api":
            redirect_uri = request.GET.get("redirect_uri", "")
            challenge = request.GET.get("code_challenge", "")
            if not _loopback(redirect_uri) or not _CHALLENGE.match(challenge):
                return _refused(
                    request,
                    SsoFailed(
                        "An API sign-in needs a loopback redirect_uri (http://127.0.0.1:<port>/...) and an "
                        "S256 code_challenge.",
                        code="sso_api_request_invalid",
                    ),
                    status=400,
                )
            state.update(api_redirect=redirect_uri, code_challenge=challenge)
        else:
            next_url = request.GET.get("next", "")
            if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
                next_url = reverse("dashboard:index")
            state["next"] = next_url
        request.session[SSO_SESSION_KEY] = state
        callback = request.build_absolute_uri(reverse("accounts:sso_callback", args=[provider.slug]))
        try:
            return WorkspaceOidcApp(provider).authorize_redirect(request, callback)
        except SsoFailed as exc:
            return _refused(request, exc)


class SsoCallbackView(View):
    required_permission = PUBLIC

    def get(self, request, slug: str):
        provider = _provider(request, slug)
        actor = Actor.from_request(request)
        state = request.session.pop(SSO_SESSION_KEY, None) or {}
        try:
            claims = WorkspaceOidcApp(provider).callback_claims(request)
            if state.get("provider") != str(provider.pk):
                raise SsoFailed(
                    "This sign-in was not started here (state mismatch); start again.",
                    code="sso_state_invalid",
                )
            user = sso_sign_in(provider=provider, claims=claims, actor=actor)
        except (SsoFailed, UserQuotaExceeded) as exc:
            return _refused(request, exc)
        if provider.tenant.status != TenantStatus.ACTIVE:
            return _refused(request, SsoFailed("The workspace is not active.", code="tenant_suspended"))
        if "api_redirect" in state:
            code = sso_handoff_create(user=user, code_challenge=state["code_challenge"])
            separator = "&" if urlsplit(state["api_redirect"]).query else "?"
            return HttpResponseRedirect(f"{state['api_redirect']}{separator}{urlencode({'code': code})}")
        next_url = state.get("next") or reverse("dashboard:index")
        pending = mfa_pending_for(user)
        if pending is not None:
            mfa_pending_store(request, challenge=pending.challenge, next_url=next_url)
            return redirect("accounts:login_mfa")
        login_attempt_record(
            tenant=provider.tenant, email=user.email, user=user, actor=actor, channel=f"sso:{provider.slug}"
        )
        login(request, user, backend=BACKEND)
        return HttpResponseRedirect(next_url)
