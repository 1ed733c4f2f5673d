"""Faults at the web tier: Redis or PostgreSQL down during an upload, client retries, concurrent
first uploads, a web worker that dies holding quota, spool files.

These tests work on committed rows (the wake-up after commit, threads with their own connections),
in tenants of their own that each test leaves empty.
"""

import os
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.images.models import IdempotencyKey, Image, StorageReservation, StorageUsage
from apps.images.services import ingest
from apps.images.services.lifecycle import image_purge
from apps.images.services.usage import USAGE_ROW, usage_reserve
from apps.images.upload_handlers import spool_dir_prepare
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_provision
from apps.usage.tasks import storage_usage_reconcile_tenant_task
from celery_app import app as celery
from tests import imagefiles
from tests.api import Api, bearer_for, host
from tests.conftest import UNTHROTTLED
from tests.factories import UserFactory
from tests.images.conftest import media_files, uploaded

CLOSED_PORT = "redis://127.0.0.1:1/0"


def test_provisioning_creates_the_usage_row(db):
    """(Also the first test of the module: pytest-django sets the test database up only for a run
    with a `db` test in it, and the others here work on committed rows outside a test transaction.)"""
    tenant = tenant_provision(name="Usage row", slug="usage-row")

    assert usage_of(tenant) == (0, 0, 0, 0)


def _tenant(slug: str) -> Tenant:
    tenant = Tenant.objects.filter(slug=slug).first() or tenant_provision(name=slug.capitalize(), slug=slug)
    Tenant.objects.filter(pk=tenant.pk).update(**UNTHROTTLED)
    tenant.refresh_from_db()
    return tenant


def _member(tenant: Tenant) -> Api:
    user = UserFactory(
        tenant=tenant, role=Role.MEMBER, email=f"member-{uuid.uuid4().hex[:8]}@{tenant.slug}.test"
    )
    return Api(host(tenant), bearer_for(user))


def _empty(tenant: Tenant) -> None:
    with tenant_context(tenant):
        # The suite's worker may still be processing these uploads: purge locks each row first.
        for image in Image.objects.select_related("storage_location"):
            image_purge(image=image, actor=Actor.system(), tenant=tenant)
        StorageReservation.objects.all().delete()
        IdempotencyKey.objects.all().delete()
        StorageUsage.objects.filter(pk=USAGE_ROW).update(bytes_used=0, images=0, reserved_bytes=0)


@pytest.fixture
def faults(django_db_setup, django_db_blocker):
    """A committed tenant and a member's API client; emptied after each test."""
    with django_db_blocker.unblock():
        tenant = _tenant("faults")
        api = _member(tenant)
        try:
            yield tenant, api
        finally:
            connection.set_schema_to_public()
            _empty(tenant)


def usage_of(tenant) -> tuple[int, int, int, int]:
    """bytes used, images, bytes reserved, reservation rows."""
    with tenant_context(tenant):
        usage = StorageUsage.objects.get(pk=USAGE_ROW)
        return usage.bytes_used, usage.images, usage.reserved_bytes, StorageReservation.objects.count()


def post_upload(api: Api, data: bytes, name: str = "photo.jpg", **headers):
    return api.client.post("/api/v1/images/upload", {"file": uploaded(name, data)}, **api.headers, **headers)


@pytest.fixture
def redis_down(settings):
    """Redis (the counters and the Celery broker) at a closed port."""
    settings.REDIS_URL = CLOSED_PORT
    broker_url = celery.conf.broker_url
    celery.conf.broker_url = CLOSED_PORT
    celery._pool, celery.amqp._producer_pool = None, None
    try:
        yield
    finally:
        celery.conf.broker_url = broker_url
        celery._pool, celery.amqp._producer_pool = None, None


