"""Health endpoints, and /metrics for allow-listed scrapers, answered before tenant routing, so
probes work on any host name; the Content-Security-Policy on every answer."""

from django.conf import settings
from django.http import JsonResponse

from apps.core.health import run_checks
from apps.core.metrics_view import client_address_allowed, metrics_response


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/healthz":
            return JsonResponse({"status": "ok"})
        if request.path == "/metrics" and client_address_allowed(request):
            # An allow-listed scraper needs no tenant routing: the page still answers (with
            # deeplens_database_up 0) when PostgreSQL does not.
            return metrics_response()
        if request.path == "/readyz":
            results = run_checks()
            failing = [result.name for result in results if not result.ok]
            body = {
                "status": "fail" if failing else "ok",
                "failing": failing,
                "checks": {result.name: result.as_dict() for result in results},
            }
            return JsonResponse(body, status=503 if failing else 200)
        return self.get_response(request)


class ContentSecurityPolicyMiddleware:
    """DEEPLENS_CONTENT_SECURITY_POLICY on every answer that does not set its own. Scripts come from
    this site only (no inline script: pages use static/js/pages.js and data attributes)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        policy = settings.DEEPLENS_CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
