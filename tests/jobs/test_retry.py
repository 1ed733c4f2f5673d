"""POST /jobs/{id}/retry: a failed or cancelled job starts again as a new job with the same input,
for kinds where that makes sense, by whoever may manage its kind; audited."""

import pytest
from django_tenants.utils import tenant_context

from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.jobs.services import job_create
from tests.api import as_user


def _job(tenant, kind: str, params=None, **fields) -> Job:
    with tenant_context(tenant):
        job = job_create(kind=kind, actor=Actor.system(), params=params)
        Job.objects.filter(pk=job.pk).update(**fields)
        job.refresh_from_db()
        return job


def test_a_failed_job_is_retried_as_a_new_job_with_its_input_and_audited(alpha, users):
    old = _job(
        alpha,
        "duplicates_resolve_all",
        {"kind": None, "policy": "keep_best", "merge_tags": True, "cursor": "abc", "resolved": 7},
        state="failed",
        error="worker lost",
    )
    admin = as_user(users["admin"])

    response = admin.post(f"jobs/{old.pk}/retry")

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["id"] != str(old.pk)
    assert (body["kind"], body["state"], body["status_url"]) == (
        "duplicates_resolve_all",
        "queued",
        f"/api/v1/jobs/{body['id']}",
    )
    with tenant_context(alpha):
        new = Job.objects.get(pk=body["id"])
        assert new.params == {
            "kind": None,
            "policy": "keep_best",
            "merge_tags": True,
            "retry_of": str(old.pk),
        }
        assert new.created_by == users["admin"]
        event = AuditEvent.objects.get(action="job.retried")
    assert (event.target_id, event.details["retry_of"]) == (str(new.pk), str(old.pk))
    listed = {j["id"]: j for j in admin.get("jobs").json()["results"]}
    assert (listed[str(old.pk)]["can_retry"], listed[str(new.pk)]["can_retry"]) == (True, False)


def test_a_cancelled_job_may_be_retried_too(alpha, users):
    old = _job(alpha, "thumbnails_regenerate", {"image_ids": ["x"]}, state="cancelled")

    response = as_user(users["admin"]).post(f"jobs/{old.pk}/retry")

    assert response.status_code == 202
    with tenant_context(alpha):
        assert Job.objects.get(pk=response.json()["id"]).params["image_ids"] == ["x"]


@pytest.mark.parametrize("state", ["queued", "running", "done"])
def test_only_failed_or_cancelled_jobs_are_retried(alpha, users, state):
    old = _job(alpha, "thumbnails_apply", state=state)

    response = as_user(users["admin"]).post(f"jobs/{old.pk}/retry")

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "job_conflict"
    with tenant_context(alpha):
        assert Job.objects.count() == 1


def test_kinds_that_cannot_be_retried_answer_409(alpha, users):
    old = _job(alpha, "storage_migrate", {"location_id": "a", "target_id": "b"}, state="failed")

    response = as_user(users["owner"]).post(f"jobs/{old.pk}/retry")

    assert response.status_code == 409
    assert "cannot be retried" in response.json()["error"]["message"]


def test_a_single_flight_kind_is_not_retried_while_one_runs(alpha, users):
    old = _job(alpha, "duplicates_rescan", state="failed")
    running = _job(alpha, "duplicates_rescan", state="running")

    response = as_user(users["admin"]).post(f"jobs/{old.pk}/retry")

    assert response.status_code == 409
    assert str(running.pk) in str(response.json())


def test_the_kinds_manage_permission_is_needed_and_others_tenants_jobs_are_not_found(alpha, beta, users):
    thumbnails = _job(alpha, "thumbnails_apply", state="failed")
    rescan = _job(alpha, "duplicates_rescan", state="failed")
    elsewhere = _job(beta, "thumbnails_apply", state="failed")

    member = as_user(users["member"])
    assert member.post(f"jobs/{thumbnails.pk}/retry").status_code == 403  # sees it, may not manage
    assert member.post(f"jobs/{rescan.pk}/retry").status_code == 404  # may not see the kind
    assert as_user(users["beta_member"]).post(f"jobs/{thumbnails.pk}/retry").status_code == 404
    assert as_user(users["admin"]).post(f"jobs/{elsewhere.pk}/retry").status_code == 404
    with tenant_context(alpha):
        assert Job.objects.count() == 2
