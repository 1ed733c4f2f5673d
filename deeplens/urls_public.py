"""URLs of the public site (the base domain): the Django admin for global admins."""

from django.contrib import admin
from django.urls import include, path

from apps.core import views as core_views
from deeplens.urls_api import public_api_patterns

admin.site.site_header = "DeepLens administration"
admin.site.site_title = "DeepLens admin"

urlpatterns = [
    path("", core_views.PublicHomeView.as_view(), name="public-home"),
    path("admin/", admin.site.urls),
    path("api/v1/", include((public_api_patterns, "api"))),
]

handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