def test_an_upload_while_redis_is_down_is_stored_counted_and_answered_202(faults, redis_down):
    tenant, api = faults
    data = imagefiles.jpeg(400, 300)

    response = post_upload(api, data)

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["queued"] is False
    assert "re-enqueued" in body["note"]
    with tenant_context(tenant):
        image = Image.objects.get()
    assert (str(image.pk), image.status, image.size_bytes) == (body["id"], "pending", len(data))
    assert image.storage_key in media_files()
    assert usage_of(tenant) == (len(data), 1, 0, 0)


def _failing(predicate):
    def wrapper(execute, sql, params, many, context):
        if predicate(sql):
            raise OperationalError(
                "connection to server failed: Connection refused"
            ) from psycopg.OperationalError("Connection refused")
        return execute(sql, params, many, context)

    return wrapper


def test_an_upload_whose_insert_meets_a_database_outage_answers_503_and_stores_nothing(faults):
    tenant, api = faults
    files_before = media_files()

    with connection.execute_wrapper(_failing(lambda sql: sql.startswith('INSERT INTO "images_image"'))):
        response = post_upload(api, imagefiles.jpeg(400, 300))

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    error = response.json()["error"]
    assert (error["code"], error["detail"]) == (
        "database_unavailable",
        {"dependency": "database", "retry_after": 10},
    )
    with tenant_context(tenant):
        assert Image.objects.count() == 0
    assert media_files() == files_before
    assert usage_of(tenant) == (0, 0, 0, 0)


def test_a_batch_cut_by_a_database_outage_reports_what_was_stored(faults):
    tenant, api = faults
    files = [uploaded(f"{n}.jpg", imagefiles.jpeg(300, 200, seed=n)) for n in range(3)]
    inserts = []

    def second_insert_on(sql):
        if sql.startswith('INSERT INTO "images_image"'):
            inserts.append(sql)
        return len(inserts) >= 2

    with connection.execute_wrapper(_failing(second_insert_on)):
        response = api.client.post("/api/v1/images/batch", {"files": files}, **api.headers)

    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (1, 2)
    assert [result.get("status_code") or result["status"] for result in body["results"]] == [202, 503, 503]
    assert body["results"][1]["error"]["code"] == "database_unavailable"
    with tenant_context(tenant):
        assert [str(pk) for pk in Image.objects.values_list("pk", flat=True)] == [body["results"][0]["id"]]
    # The second file's reservation could not be released with the database down: it expires.
    assert usage_of(tenant) == (files[0].size, 1, files[1].size, 1)
    with tenant_context(tenant):
        StorageReservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        storage_usage_reconcile_tenant_task()
    assert usage_of(tenant) == (files[0].size, 1, 0, 0)


def test_a_batch_refused_entirely_by_a_database_outage_answers_503(faults):
    tenant, api = faults
    files = [uploaded(f"{n}.jpg", imagefiles.jpeg(300, 200, seed=n)) for n in range(2)]

    with connection.execute_wrapper(_failing(lambda sql: sql.startswith('INSERT INTO "images_image"'))):
        response = api.client.post("/api/v1/images/batch", {"files": files}, **api.headers)

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    assert response.json()["error"]["code"] == "database_unavailable"
    assert usage_of(tenant) == (0, 0, 0, 0)


@pytest.mark.parametrize(
    ("path", "accept", "json_body"),
    [("/api/v1/images", "", True), ("/", "text/html", False)],
)
def test_a_database_outage_answers_503_with_a_code_on_the_api_and_pages(faults, path, accept, json_body):
    _tenant_row, api = faults
    api.client.raise_request_exception = False

    with connection.execute_wrapper(_failing(lambda sql: True)):
        response = api.client.get(path, HTTP_ACCEPT=accept, **api.headers)

    assert response.status_code == 503
    assert response["Retry-After"] == "10"
    if json_body:
        assert response.json()["error"]["code"] == "database_unavailable"
    else:
        assert b"code: database_unavailable" in response.content


