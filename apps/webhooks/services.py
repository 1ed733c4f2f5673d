"""Webhook endpoints (register, change, rotate the secret, remove), events emitted by the domains,
and delivering them: signed, from Celery after commit, retried with backoff, logged, and the
endpoint switched off (with an audit event, and an e-mail to the tenant's admins) after too many
failures in a row."""

import json
import logging
import secrets as secrets_module
import time
from datetime import timedelta
from http.client import HTTPException

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.accounts.models import Role, User
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from apps.core import queueing
from apps.core.connection import connection
from apps.storage.crypto import secrets_decrypt, secrets_encrypt
from apps.webhooks import transport
from apps.webhooks.errors import WebhookDisabled, WebhookInvalid, WebhookUrlNotAllowed
from apps.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint, WebhookEvent

logger = logging.getLogger(__name__)
MAX_ENDPOINTS = 20


def _new_secret() -> str:
    return "whsec_" + secrets_module.token_urlsafe(32)


def endpoint_secret(endpoint: WebhookEndpoint) -> str:
    return secrets_decrypt(endpoint.secret_encrypted)["secret"]


def _events_clean(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(WebhookEvent.values))
    if unknown or not events:
        raise WebhookInvalid(
            f"Choose events among {', '.join(WebhookEvent.values)}.",
            extra={"events": unknown or ["required"]},
        )
    return sorted(set(events))


@transaction.atomic
def webhook_endpoint_create(
    *, tenant, actor: Actor, url: str, events: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint (its URL checked like a URL import); returns it and its secret, which is
    shown this once."""
    transport.target_check(url)
    if WebhookEndpoint.objects.count() >= MAX_ENDPOINTS:
        raise WebhookInvalid(f"At most {MAX_ENDPOINTS} webhook endpoints.", extra={"url": ["too_many"]})
    secret = _new_secret()
    endpoint = WebhookEndpoint(
        url=url,
        description=description,
        events=_events_clean(events),
        secret_encrypted=secrets_encrypt({"secret": secret}),
        created_by=actor.user,
    )
    endpoint.full_clean()
    endpoint.save()
    audit_record(
        actor=actor,
        action=AuditAction.WEBHOOK_CHANGED,
        tenant=tenant,
        target=endpoint,
        details={"change": "created", "url": url, "events": endpoint.events},
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    tenant,
    actor: Actor,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
    rotate_secret: bool = False,
) -> tuple[WebhookEndpoint, str | None]:
    """Change an endpoint; switching it on again resets its failure count. With `rotate_secret`, a
    new secret replaces the old one at once and is returned (shown this once)."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = {"url": endpoint.url, "events": list(endpoint.events), "is_active": endpoint.is_active}
    if url is not None and url != endpoint.url:
        transport.target_check(url)
        endpoint.url = url
    if events is not None:
        endpoint.events = _events_clean(events)
    if description is not None:
        endpoint.description = description
    if is_active is not None and is_active != endpoint.is_active:
        endpoint.is_active = is_active
        if is_active:
            endpoint.consecutive_failures = 0
            endpoint.disabled_reason = ""
    secret = None
    if rotate_secret:
        secret = _new_secret()
        endpoint.secret_encrypted = secrets_encrypt({"secret": secret})
    endpoint.full_clean()
    endpoint.save()
    after = {"url": endpoint.url, "events": list(endpoint.events), "is_active": endpoint.is_active}
    audit_record(
        actor=actor,
        action=AuditAction.WEBHOOK_CHANGED,
        tenant=tenant,
        target=endpoint,
        details={
            "change": "updated",
            "before": {k: v for k, v in before.items() if after[k] != v},
            "after": {k: v for k, v in after.items() if before[k] != v},
            "secret_rotated": rotate_secret,
        },
    )
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_delete(*, tenant, actor: Actor, endpoint: WebhookEndpoint) -> None:
    audit_record(
        actor=actor,
        action=AuditAction.WEBHOOK_CHANGED,
        tenant=tenant,
        target=endpoint,
        details={"change": "deleted", "url": endpoint.url},
    )
    endpoint.delete()


def webhook_emit(*, event: str, data: dict) -> list[WebhookDelivery]:
    return webhook_emit_many(event=event, items=[data])


def webhook_emit_many(*, event: str, items: list[dict]) -> list[WebhookDelivery]:
    """Record a delivery of `event` (one per item) for every active endpoint that wants it, each
    sent once the caller's transaction commits (nothing is sent for work that rolls back). One
    query when no endpoint wants the event."""
    if event not in WebhookEvent.values:
        raise ValueError(f"{event!r} is not a WebhookEvent")
    if not items:
        return []
    endpoints = list(WebhookEndpoint.objects.filter(is_active=True, events__contains=[event]))
    if not endpoints:
        return []
    occurred_at = timezone.now().isoformat()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                event=event,
                payload={"event": event, "occurred_at": occurred_at, "data": data},
            )
            for data in items
            for endpoint in endpoints
        ]
    )
    for delivery in deliveries:
        queueing.send_on_commit("webhooks.deliver", delivery_id=str(delivery.pk))
    return deliveries


