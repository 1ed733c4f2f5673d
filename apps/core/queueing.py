"""Sending Celery tasks by name, so that services never import their app's tasks module (which
imports the services: a cycle). A task's name ("<domain>.<action>", routed to its queue by
celery_app.py) is the contract between the code that sends work and the task that does it; tests
can still replace a task's `delay` on the task object, which is the one registered under its name.
"""

import threading
from collections.abc import Callable
from typing import Any

from django.db import transaction

# Celery's autodiscovery returns at once, importing nothing, while another thread of the process
# is importing: without this lock, the other upload threads of a fresh web worker found no task
# (NotRegistered) and their images waited for the sweep to be queued.
_importing = threading.Lock()


def task(name: str) -> Any:
    """The registered task called `name`; the apps' tasks modules are imported on first use (as
    the worker does at start), once per process, other threads waiting for it."""
    from celery_app import app

    if name not in app.tasks:
        with _importing:
            if name not in app.tasks:
                app.loader.import_default_modules()
    return app.tasks[name]


def send(name: str, **kwargs: Any) -> Any:
    """Enqueue now (the caller knows its rows are committed, or there are none)."""
    return task(name).delay(**kwargs)


def send_on_commit(name: str, **kwargs: Any) -> None:
    """Enqueue once the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: send(name, **kwargs))


def sender(name: str) -> Callable[..., Any]:
    """A function that sends `name` with its keyword arguments."""
    return lambda **kwargs: send(name, **kwargs)


def queue_depths() -> dict[str, int | None]:
    """Tasks waiting in each Celery queue (Redis LLEN); None per queue when Redis cannot say."""
    import redis

    from apps.core.redis import get_redis
    from celery_app import QUEUES

    try:
        pipe = get_redis().pipeline(transaction=False)
        for queue in QUEUES:
            pipe.llen(queue)
        return dict(zip(QUEUES, pipe.execute(), strict=True))
    except redis.RedisError:
        return dict.fromkeys(QUEUES)
