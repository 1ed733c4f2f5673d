"""Byte-identical copies told apart: marked on the group, found by the Exact filter, split in the
report, removable on their own (dry run, then a job, one undoable resolution); reclaimed bytes only
once purged."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.duplicates.models import Group, GroupStatus, Resolution, TrashedCopy
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
        # of the two identical files the group's suggested keeper stays (the keeper policy's pick)
        keeper = str(group.suggested_keeper_id)
        (gone,) = set(ids[:2]) - {keeper}
        assert keeper in ids[:2] and trashed == {gone}
        group.refresh_from_db()
        assert (group.status, group.member_count, group.exact_copies, group.exact_bytes) == ("open", 2, 0, 0)
        copy = TrashedCopy.objects.get()
        assert (str(copy.image_id), copy.size_bytes, copy.identical) == (gone, sizes[gone], True)
        event = AuditEvent.objects.get(action="duplicates.resolved")
        assert event.details["action"] == "identical_removed"
        assert event.details["trashed"] == [gone]
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


def _state(tenant) -> dict:
    """What an undo may change: images in the trash, group status and figures, trashed copies."""
    with tenant_context(tenant):
        return {
            "trashed": set(
                map(str, Image.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True))
            ),
            "groups": {
                str(g.pk): (g.status, g.member_count, g.exact_copies, g.exact_bytes)
                for g in Group.objects.all()
            },
            "copies": set(map(str, TrashedCopy.objects.values_list("image_id", flat=True))),
        }


def test_remove_identical_is_one_undoable_resolution_and_undo_restores_the_copies(
    alpha, mixed, member_api, admin_api, users
):
    group, _ids, _sizes = mixed
    same = [ingest(alpha, member_api, f"same-{n}.jpg", jpeg_bytes(photo(4))) for n in range(3)]
    before = _state(alpha)
    response = admin_api.post("duplicates/remove-identical", {"dry_run": False})
    with tenant_context(alpha):
        job_run(job_id=response.json()["id"])
        only_identical = Group.objects.get(members__image_id=same[0])
    resolution_id = admin_api.get(f"duplicates/jobs/{response.json()['id']}").json()["resolution_id"]
    after = _state(alpha)
    assert len(after["trashed"]) == 3  # one copy from the mixed group, two of the three same files
    assert after["groups"][str(only_identical.pk)][0] == "resolved"
    assert after["groups"][str(group.pk)] == ("open", 2, 0, 0)
    with tenant_context(alpha):
        resolution = Resolution.objects.get(pk=resolution_id)
        assert (resolution.source, str(resolution.job_id)) == ("identical", response.json()["id"])
        assert {str(i) for i in resolution.trashed_ids} == after["trashed"]
        assert {str(g) for g in resolution.group_ids} == {str(group.pk), str(only_identical.pk)}
    # the review page offers Undo on the job
    page = signed_in(alpha, users[Role.ADMIN].email).get("/duplicates/").content.decode()
    assert (
        f'action="/duplicates/resolutions/{resolution_id}/undo/"' in page and 'data-testid="undo-job"' in page
    )

    undo = admin_api.post(f"duplicates/resolutions/{resolution_id}/undo")

    assert undo.status_code == 200, undo.content
    assert (undo.json()["source"], undo.json()["undoable"]) == ("identical", False)
    assert _state(alpha) == before  # every copy back, both groups open with their identical copies
    with tenant_context(alpha):
        event = AuditEvent.objects.get(action="duplicates.resolution_undone")
        assert set(event.details["restored"]) == after["trashed"]
        assert event.details["reopened"] == [str(only_identical.pk)]
    assert admin_api.get("duplicates/groups", {"kind": "exact"}).json()["count"] == 2


def test_undo_of_remove_identical_is_refused_once_the_copy_was_purged_and_changes_nothing(
    alpha, mixed, admin_api
):
    _group, _ids, _sizes = mixed
    job_id = admin_api.post("duplicates/remove-identical", {"dry_run": False}).json()["id"]
    with tenant_context(alpha):
        job_run(job_id=job_id)
        resolution = Resolution.objects.get(job_id=job_id)
        (gone,) = resolution.trashed_ids
        image_purge(image=Image.objects.get(pk=gone), actor=Actor.system(), tenant=alpha)
    before = _state(alpha)
    assert admin_api.get(f"duplicates/jobs/{job_id}").json()["resolution_id"] == str(resolution.pk)

    refused = admin_api.post(f"duplicates/resolutions/{resolution.pk}/undo")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "resolution_not_undoable"
    assert _state(alpha) == before
    with tenant_context(alpha):
        assert Resolution.objects.get(pk=resolution.pk).undone_at is None
        assert not AuditEvent.objects.filter(action="duplicates.resolution_undone").exists()


def test_undo_of_remove_identical_leaves_a_group_resolved_since_to_its_own_resolution(
    alpha, mixed, admin_api
):
    group, ids, _sizes = mixed
    job_id = admin_api.post("duplicates/remove-identical", {"dry_run": False}).json()["id"]
    with tenant_context(alpha):
        job_run(job_id=job_id)
        resolution = Resolution.objects.get(job_id=job_id)
        (copy,) = map(str, resolution.trashed_ids)
    # the group stayed open with the near copy; someone resolves it afterwards
    resolved = admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [ids[2]]}).json()
    trashed_then = _state(alpha)["trashed"]

    undo = admin_api.post(f"duplicates/resolutions/{resolution.pk}/undo")

    assert undo.status_code == 200, undo.content
    state = _state(alpha)
    assert state["trashed"] == trashed_then - {copy}  # only the identical copy comes back
    assert state["groups"][str(group.pk)][0] == "resolved"  # still the later resolution's
    later = admin_api.get(f"duplicates/groups/{group.pk}").json()
    assert later["resolution_id"] == resolved["resolution_id"]
    assert admin_api.post(f"duplicates/resolutions/{resolved['resolution_id']}/undo").status_code == 200
    assert _state(alpha)["groups"][str(group.pk)][0] == "open"
