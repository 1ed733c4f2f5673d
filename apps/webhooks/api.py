"""/api/v1/webhooks: tenant admins register endpoints for events, read each one's delivery log, send
a delivery again and send a test ping. Secrets are shown once, at creation and rotation."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.pagination import Pagination
from apps.core.schema import list_schema
from apps.webhooks.errors import WebhookNotFound
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookEvent
from apps.webhooks.selectors import (
    webhook_delivery_get,
    webhook_delivery_list,
    webhook_endpoint_get,
    webhook_endpoint_list,
)
from apps.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_ping,
    webhook_redeliver,
)


class EndpointOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = [
            "id", "url", "description", "events", "is_active", "consecutive_failures", "disabled_reason",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class EndpointWithSecretOutput(EndpointOutput):
    secret = serializers.CharField(read_only=True, help_text="Shown once; deliveries are signed with it.")

    class Meta(EndpointOutput.Meta):
        fields = [*EndpointOutput.Meta.fields, "secret"]
        read_only_fields = fields


class DeliveryOutput(serializers.ModelSerializer):
    class Meta:
        model = WebhookDelivery
        fields = [
            "id", "event", "state", "attempts", "response_code", "error", "payload", "created_at",
            "next_attempt_at", "delivered_at",
        ]  # fmt: skip
        read_only_fields = fields


def _endpoint_or_404(endpoint_id) -> WebhookEndpoint:
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    if endpoint is None:
        raise WebhookNotFound("No such webhook endpoint.")
    return endpoint


def _with_secret(endpoint: WebhookEndpoint, secret: str | None) -> dict:
    data = dict(EndpointOutput(endpoint).data)
    if secret is not None:
        data["secret"] = secret
    return data


class WebhookListApi(APIView):
    """GET the endpoints; POST {url, events, description} registers one (201, with its secret)."""

    required_permission = Perm.WEBHOOKS_MANAGE

    class Input(serializers.Serializer):
        url = serializers.URLField(max_length=2000)
        events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.values))
        description = serializers.CharField(max_length=200, required=False, default="", allow_blank=True)

    @extend_schema(
        responses={200: inline_serializer("WebhookEndpointList", {"results": EndpointOutput(many=True)})}
    )
    def get(self, request):
        request_tenant(request)
        return Response({"results": EndpointOutput(webhook_endpoint_list(), many=True).data})

    @extend_schema(responses={201: EndpointWithSecretOutput})
    def post(self, request):
        tenant = request_tenant(request)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = webhook_endpoint_create(
            tenant=tenant, actor=Actor.from_request(request), **data.validated_data
        )
        return Response(_with_secret(endpoint, secret), status=status.HTTP_201_CREATED)


class WebhookDetailApi(APIView):
    """GET, PATCH {url, events, description, is_active, rotate_secret} (a rotated secret is in the
    answer, once), DELETE."""

    required_permission = Perm.WEBHOOKS_MANAGE

    class Input(serializers.Serializer):
        url = serializers.URLField(max_length=2000, required=False)
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=WebhookEvent.values), required=False
        )
        description = serializers.CharField(max_length=200, required=False, allow_blank=True)
        is_active = serializers.BooleanField(required=False)
        rotate_secret = serializers.BooleanField(required=False, default=False)

    @extend_schema(responses={200: EndpointOutput})
    def get(self, request, endpoint_id):
        request_tenant(request)
        return Response(EndpointOutput(_endpoint_or_404(endpoint_id)).data)

    @extend_schema(responses={200: EndpointWithSecretOutput})
    def patch(self, request, endpoint_id):
        tenant = request_tenant(request)
        endpoint = _endpoint_or_404(endpoint_id)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = webhook_endpoint_update(
            tenant=tenant, actor=Actor.from_request(request), endpoint=endpoint, **data.validated_data
        )
        return Response(_with_secret(endpoint, secret))

    @extend_schema(responses={204: None})
    def delete(self, request, endpoint_id):
        tenant = request_tenant(request)
        webhook_endpoint_delete(
            tenant=tenant, actor=Actor.from_request(request), endpoint=_endpoint_or_404(endpoint_id)
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliveryListApi(APIView):
    """GET the endpoint's delivery log, newest first (state, tries, response code, error)."""

    required_permission = Perm.WEBHOOKS_MANAGE

    @list_schema(DeliveryOutput, "WebhookDeliveryPage")
    def get(self, request, endpoint_id):
        request_tenant(request)
        endpoint = _endpoint_or_404(endpoint_id)
        paginator = Pagination()
        page = paginator.paginate_queryset(webhook_delivery_list(endpoint=endpoint), request, view=self)
        return paginator.get_paginated_response(DeliveryOutput(page, many=True).data)


class WebhookRedeliverApi(APIView):
    """POST: send a delivery again, as a new delivery of the same event and payload (202)."""

    required_permission = Perm.WEBHOOKS_MANAGE

    @extend_schema(request=None, responses={202: DeliveryOutput})
    def post(self, request, endpoint_id, delivery_id):
        request_tenant(request)
        delivery = webhook_delivery_get(delivery_id=delivery_id)
        if delivery is None or str(delivery.endpoint_id) != str(endpoint_id):
            raise WebhookNotFound("No such delivery of this endpoint.")
        return Response(
            DeliveryOutput(webhook_redeliver(delivery=delivery)).data, status=status.HTTP_202_ACCEPTED
        )


class WebhookPingApi(APIView):
    """POST: send a `webhook.ping` to the endpoint through the normal delivery path (signed, in the
    delivery log), 202 with the delivery; 409 webhook_disabled while the endpoint is switched off."""

    required_permission = Perm.WEBHOOKS_MANAGE

    @extend_schema(request=None, responses={202: DeliveryOutput})
    def post(self, request, endpoint_id):
        request_tenant(request)
        delivery = webhook_ping(endpoint=_endpoint_or_404(endpoint_id))
        return Response(DeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
