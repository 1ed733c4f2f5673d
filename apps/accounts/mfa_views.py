"""Two-factor pages: the second step of a browser sign-in (tenant site and admin site alike)."""

import segno
from django.contrib.auth import login
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.views import View

from apps.accounts.errors import MfaAlreadyEnabled, MfaChallengeInvalid, MfaCodeInvalid, TooManyAttempts
from apps.accounts.forms import MfaCodeForm
from apps.accounts.permissions import PUBLIC
from apps.accounts.services import mfa_challenge_complete, mfa_challenge_setup, mfa_challenge_state
from apps.accounts.services.mfa import TotpSetup
from apps.audit.context import Actor

# The session key holding a browser sign-in that passed its password and owes a second factor.
MFA_PENDING_SESSION_KEY = "deeplens_mfa_pending"
BACKEND = "apps.accounts.backends.TenantEmailBackend"


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code (no image request, no inline script: CSP-safe)."""
    return mark_safe(segno.make(uri, error="m").svg_inline(scale=4, border=2))  # segno's own SVG


def totp_setup_context(setup: TotpSetup) -> dict:
    return {"setup": setup, "qr": qr_svg(setup.otpauth_uri)}


def mfa_pending_store(request, *, challenge: str, next_url: str) -> None:
    request.session[MFA_PENDING_SESSION_KEY] = {"challenge": challenge, "next": next_url}


class LoginMfaView(View):
    """Asks for the authenticator (or recovery) code; where the workspace requires a second factor
    the person does not have yet, shows the seed to scan first. The sign-in happens here."""

    required_permission = PUBLIC
    template_name = "accounts/login_mfa.html"
    login_url_name = "accounts:login"

    def _pending(self, request):
        pending = request.session.get(MFA_PENDING_SESSION_KEY) or {}
        challenge = pending.get("challenge", "")
        try:
            user, enrol = mfa_challenge_state(challenge=challenge)
        except MfaChallengeInvalid:
            return None
        request_tenant = getattr(request, "tenant", None)
        if user.tenant_id is not None and (request_tenant is None or user.tenant_id != request_tenant.pk):
            return None
        return pending, user, enrol

    def _render(self, request, *, form, enrol: bool, status: int = 200, message: str = ""):
        context: dict = {"form": form, "enrol": enrol, "error_message": message}
        if enrol:
            pending = request.session[MFA_PENDING_SESSION_KEY]
            try:
                context.update(totp_setup_context(mfa_challenge_setup(challenge=pending["challenge"])))
            except (MfaChallengeInvalid, MfaAlreadyEnabled):
                return redirect(self.login_url_name)
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        state = self._pending(request)
        if state is None:
            request.session.pop(MFA_PENDING_SESSION_KEY, None)
            return redirect(self.login_url_name)
        _pending, _user, enrol = state
        return self._render(request, form=MfaCodeForm(), enrol=enrol)

    def post(self, request):
        state = self._pending(request)
        if state is None:
            request.session.pop(MFA_PENDING_SESSION_KEY, None)
            return redirect(self.login_url_name)
        pending, _user, enrol = state
        form = MfaCodeForm(request.POST)
        if not form.is_valid():
            return self._render(request, form=form, enrol=enrol, status=400)
        try:
            passed = mfa_challenge_complete(
                challenge=pending["challenge"],
                code=form.cleaned_data["code"],
                actor=Actor.from_request(request),
                channel="admin" if self.login_url_name == "admin-login" else "browser",
            )
        except TooManyAttempts as exc:
            minutes = max(1, round(exc.extra["retry_after"] / 60))
            response = self._render(
                request,
                form=form,
                enrol=enrol,
                status=429,
                message=f"Too many failed sign-in attempts. Try again in {minutes} minute(s).",
            )
            response["Retry-After"] = str(exc.extra["retry_after"])
            return response
        except MfaChallengeInvalid:
            return redirect(self.login_url_name)
        except MfaCodeInvalid as exc:
            return self._render(request, form=form, enrol=enrol, status=400, message=exc.message)
        next_url = pending.get("next") or "/"
        login(request, passed.user, backend=BACKEND)
        if passed.recovery_codes:
            return render(
                request,
                "accounts/recovery_codes.html",
                {"recovery_codes": passed.recovery_codes, "next": next_url},
            )
        return redirect(next_url)


class AdminLoginMfaView(LoginMfaView):
    template_name = "accounts/login_mfa.html"
    login_url_name = "admin-login"