def test_an_idempotent_retry_answers_the_same_and_stores_once(faults):
    tenant, api = faults
    data = imagefiles.jpeg(400, 300)
    key = str(uuid.uuid4())

    first = post_upload(api, data, HTTP_IDEMPOTENCY_KEY=key)
    retry = post_upload(api, data, HTTP_IDEMPOTENCY_KEY=key)

    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    with tenant_context(tenant):
        assert list(Image.objects.values_list("pk", flat=True)) == [uuid.UUID(first.json()["id"])]
    assert usage_of(tenant) == (len(data), 1, 0, 0)


def test_the_same_key_with_a_different_body_is_refused_with_422(faults):
    tenant, api = faults
    key = str(uuid.uuid4())
    first = post_upload(api, imagefiles.jpeg(400, 300), HTTP_IDEMPOTENCY_KEY=key)

    other = post_upload(api, imagefiles.jpeg(400, 300, seed=7), HTTP_IDEMPOTENCY_KEY=key)

    assert first.status_code == 202
    assert other.status_code == 422
    assert other.json()["error"]["code"] == "idempotency_key_reused"
    with tenant_context(tenant):
        assert Image.objects.count() == 1


def test_keys_are_per_principal(faults):
    tenant, api = faults
    other_member = _member(tenant)
    key, data = str(uuid.uuid4()), imagefiles.jpeg(400, 300)

    first = post_upload(api, data, HTTP_IDEMPOTENCY_KEY=key)
    second = post_upload(other_member, data, HTTP_IDEMPOTENCY_KEY=key)

    assert (first.status_code, second.status_code) == (202, 202)
    assert first.json()["id"] != second.json()["id"]
    assert not second.has_header("Idempotent-Replayed")


def test_a_batch_retry_with_the_same_key_is_replayed(faults):
    tenant, api = faults
    files = [
        uploaded("a.jpg", imagefiles.jpeg(300, 200)),
        uploaded("b.jpg", imagefiles.jpeg(300, 200, seed=3)),
    ]
    key = str(uuid.uuid4())

    def send():
        for file in files:
            file.seek(0)
        return api.client.post(
            "/api/v1/images/batch", {"files": files}, HTTP_IDEMPOTENCY_KEY=key, **api.headers
        )

    first, retry = send(), send()

    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    with tenant_context(tenant):
        assert Image.objects.count() == 2


def test_a_duplicate_while_the_first_is_running_gets_409_then_the_answer(faults, monkeypatch):
    tenant, api = faults
    data, key = imagefiles.jpeg(400, 300), str(uuid.uuid4())
    storing, release = threading.Event(), threading.Event()
    real_storage_for = ingest.storage_for

    def slow_storage_for(location):
        storage = real_storage_for(location)
        real_save = storage.save

        def save(name, content):
            storing.set()
            release.wait(timeout=30)
            return real_save(name, content)

        storage.save = save
        return storage

    monkeypatch.setattr(ingest, "storage_for", slow_storage_for)
    answers = []

    def first():
        try:
            answers.append(post_upload(api, data, HTTP_IDEMPOTENCY_KEY=key))
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert storing.wait(timeout=30)
    try:
        duplicate = post_upload(api, data, HTTP_IDEMPOTENCY_KEY=key)
    finally:
        release.set()
        thread.join(timeout=60)
    retry = post_upload(api, data, HTTP_IDEMPOTENCY_KEY=key)

    assert duplicate.status_code == 409
    assert duplicate.json()["error"]["code"] == "idempotency_in_progress"
    assert answers[0].status_code == 202
    assert (retry.status_code, retry.json()) == (202, answers[0].json())
    with tenant_context(tenant):
        assert Image.objects.count() == 1


