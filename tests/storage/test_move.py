"""POST /api/v1/storage/move: the selected images move to a location through the migration jobs
(one per location they are at), images already there are counted, images that cannot move are
refused one by one; storage managers only, within their own workspace. The last test runs the jobs
on the real Celery worker against a real S3 protocol server."""

import hashlib
import uuid

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.images.models import Image, ImageStatus, Thumbnail
from apps.images.services.lifecycle import image_purge
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.storage.backends import storage_for
from apps.storage.models import StorageLocation
from apps.storage.services.moving import MAX_MOVE
from apps.tenants.models import Tenant
from tests.api import Api, as_user, host
from tests.factories import UserFactory
from tests.storage.helpers import fs_location, images_at, s3_location, sha256_at
from tests.support.waiting import eventually

MOVE = "/api/v1/storage/move"


def migrate_url(tenant, source) -> str:
    return f"/api/v1/tenants/{tenant.pk}/storage-config/{source.pk}/migrate"


def where(images) -> dict:
    return dict(Image.objects.filter(pk__in=[i.pk for i in images]).values_list("pk", "storage_location"))


def test_selected_images_move_to_the_target_and_nothing_else_does(alpha, admin_api, tmp_path):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = fs_location("archive", tmp_path / "dst")
        first, second, third = images_at(source, tenant_slug="alpha", count=3)

    response = admin_api.post(MOVE, {"ids": [str(first.pk), str(third.pk)], "target_id": str(target.pk)})
    body = response.json()
    with tenant_context(alpha):
        job = job_run(job_id=body["jobs"][0]["job_id"])
        moved = where([first, second, third])
        audit = AuditEvent.objects.filter(target_id=str(job.pk)).values_list("details", flat=True).get()

    assert response.status_code == 202, response.content
    assert (body["moving"], body["already_there"], body["refused"]) == (2, 0, [])
    assert [(j["kind"], j["location_id"], j["target_id"]) for j in body["jobs"]] == [
        ("storage_migrate", str(source.pk), str(target.pk))
    ]
    assert body["jobs"][0]["status_url"] == f"/api/v1/tenants/{alpha.pk}/storage-jobs/{job.pk}"
    assert (job.state, job.total, job.processed, job.failed) == ("done", 2, 2, 0)
    assert moved == {first.pk: target.pk, second.pk: source.pk, third.pk: target.pk}
    for image in (first, third):
        assert sha256_at(target, image.storage_key) == image.sha256
        assert not (tmp_path / "src" / image.storage_key).exists()
    assert (tmp_path / "src" / second.storage_key).exists()
    assert (audit["change"], audit["source"], audit["target"]) == ("migration_started", "old disk", "archive")


def test_images_from_two_locations_make_two_jobs_into_one_target(alpha, admin_api, tmp_path):
    with tenant_context(alpha):
        disk_a = fs_location("disk a", tmp_path / "a")
        disk_b = fs_location("disk b", tmp_path / "b")
        target = fs_location("archive", tmp_path / "dst")
        (at_a,) = images_at(disk_a, tenant_slug="alpha", count=1)
        (at_b,) = images_at(disk_b, tenant_slug="alpha", count=1)
        (there,) = images_at(target, tenant_slug="alpha", count=1)

    response = admin_api.post(
        MOVE, {"ids": [str(at_a.pk), str(there.pk), str(at_b.pk)], "target_id": str(target.pk)}
    )
    body = response.json()
    with tenant_context(alpha):
        jobs = [job_run(job_id=job["job_id"]) for job in body["jobs"]]
        moved = where([at_a, at_b, there])

    assert response.status_code == 202, response.content
    assert (body["moving"], body["already_there"], body["refused"]) == (2, 1, [])
    assert sorted(j["location_id"] for j in body["jobs"]) == sorted([str(disk_a.pk), str(disk_b.pk)])
    assert [(job.state, job.processed) for job in jobs] == [("done", 1), ("done", 1)]
    assert moved == {at_a.pk: target.pk, at_b.pk: target.pk, there.pk: target.pk}


