"""GET /api/v1/audit-events (filters, paginated) and GET /api/v1/audit-events/export (CSV)."""

import csv
import json

from django.http import StreamingHttpResponse
from django_tenants.utils import get_public_schema_name
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.views import APIView

from apps.accounts.permissions import Perm
from apps.audit.filters import AuditEventFilter
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_event_list
from apps.core.connection import connection
from apps.core.errors import NotFound
from apps.core.filtering import FilterBackend, FilteredSchema
from apps.core.pagination import Pagination
from apps.core.schema import list_schema
from apps.tenants.models import Tenant

EXPORT_MAX_ROWS = 100_000


class AuditEventOutput(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField[Tenant](slug_field="slug", read_only=True)

    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "tenant",
            "action",
            "actor_id",
            "actor_email",
            "actor_api_key",
            "impersonator_id",
            "impersonator_email",
            "target_type",
            "target_id",
            "ip_address",
            "user_agent",
            "details",
        ]
        read_only_fields = fields


TENANT_PARAMETER = OpenApiParameter(
    "tenant",
    str,
    description="Global admins on the public site: the slug of one tenant (default: every tenant).",
)


def audit_events_for(request):
    """Tenant admins see their tenant; global admins on the public site see every tenant."""
    params = request.query_params
    slug = params.get("tenant", "")
    on_public = connection.schema_name == get_public_schema_name()
    if on_public and request.user.is_global_admin:
        tenant = Tenant.objects.filter(slug=slug).first() if slug else None
        if slug and tenant is None:
            raise NotFound("No such tenant.", code="tenant_not_found")
        return audit_event_list(tenant=tenant, all_tenants=True, filters=params)
    if on_public:
        raise NotFound("Call this with a workspace credential or host.", code="tenant_required")
    return audit_event_list(tenant=request.tenant, filters=params)


class AuditEventListApi(APIView):
    required_permission = Perm.AUDIT_VIEW
    filter_backends = [FilterBackend]
    filterset_class = AuditEventFilter

    @list_schema(AuditEventOutput, "AuditEventPage", parameters=[TENANT_PARAMETER])
    def get(self, request):
        paginator = Pagination()
        page = paginator.paginate_queryset(audit_events_for(request), request, view=self)
        return paginator.get_paginated_response(AuditEventOutput(page, many=True).data)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value) -> str:
    """Plain text for spreadsheets: JSON for structures, and no cell that a spreadsheet would run."""
    if value is None:
        return ""
    text = json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


class _Echo:
    def write(self, value):
        return value


class AuditEventExportApi(APIView):
    """The same filters as the list, as CSV (at most 100,000 rows, newest first)."""

    required_permission = Perm.AUDIT_VIEW
    columns = AuditEventOutput.Meta.fields
    filter_backends = [FilterBackend]
    filterset_class = AuditEventFilter
    schema = FilteredSchema()

    @extend_schema(parameters=[TENANT_PARAMETER], responses={(200, "text/csv"): OpenApiTypes.STR})
    def get(self, request):
        events = audit_events_for(request)[:EXPORT_MAX_ROWS]
        writer = csv.writer(_Echo())

        def rows():
            yield writer.writerow(self.columns)
            for event in events.iterator(chunk_size=2000):
                data = AuditEventOutput(event).data
                yield writer.writerow([csv_cell(data[column]) for column in self.columns])

        response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
        return response