def test_concurrent_first_uploads_to_a_new_tenant_are_all_accepted(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        tenant = _tenant(f"fresh-{uuid.uuid4().hex[:6]}")
        apis = [_member(tenant) for _ in range(8)]
        photos = [imagefiles.jpeg(320, 240, seed=n) for n in range(8)]
        assert usage_of(tenant) == (0, 0, 0, 0)  # the counter row exists from provisioning
        barrier, answers = threading.Barrier(8), {}

        def send(n):
            try:
                barrier.wait(timeout=30)
                answers[n] = post_upload(apis[n], photos[n], name=f"{n}.jpg")
            finally:
                connection.close()

        threads = [threading.Thread(target=send, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        try:
            assert sorted(answer.status_code for answer in answers.values()) == [202] * 8, [
                answer.content for answer in answers.values() if answer.status_code != 202
            ]
            assert usage_of(tenant) == (sum(map(len, photos)), 8, 0, 0)
        finally:
            _empty(tenant)


def test_a_reservation_left_by_a_dead_worker_is_reconciled(faults, settings):
    tenant, api = faults
    data = imagefiles.jpeg(400, 300)
    Tenant.objects.filter(pk=tenant.pk).update(max_storage_bytes=len(data) * 3 // 2)
    try:
        with tenant_context(tenant):
            # A web worker reserved quota for an upload and was killed before recording it.
            assert usage_reserve(size=len(data), limit=len(data) * 3 // 2) is not None
        assert usage_of(tenant) == (0, 0, len(data), 1)
        assert post_upload(api, data).status_code == 413  # held while it may still be live

        with tenant_context(tenant):
            StorageReservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
            storage_usage_reconcile_tenant_task()
        assert usage_of(tenant) == (0, 0, 0, 0)
        assert post_upload(api, data).status_code == 202
        assert usage_of(tenant) == (len(data), 1, 0, 0)
    finally:
        Tenant.objects.filter(pk=tenant.pk).update(max_storage_bytes=None)


def test_an_expired_reservation_does_not_refuse_an_upload(faults):
    tenant, api = faults
    data = imagefiles.jpeg(400, 300)
    Tenant.objects.filter(pk=tenant.pk).update(max_storage_bytes=len(data) * 3 // 2)
    try:
        with tenant_context(tenant):
            usage_reserve(size=len(data), limit=len(data) * 3 // 2)
            StorageReservation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

        response = post_upload(api, data)

        assert response.status_code == 202, response.content
        assert usage_of(tenant) == (len(data), 1, 0, 0)
    finally:
        Tenant.objects.filter(pk=tenant.pk).update(max_storage_bytes=None)


def test_uploads_spool_to_the_product_dir_which_is_created_and_swept(faults, settings, tmp_path, monkeypatch):
    _tenant_row, api = faults
    spool = tmp_path / "tmp" / "uploads"
    settings.FILE_UPLOAD_TEMP_DIR = str(spool)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 1024
    spool.mkdir(parents=True)
    stale, live = spool / "tmpstale.upload.jpg", spool / "tmplive.upload.jpg"
    stale.write_bytes(b"x" * 100)
    live.write_bytes(b"x" * 100)
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    spooled = []
    real_sniff = ingest.imaging.sniff
    monkeypatch.setattr(
        ingest.imaging,
        "sniff",
        lambda file: spooled.append(Path(file.temporary_file_path())) or real_sniff(file),
    )
    monkeypatch.setattr("apps.images.upload_handlers._spool_swept_at", None)

    response = post_upload(api, imagefiles.jpeg(1200, 900))

    assert response.status_code == 202
    assert [path.parent for path in spooled] == [spool]
    assert not stale.exists()
    assert live.exists()
    assert sorted(p.name for p in spool.iterdir()) == ["tmplive.upload.jpg"]  # the upload's own is gone


def test_the_spool_dir_is_created_when_missing(settings, tmp_path, monkeypatch):
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "missing" / "uploads")
    monkeypatch.setattr("apps.images.upload_handlers._spool_swept_at", None)

    assert spool_dir_prepare() == tmp_path / "missing" / "uploads"
    assert (tmp_path / "missing" / "uploads").is_dir()