def test_images_that_cannot_move_are_refused_with_a_reason_and_the_others_move(alpha, admin_api, tmp_path):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        busy = fs_location("busy disk", tmp_path / "busy")
        elsewhere = fs_location("elsewhere", tmp_path / "elsewhere")
        indexed = fs_location("indexed", tmp_path / "ro", index_only=True)
        target = fs_location("archive", tmp_path / "dst")
        ok, trashed, failed, waiting = images_at(source, tenant_slug="alpha", count=4, thumbnails=0)
        being_moved, beside_it = images_at(busy, tenant_slug="alpha", count=2, thumbnails=0)
        (in_place,) = images_at(indexed, tenant_slug="alpha", count=1, thumbnails=0)
        Image.objects.filter(pk=trashed.pk).update(deleted_at=timezone.now())
        Image.objects.filter(pk=failed.pk).update(status=ImageStatus.FAILED)
        Image.objects.filter(pk=waiting.pk).update(status=ImageStatus.PROCESSING)
    running = admin_api.post(
        migrate_url(alpha, busy),
        {"target_config_id": str(elsewhere.pk), "filters": {"image_ids": [str(being_moved.pk)]}},
    )
    unknown = uuid.uuid4()
    ids = [ok, trashed, failed, waiting, being_moved, beside_it, in_place]

    response = admin_api.post(
        MOVE, {"ids": [str(i.pk) for i in ids] + [str(unknown)], "target_id": str(target.pk)}
    )
    body = response.json()

    assert running.status_code == 202, running.content
    assert response.status_code == 202, response.content
    assert (body["moving"], body["already_there"], len(body["jobs"])) == (1, 0, 1)
    assert body["jobs"][0]["location_id"] == str(source.pk)
    assert [(row["id"], row["reason"]) for row in body["refused"]] == [
        (str(trashed.pk), "trashed"),
        (str(failed.pk), "failed"),
        (str(waiting.pk), "processing"),
        (str(being_moved.pk), "migrating"),
        (str(beside_it.pk), "location_busy"),
        (str(in_place.pk), "index_only"),
        (str(unknown), "not_found"),
    ]
    assert body["refused"][0]["message"] == "It is in the trash."
    with tenant_context(alpha):
        job = Job.objects.get(pk=body["jobs"][0]["job_id"])
        assert job.params["filters"] == {"image_ids": [str(ok.pk)], "status": ["ready"]}
        assert Job.objects.filter(kind="storage_migrate").count() == 2


def _bad_request_world(alpha, tmp_path):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = fs_location("archive", tmp_path / "dst")
        read_only = fs_location("indexed", tmp_path / "ro", index_only=True)
        (image,) = images_at(source, tenant_slug="alpha", count=1, thumbnails=0)
    return {"image": str(image.pk), "target": str(target.pk), "read_only": str(read_only.pk)}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"ids": [], "target_id": "{target}"}, "ids_required"),
        ({"ids": ["many"], "target_id": "{target}"}, "too_many_ids"),
        ({"ids": ["{image}"], "target_id": str(uuid.UUID(int=7))}, "storage_target_not_found"),
        ({"ids": ["{image}"], "target_id": "not-an-id"}, "storage_target_not_found"),
        ({"ids": ["{image}"], "target_id": "{read_only}"}, "storage_location_read_only"),
        ({"ids": ["{image}"]}, "invalid_input"),
        ({"ids": ["nonsense"], "target_id": "{target}"}, "invalid_input"),
    ],
)
def test_bad_input_is_a_clear_400_and_moves_nothing(alpha, admin_api, tmp_path, body, code):
    names = _bad_request_world(alpha, tmp_path)
    filled = {
        key: (
            [str(uuid.uuid4()) for _ in range(MAX_MOVE + 1)]
            if value == ["many"]
            else [v.format(**names) for v in value]
            if isinstance(value, list)
            else value.format(**names)
        )
        for key, value in body.items()
    }

    response = admin_api.post(MOVE, filled)

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == code
    with tenant_context(alpha):
        assert not Job.objects.filter(kind="storage_migrate").exists()
        assert Image.objects.get(pk=names["image"]).storage_location.name == "old disk"


