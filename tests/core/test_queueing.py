"""Sending tasks by name (apps/core/queueing.py)."""

import threading
import time

from apps.core import queueing
from celery_app import app


def test_threads_sending_first_wait_for_the_tasks_to_be_imported(monkeypatch):
    """A fresh web worker's threads all send their first task at once: Celery's autodiscovery
    returns at once while another thread is importing, so each must wait for that import, not
    look the task up too early (NotRegistered)."""
    name = "tests.first_send"
    registered = object()
    importing = threading.Event()

    def import_default_modules():  # as Celery's: a second call during an import does nothing
        if importing.is_set():
            return
        importing.set()
        time.sleep(0.2)
        app.tasks[name] = registered

    monkeypatch.setattr(app.loader, "import_default_modules", import_default_modules)
    found, errors = [], []

    def send():
        try:
            found.append(queueing.task(name))
        except Exception as exc:  # noqa: BLE001 - what the race raised is the finding
            errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        app.tasks.pop(name, None)

    assert errors == []
    assert found == [registered] * 4
