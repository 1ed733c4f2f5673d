"""GET /jobs/{id} and POST /jobs/{id}/cancel: any kind, by the kind's permissions, per tenant."""

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from apps.jobs.services import job_create
from tests.api import as_user


def _job(tenant, kind: str, **params) -> Job:
    with tenant_context(tenant):
        return job_create(kind=kind, actor=Actor.system(), params=params)


def test_a_queued_thumbnails_job_is_cancelled_and_never_runs(alpha, admin_api):
    job = _job(alpha, "thumbnails_regenerate")

    response = admin_api.post(f"jobs/{job.pk}/cancel")

    assert response.status_code == 200, response.content
    assert (response.json()["id"], response.json()["state"]) == (str(job.pk), "cancelled")
    with tenant_context(alpha):
        assert job_run(job_id=job.pk).state == "cancelled"
        job.refresh_from_db()
        event = AuditEvent.objects.get(action="job.cancelled")
    assert (job.state, job.started_at, job.processed) == ("cancelled", None, 0)
    assert (event.target_type, event.target_id, event.details) == (
        "jobs.job",
        str(job.pk),
        {"kind": "thumbnails_regenerate"},
    )


def test_a_running_job_stops_at_its_next_heartbeat(alpha, test_kinds, users):
    """Cancelled while it runs (here: by itself, during its second step): the heartbeat records the
    step it finished, then stops the runner; what it did stays done."""
    from apps.jobs import registry
    from apps.jobs.services import job_cancel

    def cancel_after_one_step(ctx):
        ctx.heartbeat(processed=1)
        job_cancel(job=ctx.job, actor=Actor(user=users["admin"]))
        ctx.heartbeat(processed=1)
        raise AssertionError("not reached: the heartbeat raises once the job is cancelled")

    registry.job_kind_register(
        kind="test_count",
        label="x",
        runner=cancel_after_one_step,
        permission="images.view",
        queue="maintenance",
    )
    job = _job(alpha, "test_count")
    with tenant_context(alpha):
        stopped = job_run(job_id=job.pk)

    assert (stopped.state, stopped.processed) == ("cancelled", 2)


def test_a_finished_job_cannot_be_cancelled(alpha, admin_api):
    job = _job(alpha, "duplicates_rescan")
    with tenant_context(alpha):
        Job.objects.filter(pk=job.pk).update(state="done")

    response = admin_api.post(f"jobs/{job.pk}/cancel")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_conflict"
    with tenant_context(alpha):
        assert Job.objects.get(pk=job.pk).state == "done"
        assert not AuditEvent.objects.filter(action="job.cancelled").exists()


@pytest.mark.parametrize(
    ("role", "kind", "seen", "cancel"),
    [
        (Role.VIEWER, "thumbnails_apply", 200, 403),
        (Role.VIEWER, "search_embed", 200, 403),
        (Role.VIEWER, "storage_migrate", 404, 404),
        (Role.VIEWER, "duplicates_rescan", 404, 404),
        (Role.MEMBER, "duplicates_rescan", 404, 404),
        (Role.ADMIN, "storage_scan", 200, 200),
        (Role.ADMIN, "search_embed", 200, 200),
    ],
)
def test_a_job_is_seen_and_cancelled_by_its_kinds_permissions(alpha, users, role, kind, seen, cancel):
    job = _job(alpha, kind)
    api = as_user(users[role])

    assert api.get(f"jobs/{job.pk}").status_code == seen
    assert api.post(f"jobs/{job.pk}/cancel").status_code == cancel
    with tenant_context(alpha):
        assert Job.objects.get(pk=job.pk).state == ("cancelled" if cancel == 200 else "queued")


def test_another_tenants_job_is_not_found(alpha, beta, users):
    job = _job(beta, "thumbnails_apply")
    api = as_user(users["admin"])

    assert api.get(f"jobs/{job.pk}").json()["error"]["code"] == "job_not_found"
    assert api.post(f"jobs/{job.pk}/cancel").status_code == 404
    with tenant_context(beta):
        assert Job.objects.get(pk=job.pk).state == "queued"


def test_the_job_answer_keeps_its_fields(alpha, viewer_api):
    job = _job(alpha, "thumbnails_apply")

    body = viewer_api.get(f"jobs/{job.pk}").json()

    assert set(body) == {
        "id", "kind", "state", "total", "processed", "failed", "progress", "error",
        "created_at", "started_at", "finished_at",
    }  # fmt: skip
    assert (body["kind"], body["state"], body["progress"]) == ("thumbnails_apply", "queued", 0.0)