def backoff_seconds(attempts: int) -> int:
    """After the 1st failed try 30 s, then 2 min, 8 min, 32 min..."""
    return 30 * 4 ** (attempts - 1)


def webhook_deliver(*, delivery_id) -> int | None:
    """Send one delivery. Returns the seconds after which to try again, or None when it is done
    (delivered, failed for good, or gone). A 2xx answer is delivered; anything else, or no answer,
    is retried up to DEEPLENS_WEBHOOK_MAX_ATTEMPTS tries in all."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.state != DeliveryState.PENDING:
        return None
    endpoint = delivery.endpoint
    if not endpoint.is_active:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=DeliveryState.FAILED, error="The endpoint is switched off."
        )
        return None
    body = json.dumps({"id": str(delivery.pk), **delivery.payload}, sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        transport.SIGNATURE_HEADER: transport.sign(
            secret=endpoint_secret(endpoint), timestamp=timestamp, body=body
        ),
        "X-DeepLens-Event": delivery.event,
        "X-DeepLens-Delivery": str(delivery.pk),
        "X-DeepLens-Tenant": connection.schema_name,
    }
    status, error = None, ""
    try:
        status = transport.post(endpoint.url, body, headers)
        if not 200 <= status < 300:
            error = f"The endpoint answered {status}."
    except WebhookUrlNotAllowed as exc:
        error = exc.message
    except (OSError, HTTPException) as exc:
        error = f"No answer: {exc}"[:500]
    attempts = delivery.attempts + 1
    now = timezone.now()
    if not error:
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state=DeliveryState.DELIVERED,
            attempts=attempts,
            response_code=status,
            error="",
            delivered_at=now,
            next_attempt_at=None,
        )
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=0)
        return None
    if attempts < settings.DEEPLENS_WEBHOOK_MAX_ATTEMPTS:
        wait = backoff_seconds(attempts)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            attempts=attempts,
            response_code=status,
            error=error,
            next_attempt_at=now + timedelta(seconds=wait),
        )
        return wait
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.FAILED, attempts=attempts, response_code=status, error=error, next_attempt_at=None
    )
    _count_failure(endpoint)
    return None


@transaction.atomic
def _count_failure(endpoint: WebhookEndpoint) -> None:
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if endpoint.is_active and endpoint.consecutive_failures >= settings.DEEPLENS_WEBHOOK_DISABLE_AFTER:
        endpoint.is_active = False
        endpoint.disabled_reason = (
            f"Switched off after {endpoint.consecutive_failures} deliveries failed in a row; "
            "switch it on again once it answers."
        )
        endpoint.save(update_fields=["is_active", "disabled_reason", "updated_at"])
        audit_record(
            actor=Actor.system(),
            action=AuditAction.WEBHOOK_DISABLED,
            tenant=getattr(connection, "tenant", None),
            target=endpoint,
            details={"url": endpoint.url, "failures": endpoint.consecutive_failures},
        )
        tenant = getattr(connection, "tenant", None)
        url, reason = endpoint.url, endpoint.disabled_reason
        transaction.on_commit(lambda: _notify_admins_disabled(tenant=tenant, url=url, reason=reason))


def _notify_admins_disabled(*, tenant, url: str, reason: str) -> None:
    """One e-mail to each active admin and owner of the tenant; a mail server that does not answer
    is logged, and the endpoint stays switched off all the same (the audit log has it)."""
    if tenant is None or not getattr(tenant, "pk", None):
        return
    emails = list(
        User.objects.filter(tenant=tenant, role__in=(Role.ADMIN, Role.OWNER), is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    subject = f"DeepLens: a webhook endpoint of {tenant.name} was switched off"
    body = (
        f"The webhook endpoint {url} of the workspace {tenant.name} was switched off.\n\n{reason}\n\n"
        "Check the receiver, then switch the endpoint on again on the Webhooks page or with "
        'PATCH /api/v1/webhooks/{id} {"is_active": true}.\n'
    )
    for email in emails:
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [email])
        except Exception:
            logger.exception("webhooks: could not e-mail %s that %s was switched off", email, url)


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery again (a new row with the same event and payload, sent after commit)."""
    again = WebhookDelivery.objects.create(
        endpoint=delivery.endpoint, event=delivery.event, payload=delivery.payload
    )
    queueing.send_on_commit("webhooks.deliver", delivery_id=str(again.pk))
    return again


@transaction.atomic
def webhook_ping(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send a `webhook.ping` to this endpoint whatever events it listens to, through the normal
    delivery path (signed, logged, retried like any delivery), after commit. A switched-off endpoint
    is refused (WebhookDisabled): switch it on first."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    if not endpoint.is_active:
        raise WebhookDisabled(
            "This endpoint is switched off; switch it on again before sending it a test.",
            extra={"endpoint_id": str(endpoint.pk)},
        )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=WebhookEvent.PING,
        payload={
            "event": WebhookEvent.PING.value,
            "occurred_at": timezone.now().isoformat(),
            "data": {"endpoint_id": str(endpoint.pk), "message": "A test delivery from DeepLens."},
        },
    )
    queueing.send_on_commit("webhooks.deliver", delivery_id=str(delivery.pk))
    return delivery
