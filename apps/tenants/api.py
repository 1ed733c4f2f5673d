"""GET/POST /api/v1/admin/tenants, GET/PATCH /api/v1/admin/tenants/{id}: global admins only."""

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.errors import NotFound
from apps.core.pagination import Pagination
from apps.tenants.models import Tenant, TenantStatus, TenantTier
from apps.tenants.selectors import tenant_list
from apps.tenants.services import tenant_provision, tenant_update


class TenantOutput(serializers.ModelSerializer):
    domains = serializers.SerializerMethodField()
    limits = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "slug",
            "schema_name",
            "status",
            "tier",
            "limits",
            "domains",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_domains(self, tenant) -> list[str]:
        return [domain.domain for domain in tenant.domains.all()]

    def get_limits(self, tenant) -> dict:
        return {
            "max_storage_bytes": tenant.max_storage_bytes,
            "max_users": tenant.max_users,
            "max_api_calls_per_day": tenant.max_api_calls_per_day,
        }


def _tenant_or_404(tenant_id) -> Tenant:
    tenant = tenant_list(include_deleted=True).filter(pk=tenant_id).first()
    if tenant is None:
        raise NotFound("No such tenant.", code="tenant_not_found")
    return tenant


class AdminTenantListApi(APIView):
    required_permission = Perm.PLATFORM_ADMIN

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        slug = serializers.CharField(max_length=63)
        tier = serializers.ChoiceField(choices=TenantTier.values, default=TenantTier.FREE)

    def get(self, request):
        tenants = tenant_list(include_deleted=True)
        if status_filter := request.query_params.get("status"):
            tenants = tenants.filter(status=status_filter)
        paginator = Pagination()
        page = paginator.paginate_queryset(tenants, request, view=self)
        return paginator.get_paginated_response(TenantOutput(page, many=True).data)

    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        tenant = tenant_provision(actor=Actor.from_request(request), **data.validated_data)
        return Response(TenantOutput(_tenant_or_404(tenant.pk)).data, status=status.HTTP_201_CREATED)


class AdminTenantDetailApi(APIView):
    required_permission = Perm.PLATFORM_ADMIN

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=200, required=False)
        status = serializers.ChoiceField(
            choices=[TenantStatus.ACTIVE, TenantStatus.SUSPENDED, TenantStatus.DELETED], required=False
        )
        tier = serializers.ChoiceField(choices=TenantTier.values, required=False)
        limits = serializers.DictField(
            child=serializers.IntegerField(min_value=0, allow_null=True), required=False
        )

    def get(self, request, tenant_id):
        return Response(TenantOutput(_tenant_or_404(tenant_id)).data)

    def patch(self, request, tenant_id):
        tenant = _tenant_or_404(tenant_id)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        tenant_update(tenant=tenant, actor=Actor.from_request(request), **data.validated_data)
        return Response(TenantOutput(_tenant_or_404(tenant_id)).data)
