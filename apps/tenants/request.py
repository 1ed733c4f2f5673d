"""The request as the tenant middleware leaves it, for annotations: HttpRequest with its tenant."""

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from apps.tenants.models import Tenant


class TenantRequest(HttpRequest):
    """A request after apps.tenants.middleware: the tenant of its domain (the public one on the base domain).

    Never instantiated; views declare `request: TenantRequest` so that `request.tenant` is typed.
    """

    tenant: "Tenant"
