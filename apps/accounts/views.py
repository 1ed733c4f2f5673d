"""Sign-in, sign-out, password reset, profile and browser impersonation pages."""

from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import FormView
from django_tenants.utils import get_public_schema_name

from apps.accounts.errors import (
    ImpersonationCannotCreateCredentials,
    MfaAlreadyEnabled,
    MfaCodeInvalid,
    MfaNotEnabled,
    MfaRequired,
    PasswordInvalid,
    TokenInvalid,
    TooManyAttempts,
)
from apps.accounts.forms import (
    LoginForm,
    MfaCodeForm,
    PasswordChangeForm,
    PasswordResetForm,
    ProfileForm,
    SetPasswordForm,
)
from apps.accounts.mfa_views import mfa_pending_store, totp_setup_context
from apps.accounts.middleware import IMPERSONATION_SESSION_KEY
from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import PUBLIC, Perm
from apps.accounts.selectors import session_list, sso_provider_list
from apps.accounts.services import (
    auth_logout,
    impersonation_accept_handoff,
    impersonation_stop,
    login_attempt_record,
    mfa_disable,
    mfa_pending_for,
    mfa_recovery_codes_regenerate,
    mfa_setup_confirm,
    mfa_setup_start,
    password_reset_confirm,
    password_reset_request,
    session_revoke,
    user_change_password,
    user_update,
)
from apps.accounts.services.attempts import login_tenant_key
from apps.accounts.services.mfa import (
    mfa_enabled,
    mfa_required_by_policy,
    mfa_setup_pending,
    recovery_codes_left,
)
from apps.accounts.services.sso import password_sign_in_refusal, sso_policy_get
from apps.accounts.services.users import reset_token_user
from apps.accounts.throttling import login_throttle_check
from apps.audit.context import Actor, client_ip
from apps.core.api import base_url
from apps.tenants.request import TenantRequest


