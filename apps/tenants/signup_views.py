"""Self-service sign-up pages: the form and the confirmation on the public site, and the welcome on
the new workspace's own host that signs its owner in."""

from django import forms
from django.contrib.auth import login
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from apps.accounts.errors import TooManyAttempts
from apps.accounts.permissions import PUBLIC
from apps.audit.context import Actor
from apps.core.api import base_url
from apps.core.errors import ApplicationError
from apps.tenants.errors import SignupDisabled
from apps.tenants.signup import (
    signup_confirm,
    signup_enabled,
    signup_peek,
    signup_request,
    signup_ticket_create,
    signup_ticket_user,
)

BACKEND = "apps.accounts.backends.TenantEmailBackend"


class SignupForm(forms.Form):
    name = forms.CharField(label="Workspace name", max_length=200)
    slug = forms.CharField(
        label="Address",
        max_length=63,
        help_text="Lower-case letters, digits and hyphens: your workspace will be at <address>.<this site>.",
    )
    email = forms.EmailField(widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    first_name = forms.CharField(max_length=150, required=False)
    last_name = forms.CharField(max_length=150, required=False)
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))


def _closed(request):
    return render(
        request,
        "errors/error.html",
        {
            "title": "Sign-up is closed",
            "message": "This installation does not accept new workspaces. Ask its operator.",
            "code": "signup_disabled",
            "status": 404,
        },
        status=404,
    )


class SignupView(View):
    required_permission = PUBLIC
    template_name = "tenants/signup.html"

    def get(self, request):
        if not signup_enabled():
            return _closed(request)
        return render(request, self.template_name, {"form": SignupForm()})

    def post(self, request):
        if not signup_enabled():
            return _closed(request)
        form = SignupForm(request.POST)
        if not form.is_valid():
            return render(request, self.template_name, {"form": form}, status=400)
        try:
            signup_request(actor=Actor.from_request(request), base_url=base_url(request), **form.cleaned_data)
        except TooManyAttempts as exc:
            response = render(
                request, self.template_name, {"form": form, "error_message": exc.message}, status=429
            )
            response["Retry-After"] = str(exc.extra["retry_after"])
            return response
        except ApplicationError as exc:
            for field, _codes in exc.extra.items():
                if field in form.fields:
                    form.add_error(field, exc.message)
            if not any(field in form.fields for field in exc.extra):
                form.add_error(None, exc.message)
            return render(request, self.template_name, {"form": form}, status=exc.http_status)
        return render(request, "tenants/signup_sent.html", {"email": form.cleaned_data["email"]})


class SignupConfirmView(View):
    """GET shows what the link creates (mail scanners follow links); POST creates it."""

    required_permission = PUBLIC
    template_name = "tenants/signup_confirm.html"

    def _error(self, request, exc: ApplicationError):
        return render(
            request,
            "errors/error.html",
            {
                "title": "Sign-up not completed",
                "message": exc.message,
                "code": exc.code,
                "status": exc.http_status,
            },
            status=exc.http_status,
        )

    def get(self, request, token: str):
        try:
            payload = signup_peek(token=token)
        except SignupDisabled:
            return _closed(request)
        except ApplicationError as exc:
            return self._error(request, exc)
        return render(request, self.template_name, {"signup": payload})

    def post(self, request, token: str):
        try:
            tenant, user = signup_confirm(token=token, actor=Actor.from_request(request))
        except SignupDisabled:
            return _closed(request)
        except ApplicationError as exc:
            return self._error(request, exc)
        ticket = signup_ticket_create(user=user)
        # The welcome page is on the workspace's own host (its URL conf, not this one).
        return HttpResponseRedirect(f"{base_url(request, tenant)}/signup/welcome/?ticket={ticket}")


class SignupWelcomeView(View):
    """On the new workspace's host: the ticket from the confirmation signs the owner in."""

    required_permission = PUBLIC

    def get(self, request):
        user = signup_ticket_user(ticket=request.GET.get("ticket", ""), tenant=request.tenant)
        if user is None:
            return HttpResponseRedirect(reverse("accounts:login"))
        login(request, user, backend=BACKEND)
        return HttpResponseRedirect(reverse("dashboard:index"))
