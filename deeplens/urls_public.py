"""URLs of the public site (the base domain): the Django admin for global admins."""

from django.contrib import admin
from django.urls import include, path

from apps.accounts.mfa_views import AdminLoginMfaView
from apps.accounts.views import AdminLoginView
from apps.core import api_docs
from apps.core import views as core_views
from apps.core.metrics_view import MetricsView
from apps.storage.admin import storage_locations_admin_view
from apps.tenants import signup_views
from apps.usage import views as usage_views
from deeplens.urls_api import public_api_patterns

admin.site.site_header = "DeepLens administration"
admin.site.site_title = "DeepLens admin"
admin.site.index_template = "admin/deeplens_index.html"

urlpatterns = [
    path("", core_views.PublicHomeView.as_view(), name="public-home"),
    path("signup/", signup_views.SignupView.as_view(), name="signup"),
    path("signup/confirm/<str:token>/", signup_views.SignupConfirmView.as_view(), name="signup-confirm"),
    path("admin/login/", AdminLoginView.as_view(), name="admin-login"),
    path("admin/login/mfa/", AdminLoginMfaView.as_view(), name="admin-login-mfa"),
    path("admin/usage/", admin.site.admin_view(usage_views.usage_overview_view), name="admin-usage"),
    path("admin/storage/", admin.site.admin_view(storage_locations_admin_view), name="admin-storage"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((public_api_patterns, "api"))),
    path("api/schema/", api_docs.SchemaApi.as_view(), name="api-schema"),
    path("api/docs/", api_docs.SwaggerPage.as_view(), name="api-docs"),
    path("metrics", MetricsView.as_view(), name="metrics"),
]

handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
