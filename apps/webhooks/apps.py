from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Telling integrations what happened: endpoints a tenant admin registers, signed deliveries
    sent from Celery after commit with retries, and their log. Domains emit events through
    apps.webhooks.services.webhook_emit; this app never imports them."""

    name = "apps.webhooks"
    label = "webhooks"
