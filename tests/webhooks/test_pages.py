"""The Webhooks page (/settings/webhooks/): tenant admins list endpoints with their state, add one
(its secret shown once), edit, rotate the secret, send a test ping, delete, and read the delivery
log with Redeliver; members and viewers get 403 and no nav link; another tenant's ids are 404."""

import pytest
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import endpoint_secret, webhook_endpoint_create
from apps.webhooks.tasks import webhook_deliver_task
from tests.conftest import signed_in
from tests.core.test_security_headers import assert_no_inline_script
from tests.factories import UserFactory
from tests.webhooks.receiver import verify_signature

LIST = "/settings/webhooks/"


def _endpoint(tenant, url: str, events=("job.finished",), **changes) -> WebhookEndpoint:
    with tenant_context(tenant):
        endpoint, _ = webhook_endpoint_create(
            tenant=tenant, actor=Actor.system(), url=url, events=list(events)
        )
        if changes:
            WebhookEndpoint.objects.filter(pk=endpoint.pk).update(**changes)
            endpoint.refresh_from_db()
        return endpoint


def _stored(tenant, endpoint_id) -> WebhookEndpoint | None:
    with tenant_context(tenant):
        return WebhookEndpoint.objects.filter(pk=endpoint_id).first()


def _deliveries(tenant) -> list[WebhookDelivery]:
    with tenant_context(tenant):
        return list(WebhookDelivery.objects.order_by("created_at"))


def _messages(response) -> list[tuple[str, str]]:
    return [(m.level_tag, m.message) for m in response.context["messages"]]


@pytest.fixture
def admin(alpha, users):
    return signed_in(alpha, users["admin"].email)


def test_admins_see_the_nav_link_and_every_endpoint_with_its_state(alpha, users, admin, receiver):
    on = _endpoint(alpha, receiver.url, description="CI")
    off = _endpoint(
        alpha,
        receiver.url + "/old",
        is_active=False,
        consecutive_failures=10,
        disabled_reason="Switched off after 10 deliveries failed in a row; switch it on again.",
    )

    response = admin.get(LIST)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'href="{LIST}"' in html and ">Webhooks</a>" in html
    assert f'href="{LIST}{on.pk}/"' in html and f'href="{LIST}{off.pk}/"' in html
    assert "CI" in html and "Enabled" in html and "Switched off" in html
    assert "Switched off after 10 deliveries failed in a row; switch it on again." in html
    assert_no_inline_script(html)
    assert "whsec_" not in html


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_get_403_and_no_nav_link(alpha, users, receiver, role):
    endpoint = _endpoint(alpha, receiver.url)
    client = signed_in(alpha, users[role].email)

    dashboard = client.get("/").content.decode()
    answers = [
        client.get(LIST).status_code,
        client.post(LIST, {"url": receiver.url, "events": ["job.finished"]}).status_code,
        client.get(f"{LIST}{endpoint.pk}/").status_code,
        client.post(
            f"{LIST}{endpoint.pk}/", {"url": "https://93.184.216.34/x", "events": ["image.ready"]}
        ).status_code,
        client.post(f"{LIST}{endpoint.pk}/ping/").status_code,
        client.post(f"{LIST}{endpoint.pk}/rotate/").status_code,
        client.post(f"{LIST}{endpoint.pk}/delete/").status_code,
    ]

    assert answers == [403] * 7
    assert LIST not in dashboard and ">Webhooks</a>" not in dashboard
    stored = _stored(alpha, endpoint.pk)
    assert (stored.url, stored.events, stored.secret_encrypted) == (
        endpoint.url, ["job.finished"], endpoint.secret_encrypted,
    )  # fmt: skip
    with tenant_context(alpha):
        assert WebhookEndpoint.objects.count() == 1
    assert _deliveries(alpha) == []