def _sign_in_tenant(request):
    """The tenant a sign-in page belongs to; None on the public site (global admins only)."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or tenant.schema_name == get_public_schema_name():
        return None
    return tenant


class ThrottledSignInMixin(auth_views.LoginView):
    """A LoginView that throttles and audits: the lock is checked before the password, every
    failure and success is recorded (counted per account+client, per account and per client)."""

    channel = "browser"

    def post(self, request, *args, **kwargs):
        email = request.POST.get("username", "")
        throttled = login_throttle_check(
            tenant_key=login_tenant_key(_sign_in_tenant(request)), email=email, ip=client_ip(request)
        )
        if throttled is not None:
            minutes = max(1, round(throttled.retry_after / 60))
            message = f"Too many failed sign-in attempts. Try again in {minutes} minute(s)."
            form = self.form_class(request=request, initial={"username": email})
            response = self.render_to_response(
                self.get_context_data(form=form, throttle_message=message), status=429
            )
            response["Retry-After"] = str(throttled.retry_after)
            return response
        return super().post(request, *args, **kwargs)

    mfa_url_name = "accounts:login_mfa"

    def form_valid(self, form):
        refusal = password_sign_in_refusal(form.get_user())
        if refusal is not None:
            form.add_error(None, refusal.message)
            return self.render_to_response(self.get_context_data(form=form), status=403)
        pending = mfa_pending_for(form.get_user())
        if pending is not None:
            # The password was right; the sign-in is audited once the second factor is.
            mfa_pending_store(self.request, challenge=pending.challenge, next_url=self.get_success_url())
            return redirect(self.mfa_url_name)
        login_attempt_record(
            tenant=_sign_in_tenant(self.request),
            email=form.get_user().email,
            user=form.get_user(),
            actor=Actor.from_request(self.request),
            channel=self.channel,
        )
        return super().form_valid(form)

    def form_invalid(self, form):
        if form.has_error(NON_FIELD_ERRORS, "invalid_login"):
            login_attempt_record(
                tenant=_sign_in_tenant(self.request),
                email=form.data.get("username", ""),
                user=None,
                actor=Actor.from_request(self.request),
                channel=self.channel,
            )
        return super().form_invalid(form)


class LoginView(ThrottledSignInMixin):
    request: TenantRequest
    required_permission = PUBLIC
    template_name = "accounts/login.html"
    form_class = LoginForm
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs):
        tenant = _sign_in_tenant(self.request)
        providers = sso_provider_list(tenant=tenant, active_only=True) if tenant else []
        return super().get_context_data(
            sso_providers=providers,
            sso_required=bool(tenant and sso_policy_get(tenant=tenant).sso_required),
            **kwargs,
        )


class AdminLoginView(ThrottledSignInMixin):
    """The Django admin's sign-in (global admins), with the same throttle and audit as every other
    door (counted with the API's global-admin sign-in). Without `next` it goes to the admin's index."""

    required_permission = PUBLIC
    channel = "admin"
    mfa_url_name = "admin-login-mfa"
    template_name = "admin/login.html"
    form_class = AdminAuthenticationForm
    next_page = "admin:index"

    def get_context_data(self, **kwargs):
        throttle_message = kwargs.pop("throttle_message", None)
        if throttle_message:
            messages.error(self.request, throttle_message)
        return super().get_context_data(
            **admin.site.each_context(self.request),
            title="Log in",
            subtitle=None,
            app_path=self.request.get_full_path(),
            username=self.request.user.get_username(),
            **kwargs,
        )


class LogoutView(View):
    required_permission = PUBLIC

    def post(self, request):
        if request.user.is_authenticated:
            impersonation = getattr(request, "impersonation", None)
            if impersonation is not None:
                impersonation_stop(session=impersonation, actor=Actor.from_request(request))
            else:
                auth_logout(user=request.user, session_id=None, actor=Actor.from_request(request))
        logout(request)
        return redirect("accounts:login")


class PasswordResetView(FormView):
    request: TenantRequest
    required_permission = PUBLIC
    template_name = "accounts/password_reset.html"
    form_class = PasswordResetForm

    def form_valid(self, form):
        try:
            password_reset_request(
                tenant=self.request.tenant,
                email=form.cleaned_data["email"],
                actor=Actor.from_request(self.request),
                base_url=base_url(self.request),
            )
        except TooManyAttempts as exc:
            minutes = max(1, round(exc.extra["retry_after"] / 60))
            message = f"Too many reset requests. Try again in {minutes} minute(s)."
            response = self.render_to_response(
                self.get_context_data(form=form, throttle_message=message), status=429
            )
            response["Retry-After"] = str(exc.extra["retry_after"])
            return response
        return render(
            self.request, "accounts/password_reset_sent.html", {"email": form.cleaned_data["email"]}
        )


class PasswordResetConfirmView(FormView):
    required_permission = PUBLIC
    template_name = "accounts/password_reset_confirm.html"
    form_class = SetPasswordForm

    def dispatch(self, request, *args, **kwargs):
        try:
            user = reset_token_user(uid=kwargs["uidb64"], token=kwargs["token"])
        except TokenInvalid:
            user = None
        self.link_valid = user is not None and user.tenant_id == request.tenant.pk
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        return super().get_context_data(link_valid=self.link_valid, **kwargs)

    def form_valid(self, form):
        if not self.link_valid:
            return self.render_to_response(self.get_context_data(form=form))
        try:
            password_reset_confirm(
                uid=self.kwargs["uidb64"],
                token=self.kwargs["token"],
                new_password=form.cleaned_data["new_password"],
                actor=Actor.from_request(self.request),
            )
        except PasswordInvalid as exc:
            form.add_error("new_password", exc.message)
            return self.form_invalid(form)
        messages.success(self.request, "Your password is set. Sign in with it now.")
        return redirect("accounts:login")


class ProfileView(PermissionRequiredPage, View):
    template_name = "accounts/profile.html"
    required_permission = Perm.ACCOUNT_SELF

    def get(self, request, profile_form=None, password_form=None, status=200, **extra):
        context = {
            "mfa_enabled": mfa_enabled(request.user),
            "mfa_required": mfa_required_by_policy(request.user),
            "mfa_codes_left": recovery_codes_left(request.user),
            "mfa_form": MfaCodeForm(),
            **extra,
            "profile_form": profile_form
            or ProfileForm(
                initial={"first_name": request.user.first_name, "last_name": request.user.last_name}
            ),
            "password_form": password_form or PasswordChangeForm(),
            "sessions": session_list(user=request.user),
        }
        return render(request, self.template_name, context, status=status)

    def post(self, request):
        actor = Actor.from_request(request)
        action = request.POST.get("action")
        if action == "profile":
            form: ProfileForm | PasswordChangeForm = ProfileForm(request.POST)

            if not form.is_valid():
                return self.get(request, profile_form=form, status=400)
            user_update(user=request.user, actor=actor, **form.cleaned_data)
            messages.success(request, "Your profile is saved.")
        elif action == "password":
            form = PasswordChangeForm(request.POST)
            if not form.is_valid():
                return self.get(request, password_form=form, status=400)
            try:
                user_change_password(user=request.user, actor=actor, **form.cleaned_data)
            except ImpersonationCannotCreateCredentials as exc:
                form.add_error("new_password", exc.message)
                return self.get(request, password_form=form, status=403)
            except PasswordInvalid as exc:
                form.add_error(
                    "new_password" if exc.code == "password_invalid" else "old_password", exc.message
                )
                return self.get(request, password_form=form, status=400)
            update_session_auth_hash(request, request.user)
            messages.success(request, "Your password is changed; your API sessions were signed out.")
        elif action in MFA_ACTIONS:
            return self.mfa_post(request, action, actor)
        elif action == "revoke_session" and session_revoke(
            user=request.user, family=request.POST.get("session", ""), actor=actor
        ):
            messages.success(request, "The session is revoked.")
        return redirect("accounts:profile")

    def mfa_post(self, request, action: str, actor: Actor):
        if getattr(request, "impersonation", None) is not None:
            messages.error(request, "An impersonator cannot change the person's second factor.")
            return redirect("accounts:profile")
        if action == "mfa_setup":
            try:
                setup = mfa_setup_start(user=request.user)
            except MfaAlreadyEnabled as exc:
                messages.error(request, exc.message)
                return redirect("accounts:profile")
            return self.get(request, **{"mfa_setup": True, **totp_setup_context(setup)})
        form = MfaCodeForm(request.POST)
        if not form.is_valid():
            return self.get(request, mfa_form=form, status=400)
        code = form.cleaned_data["code"]
        try:
            if action == "mfa_confirm":
                codes = mfa_setup_confirm(user=request.user, code=code, actor=actor)
                messages.success(request, "Two-factor sign-in is on.")
                return render(request, "accounts/recovery_codes.html", {"recovery_codes": codes, "next": ""})
            if action == "mfa_recovery_codes":
                codes = mfa_recovery_codes_regenerate(user=request.user, code=code, actor=actor)
                return render(request, "accounts/recovery_codes.html", {"recovery_codes": codes, "next": ""})
            mfa_disable(user=request.user, code=code, actor=actor)
            messages.success(request, "Two-factor sign-in is off.")
        except (MfaCodeInvalid, MfaNotEnabled, MfaRequired) as exc:
            form.add_error("code", exc.message)
            extra: dict = {}
            if action == "mfa_confirm":
                pending = mfa_setup_pending(user=request.user)
                extra = {"mfa_setup": True, **totp_setup_context(pending)} if pending else {}
            return self.get(request, mfa_form=form, status=400, **extra)
        return redirect("accounts:profile")


MFA_ACTIONS = ("mfa_setup", "mfa_confirm", "mfa_disable", "mfa_recovery_codes")


class ImpersonationAcceptView(View):
    """The tenant-host end of a browser impersonation started in the admin."""

    required_permission = PUBLIC

    def get(self, request):
        try:
            session = impersonation_accept_handoff(ticket=request.GET.get("ticket", ""))
        except TokenInvalid as exc:
            return render(
                request,
                "errors/error.html",
                {"title": "Impersonation refused", "message": exc.message, "code": exc.code, "status": 403},
                status=403,
            )
        if session.target.tenant_id != request.tenant.pk:
            return render(
                request,
                "errors/error.html",
                {
                    "title": "Impersonation refused",
                    "status": 403,
                    "message": "This link is for another workspace.",
                    "code": "tenant_mismatch",
                },
                status=403,
            )
        login(request, session.target, backend="apps.accounts.backends.TenantEmailBackend")
        request.session[IMPERSONATION_SESSION_KEY] = str(session.pk)
        return HttpResponseRedirect(reverse("dashboard:index"))


class ImpersonationStopView(View):
    required_permission = PUBLIC

    def post(self, request):
        impersonation = getattr(request, "impersonation", None)
        if impersonation is not None:
            impersonation_stop(session=impersonation, actor=Actor.from_request(request))
        logout(request)
        return render(request, "accounts/impersonation_stopped.html")
