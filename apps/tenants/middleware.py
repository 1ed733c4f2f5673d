"""Routes each request to its tenant's schema.

The browser reaches a tenant by host (<slug>.<base domain>). `resolve_tenant` is where the API will
also route by credential (a token or API key names its tenant), so that one base URL serves all.
"""

from django.core.exceptions import DisallowedHost
from django.db import connection
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name, get_tenant_domain_model

from apps.core.errors import NotFound
from apps.core.responses import error_response
from apps.tenants.errors import TenantUnavailable
from apps.tenants.models import Tenant, TenantStatus


class TenantMiddleware(TenantMainMiddleware):
    def process_request(self, request):
        connection.set_schema_to_public()
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return self._not_found(request, request.META.get("HTTP_HOST", ""))

        tenant = self.resolve_tenant(request, hostname)
        if tenant is None:
            return self._not_found(request, hostname)

        tenant.domain_url = hostname
        request.tenant = tenant
        connection.set_tenant(tenant)
        self.setup_url_routing(request)

        if tenant.schema_name != get_public_schema_name() and tenant.status != TenantStatus.ACTIVE:
            return self._unavailable(request, tenant)
        return None

    def resolve_tenant(self, request, hostname: str) -> Tenant | None:
        domain_model = get_tenant_domain_model()
        domain = (
            domain_model.objects.select_related("tenant")
            .exclude(tenant__status=TenantStatus.DELETED)
            .filter(domain=hostname)
            .first()
        )
        return domain.tenant if domain else None

    @staticmethod
    def _not_found(request, hostname: str):
        error = NotFound(
            f"There is no DeepLens workspace at {hostname or 'this address'}.",
            code="tenant_not_found",
            extra={"host": hostname},
        )
        return error_response(request, error, title="Workspace not found")

    @staticmethod
    def _unavailable(request, tenant: Tenant):
        if tenant.status == TenantStatus.SUSPENDED:
            error = TenantUnavailable(
                f"The workspace {tenant.name!r} is suspended. Contact your DeepLens administrator.",
                code="tenant_suspended",
            )
        else:
            error = TenantUnavailable(
                f"The workspace {tenant.name!r} is still being set up. Try again in a minute.",
                code="tenant_not_ready",
            )
        return error_response(request, error, title="Workspace unavailable")
