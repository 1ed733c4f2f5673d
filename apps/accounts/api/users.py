"""GET/POST /api/v1/users, GET/PATCH/DELETE /api/v1/users/{id}: tenant admins manage their team."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import UserOutput
from apps.accounts.filters import UserFilter
from apps.accounts.models import TENANT_ROLES
from apps.accounts.permissions import Perm
from apps.accounts.selectors import user_get, user_list
from apps.accounts.services import user_create, user_delete, user_update
from apps.audit.context import Actor
from apps.core.api import base_url, request_tenant
from apps.core.errors import NotFound
from apps.core.filtering import FilterBackend
from apps.core.pagination import Pagination
from apps.core.schema import list_schema


def _user_or_404(request, user_id):
    user = user_get(tenant=request_tenant(request), user_id=user_id)
    if user is None:
        raise NotFound("No such user in this workspace.", code="user_not_found")
    return user


class UserListApi(APIView):
    required_permission = Perm.USERS_MANAGE
    filter_backends = [FilterBackend]
    filterset_class = UserFilter

    class Input(serializers.Serializer):
        email = serializers.EmailField()
        role = serializers.ChoiceField(choices=TENANT_ROLES)
        first_name = serializers.CharField(required=False, allow_blank=True, max_length=150, default="")
        last_name = serializers.CharField(required=False, allow_blank=True, max_length=150, default="")
        password = serializers.CharField(
            required=False, allow_blank=True, max_length=512, trim_whitespace=False
        )

    @list_schema(UserOutput, "UserPage")
    def get(self, request):
        users = user_list(tenant=request_tenant(request), filters=request.query_params)
        paginator = Pagination()
        page = paginator.paginate_queryset(users, request, view=self)
        return paginator.get_paginated_response(UserOutput(page, many=True).data)

    @extend_schema(responses={201: UserOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = request_tenant(request)
        user = user_create(
            tenant=tenant,
            actor=Actor.from_request(request),
            base_url=base_url(request, tenant),
            **{**data.validated_data, "password": data.validated_data.get("password") or None},
        )
        return Response(UserOutput(user).data, status=status.HTTP_201_CREATED)


class UserDetailApi(APIView):
    required_permission = Perm.USERS_MANAGE

    class Input(serializers.Serializer):
        role = serializers.ChoiceField(choices=TENANT_ROLES, required=False)
        is_active = serializers.BooleanField(required=False)
        first_name = serializers.CharField(required=False, allow_blank=True, max_length=150)
        last_name = serializers.CharField(required=False, allow_blank=True, max_length=150)

    @extend_schema(responses={200: UserOutput})
    def get(self, request, user_id):
        return Response(UserOutput(_user_or_404(request, user_id)).data)

    @extend_schema(responses={200: UserOutput})
    def patch(self, request, user_id):
        user = _user_or_404(request, user_id)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        user = user_update(user=user, actor=Actor.from_request(request), **data.validated_data)
        return Response(UserOutput(user).data)

    def delete(self, request, user_id):
        user_delete(user=_user_or_404(request, user_id), actor=Actor.from_request(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
