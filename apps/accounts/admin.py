from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.html import format_html

from apps.accounts.forms import ImpersonateForm
from apps.accounts.models import ApiKey, ImpersonationSession, RefreshToken, User
from apps.accounts.services import (
    api_key_revoke,
    impersonation_handoff_token,
    impersonation_start,
    mfa_reset,
)
from apps.accounts.services.users import user_admin_save
from apps.audit.context import Actor
from apps.core.admin import ReadOnlyAdmin
from apps.core.api import base_url
from apps.core.errors import ApplicationError


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ["email"]
    list_display = ["email", "tenant", "role", "is_active", "last_login", "created_at", "impersonate_link"]
    list_filter = ["role", "is_active", "tenant"]
    search_fields = ["email", "first_name", "last_name", "tenant__slug"]
    list_select_related = ["tenant"]
    readonly_fields = ["last_login", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["first_name", "last_name", "email_confirmed"]}),
        ("Access", {"fields": ["tenant", "role", "is_active", "is_staff", "is_superuser"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at", "deleted_at"]}),
    ]
    add_fieldsets = [(None, {"fields": ["email", "tenant", "role", "password1", "password2"]})]
    filter_horizontal = []
    actions = ["reset_second_factor"]

    def has_delete_permission(self, request, obj=None):
        return False  # users are deactivated or soft-deleted, never removed

    @admin.action(description="Reset two-factor authentication (lost authenticator)")
    def reset_second_factor(self, request, queryset):
        actor = Actor.from_request(request)
        reset = sum(mfa_reset(user=user, actor=actor) for user in queryset.select_related("tenant"))
        messages.success(
            request, f"Second factor reset for {reset} user(s); they sign in with a password now."
        )

    @admin.display(description="")
    def impersonate_link(self, user):
        if user.tenant_id is None or not user.is_active:
            return ""
        return format_html(
            '<a href="{}">Impersonate</a>', reverse("admin:accounts_user_impersonate", args=[user.pk])
        )

    def save_model(self, request, obj, form, change):
        user_admin_save(
            user=obj, changed=list(form.changed_data), actor=Actor.from_request(request), created=not change
        )

    def get_urls(self):
        custom = [
            path(
                "<uuid:user_id>/impersonate/",
                self.admin_site.admin_view(self.impersonate_view),
                name="accounts_user_impersonate",
            )
        ]
        return custom + super().get_urls()

    def impersonate_view(self, request, user_id):
        target = get_object_or_404(User.objects.select_related("tenant"), pk=user_id)
        form = ImpersonateForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                session = impersonation_start(
                    impersonator=request.user,
                    target=target,
                    reason=form.cleaned_data["reason"],
                    channel=ImpersonationSession.Channel.BROWSER,
                    actor=Actor.from_request(request),
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            else:
                ticket = impersonation_handoff_token(session)
                accept = reverse("accounts:impersonate_accept", urlconf=settings.ROOT_URLCONF)
                url = f"{base_url(request, target.tenant)}{accept}?ticket={ticket}"
                return HttpResponseRedirect(url)
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "target": target,
            "opts": self.model._meta,
            "title": f"Impersonate {target.email}",
        }
        return render(request, "admin/accounts/user/impersonate.html", context)


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdmin):
    list_display = [
        "name",
        "prefix",
        "tenant",
        "created_by",
        "scopes",
        "is_active",
        "last_used_at",
        "expires_at",
    ]
    list_filter = ["is_active", "tenant"]
    search_fields = ["name", "prefix", "tenant__slug", "created_by__email"]
    list_select_related = ["tenant", "created_by"]
    exclude = ["key_hash"]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return obj is None  # the list with its revoke action, but no edit form

    @admin.action(description="Revoke selected API keys")
    def revoke(self, request, queryset):
        for key in queryset.select_related("tenant"):
            api_key_revoke(key=key, actor=Actor.from_request(request))


@admin.register(RefreshToken)
class RefreshTokenAdmin(ReadOnlyAdmin):
    list_display = [
        "user",
        "family",
        "created_at",
        "expires_at",
        "revoked_at",
        "revoked_reason",
        "ip_address",
    ]
    list_filter = ["revoked_reason"]
    search_fields = ["user__email"]
    exclude = ["token_hash"]
    list_select_related = ["user"]


@admin.register(ImpersonationSession)
class ImpersonationSessionAdmin(ReadOnlyAdmin):
    list_display = ["impersonator", "target", "channel", "reason", "started_at", "expires_at", "ended_at"]
    list_select_related = ["impersonator", "target"]
