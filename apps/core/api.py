"""Helpers shared by the API views and pages of every domain."""

from django_tenants.utils import get_public_schema_name

from apps.core.connection import connection
from apps.core.errors import NotFound


def request_tenant(request):
    """The tenant the request was routed to; tenant endpoints are not served on the public site."""
    tenant = getattr(request, "tenant", None)
    if tenant is None or connection.schema_name == get_public_schema_name():
        raise NotFound(
            "This endpoint belongs to a workspace; call it with a workspace credential or host.",
            code="tenant_required",
        )
    return tenant


def base_url(request, tenant=None) -> str:
    """Absolute base URL for links in emails: the tenant's own host when given, else this request's."""
    if tenant is None:
        return f"{request.scheme}://{request.get_host()}"
    domain = next((d.domain for d in tenant.domains.all() if d.is_primary), None) or request.get_host()
    port = request.get_port()
    default_port = "443" if request.scheme == "https" else "80"
    return f"{request.scheme}://{domain}" + (f":{port}" if port and port != default_port else "")
