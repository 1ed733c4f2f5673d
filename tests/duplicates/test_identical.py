"""Byte-identical copies told apart: marked on the group, found by the Exact filter, split in the
report, removable on their own (dry run, then a job); reclaimed bytes only once purged."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.duplicates.models import Group, GroupStatus, TrashedCopy
from apps.images.models import Image
from apps.images.services import image_purge
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from tests.api import as_user
from tests.conftest import signed_in
from tests.duplicates.conftest import VARIANTS, ingest, jpeg_bytes, photo


@pytest.fixture
def mixed(alpha, member_api):
    """One open group: a JPEG, a byte-identical copy of it under another name, and a PNG of it."""
    img = photo(3)
    data = jpeg_bytes(img)
    ids = [
        ingest(alpha, member_api, "original.jpg", data),
        ingest(alpha, member_api, "copy of original.jpg", data),
        ingest(alpha, member_api, "converted.png", VARIANTS["png"](img)),
    ]
    with tenant_context(alpha):
        group = Group.objects.get(status=GroupStatus.OPEN)
        sizes = dict(Image.objects.values_list("pk", "size_bytes"))
    return group, ids, {str(k): v for k, v in sizes.items()}


def test_identical_members_are_marked_in_the_api(mixed, admin_api):
    group, ids, sizes = mixed
    body = admin_api.get(f"duplicates/groups/{group.pk}").json()
    members = {m["image_id"]: m for m in body["members"]}
    assert body["kind"] == "near"
    assert (body["exact_copies"], body["exact_bytes"]) == (1, sizes[ids[0]])
    assert members[ids[0]]["exact_set"] == members[ids[1]]["exact_set"] == 1
    assert members[ids[0]]["identical_to"] == [ids[1]]
    assert members[ids[1]]["identical_to"] == [ids[0]]
    assert members[ids[0]]["sha256"] == members[ids[1]]["sha256"]
    assert members[ids[2]]["exact_set"] is None and members[ids[2]]["identical_to"] == []


def test_the_exact_filter_finds_a_group_that_also_holds_near_copies(mixed, admin_api):
    group, _ids, _sizes = mixed
    exact = admin_api.get("duplicates/groups", {"kind": "exact"}).json()
    near = admin_api.get("duplicates/groups", {"kind": "near"}).json()
    similar = admin_api.get("duplicates/groups", {"kind": "similar"}).json()
    assert [g["id"] for g in exact["results"]] == [str(group.pk)]
    assert [g["id"] for g in near["results"]] == [str(group.pk)]
    assert similar["count"] == 0


def test_the_report_splits_reclaimable_bytes_into_exact_and_near_by_member(mixed, admin_api):
    group, ids, sizes = mixed
    report = admin_api.get("duplicates/report").json()
    assert report["reclaimable_bytes"] == group.reclaimable_bytes
    assert report["by_kind"] == {
        "exact": sizes[ids[0]],
        "near": group.reclaimable_bytes - sizes[ids[0]],
        "similar": 0,
    }
    assert report["by_kind"]["exact"] + report["by_kind"]["near"] == report["reclaimable_bytes"]


def test_remove_identical_dry_run_changes_nothing(alpha, mixed, admin_api):
    group, ids, sizes = mixed
    response = admin_api.post("duplicates/remove-identical", {})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["dry_run"], body["groups"], body["images_to_trash"]) == (True, 1, 1)
    assert body["reclaimable_bytes"] == sizes[ids[0]]
    assert body["sample"][0]["group_id"] == str(group.pk)
    with tenant_context(alpha):
        assert not Image.objects.filter(deleted_at__isnull=False).exists()
        assert not Job.objects.exists() and not TrashedCopy.objects.exists()
        assert not AuditEvent.objects.filter(action="duplicates.resolved").exists()


def test_remove_identical_trashes_only_the_copy_and_leaves_the_near_copy_for_review(alpha, mixed, admin_api):
    group, ids, sizes = mixed
    response = admin_api.post("duplicates/remove-identical", {"dry_run": False})
    assert response.status_code == 202, response.content
    assert response.json()["kind"] == "duplicates_remove_identical"
    with tenant_context(alpha):
        job = job_run(job_id=response.json()["id"])
        assert (job.state, job.total, job.processed, job.failed) == ("done", 1, 1, 0)
        trashed = set(map(str, Image.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True)))
        # which of the two identical files stays: the one the keeper policy prefers (here the older)
        assert trashed == {ids[1]}
        group.refresh_from_db()
        assert (group.status, group.member_count, group.exact_copies, group.exact_bytes) == ("open", 2, 0, 0)
        copy = TrashedCopy.objects.get()
        assert (str(copy.image_id), copy.size_bytes, copy.identical) == (ids[1], sizes[ids[1]], True)
        event = AuditEvent.objects.get(action="duplicates.resolved")
        assert event.details["action"] == "identical_removed"
        assert event.details["trashed"] == [ids[1]]
    assert admin_api.get("duplicates/groups", {"kind": "exact"}).json()["count"] == 0
    # a second run finds nothing to do
    again = admin_api.post("duplicates/remove-identical", {}).json()
    assert (again["groups"], again["images_to_trash"]) == (0, 0)


def test_remove_identical_resolves_a_group_of_identical_files_only(alpha, member_api, admin_api):
    data = jpeg_bytes(photo(4))
    ids = [ingest(alpha, member_api, f"same-{n}.jpg", data) for n in range(3)]
    response = admin_api.post("duplicates/remove-identical", {"dry_run": False})
    with tenant_context(alpha):
        job_run(job_id=response.json()["id"])
        group = Group.objects.get()
        assert group.status == GroupStatus.RESOLVED
        assert sorted(
            map(str, Image.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True))
        ) == sorted(ids[1:])
        assert TrashedCopy.objects.filter(identical=True).count() == 2


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_only_managers_remove_identical_copies(alpha, mixed, users, role):
    response = as_user(users[role]).post("duplicates/remove-identical", {"dry_run": False})
    assert response.status_code == 403
    with tenant_context(alpha):
        assert not Job.objects.exists()
        assert not Image.objects.filter(deleted_at__isnull=False).exists()


def test_another_tenants_credentials_cannot_remove_identical_copies(alpha, beta, mixed, users):
    response = as_user(users[Role.ADMIN], tenant=beta).post("duplicates/remove-identical", {"dry_run": False})
    assert response.status_code == 403
    own = as_user(users["beta_member"]).get("duplicates/groups", {"kind": "exact"}).json()
    assert own["count"] == 0
    with tenant_context(alpha):
        assert not Job.objects.exists()
        assert not Image.objects.filter(deleted_at__isnull=False).exists()


def test_reclaimed_counts_only_purged_bytes_and_the_trash_shows_when_it_is_freed(alpha, mixed, admin_api):
    group, ids, sizes = mixed
    assert admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [ids[2]]}).status_code == 200
    today = timezone.localdate()
    report = admin_api.get("duplicates/report").json()
    trashed = sizes[ids[0]] + sizes[ids[1]]
    assert (report["reclaimed_bytes"], report["in_trash_bytes"]) == (0, trashed)
    assert report["in_trash"] == [{"freed_on": str(today + timedelta(days=30)), "bytes": trashed}]
    detail = admin_api.get(f"duplicates/groups/{group.pk}").json()
    assert (detail["reclaimed_bytes"], detail["in_trash_bytes"]) == (0, trashed)
    assert detail["freed_on"] == str(today + timedelta(days=30))

    with tenant_context(alpha):
        image_purge(image=Image.objects.get(pk=ids[0]), actor=Actor.system(), tenant=alpha)
    report = admin_api.get("duplicates/report").json()
    assert (report["reclaimed_bytes"], report["in_trash_bytes"]) == (sizes[ids[0]], sizes[ids[1]])
    assert report["reclaimed_identical_bytes"] == 0  # the keeper is the PNG: not identical to it
    detail = admin_api.get(f"duplicates/groups/{group.pk}").json()
    assert (detail["reclaimed_bytes"], detail["in_trash_bytes"]) == (sizes[ids[0]], sizes[ids[1]])

    # restored: neither reclaimed nor in the trash
    assert admin_api.post(f"images/{ids[1]}/restore").status_code == 200
    report = admin_api.get("duplicates/report").json()
    assert (report["reclaimed_bytes"], report["in_trash_bytes"], report["in_trash"]) == (sizes[ids[0]], 0, [])


def test_the_review_page_marks_identical_members_and_previews_their_removal(alpha, mixed, users):
    _group, _ids, _sizes = mixed
    client = signed_in(alpha, users[Role.ADMIN].email)
    html = client.get("/duplicates/?kind=exact").content.decode()
    assert html.count('data-testid="member"') == 3
    assert html.count('data-testid="identical" data-set="1"') == 2
    assert "1 identical copy" in html
    preview = client.get("/duplicates/?identical=1").content.decode()
    assert 'data-testid="identical-preview"' in preview and "Nothing has changed yet" in preview
    assert "Move 1 identical copy to the trash" in preview
    response = client.post("/duplicates/bulk/", {"action": "remove_identical"})
    assert response.status_code == 302
    with tenant_context(alpha):
        job = Job.objects.get()
        assert job.kind == "duplicates_remove_identical"
        assert not Image.objects.filter(deleted_at__isnull=False).exists()
    page = client.get("/duplicates/").content.decode()
    assert f'data-job="{job.pk}" data-state="queued"' in page
    assert "0 of 0" not in page and "Queued — waiting for a worker" in page


def test_the_report_page_shows_trash_bytes_with_their_date(alpha, mixed, admin_api, users):
    group, ids, _sizes = mixed
    admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [ids[2]]})
    html = signed_in(alpha, users[Role.ADMIN].email).get("/duplicates/report/").content.decode()
    freed = (timezone.localdate() + timedelta(days=30)).isoformat()
    assert f"In trash, freed on {freed}" in html
    assert "0\xa0bytes</strong> won so far" in html  # filesizeformat joins with a no-break space
