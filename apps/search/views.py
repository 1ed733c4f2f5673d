"""The search page: drop an image or come from "Similar" on an image, text search when a text model
is active, results with scores, threshold, filters and sort; admins switch models on and off."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views import View
from rest_framework.exceptions import ValidationError

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm, role_permissions
from apps.audit.context import Actor
from apps.core.errors import ApplicationError
from apps.images.errors import FileTooLarge
from apps.images.models import ImageFormat
from apps.search.api import models_payload, parse_options
from apps.search.confidence import DEFAULT_MIN_CONFIDENCE
from apps.search.errors import QueryExpired
from apps.search.services.models import search_model_activate, search_model_deactivate
from apps.search.services.queries import search_query_image, search_query_keep, search_query_preview
from apps.search.services.search import search_by_bytes, search_by_image_id, search_by_text
from apps.usage.ratelimit import EndpointClass, rate_limit_consume
from apps.usage.throttling import request_principal


class RateLimited(ApplicationError):
    http_status = 429
    code = "rate_limited"


# The form's names for the fields a bad value is reported on (never the serializer's own names).
FIELD_LABELS = {
    "similarity_threshold": "Min. similarity",
    "format": "Format",
    "tags": "Tag",
    "uploaded_after": "Uploaded after",
    "uploaded_before": "Uploaded before",
    "sort": "Sort",
    "model": "Model",
    "limit": "Number of results",
    "q": "Text",
}


def _count(request) -> None:
    """A search from the page counts like one through the API (searches today, the per-minute
    limit), so the figures on Usage include what people search here."""
    principal = request_principal(request)
    if principal is None:
        return
    decision = rate_limit_consume(tenant=request.tenant, klass=EndpointClass.SEARCH, principal=principal)
    if decision is not None and not decision.allowed:
        raise RateLimited(
            f"Too many searches for now; try again in {decision.retry_after} s.", code="rate_limited"
        )


def _search(request, data: QueryDict) -> tuple[dict | None, str]:
    """The search the form asks for, and the token of its kept query image ("" when none)."""
    options, model = parse_options(data)
    upload = request.FILES.get("image")
    if upload and upload.size:  # a form posted with the file chooser left empty sends an empty part
        if upload.size > settings.DEEPLENS_SEARCH_MAX_QUERY_BYTES:
            raise FileTooLarge("The query image is too large.")
        raw = upload.read()
        token = search_query_keep(data=raw, user_id=request.user.pk) or ""
        _count(request)
        return search_by_bytes(data=raw, options=options, model=model), token
    if token := data.get("query", ""):
        raw = search_query_image(token=token, user_id=request.user.pk)
        _count(request)
        return search_by_bytes(data=raw, options=options, model=model), token
    if image_id := data.get("image_id"):
        _count(request)
        return search_by_image_id(image_id=image_id, options=options, model=model), ""
    if text := (data.get("q") or "").strip():
        _count(request)
        return search_by_text(text=text[:500], options=options, model=model), ""
    return None, ""


def _flat(problems) -> str:
    if isinstance(problems, dict):
        return " ".join(_flat(value) for value in problems.values())
    if isinstance(problems, list):
        return " ".join(_flat(value) for value in problems)
    return str(problems)


class SearchPage(PermissionRequiredPage, View):
    required_permission = Perm.SEARCH
    template_name = "search/search.html"

    def _render(self, request, data: QueryDict):
        result, error, status, token = None, None, 200, data.get("query", "")
        try:
            result, token = _search(request, data)
        except ValidationError as exc:
            error, status = (
                "; ".join(
                    f"{FIELD_LABELS.get(field, field.replace('_', ' ').capitalize())}: {_flat(problems)}"
                    for field, problems in exc.detail.items()
                )
                if isinstance(exc.detail, dict)
                else _flat(exc.detail),  # a ValidationError raised with a message, not a serializer's
                400,
            )
        except ApplicationError as exc:
            error, status = exc.message, exc.http_status
        models = models_payload()
        rows = []
        if result:
            rows = [(row, result["images"][row["image_id"]]) for row in result["rows"]]
        return render(
            request,
            self.template_name,
            {
                "section": "search",
                "result": result,
                "rows": rows,
                "error": error,
                "params": data,
                "threshold": data.get("similarity_threshold") or "0",
                "min_confidence": data.get("min_confidence") or str(DEFAULT_MIN_CONFIDENCE),
                "query_token": token,
                "models": models,
                "text_model": any(m["text"] and m["active"] and m["available"] for m in models),
                "formats": ImageFormat.choices,
                "may_manage": Perm.SEARCH_MANAGE in role_permissions(request.user.role),
            },
            status=status,
        )

    def get(self, request):
        return self._render(request, request.GET)

    def post(self, request):
        action, key = request.POST.get("action"), request.POST.get("model_key", "")
        if action in ("activate", "deactivate"):
            if Perm.SEARCH_MANAGE not in role_permissions(request.user.role):
                messages.error(request, "Only tenant admins switch search models on or off.")
                return redirect("search:search")
            service = search_model_activate if action == "activate" else search_model_deactivate
            try:
                service(key=key, actor=Actor.from_request(request), tenant=request.tenant)
                messages.success(
                    request,
                    f"{key} switched on; the collection is being embedded."
                    if action == "activate"
                    else f"{key} switched off.",
                )
            except ApplicationError as exc:
                messages.error(request, exc.message)
            return redirect("search:search")
        return self._render(request, request.POST)


class SearchQueryPreview(PermissionRequiredPage, View):
    """The kept query image of the search page, as a small JPEG, for the user who dropped it."""

    required_permission = Perm.SEARCH

    def get(self, request, token: str):
        try:
            preview = search_query_preview(token=token, user_id=request.user.pk)
        except QueryExpired as exc:
            raise Http404(exc.message) from exc
        response = HttpResponse(preview, content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=600"
        return response
