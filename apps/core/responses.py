"""Error responses that suit the client: JSON for the API, a page for the browser."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from apps.core.errors import ApplicationError


def wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return request.path.startswith("/api/") or ("application/json" in accept and "text/html" not in accept)


def error_response(request: HttpRequest, error: ApplicationError, *, title: str) -> HttpResponse:
    if wants_json(request):
        return JsonResponse(error.as_dict(), status=error.http_status)
    html = render_to_string(
        "errors/error.html",
        {"title": title, "message": error.message, "code": error.code, "status": error.http_status},
        request=request,
    )
    return HttpResponse(html, status=error.http_status)
