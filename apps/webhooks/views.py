"""The Webhooks page (/settings/webhooks/) for tenant admins: the endpoints and their state, adding
one (its secret shown once), and per endpoint: edit, rotate the secret (shown once), a test ping,
delete, and the delivery log with Redeliver. Every change goes through apps.webhooks.services."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from apps.accounts.pages import PermissionRequiredPage
from apps.accounts.permissions import Perm
from apps.audit.context import Actor
from apps.core.errors import ApplicationError, InvalidInput
from apps.webhooks.forms import EndpointEditForm, EndpointForm
from apps.webhooks.models import WebhookEndpoint
from apps.webhooks.selectors import (
    webhook_delivery_get,
    webhook_delivery_list,
    webhook_endpoint_get,
    webhook_endpoint_list,
)
from apps.webhooks.services import (
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_update,
    webhook_ping,
    webhook_redeliver,
)

DELIVERIES_PER_PAGE = 25
NOT_SAVED = "Not saved: check the fields marked below."


def _endpoint_or_404(endpoint_id) -> WebhookEndpoint:
    endpoint = webhook_endpoint_get(endpoint_id=endpoint_id)
    if endpoint is None:
        raise Http404("No such webhook endpoint.")
    return endpoint


def _errors_onto(form, exc: InvalidInput) -> None:
    """The service's message next to the field it is about (never its codes)."""
    fields = [field for field in exc.extra if field in form.fields]
    for field in fields:
        form.add_error(field, exc.message)
    if not fields:
        form.add_error(None, exc.message)


def _endpoint_page(request, endpoint, *, form=None, secret=None, status=200):
    deliveries = Paginator(webhook_delivery_list(endpoint=endpoint), DELIVERIES_PER_PAGE)
    return render(
        request,
        "webhooks/endpoint.html",
        {
            "endpoint": endpoint,
            "form": form or EndpointEditForm(initial=EndpointEditForm.initial_from(endpoint)),
            "secret": secret,
            "page": deliveries.get_page(request.GET.get("page")),
        },
        status=status,
    )


@method_decorator(never_cache, name="dispatch")
class WebhookListPage(PermissionRequiredPage, View):
    """The endpoints with their state; POST adds one and shows its secret, this once."""

    required_permission = Perm.WEBHOOKS_MANAGE

    def get(self, request, form=None, status=200):
        return render(
            request,
            "webhooks/list.html",
            {"endpoints": webhook_endpoint_list(), "form": form or EndpointForm()},
            status=status,
        )

    def post(self, request):
        form = EndpointForm(request.POST)
        if not form.is_valid():
            messages.error(request, "Not added: check the fields marked below.")
            return self.get(request, form=form, status=400)
        try:
            endpoint, secret = webhook_endpoint_create(
                tenant=request.tenant, actor=Actor.from_request(request), **form.cleaned_data
            )
        except InvalidInput as exc:
            _errors_onto(form, exc)
            messages.error(request, "Not added: check the fields marked below.")
            return self.get(request, form=form, status=400)
        except ApplicationError as exc:
            messages.error(request, exc.message)
            return self.get(request, form=form, status=exc.http_status)
        messages.success(request, "Endpoint added. Copy its secret now: it is shown only this once.")
        # The secret is in this answer only (never_cache); the endpoint's own page never shows it.
        return _endpoint_page(request, endpoint, secret=secret, status=201)


@method_decorator(never_cache, name="dispatch")
class WebhookEndpointPage(PermissionRequiredPage, View):
    """One endpoint: its settings (POST saves them) and its delivery log."""

    required_permission = Perm.WEBHOOKS_MANAGE

    def get(self, request, endpoint_id):
        return _endpoint_page(request, _endpoint_or_404(endpoint_id))

    def post(self, request, endpoint_id):
        endpoint = _endpoint_or_404(endpoint_id)
        form = EndpointEditForm(request.POST, initial=EndpointEditForm.initial_from(endpoint))
        if not form.is_valid():
            messages.error(request, NOT_SAVED)
            return _endpoint_page(request, endpoint, form=form, status=400)
        changes = form.changes(endpoint)
        if not changes:
            messages.info(request, "Nothing changed.")
            return redirect("webhooks:endpoint", endpoint.pk)
        try:
            webhook_endpoint_update(
                tenant=request.tenant, actor=Actor.from_request(request), endpoint=endpoint, **changes
            )
        except InvalidInput as exc:
            _errors_onto(form, exc)
            messages.error(request, NOT_SAVED)
            return _endpoint_page(request, endpoint, form=form, status=400)
        messages.success(request, "Endpoint saved.")
        return redirect("webhooks:endpoint", endpoint.pk)


@method_decorator(never_cache, name="dispatch")
class WebhookRotatePage(PermissionRequiredPage, View):
    """A new secret replaces the old one at once; shown in this answer only."""

    required_permission = Perm.WEBHOOKS_MANAGE

    def post(self, request, endpoint_id):
        endpoint, secret = webhook_endpoint_update(
            tenant=request.tenant,
            actor=Actor.from_request(request),
            endpoint=_endpoint_or_404(endpoint_id),
            rotate_secret=True,
        )
        messages.success(
            request,
            "New secret made; the old one no longer signs deliveries. Copy it now: it is shown only once.",
        )
        return _endpoint_page(request, endpoint, secret=secret)


class WebhookPingPage(PermissionRequiredPage, View):
    required_permission = Perm.WEBHOOKS_MANAGE

    def post(self, request, endpoint_id):
        endpoint = _endpoint_or_404(endpoint_id)
        try:
            webhook_ping(endpoint=endpoint)
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Test ping sent; it is in the delivery log below.")
        return redirect("webhooks:endpoint", endpoint.pk)


class WebhookDeletePage(PermissionRequiredPage, View):
    required_permission = Perm.WEBHOOKS_MANAGE

    def post(self, request, endpoint_id):
        endpoint = _endpoint_or_404(endpoint_id)
        url = endpoint.url
        webhook_endpoint_delete(tenant=request.tenant, actor=Actor.from_request(request), endpoint=endpoint)
        messages.success(request, f"The endpoint {url} is deleted, with its delivery log.")
        return redirect("webhooks:list")


class WebhookRedeliverPage(PermissionRequiredPage, View):
    required_permission = Perm.WEBHOOKS_MANAGE

    def post(self, request, endpoint_id, delivery_id):
        delivery = webhook_delivery_get(delivery_id=delivery_id)
        if delivery is None or delivery.endpoint_id != endpoint_id:
            raise Http404("No such delivery of this endpoint.")
        webhook_redeliver(delivery=delivery)
        messages.success(request, f"The {delivery.event} delivery is sent again, as a new delivery below.")
        return redirect("webhooks:endpoint", endpoint_id)