def test_adding_an_endpoint_shows_its_secret_once(alpha, admin, receiver):
    response = admin.post(
        LIST, {"url": receiver.url, "description": "CI", "events": ["image.ready", "job.finished"]}
    )

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    with tenant_context(alpha):
        endpoint = WebhookEndpoint.objects.get()
        secret = endpoint_secret(endpoint)
    assert (endpoint.url, endpoint.description, endpoint.events) == (
        receiver.url,
        "CI",
        ["image.ready", "job.finished"],
    )
    html = response.content.decode()
    assert secret.startswith("whsec_") and secret in html
    assert _messages(response) == [
        ("success", "Endpoint added. Copy its secret now: it is shown only this once.")
    ]
    assert_no_inline_script(html)
    again = admin.get(f"{LIST}{endpoint.pk}/")
    assert again.status_code == 200 and secret not in again.content.decode()
    assert secret not in admin.get(LIST).content.decode()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"url": "http://10.0.0.5/hook", "events": ["job.finished"]},
            "url",
            "points to an address DeepLens may not send to",
        ),
        (
            {"url": "http://93.184.216.34/hook", "events": ["job.finished"]},
            "url",
            "Webhook URLs must use https.",
        ),
        ({"url": "not a url", "events": ["job.finished"]}, "url", "Enter a valid URL."),
        ({"url": "https://93.184.216.34/hook"}, "events", "Choose at least one event."),
    ],
)
def test_a_refused_endpoint_is_explained_next_to_its_field_and_the_input_kept(
    alpha, admin, data, field, message
):
    response = admin.post(LIST, {"description": "kept text", **data})

    assert response.status_code == 400
    html = response.content.decode()
    form = response.context["form"]
    assert list(form.errors) == [field]
    assert message in form.errors[field][0]
    assert f'data-field="{field}"' in html and message in html.split(f'data-field="{field}"', 1)[1]
    assert 'value="kept text"' in html
    for code in ("webhook_url_not_allowed", "not_allowed", "https_required", "webhook_invalid"):
        assert code not in html
    assert 'class="msg-error"' in html
    with tenant_context(alpha):
        assert not WebhookEndpoint.objects.exists()


def test_an_admin_edits_the_url_events_and_switches_it_off_and_on(alpha, admin, receiver):
    endpoint = _endpoint(alpha, receiver.url, consecutive_failures=3)
    page = f"{LIST}{endpoint.pk}/"

    off = admin.post(
        page,
        {"url": receiver.url + "/v2", "description": "new", "events": ["image.failed", "quota.warning"]},
        follow=True,
    )
    stored = _stored(alpha, endpoint.pk)
    assert _messages(off) == [("success", "Endpoint saved.")]
    assert (stored.url, stored.description, stored.events, stored.is_active) == (
        receiver.url + "/v2", "new", ["image.failed", "quota.warning"], False,
    )  # fmt: skip

    on = admin.post(
        page,
        {"url": stored.url, "description": "new", "events": stored.events, "is_active": "on"},
        follow=True,
    )
    stored = _stored(alpha, endpoint.pk)
    assert _messages(on) == [("success", "Endpoint saved.")]
    assert (stored.is_active, stored.consecutive_failures, stored.disabled_reason) == (True, 0, "")
    with tenant_context(alpha):
        changes = list(
            AuditEvent.objects.filter(action="webhooks.changed")
            .order_by("created_at")
            .values_list("details", flat=True)
        )
    assert [d["change"] for d in changes] == ["created", "updated", "updated"]
    assert changes[1]["after"] == {
        "url": receiver.url + "/v2", "events": ["image.failed", "quota.warning"], "is_active": False,
    }  # fmt: skip


def test_an_edit_to_a_forbidden_address_changes_nothing(alpha, admin, receiver):
    endpoint = _endpoint(alpha, receiver.url)

    response = admin.post(
        f"{LIST}{endpoint.pk}/",
        {"url": "http://169.254.169.254/latest", "events": ["image.ready"], "is_active": "on"},
    )

    assert response.status_code == 400
    assert "points to an address DeepLens may not send to" in response.context["form"].errors["url"][0]
    assert 'value="http://169.254.169.254/latest"' in response.content.decode()
    stored = _stored(alpha, endpoint.pk)
    assert (stored.url, stored.events) == (receiver.url, ["job.finished"])