def test_a_target_being_emptied_is_a_409(alpha, admin_api, tmp_path):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = fs_location("archive", tmp_path / "dst")
        elsewhere = fs_location("elsewhere", tmp_path / "elsewhere")
        (image,) = images_at(source, tenant_slug="alpha", count=1, thumbnails=0)
    emptying = admin_api.post(migrate_url(alpha, target), {"target_config_id": str(elsewhere.pk)})

    response = admin_api.post(MOVE, {"ids": [str(image.pk)], "target_id": str(target.pk)})

    assert response.status_code == 409, response.content
    assert response.json()["error"]["code"] == "storage_job_conflict"
    assert response.json()["error"]["detail"] == {"job_id": emptying.json()["job_id"]}
    with tenant_context(alpha):
        assert Job.objects.filter(kind="storage_migrate").count() == 1


@pytest.mark.parametrize(
    ("role", "status"),
    [(Role.VIEWER, 403), (Role.MEMBER, 403), (Role.ADMIN, 202), (Role.OWNER, 202)],
)
def test_only_storage_managers_move_images(alpha, users, tmp_path, role, status):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = fs_location("archive", tmp_path / "dst")
        (image,) = images_at(source, tenant_slug="alpha", count=1, thumbnails=0)

    response = as_user(users[role]).post(MOVE, {"ids": [str(image.pk)], "target_id": str(target.pk)})

    assert response.status_code == status, response.content
    with tenant_context(alpha):
        assert Job.objects.filter(kind="storage_migrate").count() == (1 if status == 202 else 0)


def test_another_workspaces_images_and_locations_are_invisible(alpha, beta, admin_api, tmp_path):
    with tenant_context(beta):
        beta_disk = fs_location("beta disk", tmp_path / "beta")
        beta_target = fs_location("beta archive", tmp_path / "beta-dst")
        (theirs,) = images_at(beta_disk, tenant_slug="beta", count=1, thumbnails=0)
    with tenant_context(alpha):
        target = fs_location("archive", tmp_path / "dst")

    their_image = admin_api.post(MOVE, {"ids": [str(theirs.pk)], "target_id": str(target.pk)})
    their_location = admin_api.post(MOVE, {"ids": [str(theirs.pk)], "target_id": str(beta_target.pk)})
    alpha_token_on_beta = Api(host(beta), admin_api.headers["HTTP_AUTHORIZATION"]).post(
        MOVE, {"ids": [str(theirs.pk)], "target_id": str(beta_target.pk)}
    )

    assert their_image.status_code == 202
    assert their_image.json() == {
        "jobs": [],
        "moving": 0,
        "already_there": 0,
        "refused": [
            {"id": str(theirs.pk), "reason": "not_found", "message": "No such image in this workspace."}
        ],
    }
    assert their_location.status_code == 400
    assert their_location.json()["error"]["code"] == "storage_target_not_found"
    assert alpha_token_on_beta.status_code == 403
    with tenant_context(beta):
        assert Image.objects.get(pk=theirs.pk).storage_location_id == beta_disk.pk
        assert not Job.objects.filter(kind="storage_migrate").exists()
    with tenant_context(alpha):
        assert not Job.objects.filter(kind="storage_migrate").exists()


# The migration rules the moves rely on: sources are exclusive, targets are shared.


def test_two_migrations_may_fill_one_target_but_a_source_is_one_migrations_alone(alpha, admin_api, tmp_path):
    with tenant_context(alpha):
        disk_a = fs_location("disk a", tmp_path / "a")
        disk_b = fs_location("disk b", tmp_path / "b")
        target = fs_location("archive", tmp_path / "dst")
        other = fs_location("other", tmp_path / "other")
        images_at(disk_a, tenant_slug="alpha", count=1, thumbnails=0)
        images_at(disk_b, tenant_slug="alpha", count=1, thumbnails=0)

    into_target = [
        admin_api.post(migrate_url(alpha, source), {"target_config_id": str(target.pk)})
        for source in (disk_a, disk_b)
    ]
    same_source = admin_api.post(migrate_url(alpha, disk_a), {"target_config_id": str(other.pk)})
    out_of_a_target = admin_api.post(migrate_url(alpha, target), {"target_config_id": str(other.pk)})
    into_a_source = admin_api.post(migrate_url(alpha, other), {"target_config_id": str(disk_a.pk)})

    assert [r.status_code for r in into_target] == [202, 202], [r.content for r in into_target]
    for refused in (same_source, out_of_a_target, into_a_source):
        assert refused.status_code == 409, refused.content
        assert refused.json()["error"]["code"] == "storage_job_conflict"
    with tenant_context(alpha):
        jobs = [job_run(job_id=r.json()["job_id"]) for r in into_target]
        assert [(job.state, job.processed) for job in jobs] == [("done", 1), ("done", 1)]
        assert Image.objects.filter(storage_location=target).count() == 2
        assert Job.objects.filter(kind="storage_migrate").count() == 2


