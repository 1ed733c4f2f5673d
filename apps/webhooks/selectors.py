from django.db.models import QuerySet

from apps.webhooks.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoint_list() -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.order_by("created_at")


def webhook_endpoint_get(*, endpoint_id) -> WebhookEndpoint | None:
    return WebhookEndpoint.objects.filter(pk=endpoint_id).first()


def webhook_delivery_list(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    return WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at")


def webhook_delivery_get(*, delivery_id) -> WebhookDelivery | None:
    return WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
