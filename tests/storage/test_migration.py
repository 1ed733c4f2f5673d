"""Moving images between locations: copy, verify SHA-256, switch, delete; resumable after a real
worker is killed in the middle, cancellable, images readable throughout."""

import signal
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.images.models import Image, Thumbnail
from apps.images.services.lifecycle import image_purge
from apps.jobs import services as jobs_service
from apps.jobs.models import Job
from apps.jobs.runner import JobContext, job_run
from apps.jobs.services import jobs_resume_stalled
from apps.storage.backends import storage_for
from apps.storage.models import StorageLocation
from apps.storage.services.jobs import storage_job_create
from apps.tenants.models import Tenant
from tests.storage.helpers import fs_location, images_at, s3_location, sha256_at
from tests.support.waiting import eventually
from tests.support.workers import Worker, worker_start


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def migrate_url(tenant, source) -> str:
    return f"/api/v1/tenants/{tenant.pk}/storage-config/{source.pk}/migrate"


def test_a_migration_copies_verifies_switches_and_deletes(alpha, admin_api, s3_server, tmp_path):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = s3_location("bucket", s3_server, s3_server.bucket(), prefix="moved")
        images = images_at(source, tenant_slug="alpha", count=5)

    response = admin_api.post(migrate_url(alpha, source), {"target_config_id": str(target.pk)})
    with tenant_context(alpha):
        job = job_run(job_id=response.json()["job_id"])
        moved = list(Image.objects.filter(pk__in=[i.pk for i in images]).select_related("storage_location"))

    assert response.status_code == 202, response.content
    assert response.json()["status_url"] == f"/api/v1/tenants/{alpha.pk}/storage-jobs/{job.pk}"
    assert (job.state, job.total, job.processed, job.failed, job.skipped) == ("done", 5, 5, 0, 0)
    assert {image.storage_location_id for image in moved} == {target.pk}
    for image in moved:
        assert sha256_at(target, image.storage_key) == image.sha256
        with tenant_context(alpha):
            for thumbnail in Thumbnail.objects.filter(image=image):
                assert storage_for(target).exists(thumbnail.storage_key)
    assert files_under(tmp_path / "src") == []
    objects = s3_server.client().list_objects_v2(Bucket=target.config["bucket"])["Contents"]
    assert len(objects) == 15 and all(obj["Key"].startswith("moved/alpha/") for obj in objects)


def test_migrated_images_are_served_from_the_target(alpha, admin_api, member_api, s3_server, tmp_path):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = s3_location("bucket", s3_server, s3_server.bucket())
        (image,) = images_at(source, tenant_slug="alpha", count=1)
    before = b"".join(member_api.get(f"/api/v1/images/{image.pk}/download").streaming_content)

    job_id = admin_api.post(migrate_url(alpha, source), {"target_config_id": str(target.pk)}).json()["job_id"]
    with tenant_context(alpha):
        job_run(job_id=job_id)
    after = b"".join(member_api.get(f"/api/v1/images/{image.pk}/download").streaming_content)

    assert before == after and len(after) == image.size_bytes


def test_a_corrupt_source_fails_that_image_and_leaves_it_where_it_was(alpha, admin_api, s3_server, tmp_path):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = s3_location("bucket", s3_server, s3_server.bucket())
        bad, good = images_at(source, tenant_slug="alpha", count=2)
    (tmp_path / "src" / bad.storage_key).write_bytes(b"bit rot")

    job_id = admin_api.post(migrate_url(alpha, source), {"target_config_id": str(target.pk)}).json()["job_id"]
    with tenant_context(alpha):
        job = job_run(job_id=job_id)
        bad.refresh_from_db()
        good.refresh_from_db()

    assert (job.state, job.processed, job.failed) == ("done", 1, 1)
    assert bad.storage_location_id == source.pk and good.storage_location_id == target.pk
    assert (tmp_path / "src" / bad.storage_key).exists()


def test_filters_select_the_images_to_move(alpha, admin_api, s3_server, tmp_path):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = s3_location("bucket", s3_server, s3_server.bucket())
        first, second, third = images_at(source, tenant_slug="alpha", count=3, thumbnails=0)

    job_id = admin_api.post(
        migrate_url(alpha, source),
        {"target_config_id": str(target.pk), "filters": {"image_ids": [str(first.pk), str(third.pk)]}},
    ).json()["job_id"]
    with tenant_context(alpha):
        job_run(job_id=job_id)
        where = dict(
            Image.objects.filter(storage_location__in=[source, target]).values_list("pk", "storage_location")
        )

    assert where == {first.pk: target.pk, second.pk: source.pk, third.pk: target.pk}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"target_config_id": "same"}, 400, "storage_config_invalid"),
        ({"target_config_id": "index_only"}, 400, "storage_location_read_only"),
        ({"target_config_id": str(uuid.uuid4())}, 404, "storage_location_not_found"),
        ({"target_config_id": "ok", "filters": {"colour": "red"}}, 400, "filters_invalid"),
    ],
)
def test_bad_migrations_are_refused(alpha, admin_api, tmp_path, body, status, code):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        other = fs_location("other", tmp_path / "other")
        index_only = fs_location("ro", tmp_path, index_only=True)
    target = {"same": str(source.pk), "index_only": str(index_only.pk), "ok": str(other.pk)}.get(
        body["target_config_id"], body["target_config_id"]
    )

    response = admin_api.post(migrate_url(alpha, source), {**body, "target_config_id": target})

    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    with tenant_context(alpha):
        assert not Job.objects.filter(kind="storage_migrate").exists()


