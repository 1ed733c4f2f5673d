"""Webhooks against a real HTTP receiver on loopback (allowed by the operator's allow-list, as a
receiver inside the installation's network would be): registered by tenant admins with URLs checked
like URL import, deliveries signed with HMAC-SHA256 over timestamp and body, retried with backoff,
logged, redeliverable, and the endpoint switched off after repeated failures."""

import json

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.jobs.runner import job_run
from apps.jobs.services import job_create
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from apps.webhooks.services import webhook_deliver
from apps.webhooks.tasks import webhook_deliver_task
from tests.api import as_user
from tests.factories import UserFactory
from tests.webhooks.receiver import verify_signature


@pytest.fixture
def admin_api(users):
    return as_user(users["admin"])


def _register(api, url, events=("job.finished",)) -> dict:
    response = api.post("webhooks", {"url": url, "events": list(events), "description": "CI"})
    assert response.status_code == 201, response.content
    return response.json()


def _finished_job(tenant) -> str:
    with tenant_context(tenant):
        job = job_create(kind="thumbnails_apply", actor=Actor.system())
        job_run(job_id=job.pk)
        return str(job.pk)


def _deliveries(tenant) -> list[WebhookDelivery]:
    with tenant_context(tenant):
        return list(WebhookDelivery.objects.order_by("created_at"))


def test_a_finished_job_is_delivered_signed_to_the_receiver(alpha, admin_api, receiver):
    endpoint = _register(admin_api, receiver.url)
    job_id = _finished_job(alpha)
    [delivery] = _deliveries(alpha)

    with tenant_context(alpha):
        assert webhook_deliver(delivery_id=delivery.pk) is None

    [request] = receiver.requests
    body = verify_signature(endpoint["secret"], request)
    assert (request["path"], request["headers"]["X-DeepLens-Event"]) == ("/hooks/deeplens", "job.finished")
    assert body["id"] == str(delivery.pk)
    assert (body["event"], body["data"]["job_id"], body["data"]["state"]) == ("job.finished", job_id, "done")
    [logged] = admin_api.get(f"webhooks/{endpoint['id']}/deliveries").json()["results"]
    assert (logged["state"], logged["attempts"], logged["response_code"]) == ("delivered", 1, 200)


def test_a_failing_answer_is_retried_with_backoff_then_delivered(alpha, admin_api, receiver):
    _register(admin_api, receiver.url)
    _finished_job(alpha)
    [delivery] = _deliveries(alpha)
    receiver.statuses = [503]

    with tenant_context(alpha):
        first = webhook_deliver(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert (first, delivery.state, delivery.attempts, delivery.response_code) == (30, "pending", 1, 503)
        assert delivery.next_attempt_at is not None
        second = webhook_deliver(delivery_id=delivery.pk)
        delivery.refresh_from_db()

    assert (second, delivery.state, delivery.attempts, delivery.response_code) == (None, "delivered", 2, 200)
    assert len(receiver.requests) == 2
    assert receiver.requests[0]["body"] == receiver.requests[1]["body"]


def test_the_celery_task_sends_and_schedules_the_next_try(alpha, admin_api, receiver, monkeypatch):
    _register(admin_api, receiver.url)
    _finished_job(alpha)
    [delivery] = _deliveries(alpha)
    receiver.statuses = [500]
    scheduled = []
    monkeypatch.setattr(webhook_deliver_task, "apply_async", lambda **kwargs: scheduled.append(kwargs))

    with tenant_context(alpha):
        webhook_deliver_task.apply(kwargs={"delivery_id": str(delivery.pk)})

    assert scheduled == [{"kwargs": {"delivery_id": str(delivery.pk)}, "countdown": 30}]


def test_repeated_failures_switch_the_endpoint_off_with_an_audit_event_and_mail_the_admins(
    alpha, beta, users, admin_api, receiver, settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.DEEPLENS_WEBHOOK_MAX_ATTEMPTS = 1
    settings.DEEPLENS_WEBHOOK_DISABLE_AFTER = 2
    UserFactory(tenant=beta, role=Role.ADMIN, email="admin@beta.test")
    UserFactory(tenant=alpha, role=Role.ADMIN, email="gone@alpha.test", is_active=False)
    endpoint = _register(admin_api, receiver.url)
    receiver.statuses = [500, 500]
    for _ in range(2):
        _finished_job(alpha)
    with tenant_context(alpha), django_capture_on_commit_callbacks(execute=True):
        for delivery in WebhookDelivery.objects.all():
            webhook_deliver(delivery_id=delivery.pk)
        stored = WebhookEndpoint.objects.get(pk=endpoint["id"])
        disabled = AuditEvent.objects.get(action="webhooks.disabled")

    assert (stored.is_active, stored.consecutive_failures) == (False, 2)
    assert "failed in a row" in stored.disabled_reason
    assert disabled.details["failures"] == 2
    # the active admins and owners of alpha only, once each
    assert sorted(to for mail in mailoutbox for to in mail.to) == ["admin@alpha.test", "owner@alpha.test"]
    assert receiver.url in mailoutbox[0].body and "switched off" in mailoutbox[0].subject
    _finished_job(alpha)
    assert len(_deliveries(alpha)) == 2  # a switched-off endpoint gets nothing new
    assert (
        admin_api.patch(f"webhooks/{endpoint['id']}", {"is_active": True}).json()["consecutive_failures"] == 0
    )


def test_a_delivery_is_sent_again_on_request(alpha, admin_api, receiver):
    endpoint = _register(admin_api, receiver.url)
    _finished_job(alpha)
    [delivery] = _deliveries(alpha)

    response = admin_api.post(f"webhooks/{endpoint['id']}/deliveries/{delivery.pk}/redeliver")

    assert response.status_code == 202
    again = response.json()
    assert (again["event"], again["state"], again["payload"]) == ("job.finished", "pending", delivery.payload)
    with tenant_context(alpha):
        webhook_deliver(delivery_id=again["id"])
    assert len(receiver.requests) == 1


def test_the_secret_is_shown_once_and_rotates(alpha, admin_api, receiver):
    endpoint = _register(admin_api, receiver.url)

    listed = admin_api.get("webhooks").json()["results"]
    rotated = admin_api.patch(f"webhooks/{endpoint['id']}", {"rotate_secret": True}).json()

    assert "secret" not in listed[0] and endpoint["secret"] not in json.dumps(listed)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != endpoint["secret"]
    _finished_job(alpha)
    with tenant_context(alpha):
        webhook_deliver(delivery_id=_deliveries(alpha)[0].pk)
    verify_signature(rotated["secret"], receiver.requests[0])


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://127.0.0.1:9/x", "not_allowed"),  # loopback, no allow-list
        ("http://10.0.0.5/x", "not_allowed"),
        ("http://169.254.169.254/latest", "not_allowed"),
        ("http://93.184.216.34/x", "https_required"),
        ("https://user:pw@93.184.216.34/x", "credentials"),
    ],
)
def test_targets_get_the_url_import_address_rules(alpha, admin_api, url, problem):
    response = admin_api.post("webhooks", {"url": url, "events": ["job.finished"]})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "webhook_url_not_allowed"
    assert response.json()["error"]["detail"] == {"url": [problem]}
    with tenant_context(alpha):
        assert not WebhookEndpoint.objects.exists()


