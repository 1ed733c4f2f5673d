from django.urls import path

from apps.accounts import mfa_views, sso_views, views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/mfa/", mfa_views.LoginMfaView.as_view(), name="login_mfa"),
    path("sso/<slug:slug>/start/", sso_views.SsoStartView.as_view(), name="sso_start"),
    path("sso/<slug:slug>/callback/", sso_views.SsoCallbackView.as_view(), name="sso_callback"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password-reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "reset/<str:uidb64>/<str:token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("profile/", views.ProfileView.as_view(), name="profile"),
    path("impersonate/accept/", views.ImpersonationAcceptView.as_view(), name="impersonate_accept"),
    path("impersonate/stop/", views.ImpersonationStopView.as_view(), name="impersonate_stop"),
]
