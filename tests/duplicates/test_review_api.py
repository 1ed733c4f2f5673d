"""Review through the API: resolve and restore, dismissals that stay dismissed, dry runs, jobs,
the report, and isolation across tenants and roles."""

from uuid import UUID

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.models import AuditEvent
from apps.duplicates.models import Dismissal, Group, GroupStatus
from apps.duplicates.services import image_detect
from apps.duplicates.services.rescan import groups_rebuild
from apps.images.models import Image
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from tests.api import as_user
from tests.duplicates.conftest import VARIANTS, ingest, jpeg_bytes, photo


@pytest.fixture
def group(alpha, member_api):
    """An open group of three: a JPEG original, its mirror image and a PNG of it (the keeper is the
    JPEG: the PNG holds its pixels, and the mirror was uploaded later)."""
    img = photo(2)
    ids = [
        ingest(alpha, member_api, "original.jpg", jpeg_bytes(img)),
        ingest(alpha, member_api, "mirror.jpg", VARIANTS["hflip"](img)),
        ingest(alpha, member_api, "copy.png", VARIANTS["png"](img)),
    ]
    with tenant_context(alpha):
        g = Group.objects.get(status=GroupStatus.OPEN)
    return g, ids


def test_the_group_list_shows_members_with_the_suggested_keeper_and_reason(alpha, group, admin_api):
    g, ids = group
    response = admin_api.get("duplicates/groups", {"kind": "near", "sort": "reclaimable"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 1
    listed = body["results"][0]
    assert listed["id"] == str(g.pk)
    assert {m["image_id"] for m in listed["members"]} == set(ids)
    keeper = [m for m in listed["members"] if m["suggested_keeper"]]
    assert [k["image_id"] for k in keeper] == [ids[0]]
    assert listed["keeper_reason"] == "original: the PNG is a conversion of this JPEG"
    with tenant_context(alpha):
        sizes = dict(Image.objects.values_list("pk", "size_bytes"))
    assert listed["reclaimable_bytes"] == sum(sizes.values()) - sizes[g.suggested_keeper_id]


def test_bad_list_parameters_get_a_400(group, admin_api):
    response = admin_api.get("duplicates/groups", {"sort": "size; drop table"})
    assert response.status_code == 400


def test_resolving_trashes_the_others_restorably_and_is_audited(alpha, group, admin_api):
    g, ids = group
    response = admin_api.post(f"duplicates/groups/{g.pk}/resolve", {"keep": [ids[0]], "merge_tags": True})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "resolved"
    with tenant_context(alpha):
        deleted = set(Image.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True))
        assert {str(i) for i in deleted} == {ids[1], ids[2]}
        event = AuditEvent.objects.filter(action="duplicates.resolved").get()
        assert event.details["kept"] == [ids[0]]
        assert sorted(event.details["trashed"]) == sorted([ids[1], ids[2]])
    # restorable through the images API
    restored = admin_api.post(f"images/{ids[1]}/restore")
    assert restored.status_code == 200, restored.content
    with tenant_context(alpha):
        assert Image.objects.get(pk=ids[1]).deleted_at is None
        assert Group.objects.get(pk=g.pk).status == GroupStatus.RESOLVED


def test_resolve_refuses_a_keeper_outside_the_group_and_changes_nothing(alpha, group, admin_api):
    g, _ids = group
    response = admin_api.post(
        f"duplicates/groups/{g.pk}/resolve", {"keep": ["00000000-0000-0000-0000-000000000001"]}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_keep"
    with tenant_context(alpha):
        assert not Image.objects.filter(deleted_at__isnull=False).exists()
        assert Group.objects.get(pk=g.pk).status == GroupStatus.OPEN


def test_a_dismissed_group_never_comes_back(alpha, group, admin_api):
    g, ids = group
    response = admin_api.post(f"duplicates/groups/{g.pk}/dismiss")
    assert response.status_code == 200
    with tenant_context(alpha):
        assert Dismissal.objects.count() == 3
        for image_id in ids:  # incremental detection again
            image_detect(image_id=image_id)
        assert not Group.objects.filter(status=GroupStatus.OPEN).exists()
        from apps.duplicates.candidates import Decision
        from apps.duplicates.models import Pair

        # a full rebuild with the same pairs
        found = {
            (p.image_a_id, p.image_b_id): Decision(p.kind, p.signal, p.score) for p in Pair.objects.all()
        }
        groups_rebuild(found=found)
        assert not Group.objects.filter(status=GroupStatus.OPEN).exists()
    assert admin_api.get("duplicates/groups").json()["count"] == 0
    again = admin_api.post(f"duplicates/groups/{g.pk}/dismiss")
    assert again.status_code == 409


def test_resolve_all_dry_run_changes_nothing_and_previews_the_bytes(alpha, group, admin_api):
    g, _ids = group
    response = admin_api.post("duplicates/resolve-all", {"kind": "near", "dry_run": True})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["groups"] == 1 and body["images_to_trash"] == 2
    assert body["reclaimable_bytes"] == g.reclaimable_bytes
    with tenant_context(alpha):
        assert not Image.objects.filter(deleted_at__isnull=False).exists()
        assert not Job.objects.exists()


def test_resolve_all_runs_as_a_job_with_progress(alpha, group, admin_api):
    _g, ids = group
    response = admin_api.post("duplicates/resolve-all", {"dry_run": False})
    assert response.status_code == 202
    job_id = response.json()["id"]
    with tenant_context(alpha):
        job = job_run(job_id=job_id)
        assert job.state == "done" and job.processed == 1
        assert set(map(str, Image.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True))) == {
            ids[1],
            ids[2],
        }
    status = admin_api.get(f"duplicates/jobs/{job_id}").json()
    assert status["progress"] == 1.0
    report = admin_api.get("duplicates/report").json()
    # trashed, not yet freed: the bytes are in the trash until purged
    with tenant_context(alpha):
        trashed = sum(Image.objects.filter(pk__in=ids[:2]).values_list("size_bytes", flat=True))
    assert report["groups"] == 0 and report["reclaimed_bytes"] == 0
    assert report["in_trash_bytes"] == trashed


def test_rescan_rebuilds_the_same_group(alpha, group, admin_api):
    _g, _ids = group
    response = admin_api.post("duplicates/rescan")
    assert response.status_code == 202
    with tenant_context(alpha):
        job = job_run(job_id=response.json()["id"])
        assert job.state == "done" and job.processed == 3
        groups = list(Group.objects.filter(status=GroupStatus.OPEN))
        assert len(groups) == 1 and groups[0].member_count == 3


def test_the_report_counts_bytes_by_kind_and_location(group, admin_api):
    g, _ids = group
    report = admin_api.get("duplicates/report").json()
    assert report["groups"] == 1
    assert report["duplicate_images"] == 2
    assert report["reclaimable_bytes"] == g.reclaimable_bytes
    assert report["by_kind"]["near"] == g.reclaimable_bytes
    assert report["by_storage_location"] == {"Local files": g.reclaimable_bytes}
    assert report["reclaimed_bytes"] == 0


def test_search_duplicates_finds_the_stored_copies_without_storing(alpha, group, member_api):
    _g, ids = group
    from tests.images.conftest import uploaded

    before = None
    with tenant_context(alpha):
        before = Image.objects.count()
    data = VARIANTS["crop_60"](photo(2))
    response = member_api.client.post(
        "/api/v1/search/duplicates", {"file": uploaded("q.jpg", data)}, **member_api.headers
    )
    assert response.status_code == 200, response.content
    assert {r["image_id"] for r in response.json()["results"]} == set(ids)
    with tenant_context(alpha):
        assert Image.objects.count() == before
    bad = member_api.client.post(
        "/api/v1/search/duplicates", {"file": uploaded("q.jpg", b"not an image")}, **member_api.headers
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "not_an_image"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_only_managers_resolve_dismiss_or_start_jobs(alpha, group, users, role):
    g, ids = group
    api = as_user(users[role])
    assert api.get(f"duplicates/groups/{g.pk}").status_code == 200
    for path, data in [
        (f"duplicates/groups/{g.pk}/resolve", {"keep": [ids[0]]}),
        (f"duplicates/groups/{g.pk}/dismiss", {}),
        ("duplicates/resolve-all", {"dry_run": False}),
        ("duplicates/rescan", {}),
    ]:
        assert api.post(path, data).status_code == 403, path
    with tenant_context(alpha):
        assert Group.objects.get(pk=g.pk).status == GroupStatus.OPEN
        assert not Image.objects.filter(deleted_at__isnull=False).exists()


def test_another_tenant_sees_none_of_the_groups(alpha, beta, group, users):
    g, _ids = group
    api = as_user(users["beta_member"])
    assert api.get("duplicates/groups").json()["count"] == 0
    assert api.get(f"duplicates/groups/{g.pk}").status_code == 404
    assert api.get("duplicates/report").json()["groups"] == 0
    with tenant_context(alpha):
        assert Group.objects.get(pk=g.pk).status == GroupStatus.OPEN


def test_trashing_a_member_elsewhere_updates_the_group_and_the_report(alpha, group, admin_api):
    g, ids = group
    assert admin_api.delete(f"images/{ids[1]}").status_code == 204
    body = admin_api.get(f"duplicates/groups/{g.pk}").json()
    assert body["member_count"] == 2
    with tenant_context(alpha):
        sizes = dict(Image.objects.values_list("pk", "size_bytes"))
    assert body["suggested_keeper"] == ids[0]
    assert body["reclaimable_bytes"] == sizes[UUID(ids[2])]
    assert admin_api.post(f"images/{ids[1]}/restore").status_code == 200
    assert admin_api.get(f"duplicates/groups/{g.pk}").json()["member_count"] == 3
