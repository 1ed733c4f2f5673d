"""/api/v1/: the REST API. Tenant endpoints are served where the request was routed to a tenant
(by host or by credential); the public site serves sign-in and the global admin endpoints."""

from django.urls import path

from apps.accounts.api import api_keys, auth, impersonation, users
from apps.audit import api as audit_api
from apps.tenants import api as tenants_api

auth_patterns = [
    path("auth/login", auth.LoginApi.as_view(), name="auth-login"),
    path("auth/refresh", auth.RefreshApi.as_view(), name="auth-refresh"),
    path("auth/logout", auth.LogoutApi.as_view(), name="auth-logout"),
    path("auth/me", auth.MeApi.as_view(), name="auth-me"),
    path("auth/sessions", auth.SessionListApi.as_view(), name="auth-sessions"),
    path("auth/sessions/<uuid:session_id>", auth.SessionRevokeApi.as_view(), name="auth-session-revoke"),
    path("auth/password/change", auth.PasswordChangeApi.as_view(), name="auth-password-change"),
    path("auth/password/reset", auth.PasswordResetApi.as_view(), name="auth-password-reset"),
    path(
        "auth/password/reset/confirm",
        auth.PasswordResetConfirmApi.as_view(),
        name="auth-password-reset-confirm",
    ),
]

admin_patterns = [
    path("admin/tenants", tenants_api.AdminTenantListApi.as_view(), name="admin-tenants"),
    path("admin/tenants/<uuid:tenant_id>", tenants_api.AdminTenantDetailApi.as_view(), name="admin-tenant"),
    path("admin/impersonate", impersonation.ImpersonateApi.as_view(), name="admin-impersonate"),
    path("admin/impersonate/stop", impersonation.ImpersonateStopApi.as_view(), name="admin-impersonate-stop"),
    path("audit-events", audit_api.AuditEventListApi.as_view(), name="audit-events"),
    path("audit-events/export", audit_api.AuditEventExportApi.as_view(), name="audit-events-export"),
]

tenant_patterns = [
    path("users", users.UserListApi.as_view(), name="users"),
    path("users/<uuid:user_id>", users.UserDetailApi.as_view(), name="user"),
    path("api-keys", api_keys.ApiKeyListApi.as_view(), name="api-keys"),
    path("api-keys/<uuid:key_id>", api_keys.ApiKeyRevokeApi.as_view(), name="api-key"),
]

public_api_patterns = auth_patterns + admin_patterns
tenant_api_patterns = auth_patterns + admin_patterns + tenant_patterns