def test_an_unchanged_form_saves_nothing(alpha, admin, receiver):
    endpoint = _endpoint(alpha, receiver.url)

    response = admin.post(
        f"{LIST}{endpoint.pk}/",
        {"url": receiver.url, "events": ["job.finished"], "is_active": "on"},
        follow=True,
    )

    assert _messages(response) == [("info", "Nothing changed.")]
    with tenant_context(alpha):
        assert AuditEvent.objects.filter(action="webhooks.changed").count() == 1  # the creation


def test_rotating_the_secret_shows_the_new_one_once(alpha, admin, receiver):
    endpoint = _endpoint(alpha, receiver.url)
    with tenant_context(alpha):
        old = endpoint_secret(endpoint)

    response = admin.post(f"{LIST}{endpoint.pk}/rotate/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new = endpoint_secret(_stored(alpha, endpoint.pk))
    assert new != old and new.startswith("whsec_")
    html = response.content.decode()
    assert new in html and old not in html
    assert new not in admin.get(f"{LIST}{endpoint.pk}/").content.decode()


def test_a_test_ping_from_the_page_reaches_the_receiver_signed_and_is_logged(
    alpha, admin, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    added = admin.post(LIST, {"url": receiver.url, "events": ["image.ready"]})
    with tenant_context(alpha):
        endpoint = WebhookEndpoint.objects.get()
    secret = added.context["secret"]
    queued = []
    monkeypatch.setattr(webhook_deliver_task, "delay", lambda **kwargs: queued.append(kwargs))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"{LIST}{endpoint.pk}/ping/", follow=True)
    assert _messages(response) == [("success", "Test ping sent; it is in the delivery log below.")]
    [delivery] = _deliveries(alpha)
    assert queued == [{"delivery_id": str(delivery.pk)}]
    with tenant_context(alpha):
        webhook_deliver_task.apply(kwargs=queued[0])

    [request] = receiver.requests
    body = verify_signature(secret, request)
    assert (body["id"], body["event"], body["data"]["endpoint_id"]) == (
        str(delivery.pk),
        "webhook.ping",
        str(endpoint.pk),
    )
    log = admin.get(f"{LIST}{endpoint.pk}/").content.decode()
    row = log.split(f'data-delivery="{delivery.pk}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-state="delivered"' in log
    assert '<td data-part="response">200</td>' in row and '<td data-part="attempts">1</td>' in row
    assert ">webhook.ping<" in row


def test_a_switched_off_endpoint_cannot_be_pinged(alpha, admin, receiver):
    endpoint = _endpoint(alpha, receiver.url, is_active=False)

    page = admin.get(f"{LIST}{endpoint.pk}/").content.decode()
    response = admin.post(f"{LIST}{endpoint.pk}/ping/", follow=True)

    assert 'data-testid="send-ping" disabled' in page
    assert _messages(response) == [
        ("error", "This endpoint is switched off; switch it on again before sending it a test.")
    ]
    assert _deliveries(alpha) == []


def test_the_delivery_log_shows_each_try_and_redelivers(alpha, admin, receiver):
    endpoint = _endpoint(alpha, receiver.url)
    with tenant_context(alpha):
        failed = WebhookDelivery.objects.create(
            endpoint=endpoint,
            event="job.finished",
            payload={"event": "job.finished", "data": {"job_id": "j1"}},
            state=DeliveryState.FAILED,
            attempts=5,
            response_code=503,
            error="The endpoint answered 503.",
        )

    log = admin.get(f"{LIST}{endpoint.pk}/")
    row = log.content.decode().split(f'data-delivery="{failed.pk}"', 1)[1].split("</tr>", 1)[0]
    redelivered = admin.post(f"{LIST}{endpoint.pk}/deliveries/{failed.pk}/redeliver/", follow=True)

    assert '<td data-part="response">503</td>' in row and '<td data-part="attempts">5</td>' in row
    assert "The endpoint answered 503." in row and ">job.finished<" in row
    assert failed.created_at.strftime("%Y-%m-%d %H:%M") in row
    assert f'action="{LIST}{endpoint.pk}/deliveries/{failed.pk}/redeliver/"' in row
    assert _messages(redelivered) == [
        ("success", "The job.finished delivery is sent again, as a new delivery below.")
    ]
    _, again = _deliveries(alpha)
    assert (again.event, again.payload, again.state, again.attempts) == (
        "job.finished",
        failed.payload,
        "pending",
        0,
    )


def test_redelivering_another_endpoints_delivery_is_404(alpha, admin, receiver):
    one = _endpoint(alpha, receiver.url)
    other = _endpoint(alpha, receiver.url + "/other")
    with tenant_context(alpha):
        delivery = WebhookDelivery.objects.create(endpoint=other, event="job.finished", payload={})

    response = admin.post(f"{LIST}{one.pk}/deliveries/{delivery.pk}/redeliver/")

    assert response.status_code == 404
    assert len(_deliveries(alpha)) == 1


def test_deleting_an_endpoint_removes_it_with_its_log(alpha, admin, receiver):
    endpoint = _endpoint(alpha, receiver.url)
    with tenant_context(alpha):
        WebhookDelivery.objects.create(endpoint=endpoint, event="job.finished", payload={})

    page = admin.get(f"{LIST}{endpoint.pk}/").content.decode()
    response = admin.post(f"{LIST}{endpoint.pk}/delete/", follow=True)

    assert 'data-confirm="Delete the endpoint' in page
    assert response.redirect_chain == [(LIST, 302)]
    assert _messages(response) == [
        ("success", f"The endpoint {receiver.url} is deleted, with its delivery log.")
    ]
    assert _stored(alpha, endpoint.pk) is None and _deliveries(alpha) == []
    with tenant_context(alpha):
        assert AuditEvent.objects.filter(action="webhooks.changed", details__change="deleted").count() == 1


def test_another_tenants_endpoint_ids_are_404(alpha, beta, users, receiver):
    endpoint = _endpoint(alpha, receiver.url)
    with tenant_context(alpha):
        delivery = WebhookDelivery.objects.create(endpoint=endpoint, event="job.finished", payload={})
    UserFactory(tenant=beta, role="admin", email="admin@beta.test")
    beta_admin = signed_in(beta, "admin@beta.test")
    page = f"{LIST}{endpoint.pk}/"

    answers = [
        beta_admin.get(page).status_code,
        beta_admin.post(page, {"url": "https://93.184.216.34/x", "events": ["image.ready"]}).status_code,
        beta_admin.post(f"{page}ping/").status_code,
        beta_admin.post(f"{page}rotate/").status_code,
        beta_admin.post(f"{page}delete/").status_code,
        beta_admin.post(f"{page}deliveries/{delivery.pk}/redeliver/").status_code,
    ]

    assert answers == [404] * 6
    assert endpoint.url not in beta_admin.get(LIST).content.decode()
    stored = _stored(alpha, endpoint.pk)
    assert (stored.url, stored.secret_encrypted) == (endpoint.url, endpoint.secret_encrypted)
    assert len(_deliveries(alpha)) == 1


def test_the_endpoint_page_reads_a_fixed_number_of_queries(
    alpha, admin, receiver, django_assert_max_num_queries
):
    endpoint = _endpoint(alpha, receiver.url)
    with tenant_context(alpha):
        WebhookDelivery.objects.bulk_create(
            [WebhookDelivery(endpoint=endpoint, event="job.finished", payload={}) for _ in range(30)]
        )
    admin.get(f"{LIST}{endpoint.pk}/")  # warm the session and the per-process caches

    with django_assert_max_num_queries(8):
        response = admin.get(f"{LIST}{endpoint.pk}/")

    assert response.status_code == 200
    assert response.content.decode().count("data-delivery=") == 25
