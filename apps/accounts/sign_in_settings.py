"""The owner's *Sign-in* settings page: identity providers (SSO), SSO required with its break-glass
owner, and the two-factor requirement for admins and owners."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views import View

from apps.accounts.forms import ROLE_CHOICES
from apps.accounts.models import Role
from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm
from apps.accounts.selectors import sso_provider_get, sso_provider_list, tenant_owner_list
from apps.accounts.services import tenant_mfa_policy_set
from apps.accounts.services.sso import (
    sso_policy_get,
    sso_policy_set,
    sso_provider_create,
    sso_provider_delete,
)
from apps.audit.context import Actor
from apps.core.errors import ApplicationError


class ProviderForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="On the button: Sign in with …")
    slug = forms.SlugField(max_length=40, help_text="In the provider's URLs")
    issuer = forms.URLField(max_length=500, assume_scheme="https")
    client_id = forms.CharField(max_length=255, label="Client ID")
    client_secret = forms.CharField(max_length=2000, required=False, widget=forms.PasswordInput)
    allowed_domains = forms.CharField(
        max_length=2000, required=False, help_text="Comma-separated e-mail domains; empty: any"
    )
    default_role = forms.ChoiceField(choices=ROLE_CHOICES, initial=Role.MEMBER)
    role_claim = forms.CharField(max_length=100, required=False, help_text="e.g. groups or roles")
    role_mapping = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: claim value = role (viewer, member, admin, owner)",
    )

    def clean_allowed_domains(self) -> list[str]:
        return [d.strip() for d in self.cleaned_data["allowed_domains"].split(",") if d.strip()]

    def clean_role_mapping(self) -> dict[str, str]:
        mapping = {}
        for line in self.cleaned_data["role_mapping"].splitlines():
            if not line.strip():
                continue
            if "=" not in line:
                raise forms.ValidationError(f"{line.strip()!r}: write value = role.")
            value, role = (part.strip() for part in line.rsplit("=", 1))
            mapping[value] = role
        return mapping


class SignInSettingsPage(PermissionRequiredPage, View):
    required_permission = Perm.TENANT_SETTINGS
    template_name = "accounts/sign_in_settings.html"

    def get(self, request, provider_form=None, status=200):
        tenant = request.tenant
        return render(
            request,
            self.template_name,
            {
                "providers": sso_provider_list(tenant=tenant),
                "provider_form": provider_form or ProviderForm(),
                "sso_policy": sso_policy_get(tenant=tenant),
                "owners": tenant_owner_list(tenant=tenant),
                "callback_base": f"{request.scheme}://{request.get_host()}/accounts/sso/",
            },
            status=status,
        )

    def post(self, request):
        actor, tenant, action = Actor.from_request(request), request.tenant, request.POST.get("action")
        try:
            if action == "provider_add":
                form = ProviderForm(request.POST)
                if not form.is_valid():
                    return self.get(request, provider_form=form, status=400)
                try:
                    sso_provider_create(tenant=tenant, actor=actor, **form.cleaned_data)
                except ApplicationError as exc:
                    fields: list[str | None] = [field for field in exc.extra if field in form.fields]
                    for field in fields or [None]:
                        form.add_error(field, exc.message)
                    return self.get(request, provider_form=form, status=exc.http_status)
                messages.success(request, "The identity provider is added.")
            elif action == "provider_delete":
                provider = sso_provider_get(tenant=tenant, provider_id=request.POST.get("provider", ""))
                if provider is not None:
                    sso_provider_delete(provider=provider, actor=actor)
                    messages.success(request, "The identity provider is removed.")
            elif action == "sso_policy":
                sso_policy_set(
                    tenant=tenant,
                    sso_required=request.POST.get("sso_required") == "on",
                    break_glass_user_id=request.POST.get("break_glass_user_id") or None,
                    actor=actor,
                )
                messages.success(request, "The SSO policy is saved.")
            elif action == "mfa_policy":
                tenant_mfa_policy_set(
                    tenant=tenant, required_for_admins=request.POST.get("mfa_required") == "on", actor=actor
                )
                messages.success(request, "The two-factor policy is saved.")
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return self.get(request, status=exc.http_status)
        return redirect("settings:sign_in")