def test_a_cancelled_migration_stops_and_keeps_every_image_readable(
    alpha, admin_api, s3_server, tmp_path, monkeypatch
):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = s3_location("bucket", s3_server, s3_server.bucket())
        images = images_at(source, tenant_slug="alpha", count=6, thumbnails=1)
    job_id = admin_api.post(migrate_url(alpha, source), {"target_config_id": str(target.pk)}).json()["job_id"]
    calls = {"n": 0}
    real_heartbeat = JobContext.heartbeat

    def cancel_after_three(ctx, **counters):
        calls["n"] += 1
        if calls["n"] == 4:
            cancelled = admin_api.post(f"/api/v1/tenants/{alpha.pk}/storage-jobs/{job_id}/cancel")
            assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
        return real_heartbeat(ctx, **counters)

    monkeypatch.setattr(JobContext, "heartbeat", cancel_after_three)
    with tenant_context(alpha):
        job = job_run(job_id=job_id)
        rows = list(Image.objects.filter(pk__in=[i.pk for i in images]).select_related("storage_location"))

    assert job.state == "cancelled" and job.processed == 3
    assert sorted(row.storage_location.name for row in rows) == ["bucket"] * 3 + ["old disk"] * 3
    for row in rows:
        assert sha256_at(row.storage_location, row.storage_key) == row.sha256
    again = admin_api.post(f"/api/v1/tenants/{alpha.pk}/storage-jobs/{job_id}/cancel")
    assert again.status_code == 409


def _job(job_id) -> Job:
    return Job.objects.get(pk=job_id)


def test_a_migration_resumes_after_its_worker_is_killed(
    django_db_setup, django_db_blocker, s3_server, tmp_path, monkeypatch
):
    """Committed rows (the workers are other processes); a dedicated queue so no other worker of
    the test run takes the job; SIGKILL in the middle, a new worker, and beat's resume."""
    from apps.jobs.tasks import job_run_task

    queue = f"storage-kill-{uuid.uuid4().hex[:8]}"
    monkeypatch.setattr(
        jobs_service,
        "_enqueue",
        lambda job_id, **_: job_run_task.apply_async(kwargs={"job_id": job_id}, queue=queue),
    )
    count = 120
    workers: list[Worker] = []
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug="alpha")
        with tenant_context(tenant):
            source = fs_location("kill-test source", tmp_path / "src")
            target = s3_location("kill-test target", s3_server, s3_server.bucket())
            images = images_at(source, tenant_slug="alpha", count=count)
            ids = [image.pk for image in images]
            sha = {image.pk: image.sha256 for image in images}
            try:
                job = storage_job_create(
                    kind="storage_migrate",
                    actor=Actor.system(),
                    params={
                        "location_id": str(source.pk),
                        "target_id": str(target.pk),
                        "filters": {},
                        "cursor": None,
                        "pending_delete": [],
                    },
                )
                # No waiting for its ping: the job is queued, the worker may finish before it replies.
                workers.append(worker_start(name="kill-worker-1", queues=[queue], wait_ready=False))
                eventually(
                    lambda: _job(job.pk).processed >= 10,
                    timeout=90,
                    interval=0.02,
                    message="the first worker did not move 10 images",
                )
                workers[0].kill(signal.SIGKILL)
                killed_at = _job(job.pk)

                # Killed in the middle: every image is readable where its row points.
                assert killed_at.state == "running" and 10 <= killed_at.processed < count
                for image in Image.objects.filter(pk__in=ids).select_related("storage_location"):
                    assert sha256_at(image.storage_location, image.storage_key) == sha[image.pk]

                workers.append(worker_start(name="kill-worker-2", queues=[queue]))
                assert jobs_resume_stalled(stale_after=timedelta(0)) >= 1
                done = eventually(
                    lambda: (j := _job(job.pk)).state in ("done", "failed") and j,
                    timeout=180,
                    interval=0.05,
                    message="the resumed job did not finish",
                )

                assert (done.state, done.processed, done.failed, done.skipped) == ("done", count, 0, 0)
                moved = Image.objects.filter(pk__in=ids).select_related("storage_location")
                assert {image.storage_location_id for image in moved} == {target.pk}
                for image in moved:
                    assert sha256_at(target, image.storage_key) == sha[image.pk]
                    for thumbnail in Thumbnail.objects.filter(image=image):
                        assert storage_for(target).exists(thumbnail.storage_key)
                assert files_under(tmp_path / "src") == []
            finally:
                for worker in workers:
                    worker.stop()
                Thumbnail.objects.filter(image_id__in=ids).delete()
                # The suite's worker may be indexing these ready images (the pipeline sweep finds
                # them): purge locks each row before its dependent rows are collected.
                for image in Image.objects.select_related("storage_location").filter(pk__in=ids):
                    image_purge(image=image, actor=Actor.system(), tenant=tenant)
                Job.objects.filter(kind="storage_migrate", params__target_id=str(target.pk)).delete()
                StorageLocation.objects.filter(pk__in=[source.pk, target.pk]).delete()
