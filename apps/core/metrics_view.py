"""`/metrics` for Prometheus, on the public host and every tenant host alike.

Who may read it: a client whose address is in DEEPLENS_METRICS_ALLOW_NETWORKS (default: none in
production; loopback for local runs) or a global admin (browser session or Bearer token). The
figures are the whole installation's, so nothing of a tenant reads them: not its admins, not its
API keys (a `metrics` key reads its own tenant's usage and analytics under /api/v1). Anyone else
gets 401 (no credential) or 403. Scrapes are not rate limited.
"""

import ipaddress
import os

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from rest_framework import exceptions
from rest_framework.permissions import BasePermission
from rest_framework.views import APIView

from apps.accounts.models import ApiKey
from apps.accounts.permissions import Perm
from apps.core.metrics import ScrapeTimeCollector


def client_address_allowed(request) -> bool:
    address = request.META.get("REMOTE_ADDR", "")
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    networks = [ipaddress.ip_network(net, strict=False) for net in settings.DEEPLENS_METRICS_ALLOW_NETWORKS]
    return any(ip in network for network in networks)


class CanReadMetrics(BasePermission):
    def has_permission(self, request, view):
        if client_address_allowed(request):
            return True
        user = request.user
        if not user or not user.is_authenticated:
            raise exceptions.NotAuthenticated(code="not_authenticated")
        # An API key belongs to a tenant, even one a global admin made: never the installation's figures.
        if isinstance(getattr(request, "api_key", None), ApiKey) or not user.is_global_admin:
            raise exceptions.PermissionDenied(
                detail="Metrics are the installation's: for global admins and allow-listed scrapers.",
                code="permission_denied",
            )
        return True


def metrics_exposition() -> bytes:
    """Every process's metrics (multiprocess folder) or this process's, plus the scrape-time figures."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        processes = generate_latest(registry)
    else:
        processes = generate_latest(REGISTRY)
    scrape = CollectorRegistry()
    scrape.register(ScrapeTimeCollector())
    return processes + generate_latest(scrape)


def metrics_response() -> HttpResponse:
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)


class MetricsView(APIView):
    permission_classes = [CanReadMetrics]
    throttle_classes: list = []
    required_permission = Perm.METRICS_VIEW
    schema = None  # Prometheus text, not part of the OpenAPI document

    def get(self, request):
        return metrics_response()
