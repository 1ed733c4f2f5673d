"""GET /jobs: one list of the workspace's jobs of every kind, filtered by kind and state, paginated,
holding only the kinds the caller may see."""

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.jobs.models import Job
from apps.jobs.services import job_create
from tests.api import Api, api_key_for, as_user, host


def _job(tenant, kind: str, actor=None, **fields) -> Job:
    with tenant_context(tenant):
        job = job_create(kind=kind, actor=actor or Actor.system())
        if fields:
            Job.objects.filter(pk=job.pk).update(**fields)
        return job


@pytest.fixture
def mixed_jobs(alpha, users):
    return {
        "thumbnails": _job(alpha, "thumbnails_apply", Actor(user=users["admin"])),
        "rescan": _job(alpha, "duplicates_rescan", state="done"),
        "scan": _job(alpha, "storage_scan", state="running"),
        "embed": _job(alpha, "search_embed", state="failed", error="model missing"),
    }


@pytest.mark.parametrize(
    ("role", "kinds"),
    [
        (Role.VIEWER, {"thumbnails_apply", "search_embed"}),
        (Role.MEMBER, {"thumbnails_apply", "search_embed"}),
        (Role.ADMIN, {"thumbnails_apply", "search_embed", "duplicates_rescan", "storage_scan"}),
    ],
)
def test_each_role_lists_only_the_kinds_it_may_see(users, mixed_jobs, role, kinds):
    body = as_user(users[role]).get("jobs").json()

    assert {job["kind"] for job in body["results"]} == kinds
    assert body["count"] == len(kinds)


def test_a_storage_key_lists_storage_jobs_only(alpha, users, mixed_jobs):
    key = api_key_for(tenant=alpha, creator=users["owner"], scopes=["storage"])

    body = Api(host(alpha), key).get("jobs").json()

    assert [job["kind"] for job in body["results"]] == ["storage_scan"]


def test_the_list_filters_by_kind_and_state_and_pages(users, mixed_jobs):
    api = as_user(users["admin"])

    assert [j["id"] for j in api.get("jobs", {"kind": "storage_scan"}).json()["results"]] == [
        str(mixed_jobs["scan"].pk)
    ]
    failed = api.get("jobs", {"state": "failed"}).json()["results"]
    assert [(j["kind"], j["error"]) for j in failed] == [("search_embed", "model missing")]
    first = api.get("jobs", {"limit": 2}).json()
    second = api.get("jobs", {"limit": 2, "offset": 2}).json()
    assert first["count"] == 4
    assert len({j["id"] for j in first["results"] + second["results"]}) == 4


def test_a_row_says_who_started_it_and_whether_the_caller_may_cancel(users, mixed_jobs):
    rows = {j["kind"]: j for j in as_user(users["admin"]).get("jobs").json()["results"]}
    viewer_rows = {j["kind"]: j for j in as_user(users["viewer"]).get("jobs").json()["results"]}

    assert rows["thumbnails_apply"]["created_by"] == "admin@alpha.test"
    assert rows["thumbnails_apply"]["kind_label"]
    assert rows["duplicates_rescan"]["created_by"] is None
    assert (rows["thumbnails_apply"]["can_cancel"], rows["storage_scan"]["can_cancel"]) == (True, True)
    assert (rows["duplicates_rescan"]["can_cancel"], rows["search_embed"]["can_cancel"]) == (False, False)
    assert viewer_rows["thumbnails_apply"]["can_cancel"] is False


@pytest.mark.parametrize(
    ("query", "code"),
    [({"kind": "coffee"}, "job_kind_unknown"), ({"state": "sleeping"}, "job_state_unknown")],
)
def test_an_unknown_filter_value_is_a_clear_400(users, mixed_jobs, query, code):
    response = as_user(users["admin"]).get("jobs", query)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_another_tenants_jobs_are_never_listed(alpha, beta, users, mixed_jobs):
    _job(beta, "thumbnails_apply")

    assert as_user(users["beta_member"]).get("jobs").json()["count"] == 1
    listed = {j["id"] for j in as_user(users["admin"]).get("jobs").json()["results"]}
    assert listed == {str(job.pk) for job in mixed_jobs.values()}
    assert as_user(users["admin"], tenant=beta).get("jobs").status_code in (401, 403)


def test_the_list_takes_as_many_queries_for_2n_jobs_as_for_n(alpha, users):
    from itertools import count

    from tests.factories import UserFactory
    from tests.query_counts import N, assert_flat_queries

    serial = count(1)
    api = as_user(users["admin"])

    def add():
        for _ in range(N):
            starter = UserFactory(tenant=alpha, role=Role.ADMIN, email=f"qc-job-{next(serial)}@alpha.test")
            _job(alpha, "thumbnails_apply", Actor(user=starter))

    def listed() -> int:
        response = api.get("jobs", {"limit": 500})
        assert response.status_code == 200
        return response.json()["count"]

    assert_flat_queries(listed=listed, add=add)
