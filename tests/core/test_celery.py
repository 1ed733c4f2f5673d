import re

import pytest
from django_tenants.utils import tenant_context
from kombu import Connection

from apps.tenants.errors import TenantContextError
from apps.tenants.tasks import tenant_ping_task
from celery_app import QUEUES, app
from deeplens.embedded import EmbeddedRedis
from tests.conftest import url_of_test_database
from tests.faults.worker import fault_worker, log_tail
from tests.support.waiting import eventually


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
    # Nothing a lost worker held waits an hour: back in its queue a minute after the time limit
    assert app.conf.broker_transport_options["visibility_timeout"] == 960
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is False
    assert app.conf.broker_connection_retry is True
    assert app.amqp.router.route({}, "thumbnails.generate")["queue"].name == "thumbnails"


def test_a_shared_task_from_beat_logs_no_error_in_a_real_worker(tmp_path, alpha):
    """tenant-schemas-celery's schema switching used to log two ERROR tracebacks for every shared
    task (`'duplicates_metrics_task' object has no attribute 'get_tenant_databases'`)."""
    log_path = tmp_path / "worker.log"
    redis = EmbeddedRedis(tmp_path / "broker")  # its own broker: the session's worker stays out of it
    redis_url = redis.start()
    try:
        with (
            fault_worker(redis_url=redis_url, database_url=url_of_test_database(), log_path=log_path),
            Connection(redis_url) as broker,
        ):
            # Given beat's schedule entry, sent as beat sends it (from the public schema), then tenant work
            shared = app.send_task("maintenance.duplicates_metrics", connection=broker)
            with tenant_context(alpha):
                tenant = tenant_ping_task.apply_async(connection=broker)

            # When the worker has run both
            eventually(
                lambda: all(
                    f"[{result.id}] succeeded" in log_path.read_text() for result in (shared, tenant)
                ),
                timeout=30,
                message=lambda: log_tail(log_path),
            )
    finally:
        redis.stop()

    # Then the worker logged no ERROR (or worse), and the tenant task still ran in its schema
    log = log_path.read_text()
    assert re.findall(r"^.* (ERROR|CRITICAL) .*$", log, flags=re.MULTILINE) == [], log_tail(log_path)
    assert "Traceback" not in log
    assert re.search(rf"tenants.ping\[{tenant.id}\] succeeded in [0-9.e-]+s: {{'schema': 'alpha'", log)
