"""The Celery app: queues, routing and the tenant-aware base task.

Start a worker for every queue with `celery -A celery_app worker`, or one kind of work per host
with `-Q embed` (GPU hosts), `-Q ingest,thumbnails`, ...
"""

import os

from celery import Task
from kombu import Exchange, Queue
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask as SchemaTravellingTask

from apps.tenants.connection import connection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deeplens.settings.local")

QUEUES = ("ingest", "thumbnails", "embed", "index", "scan", "maintenance")
DEFAULT_QUEUE = "maintenance"

app = CeleryApp("deeplens")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.update(
    task_queues=[Queue(name, Exchange(name), routing_key=name) for name in QUEUES],
    task_default_queue=DEFAULT_QUEUE,
    task_default_exchange=DEFAULT_QUEUE,
    task_default_routing_key=DEFAULT_QUEUE,
    # Tasks are named "<domain>.<action>"; a domain's work goes to its queue unless the task says otherwise.
    task_routes={
        "ingest.*": {"queue": "ingest"},
        "thumbnails.*": {"queue": "thumbnails"},
        "embed.*": {"queue": "embed"},
        "index.*": {"queue": "index"},
        "scan.*": {"queue": "scan"},
    },
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_time_limit=15 * 60,
    task_soft_time_limit=14 * 60,
    worker_prefetch_multiplier=8,
    # Results are kept only for tasks that someone waits for (they say ignore_result=False).
    task_ignore_result=True,
    result_expires=24 * 3600,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 3600, "socket_timeout": 5, "socket_connect_timeout": 5},
    task_tenant_cache_seconds=30,
    beat_schedule={
        "purge-trash": {"task": "maintenance.purge_trash", "schedule": 3600.0},
        "requeue-stalled-images": {"task": "maintenance.requeue_stalled", "schedule": 300.0},
        "usage-snapshot": {"task": "maintenance.usage_snapshot", "schedule": 300.0},
        "duplicates-metrics": {"task": "maintenance.duplicates_metrics", "schedule": 60.0},
        # Resume storage jobs whose worker died; start the scheduled scans of index-only locations.
        "storage-jobs": {"task": "maintenance.storage_jobs", "schedule": 60.0},
    },
)
app.autodiscover_tasks()


def _in_public_schema() -> bool:
    from django_tenants.utils import get_public_schema_name

    return connection.schema_name == get_public_schema_name()


class TenantTask(SchemaTravellingTask):
    """Base for work on one tenant's data. The schema travels in the message headers and the worker
    switches to it before running. Enqueued or run from the public schema, it fails loudly."""

    abstract = True

    def apply_async(self, args=None, kwargs=None, **options):
        if _in_public_schema() and "_schema_name" not in (options.get("headers") or {}):
            from apps.tenants.errors import TenantContextError

            raise TenantContextError(f"{self.name} is tenant work; enqueue it inside a tenant context.")
        return super().apply_async(args, kwargs, **options)

    def __call__(self, *args, **kwargs):
        if _in_public_schema():
            from apps.tenants.errors import TenantContextError

            raise TenantContextError(f"{self.name} is tenant work but is running in the public schema.")
        return super().__call__(*args, **kwargs)


class SharedTask(Task):
    """Base for work across tenants (maintenance); it runs in the public schema."""

    abstract = True


# Logging, task context, tracing and the worker metrics port (signal handlers).
import apps.core.worker_signals  # noqa: E402, F401
