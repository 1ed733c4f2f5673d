import pytest
from django_tenants.utils import tenant_context

from apps.tenants.errors import TenantContextError
from apps.tenants.tasks import tenant_ping_task
from celery_app import QUEUES, app


def test_a_tenant_task_runs_in_a_real_worker_in_its_tenants_schema(celery_worker, alpha, beta):
    with tenant_context(alpha):
        alpha_result = tenant_ping_task.delay()
    with tenant_context(beta):
        beta_result = tenant_ping_task.delay()

    assert alpha_result.get(timeout=30) == {
        "schema": "alpha",
        "storage_locations": ["Local files"],
        "thumbnail_specs": ["small", "medium", "large"],
    }
    assert beta_result.get(timeout=30)["schema"] == "beta"


def test_a_tenant_task_refuses_to_be_enqueued_from_the_public_schema(db):
    with pytest.raises(TenantContextError, match="enqueue it inside a tenant context"):
        tenant_ping_task.delay()


def test_a_tenant_task_that_arrives_in_the_public_schema_fails_loudly(celery_worker, db):
    result = app.send_task("tenants.ping", headers={"_schema_name": "public"}, queue="maintenance")

    with pytest.raises(Exception, match="running in the public schema") as excinfo:
        result.get(timeout=30)
    assert "TenantContextError" in type(excinfo.value).__name__ or "TenantContextError" in repr(excinfo.value)


def test_the_queues_and_task_settings_are_as_designed():
    assert QUEUES == ("ingest", "thumbnails", "embed", "index", "scan", "maintenance")
    assert {queue.name for queue in app.conf.task_queues} == set(QUEUES)
    assert app.conf.task_serializer == "json"
    assert app.conf.accept_content == ["json"]
    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.task_time_limit == 900
    assert app.amqp.router.route({}, "thumbnails.generate")["queue"].name == "thumbnails"
