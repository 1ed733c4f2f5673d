"""A small real library for the fault tests: bench photos uploaded to a tenant of their own
("library"), waiting to be processed, and workers with a broker of their own (a Redis the test can
kill) and, optionally, a database connection the test can cut (tests/faults/dbproxy.py). Beat runs
inside the worker with a short sweep period, as `make run` runs beat beside the workers."""

import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.images.models import Image, ImageStage, ImageStatus
from apps.images.services.ingest import image_ingest
from apps.images.services.lifecycle import image_purge
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_provision
from tests import imagefiles
from tests.conftest import UNTHROTTLED
from tests.support.waiting import eventually
from tests.support.workers import worker_start

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
    tenant = Tenant.objects.filter(slug="library").first() or tenant_provision(name="Library", slug="library")
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
        # Left waiting a while (no message was ever sent for them), as after an outage.
        Image.objects.filter(pk__in=ids).update(created_at=timezone.now() - timedelta(minutes=2))
        try:
            yield Library(tenant=tenant, ids=ids)
        finally:
            for image in Image.objects.select_related("storage_location").filter(pk__in=ids):
                image_purge(image=image, actor=Actor.system(), tenant=tenant)


@contextmanager
def worker(*, redis_url: str, database_url: str, log_path: Path, concurrency: int = 2):
    """A prefork worker with embedded beat on every queue, on the test's broker; its hostname stays
    the same across starts (a restart of the same node)."""
    process = worker_start(
        name="library",
        concurrency=concurrency,
        pool="prefork",
        env={"DEEPLENS_SWEEP_SECONDS": str(SWEEP_SECONDS)},
        database_url=database_url,
        redis_url=redis_url,
        log_path=log_path,
        args=("--beat", "--schedule", str(log_path.with_suffix(".schedule"))),
    )
    try:
        yield process
    finally:
        if process.alive():
            process.stop()
        else:
            process.log.close()


def wait_for(predicate, timeout: float, message) -> float:
    """Seconds until predicate() held (tests/support/waiting.py's eventually)."""
    start = time.monotonic()
    eventually(predicate, timeout=timeout, message=message)
    return time.monotonic() - start


def tail(path: Path, chars: int = 3000) -> str:
    return path.read_text()[-chars:] if path.exists() else ""
