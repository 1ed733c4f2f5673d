"""URLs of a tenant's site (<slug>.<base domain>)."""

from django.urls import include, path

from deeplens.urls_api import tenant_api_patterns

urlpatterns = [
    path("", include("apps.dashboard.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("images/", include("apps.images.urls")),
    path("settings/", include("apps.accounts.settings_urls")),
    path("api/v1/", include((tenant_api_patterns, "api"))),
]

handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
