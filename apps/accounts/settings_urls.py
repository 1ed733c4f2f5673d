from django.urls import path

from apps.accounts import team_views
from apps.accounts.sign_in_settings import SignInSettingsPage
from apps.audit.views import AuditLogPage
from apps.usage.views import UsagePage

app_name = "settings"

urlpatterns = [
    path("users/", team_views.UserListPage.as_view(), name="users"),
    path("users/<uuid:user_id>/", team_views.UserChangePage.as_view(), name="user_change"),
    path("api-keys/", team_views.ApiKeyListPage.as_view(), name="api_keys"),
    path("api-keys/<uuid:key_id>/revoke/", team_views.ApiKeyRevokePage.as_view(), name="api_key_revoke"),
    path("audit/", AuditLogPage.as_view(), name="audit"),
    path("sign-in/", SignInSettingsPage.as_view(), name="sign_in"),
    path("usage/", UsagePage.as_view(), name="usage"),
]
