"""The Webhooks page, under /settings/webhooks/."""

from django.urls import path

from apps.webhooks import views

app_name = "webhooks"

urlpatterns = [
    path("", views.WebhookListPage.as_view(), name="list"),
    path("<uuid:endpoint_id>/", views.WebhookEndpointPage.as_view(), name="endpoint"),
    path("<uuid:endpoint_id>/rotate/", views.WebhookRotatePage.as_view(), name="rotate"),
    path("<uuid:endpoint_id>/ping/", views.WebhookPingPage.as_view(), name="ping"),
    path("<uuid:endpoint_id>/delete/", views.WebhookDeletePage.as_view(), name="delete"),
    path(
        "<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/redeliver/",
        views.WebhookRedeliverPage.as_view(),
        name="redeliver",
    ),
]
