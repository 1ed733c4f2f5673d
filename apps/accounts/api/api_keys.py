"""GET/POST /api/v1/api-keys, DELETE /api/v1/api-keys/{id}. The key is in the POST answer only."""

from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.models import ApiKey, ApiKeyScope
from apps.accounts.permissions import Perm
from apps.accounts.selectors import api_key_get, api_key_list
from apps.accounts.services import api_key_create, api_key_revoke
from apps.audit.context import Actor
from apps.core.api import request_tenant
from apps.core.errors import NotFound, PermissionDenied
from apps.core.pagination import Pagination
from apps.core.schema import list_schema


class ApiKeyOutput(serializers.ModelSerializer):
    created_by = serializers.EmailField(source="created_by.email", read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "name",
            "prefix",
            "scopes",
            "created_by",
            "created_at",
            "expires_at",
            "requests_per_minute",
            "last_used_at",
            "is_active",
            "revoked_at",
        ]
        read_only_fields = fields


@method_decorator(never_cache, name="dispatch")
class ApiKeyListApi(APIView):
    required_permission = Perm.API_KEYS_MANAGE

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        scopes = serializers.ListField(
            child=serializers.ChoiceField(choices=ApiKeyScope.values), allow_empty=False
        )
        expires_at = serializers.DateTimeField(required=False, allow_null=True, default=None)
        # The key's own limit, where stricter than the workspace's requests per minute.
        requests_per_minute = serializers.IntegerField(
            min_value=1, required=False, allow_null=True, default=None
        )

    @list_schema(ApiKeyOutput, "ApiKeyPage")
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(api_key_list(tenant=request_tenant(request)), request, view=self)
        return paginator.get_paginated_response(ApiKeyOutput(page, many=True).data)

    @extend_schema(
        responses={
            201: inline_serializer(
                "ApiKeyCreated",
                {
                    "key": serializers.CharField(help_text="Shown once; only its SHA-256 is stored."),
                    **ApiKeyOutput().get_fields(),
                },
            )
        }
    )
    def post(self, request):
        if isinstance(request.auth, ApiKey):
            raise PermissionDenied(
                "API keys are created by people, not by other keys.", code="api_key_cannot_create"
            )
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        key, raw = api_key_create(
            tenant=request_tenant(request),
            creator=request.user,
            actor=Actor.from_request(request),
            **data.validated_data,
        )
        return Response({**ApiKeyOutput(key).data, "key": raw}, status=status.HTTP_201_CREATED)


class ApiKeyRevokeApi(APIView):
    required_permission = Perm.API_KEYS_MANAGE

    def delete(self, request, key_id):
        key = api_key_get(tenant=request_tenant(request), key_id=key_id)
        if key is None:
            raise NotFound("No such API key in this workspace.", code="api_key_not_found")
        api_key_revoke(key=key, actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
