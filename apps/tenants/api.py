"""GET/POST /api/v1/admin/tenants, GET/PATCH /api/v1/admin/tenants/{id}: global admins only."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.errors import NotFound
from apps.core.pagination import Pagination
from apps.core.schema import list_schema
from apps.tenants.models import LIMIT_FIELDS, Tenant, TenantStatus, TenantTier, Tier
from apps.tenants.selectors import tenant_list
from apps.tenants.services import tenant_provision, tenant_update, tier_update


class TenantOutput(serializers.ModelSerializer):
    domains = serializers.SerializerMethodField()
    limits = serializers.SerializerMethodField()
    limit_overrides = serializers.SerializerMethodField()

    class Meta:
        model = Tenant
        fields = [
            "id",
            "name",
            "slug",
            "schema_name",
            "status",
            "tier",
            "time_zone",
            "limits",
            "limit_overrides",
            "domains",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_domains(self, tenant) -> list[str]:
        return [domain.domain for domain in tenant.domains.all()]

    def get_limits(self, tenant) -> dict:
        """The effective limits: the tenant's overrides, else its tier's."""
        return tenant.limits.as_dict()

    def get_limit_overrides(self, tenant) -> dict:
        """Only the limits set for this tenant; PATCH a limit to null to fall back to the tier."""
        return {field: getattr(tenant, field) for field in LIMIT_FIELDS if getattr(tenant, field) is not None}


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

    @list_schema(
        TenantOutput, "TenantPage", parameters=[OpenApiParameter("status", str, enum=TenantStatus.values)]
    )
    def get(self, request):
        tenants = tenant_list(include_deleted=True)
        if status_filter := request.query_params.get("status"):
            tenants = tenants.filter(status=status_filter)
        paginator = Pagination()
        page = paginator.paginate_queryset(tenants, request, view=self)
        return paginator.get_paginated_response(TenantOutput(page, many=True).data)

    @extend_schema(responses={201: TenantOutput})
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
        time_zone = serializers.CharField(max_length=64, required=False)
        limits = serializers.DictField(
            child=serializers.IntegerField(min_value=0, allow_null=True), required=False
        )

    @extend_schema(responses={200: TenantOutput})
    def get(self, request, tenant_id):
        return Response(TenantOutput(_tenant_or_404(tenant_id)).data)

    @extend_schema(responses={200: TenantOutput})
    def patch(self, request, tenant_id):
        tenant = _tenant_or_404(tenant_id)
        data = self.Input(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        tenant_update(tenant=tenant, actor=Actor.from_request(request), **data.validated_data)
        return Response(TenantOutput(_tenant_or_404(tenant_id)).data)


class TierOutput(serializers.ModelSerializer):
    name = serializers.CharField(source="get_slug_display", read_only=True)

    class Meta:
        model = Tier
        fields = ["slug", "name", *LIMIT_FIELDS, "updated_at"]
        read_only_fields = fields


class AdminTierListApi(APIView):
    """GET /admin/tiers: the tiers and the limits they grant."""

    required_permission = Perm.PLATFORM_ADMIN

    @extend_schema(responses={200: inline_serializer("TierList", {"results": TierOutput(many=True)})})
    def get(self, request):
        return Response({"results": TierOutput(Tier.objects.all(), many=True).data})


class AdminTierDetailApi(APIView):
    """PATCH /admin/tiers/{slug} {limit: value}: applies to every tenant on the tier within seconds."""

    required_permission = Perm.PLATFORM_ADMIN

    class Input(serializers.Serializer):
        requests_per_minute = serializers.IntegerField(min_value=0, required=False)
        searches_per_minute = serializers.IntegerField(min_value=0, required=False)
        uploads_per_minute = serializers.IntegerField(min_value=0, required=False)
        max_storage_bytes = serializers.IntegerField(min_value=0, required=False)
        max_users = serializers.IntegerField(min_value=0, required=False)
        max_api_calls_per_day = serializers.IntegerField(min_value=0, required=False)

    @extend_schema(responses={200: TierOutput})
    def get(self, request, slug):
        return Response(TierOutput(_tier_or_404(slug)).data)

    @extend_schema(responses={200: TierOutput})
    def patch(self, request, slug):
        tier = _tier_or_404(slug)
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        tier = tier_update(tier=tier, actor=Actor.from_request(request), limits=data.validated_data)
        return Response(TierOutput(tier).data)


def _tier_or_404(slug) -> Tier:
    tier = Tier.objects.filter(slug=slug).first()
    if tier is None:
        raise NotFound(
            f"No tier {slug!r}; the tiers are {', '.join(TenantTier.values)}.", code="tier_not_found"
        )
    return tier
