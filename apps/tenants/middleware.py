"""Routes each request to its tenant's schema.

The browser reaches a tenant by host (<slug>.<base domain>). The API also routes by credential: a
token or API key names its tenant, so one base URL serves every tenant. A credential of one tenant
presented on another tenant's host is refused (403 tenant_mismatch). Global admins' tokens name no
tenant; they pick one with the host or the `X-DeepLens-Tenant: <slug>` header.
"""

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django_tenants.middleware.main import TenantMainMiddleware
from django_tenants.utils import get_public_schema_name, get_tenant_domain_model

from apps.core.connection import connection
from apps.core.errors import NotFound
from apps.core.process_cache import cached
from apps.core.responses import error_response
from apps.tenants.errors import TenantUnavailable
from apps.tenants.models import Tenant, TenantStatus


class TenantMiddleware(TenantMainMiddleware):
    def process_request(self, request):
        connection.set_schema_to_public()
        if settings.STATIC_URL and request.path.startswith(settings.STATIC_URL):
            # Stylesheets and scripts belong to no workspace: served on every host, so that the
            # "workspace not found" and "unavailable" pages are styled too.
            return None
        try:
            hostname = self.hostname_from_request(request)
        except DisallowedHost:
            return self._not_found(request, request.META.get("HTTP_HOST", ""))

        tenant = self.resolve_tenant(request, hostname)
        if request.path.startswith("/api/"):
            tenant, refusal = self.route_by_credential(request, tenant)
            if refusal is not None:
                return refusal
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
        def load():
            domain = (
                get_tenant_domain_model()
                .objects.select_related("tenant")
                .exclude(tenant__status=TenantStatus.DELETED)
                .filter(domain=hostname)
                .first()
            )
            return domain.tenant if domain else None

        return cached(("tenant-by-host", hostname), settings.DEEPLENS_PROCESS_CACHE_SECONDS, load)

    def route_by_credential(self, request, host_tenant: Tenant | None):
        from apps.accounts.credentials import GLOBAL, credential_tenant_id

        credential_tenant = credential_tenant_id(request)
        if credential_tenant is None:
            return host_tenant, None
        if credential_tenant == GLOBAL:
            slug = request.headers.get("X-DeepLens-Tenant", "").strip()
            if not slug:
                return host_tenant, None
            chosen = Tenant.objects.exclude(status=TenantStatus.DELETED).filter(slug=slug).first()
            return chosen, None
        if host_tenant is not None and host_tenant.schema_name != get_public_schema_name():
            if str(host_tenant.pk) != credential_tenant:
                error = TenantUnavailable(
                    "This credential belongs to another tenant.", code="tenant_mismatch"
                )
                return None, error_response(request, error, title="Wrong workspace")
            return host_tenant, None
        return cached(
            ("tenant-by-id", credential_tenant),
            settings.DEEPLENS_PROCESS_CACHE_SECONDS,
            lambda: Tenant.objects.exclude(status=TenantStatus.DELETED).filter(pk=credential_tenant).first(),
        ), None

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