def test_unknown_events_are_a_400(admin_api, receiver):
    response = admin_api.post("webhooks", {"url": receiver.url, "events": ["everything"]})

    assert response.status_code == 400
    assert list(response.json()["error"]["detail"]) == ["events"]


def test_only_admins_manage_webhooks_and_only_their_tenants(alpha, beta, users, receiver):
    endpoint = _register(as_user(users["admin"]), receiver.url)

    for role in ("viewer", "member"):
        assert as_user(users[role]).get("webhooks").status_code == 403
        assert (
            as_user(users[role])
            .post("webhooks", {"url": receiver.url, "events": ["job.finished"]})
            .status_code
            == 403
        )
    from tests.factories import UserFactory

    beta_admin = as_user(UserFactory(tenant=beta, role="admin", email="admin@beta.test"))
    assert beta_admin.get("webhooks").json()["results"] == []
    assert beta_admin.get(f"webhooks/{endpoint['id']}").status_code == 404
    assert beta_admin.delete(f"webhooks/{endpoint['id']}").status_code == 404
    with tenant_context(alpha):
        assert WebhookEndpoint.objects.filter(pk=endpoint["id"]).exists()


def test_an_image_processed_is_announced(alpha, users, receiver):
    from tests.imagefiles import jpeg
    from tests.images.conftest import process, upload

    _register(as_user(users["admin"]), receiver.url, events=["image.ready"])
    image_id = upload(as_user(users["member"]), "hook.jpg", jpeg(320, 240)).json()["id"]
    process(alpha, image_id)

    [delivery] = _deliveries(alpha)
    assert (delivery.event, delivery.payload["data"]["image_id"]) == ("image.ready", image_id)
    assert delivery.payload["data"]["filename"] == "hook.jpg"


def test_duplicates_found_are_announced(alpha, users, receiver):
    from apps.duplicates.services.detection import image_detect
    from tests.imagefiles import jpeg
    from tests.images.conftest import process, upload

    _register(as_user(users["admin"]), receiver.url, events=["duplicates.group_found"])
    member = as_user(users["member"])
    photo = jpeg(400, 300, seed=11)
    first = upload(member, "one.jpg", photo).json()["id"]
    second = upload(member, "two.jpg", photo).json()["id"]
    for image_id in (first, second):
        process(alpha, image_id)
        with tenant_context(alpha):
            image_detect(image_id=image_id)

    [delivery] = _deliveries(alpha)
    data = delivery.payload["data"]
    assert (delivery.event, data["new"], data["kind"], data["member_count"]) == (
        "duplicates.group_found", True, "exact", 2,
    )  # fmt: skip
    assert sorted(data["joined"]) == sorted([first, second])


