"""A small real library for the fault tests: bench photos uploaded to a tenant of their own
("faults"), waiting to be processed, and workers with a broker of their own (a Redis the test can
kill) and, optionally, a database connection the test can cut (tests/faults/dbproxy.py). Beat runs
inside the worker with a short sweep period, as `make run` runs beat beside the workers."""

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.images.models import Image, ImageStage, ImageStatus
from apps.images.services.ingest import image_ingest
from apps.images.services.lifecycle import image_purge
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_provision
from tests import imagefiles
from tests.conftest import UNTHROTTLED

ROOT = Path(__file__).resolve().parents[2]
SWEEP_SECONDS = 5


@dataclass
class Library:
    tenant: Tenant
    ids: list

    def counts(self) -> dict:
        images = Image.objects.filter(pk__in=self.ids)
        return {
            "ready": images.filter(status=ImageStatus.READY).count(),
            "claimed": images.filter(status=ImageStatus.PROCESSING).count()
            + ImageStage.objects.filter(image_id__in=self.ids, state="running").count(),
            "indexed": ImageStage.objects.filter(image_id__in=self.ids, stage="detect", state="done").count(),
        }

    def all_indexed(self) -> bool:
        return self.counts()["indexed"] == len(self.ids)


@contextmanager
def waiting_library(count: int, monkeypatch):
    """`count` bench photos stored in the "faults" tenant, waiting, with no message sent (the
    suite's shared worker must not take them); purged at the end. Call with the database unblocked."""
    monkeypatch.setattr("apps.images.services.ingest.ingest_wake", lambda: None)
    tenant = Tenant.objects.filter(slug="faults").first() or tenant_provision(name="Faults", slug="faults")
    Tenant.objects.filter(pk=tenant.pk).update(**UNTHROTTLED)
    with tenant_context(tenant):
        ids = [
            image_ingest(
                tenant=tenant,
                file=SimpleUploadedFile(photo.name, photo.read_bytes()),
                filename=photo.name,
                actor=Actor.system(),
            ).pk
            for photo in imagefiles.bench_photos(count)
        ]
        try:
            yield Library(tenant=tenant, ids=ids)
        finally:
            for image in Image.objects.select_related("storage_location").filter(pk__in=ids):
                image_purge(image=image, actor=Actor.system(), tenant=tenant)


@contextmanager
def worker(*, redis_url: str, database_url: str, log_path: Path, concurrency: int = 2):
    """A prefork worker with embedded beat on every queue, started and stopped by the test; its
    hostname stays the same across starts (a restart of the same node)."""
    env = dict(
        os.environ,
        REDIS_URL=redis_url,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="deeplens.settings.test",
        DEEPLENS_SWEEP_SECONDS=str(SWEEP_SECONDS),
    )
    schedule = log_path.with_suffix(".schedule")
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "celery_app",
                "worker",
                "--beat",
                "--schedule",
                str(schedule),
                "--pool",
                "prefork",
                "--concurrency",
                str(concurrency),
                "--queues",
                "ingest,thumbnails,embed,index,scan,maintenance",
                "--loglevel",
                "INFO",
                "--hostname",
                f"faults-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: " ready." in log_path.read_text(), 60, lambda: f"no worker:\n{tail(log_path)}")
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    kill_tree(process)


def kill_tree(process) -> None:
    """SIGKILL to the worker and its pool processes, as the OOM killer or a lost host would."""
    try:
        parent = psutil.Process(process.pid)
        children = parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return
    for proc in [*children, parent]:
        with suppress(psutil.NoSuchProcess):
            proc.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def wait_for(predicate, timeout: float, message) -> float:
    """Seconds until predicate() held; fails with message() after timeout."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            pytest.fail(message())
        time.sleep(0.1)
    return time.monotonic() - start


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text()[-chars:] if path.exists() else ""
