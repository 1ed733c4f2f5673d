"""Search tests run through the real worker, so their data must be committed: two tenants of their
own (gamma, delta) with bench photos, made once per run; alpha and beta stay untouched."""

import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.images.models import Image, ImageStatus
from apps.jobs.models import Job
from apps.search.models import Embedding
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_provision
from tests.api import Api, bearer_for, host
from tests.conftest import UNTHROTTLED
from tests.factories import UserFactory
from tests.imagefiles import BENCH_IMAGES, BENCH_TRUTH, bench_truth
from tests.support.waiting import eventually


def bench_rows() -> list[dict]:
    if not BENCH_TRUTH.is_file():
        pytest.fail(
            f"The public bench is not at {BENCH_TRUTH}; put shared/ beside the checkout "
            "or set DEEPLENS_SHARED_DIR."
        )
    return bench_truth()


@dataclass
class SearchTenant:
    tenant: Tenant
    admin: Api
    viewer: Api
    member: Api
    ids: dict = field(default_factory=dict)  # bench file name -> image id
    emails: dict = field(default_factory=dict)  # role -> email (password: tests.factories.PASSWORD)


def upload(api: Api, path: Path, **fields) -> str:
    response = api.client.post(
        "/api/v1/images/upload",
        {"file": SimpleUploadedFile(path.name, path.read_bytes()), **fields},
        **api.headers,
    )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def wait_ready(tenant: Tenant, ids, timeout: float = 120) -> None:
    """Until the images are READY and indexed (the index stage stores their descriptors)."""
    ids = list(ids)
    states: list[str] = []

    def ready_and_indexed() -> bool:
        states[:] = Image.objects.filter(pk__in=ids).values_list("status", flat=True)
        if len(states) < len(ids) or any(s not in (ImageStatus.READY, ImageStatus.FAILED) for s in states):
            return False
        assert set(states) == {ImageStatus.READY}, states
        return Embedding.objects.filter(image_id__in=ids, model="descriptor").count() == len(ids)

    with tenant_context(tenant):
        eventually(
            ready_and_indexed,
            timeout=timeout,
            interval=0.2,
            message=lambda: f"images not processed in time: {states}",
        )


def wait_job(tenant: Tenant, job_id: str, timeout: float = 180) -> Job:
    with tenant_context(tenant):
        return eventually(
            lambda: (job := Job.objects.get(pk=job_id)).state in (Job.State.DONE, Job.State.FAILED) and job,
            timeout=timeout,
            interval=0.2,
            message=lambda: f"job {job_id} still {Job.objects.get(pk=job_id).state}",
        )


def committed(fn):
    """Run fn on a connection of its own (a thread), outside the test's transaction, so that what it
    writes is committed and the worker sees it; returns fn's result."""
    import threading

    from django.db import connection

    result, errors = [], []

    def run():
        try:
            result.append(fn())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


def make_tenant(slug: str) -> SearchTenant:
    tenant = Tenant.objects.filter(slug=slug).first() or tenant_provision(name=slug.capitalize(), slug=slug)
    Tenant.objects.filter(pk=tenant.pk).update(**UNTHROTTLED)  # tests/usage tests the limits
    tenant.refresh_from_db()
    users = {
        role: UserFactory(tenant=tenant, role=role, email=f"{role}-{time.monotonic_ns()}@{slug}.test")
        for role in (Role.ADMIN, Role.VIEWER, Role.MEMBER)
    }
    return SearchTenant(
        tenant=tenant,
        admin=Api(host(tenant), bearer_for(users[Role.ADMIN])),
        viewer=Api(host(tenant), bearer_for(users[Role.VIEWER])),
        member=Api(host(tenant), bearer_for(users[Role.MEMBER])),
        emails={role: user.email for role, user in users.items()},
    )


# Originals with two copies each of the edits pHash cannot follow (flips, quarter turns, strong
# crops, borders), and two distractors: enough for "the copy finds its original", and quick.
TRANSFORMS = ("hflip", "crop_60", "crop_40", "rot_90", "rot_5", "pad", "strong_flip_rot_bright")


def pick_bench(count: int = 4) -> tuple[list[str], dict[str, list[tuple[str, str]]], list[str]]:
    rows = bench_rows()
    copies: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        if row["role"] == "copy" and row["transform"] in TRANSFORMS:
            copies.setdefault(row["orig_id"], []).append((row["file"], row["transform"]))
    originals = {row["orig_id"]: row["file"] for row in rows if row["role"] == "original"}
    chosen = [orig for orig in sorted(copies) if len(copies[orig]) >= 2][:count]
    distractors = sorted(
        row["file"] for row in rows if row["role"] == "original" and row["is_distractor"] == "1"
    )[:2]
    return [originals[o] for o in chosen], {originals[o]: copies[o] for o in chosen}, distractors


@pytest.fixture(scope="session")
def search_world(django_db_setup, django_db_blocker, celery_worker):
    """gamma: 4 originals, their 8 copies and 2 distractors; delta: the same first 2 originals."""
    originals, copies, distractors = pick_bench()
    with django_db_blocker.unblock():
        gamma, delta = make_tenant("search-gamma"), make_tenant("search-delta")
        for name in originals + distractors + [c for group in copies.values() for c, _t in group]:
            gamma.ids[name] = upload(gamma.member, BENCH_IMAGES / name, tags="bench")
        for name in originals[:2]:
            delta.ids[name] = upload(delta.member, BENCH_IMAGES / name)
        wait_ready(gamma.tenant, gamma.ids.values())
        wait_ready(delta.tenant, delta.ids.values())
        detected(gamma.tenant, gamma.ids.values())
        detected(delta.tenant, delta.ids.values())
        yield {"gamma": gamma, "delta": delta, "originals": originals, "copies": copies}


@pytest.fixture(scope="session")
def tiny_clip():
    pytest.importorskip("torch", reason="make install-ml (make test installs it)")
    from tests.search.clip_fixture import tiny_clip_build

    tiny_clip_build(
        model_name=settings.DEEPLENS_CLIP_MODEL,
        checkpoint=settings.DEEPLENS_CLIP_CHECKPOINT,
        config_path=settings.DEEPLENS_CLIP_MODEL_CONFIG,
    )
    return settings.DEEPLENS_CLIP_MODEL


def detected(tenant: Tenant, ids) -> None:
    """Detection has recorded the images' pairs and groups (the worker's index task stores the
    descriptor first, then groups): run it here once more (it is harmless to repeat) so that a
    search by id reads what detection decided."""
    from apps.duplicates.services.detection import image_index

    def run():
        with tenant_context(tenant):
            for image_id in ids:
                image_index(image_id=image_id)

    committed(run)