def test_quota_warning_goes_out_once_per_crossing_of_80_and_100_percent(alpha, admin_api, receiver):
    from apps.images.models import Image
    from apps.images.services.ingest import image_ingest
    from apps.images.services.lifecycle import image_purge
    from apps.images.services.usage import usage_reconcile
    from apps.tenants.models import Tenant
    from tests import imagefiles
    from tests.images.conftest import uploaded

    _register(admin_api, receiver.url, events=("quota.warning",))
    files = [imagefiles.jpeg(200, 150, seed=seed) for seed in (1, 2, 3, 4)]
    a, b, c, d = (len(data) for data in files)

    def ingest(index: int, limit: int) -> None:
        Tenant.objects.filter(pk=alpha.pk).update(max_storage_bytes=limit)
        tenant = Tenant.objects.get(pk=alpha.pk)
        with tenant_context(tenant):
            image_ingest(
                tenant=tenant, file=uploaded(f"{index}.jpg", files[index]), filename=f"{index}.jpg",
                actor=Actor.system(),
            )  # fmt: skip

    def warnings() -> list[tuple]:
        return [
            (
                d.payload["data"]["level_percent"],
                d.payload["data"]["used_bytes"],
                d.payload["data"]["limit_bytes"],
            )
            for d in _deliveries(alpha)
            if d.event == "quota.warning"
        ]

    ingest(0, a * 100 // 85)  # about 85 %: the 80 % warning
    assert warnings() == [(80, a, a * 100 // 85)]
    ingest(1, (a + b) * 100 // 90)  # still between 80 and 100: nothing new
    assert len(warnings()) == 1
    ingest(2, a + b + c)  # exactly full: the 100 % warning
    assert [level for level, _, _ in warnings()] == [80, 100]

    with tenant_context(alpha):
        for image in Image.objects.select_related("storage_location").all():
            image_purge(image=image, actor=Actor.system(), tenant=alpha)
        usage_reconcile()  # as the periodic maintenance does after purges
    ingest(3, d * 10)  # 10 %: below every level, armed again, nothing announced
    assert len(warnings()) == 2
    ingest(0, (a + d) * 100 // 81)  # crossing 80 % again: announced again
    assert [level for level, _, _ in warnings()] == [80, 100, 80]


def test_a_ping_is_sent_signed_through_the_delivery_path_and_logged(
    alpha, admin_api, receiver, monkeypatch, django_capture_on_commit_callbacks
):
    endpoint = _register(
        admin_api, receiver.url, events=("image.ready",)
    )  # a ping goes whatever it listens to
    queued = []
    monkeypatch.setattr(webhook_deliver_task, "delay", lambda **kwargs: queued.append(kwargs))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(f"webhooks/{endpoint['id']}/ping")

    assert response.status_code == 202
    delivery = response.json()
    assert (delivery["event"], delivery["state"], delivery["attempts"]) == ("webhook.ping", "pending", 0)
    assert queued == [{"delivery_id": delivery["id"]}]  # the ordinary task, after commit
    with tenant_context(alpha):
        webhook_deliver_task.apply(kwargs=queued[0])
    [request] = receiver.requests
    body = verify_signature(endpoint["secret"], request)
    assert (request["headers"]["X-DeepLens-Event"], request["headers"]["X-DeepLens-Delivery"]) == (
        "webhook.ping", delivery["id"],
    )  # fmt: skip
    assert (body["id"], body["event"], body["data"]["endpoint_id"]) == (
        delivery["id"],
        "webhook.ping",
        endpoint["id"],
    )
    [logged] = admin_api.get(f"webhooks/{endpoint['id']}/deliveries").json()["results"]
    assert (logged["id"], logged["state"], logged["attempts"], logged["response_code"]) == (
        delivery["id"], "delivered", 1, 200,
    )  # fmt: skip


def test_a_switched_off_endpoint_is_not_pinged(alpha, admin_api, receiver):
    endpoint = _register(admin_api, receiver.url)
    admin_api.patch(f"webhooks/{endpoint['id']}", {"is_active": False})

    response = admin_api.post(f"webhooks/{endpoint['id']}/ping")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "webhook_disabled"
    assert _deliveries(alpha) == []


def test_only_admins_ping_and_only_their_tenants_endpoints(alpha, beta, users, receiver):
    endpoint = _register(as_user(users["admin"]), receiver.url)
    beta_admin = as_user(UserFactory(tenant=beta, role="admin", email="admin@beta.test"))

    assert as_user(users["member"]).post(f"webhooks/{endpoint['id']}/ping").status_code == 403
    assert as_user(users["viewer"]).post(f"webhooks/{endpoint['id']}/ping").status_code == 403
    assert beta_admin.post(f"webhooks/{endpoint['id']}/ping").status_code == 404
    assert _deliveries(alpha) == []
