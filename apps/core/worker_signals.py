"""Observability of the Celery processes: Django's logging config instead of Celery's, the task id
and tenant on every log line of a task, tracing (when DEEPLENS_TRACING is set) and, on hosts
without a web server, an HTTP port for Prometheus (DEEPLENS_WORKER_METRICS_PORT)."""

import logging
import logging.config
import os

from celery import signals

from apps.core.structured_logging import task_context_reset, task_context_set

logger = logging.getLogger(__name__)
_task_tokens: dict[str, object] = {}


@signals.setup_logging.connect
def _logging_from_django(loglevel=None, **kwargs):
    """Connected, this stops Celery from replacing the root handlers: JSON or console lines as set
    by DEEPLENS_LOG_FORMAT, like the web server's. The more verbose of DEEPLENS_LOG_LEVEL and the
    worker's --loglevel applies."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    root = logging.getLogger()
    if isinstance(loglevel, int) and loglevel < root.level:
        root.setLevel(loglevel)


@signals.task_prerun.connect
def _task_context_start(task_id=None, task=None, **kwargs):
    _task_tokens[task_id] = task_context_set(task_id=task_id or "", task_name=getattr(task, "name", ""))


@signals.task_postrun.connect
def _task_context_end(task_id=None, **kwargs):
    token = _task_tokens.pop(task_id, None)
    if token is not None:
        task_context_reset(token)


@signals.worker_init.connect
def _worker_start(**kwargs):
    from apps.core.tracing import tracing_setup

    tracing_setup(service_name="deeplens-worker")
    port = int(os.environ.get("DEEPLENS_WORKER_METRICS_PORT") or 0)
    if port:
        _serve_metrics(port)


@signals.worker_process_init.connect
def _worker_child_start(**kwargs):
    # Prefork children: the provider is inherited, the span processor restarts itself after fork.
    from apps.core.tracing import tracing_setup

    tracing_setup(service_name="deeplens-worker")


def _serve_metrics(port: int) -> None:
    """This host's worker processes' metrics on :port/metrics (multiprocess folder when set)."""
    from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = REGISTRY
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
    start_http_server(port, registry=registry)
    logger.info("worker metrics on port %s", port)


def _tenant_tasks_only(handler):
    def handle(sender=None, task=None, **kwargs):
        from tenant_schemas_celery.task import TenantTask

        if isinstance(task, TenantTask):
            handler(sender=sender, task=task, **kwargs)

    return handle


def _schema_switching_for_tenant_tasks_only() -> None:
    """tenant-schemas-celery switches the schema before every task and back after it, and assumes
    every task is one of its TenantTasks (`task.get_tenant_databases()`). Our SharedTasks are not:
    they run in the public schema, and the handlers logged two ERROR tracebacks for each of them
    (every minute, for beat's maintenance tasks). The same handlers now run for tenant tasks only."""
    from tenant_schemas_celery import app as tenant_schemas_celery

    for signal, handler, uid in (
        (signals.task_prerun, tenant_schemas_celery.switch_schema, "tenant_schemas_switch_schema"),
        (signals.task_postrun, tenant_schemas_celery.restore_schema, "tenant_schemas_restore_schema"),
    ):
        if signal.disconnect(dispatch_uid=uid):
            signal.connect(_tenant_tasks_only(handler), dispatch_uid=f"deeplens_{uid}", weak=False)


_schema_switching_for_tenant_tasks_only()
