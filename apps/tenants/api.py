"""GET/POST /api/v1/admin/tenants, GET/PATCH /api/v1/admin/tenants/{id}: global admins only."""

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.serializers import UserOutput
from apps.accounts.models import Role
from apps.accounts.permissions import PUBLIC, Perm
from apps.accounts.services import user_create
from apps.accounts.services.sessions import auth_session_for
from apps.audit.context import Actor
from apps.core.api import base_url
from apps.core.errors import NotFound
from apps.core.pagination import Pagination
from apps.core.schema import list_schema
from apps.tenants.models import LIMIT_FIELDS, Tenant, TenantStatus, TenantTier, Tier, tenant_limits
from apps.tenants.selectors import tenant_list
from apps.tenants.services import tenant_provision, tenant_update, tier_update
from apps.tenants.signup import signup_confirm, signup_request


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
        return tenant_limits(tenant, tiers=self.context.get("tiers")).as_dict()

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
        owner_email = serializers.EmailField(
            required=False, help_text="invite this person as the workspace's first owner (mailed link)"
        )

    @list_schema(
        TenantOutput, "TenantPage", parameters=[OpenApiParameter("status", str, enum=TenantStatus.values)]
    )
    def get(self, request):
        tenants = tenant_list(include_deleted=True)
        if status_filter := request.query_params.get("status"):
            tenants = tenants.filter(status=status_filter)
        paginator = Pagination()
        page = paginator.paginate_queryset(tenants, request, view=self)
        tiers = {tier.slug: tier for tier in Tier.objects.all()}  # one query for the page, not one per tenant
        return paginator.get_paginated_response(TenantOutput(page, many=True, context={"tiers": tiers}).data)

    @extend_schema(responses={201: TenantOutput})
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        owner_email = data.validated_data.pop("owner_email", None)
        actor = Actor.from_request(request)
        tenant = tenant_provision(actor=actor, **data.validated_data)
        if owner_email:
            user_create(
                tenant=tenant,
                email=owner_email,
                role=Role.OWNER,
                actor=actor,
                base_url=base_url(request, tenant),
            )
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


class RegisterApi(APIView):
    """Self-service sign-up (when DEEPLENS_SIGNUP_ENABLED): mails a confirmation link for a new Free
    workspace with the caller as its owner. Nothing is created until POST auth/register/confirm."""

    required_permission = PUBLIC
    authentication_classes = []

    class Input(serializers.Serializer):
        name = serializers.CharField(max_length=200, help_text="the workspace's name")
        slug = serializers.CharField(max_length=63, help_text="its address: <slug>.<base domain>")
        email = serializers.EmailField()
        password = serializers.CharField(max_length=512, trim_whitespace=False)
        first_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")
        last_name = serializers.CharField(max_length=150, required=False, allow_blank=True, default="")

    @extend_schema(
        responses={202: inline_serializer("RegisterAccepted", {"detail": serializers.CharField()})}
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        signup_request(actor=Actor.from_request(request), base_url=base_url(request), **data.validated_data)
        return Response(
            {"detail": "A confirmation link has been e-mailed; the workspace is created when it is used."},
            status=status.HTTP_202_ACCEPTED,
        )


class RegisterConfirmApi(APIView):
    """The link's token: provisions the workspace and answers with it, its owner and a token pair."""

    required_permission = PUBLIC
    authentication_classes = []

    class Input(serializers.Serializer):
        token = serializers.CharField(max_length=4096, help_text="the last path segment of the mailed link")

    @extend_schema(
        responses={
            201: inline_serializer(
                "RegisterOutput",
                {
                    "tenant": TenantOutput(),
                    "user": UserOutput(),
                    "access": serializers.CharField(),
                    "refresh": serializers.CharField(),
                },
            )
        }
    )
    def post(self, request):
        data = self.Input(data=request.data)
        data.is_valid(raise_exception=True)
        actor = Actor.from_request(request)
        tenant, user = signup_confirm(token=data.validated_data["token"], actor=actor)
        tokens = auth_session_for(user=user, actor=actor)
        return Response(
            {
                "tenant": TenantOutput(_tenant_or_404(tenant.pk)).data,
                "user": UserOutput(user).data,
                "access": tokens.access,
                "refresh": tokens.refresh,
            },
            status=status.HTTP_201_CREATED,
        )