# On the real worker: committed rows, cleaned up after.


def test_moved_images_end_in_the_target_and_read_the_same(
    django_db_setup, django_db_blocker, celery_worker, s3_server, tmp_path
):
    with django_db_blocker.unblock():
        tenant = Tenant.objects.get(slug="alpha")
        admin = UserFactory(tenant=tenant, role=Role.ADMIN, email=f"mover-{uuid.uuid4().hex[:8]}@alpha.test")
        api = as_user(admin)
        with tenant_context(tenant):
            disk = fs_location(f"move disk {uuid.uuid4().hex[:6]}", tmp_path / "src")
            bucket = s3_location(f"move bucket {uuid.uuid4().hex[:6]}", s3_server, s3_server.bucket())
            target = s3_location(f"move target {uuid.uuid4().hex[:6]}", s3_server, s3_server.bucket())
            images = [
                *images_at(disk, tenant_slug="alpha", count=3),
                *images_at(bucket, tenant_slug="alpha", count=2),
            ]
            staying = images.pop(0)
            try:
                before = {image.pk: _download(api, image) for image in images}

                response = api.post(MOVE, {"ids": [str(i.pk) for i in images], "target_id": str(target.pk)})
                assert response.status_code == 202, response.content
                body = response.json()
                job_ids = [job["job_id"] for job in body["jobs"]]
                states = eventually(
                    lambda: _ended(job_ids),
                    timeout=120,
                    interval=0.2,
                    message=lambda: f"the moves did not end: {_states(job_ids)}",
                )

                assert (body["moving"], len(job_ids), body["refused"]) == (4, 2, [])
                assert states == [("done", "")] * 2
                assert where(images) == {image.pk: target.pk for image in images}
                for image in images:
                    assert sha256_at(target, image.storage_key) == image.sha256
                    assert hashlib.sha256(_download(api, image)).hexdigest() == image.sha256
                    assert _download(api, image) == before[image.pk]
                    thumbnails = list(
                        Thumbnail.objects.filter(image=image).values_list("storage_key", flat=True)
                    )
                    assert len(thumbnails) == 2
                    for key in thumbnails:
                        assert storage_for(target).exists(key)
                        assert not storage_for(image.storage_location).exists(key)
                    assert not storage_for(image.storage_location).exists(image.storage_key)
                # the image left behind is whole where it was, and alone there
                assert Image.objects.get(pk=staying.pk).storage_location_id == disk.pk
                staying_keys = [
                    staying.storage_key,
                    *Thumbnail.objects.filter(image=staying).values_list("storage_key", flat=True),
                ]
                src = tmp_path / "src"
                assert sorted(str(p.relative_to(src)) for p in src.rglob("*") if p.is_file()) == sorted(
                    staying_keys
                )
            finally:
                Thumbnail.objects.filter(image_id__in=[i.pk for i in [staying, *images]]).delete()
                for image in Image.objects.select_related("storage_location").filter(
                    pk__in=[i.pk for i in [staying, *images]]
                ):
                    image_purge(image=image, actor=Actor.system(), tenant=tenant)
                Job.objects.filter(kind="storage_migrate", params__target_id=str(target.pk)).delete()
                StorageLocation.objects.filter(pk__in=[disk.pk, bucket.pk, target.pk]).delete()
                admin.delete()  # in the tenant's schema: its uploads' rows are there


def _states(job_ids) -> list[tuple[str, str]]:
    return list(Job.objects.filter(pk__in=job_ids).order_by("created_at").values_list("state", "error"))


def _ended(job_ids) -> list[tuple[str, str]] | None:
    states = _states(job_ids)
    return states if all(state not in Job.ACTIVE for state, _error in states) else None


def _download(api: Api, image: Image) -> bytes:
    response = api.get(f"/api/v1/images/{image.pk}/download")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)
