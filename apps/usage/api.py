"""GET /api/v1/tenants/{id}/analytics (the tenant's usage) and GET /api/v1/stats/overview (the whole
installation, for global admins)."""

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.core.api import request_tenant
from apps.core.errors import NotFound
from apps.usage.selectors import stats_overview, tenant_analytics
from apps.usage.serializers import StatsOverviewOutput, TenantAnalyticsOutput


class TenantAnalyticsApi(APIView):
    required_permission = Perm.USAGE_VIEW

    @extend_schema(responses={200: TenantAnalyticsOutput})
    def get(self, request, tenant_id):
        tenant = request_tenant(request)
        if str(tenant.pk) != str(tenant_id):
            raise NotFound("No such tenant here.", code="tenant_not_found")
        return Response(tenant_analytics(tenant))


class StatsOverviewApi(APIView):
    required_permission = Perm.PLATFORM_ADMIN

    @extend_schema(responses={200: StatsOverviewOutput})
    def get(self, request):
        return Response(stats_overview())
