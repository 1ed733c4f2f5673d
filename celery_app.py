"""The Celery app: queues, routing and the tenant-aware base task.

Start a worker for every queue with `celery -A celery_app worker`, or one kind of work per host
with `-Q embed` (GPU hosts), `-Q ingest,thumbnails`, ...
"""

import os
from queue import Empty

from celery import Task
from django.conf import settings
from kombu import Exchange, Queue
from tenant_schemas_celery.app import CeleryApp
from tenant_schemas_celery.task import TenantTask as SchemaTravellingTask

from apps.core.connection import connection

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "deeplens.settings.local")

QUEUES = ("ingest", "thumbnails", "embed", "index", "scan", "maintenance")
DEFAULT_QUEUE = "maintenance"


def _patch_kombu_redis_channel_close() -> None:
    """Let a Redis channel close although its pending BRPOP can no longer be read (kombu 5.7.0).

    When Redis goes away, the worker's event loop notices it on the BRPOP socket, and the consumer
    closes the connection twice: `collect()`, then `close()`. The first `Channel.close()` begins
    by reading the pending BRPOP reply; that raises ConnectionError and aborts the close before
    anything is closed (the error is ignored upstream). `collect()` then detaches the transport
    (`transport.client = None`), and the second `close()` runs the whole close: it requeues the
    unacked messages, which rebuilds a Redis pool from `transport.client.hostname` and raises
    AttributeError, which no one catches: "Unrecoverable error: AttributeError("'NoneType' object
    has no attribute 'hostname'")" and the worker exits. Only with a BRPOP pending and messages
    held (prefetched or countdown), hence "only with work in flight".

    Here a BRPOP whose reply is lost is treated as no reply, so the first close goes through while
    the transport is still attached: the requeue fails with a ConnectionError (Redis is down),
    which the consumer ignores, and the messages stay in Redis's unacked set until the visibility
    timeout returns them to their queue. No kombu release fixes it (5.7.0 is the newest); remove
    this when one does: tests/faults/test_broker_loss.py fails without it.
    """
    from kombu.transport import redis as kombu_redis

    close = kombu_redis.Channel.close
    if getattr(close, "deeplens_patched", False):
        return

    def close_after_a_lost_brpop(self):
        if self._in_poll:
            try:
                self._brpop_read()  # what close() does first; it resets _in_poll either way
            except Empty:
                pass
            except kombu_redis.Transport.connection_errors:
                pass
        close(self)

    # A monkeypatch: the marker attribute and the method replaced are what mypy rightly flags.
    close_after_a_lost_brpop.deeplens_patched = True  # type: ignore[attr-defined]
    kombu_redis.Channel.close = close_after_a_lost_brpop  # type: ignore[method-assign]


_patch_kombu_redis_channel_close()

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
    broker_connection_retry=True,
    broker_connection_max_retries=None,  # a worker waits for its broker as long as it takes
    broker_transport_options={
        "visibility_timeout": settings.DEEPLENS_BROKER_VISIBILITY_TIMEOUT,
        # The sweep that returns overdue unacked messages: every 10 s x 6 = a minute (kombu: 100 s).
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 6,
        "socket_timeout": 5,
        "socket_connect_timeout": 5,
        "socket_keepalive": True,
        # A half-open BRPOP or pub/sub connection (Redis gone without a RST) is noticed in ~25 s.
        "health_check_interval": 10,
    },
    # A task running when the broker goes away keeps running: it cannot be acked on the lost
    # connection, but its message stays in Redis's unacked set and comes back after the visibility
    # timeout, and our tasks are idempotent. Cancelling would throw away up to 15 minutes of work (an
    # embedding batch, a scan) for every blip of Redis; finishing costs at most one harmless re-run.
    worker_cancel_long_running_tasks_on_connection_loss=False,
    task_tenant_cache_seconds=30,
    beat_schedule={
        "purge-trash": {"task": "maintenance.purge_trash", "schedule": 3600.0},
        # Images waiting, claimed by a worker that is gone, or missing a later stage, in every tenant.
        "pipeline-sweep": {
            "task": "maintenance.pipeline_sweep",
            "schedule": float(os.environ.get("DEEPLENS_SWEEP_SECONDS") or 60),
        },
        "usage-snapshot": {"task": "maintenance.usage_snapshot", "schedule": 300.0},
        "storage-usage-reconcile": {"task": "maintenance.storage_usage_reconcile", "schedule": 600.0},
        "duplicates-metrics": {"task": "maintenance.duplicates_metrics", "schedule": 60.0},
        # Start the scheduled scans of index-only locations.
        "storage-jobs": {"task": "maintenance.storage_jobs", "schedule": 60.0},
        # Resume background jobs (any kind) whose worker died (apps/jobs).
        "jobs-resume-stalled": {"task": "maintenance.jobs_resume_stalled", "schedule": 60.0},
        # Delete whole-workspace export zips older than DEEPLENS_EXPORT_RETENTION_DAYS (apps/workspace).
        "exports-expire": {"task": "maintenance.exports_expire", "schedule": 86400.0},
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
import apps.core.worker_signals  # noqa: E402
import apps.core.workers  # noqa: E402, F401 - worker identity and heartbeat
