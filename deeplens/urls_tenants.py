"""URLs of a tenant's site (<slug>.<base domain>)."""

from django.urls import include, path

from apps.core import api_docs
from apps.core.metrics_view import MetricsView
from apps.tenants.signup_views import SignupWelcomeView
from deeplens.urls_api import tenant_api_patterns

# The API first: Django tries the patterns in order, and every include that does not match before
# the API's costs its listing of what was tried (a twentieth of the web process's CPU per search).
urlpatterns = [
    path("api/v1/", include((tenant_api_patterns, "api"))),
    path("", include("apps.dashboard.urls")),
    path("accounts/", include("apps.accounts.urls")),
    path("signup/welcome/", SignupWelcomeView.as_view(), name="signup-welcome"),
    path("images/", include("apps.images.urls")),
    path("search/", include("apps.search.urls")),
    path("duplicates/", include("apps.duplicates.urls")),
    path("settings/storage/", include("apps.storage.urls")),
    path("settings/webhooks/", include("apps.webhooks.urls")),
    path("", include("apps.workspace.urls")),
    path("settings/", include("apps.accounts.settings_urls")),
    path("api/schema/", api_docs.SchemaApi.as_view(), name="api-schema"),
    path("api/docs/", api_docs.SwaggerPage.as_view(), name="api-docs"),
    path("metrics", MetricsView.as_view(), name="metrics"),
]

handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
