"""Undo: every resolution (one group, resolve all) is one undoable action; undo restores what it
trashed that is still in the trash and reopens its groups, and changes nothing else; refused undos
change nothing at all."""

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditEvent
from apps.duplicates.models import Group, GroupStatus, Member, Resolution
from apps.images.models import Image
from apps.images.services import image_purge
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from tests.api import Api, as_user, bearer_for, host
from tests.conftest import signed_in
from tests.duplicates.conftest import VARIANTS, ingest, jpeg_bytes, photo
from tests.factories import UserFactory


def _trashed(tenant) -> set[str]:
    with tenant_context(tenant):
        return {str(i) for i in Image.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True)}


def _statuses(tenant) -> dict[str, str]:
    with tenant_context(tenant):
        return {str(g.pk): g.status for g in Group.objects.all()}


@pytest.fixture
def two_groups(alpha, member_api):
    """Two open groups of two (JPEG + its PNG), and a lone image already in the trash."""
    ids = []
    for index in (3, 4):
        img = photo(index)
        ids.append(
            (
                ingest(alpha, member_api, f"p{index}.jpg", jpeg_bytes(img)),
                ingest(alpha, member_api, f"p{index}-mirror.jpg", VARIANTS["hflip"](img)),
            )
        )
    lone = ingest(alpha, member_api, "lone.jpg", jpeg_bytes(photo(5)), detect=False)
    assert member_api.delete(f"images/{lone}").status_code == 204
    with tenant_context(alpha):
        assert Group.objects.filter(status=GroupStatus.OPEN).count() == 2
    return ids, lone


def test_undo_after_resolve_all_restores_every_trashed_member_and_reopens_the_groups(
    alpha, two_groups, admin_api
):
    _ids, lone = two_groups
    response = admin_api.post("duplicates/resolve-all", {"dry_run": False})
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    with tenant_context(alpha):
        assert job_run(job_id=job_id).state == "done"
        trashed_by_job = _trashed(alpha) - {lone}
    assert len(trashed_by_job) == 2
    job = admin_api.get(f"duplicates/jobs/{job_id}").json()
    resolution_id = job["resolution_id"]
    with tenant_context(alpha):
        resolution = Resolution.objects.get(pk=resolution_id)
        assert resolution.source == "resolve_all" and str(resolution.job_id) == job_id
        assert {str(i) for i in resolution.trashed_ids} == trashed_by_job
        assert len(resolution.group_ids) == 2
        sizes = dict(Image.objects.values_list("pk", "size_bytes"))
        assert resolution.trashed_bytes == sum(sizes[i] for i in resolution.trashed_ids)
        group_ids = {str(g) for g in resolution.group_ids}
    for group_id in group_ids:
        assert admin_api.get(f"duplicates/groups/{group_id}").json()["resolution_id"] == resolution_id

    undo = admin_api.post(f"duplicates/resolutions/{resolution_id}/undo")

    assert undo.status_code == 200, undo.content
    body = undo.json()
    assert body["undone_at"] is not None and body["undoable"] is False
    # only what the job trashed comes back: the image trashed before stays in the trash
    assert _trashed(alpha) == {lone}
    assert _statuses(alpha) == dict.fromkeys(group_ids, GroupStatus.OPEN)
    with tenant_context(alpha):
        assert not Member.objects.filter(kept__isnull=False).exists()
        groups = list(Group.objects.all())
        assert all(g.member_count == 2 and g.reclaimed_bytes == 0 and g.resolved_at is None for g in groups)
        event = AuditEvent.objects.get(action="duplicates.resolution_undone")
        assert event.target_id == resolution_id
        assert set(event.details["restored"]) == trashed_by_job
        assert set(event.details["reopened"]) == group_ids
    listed = admin_api.get("duplicates/groups").json()
    assert listed["count"] == 2 and all(g["resolution_id"] is None for g in listed["results"])


def test_undo_of_one_group_restores_only_that_group(alpha, two_groups, admin_api):
    ids, lone = two_groups
    with tenant_context(alpha):
        first = Group.objects.get(members__image_id=ids[0][0])
        second = Group.objects.get(members__image_id=ids[1][0])
    resolved = admin_api.post(f"duplicates/groups/{first.pk}/resolve", {"keep": [ids[0][0]]})
    assert resolved.status_code == 200, resolved.content
    admin_api.post(f"duplicates/groups/{second.pk}/resolve", {"keep": [ids[1][0]]})
    assert _trashed(alpha) == {lone, ids[0][1], ids[1][1]}

    undo = admin_api.post(f"duplicates/resolutions/{resolved.json()['resolution_id']}/undo")

    assert undo.status_code == 200, undo.content
    assert undo.json()["source"] == "single"
    assert _trashed(alpha) == {lone, ids[1][1]}
    assert _statuses(alpha) == {str(first.pk): GroupStatus.OPEN, str(second.pk): GroupStatus.RESOLVED}


def test_a_second_undo_is_refused_and_changes_nothing(alpha, two_groups, admin_api):
    ids, _lone = two_groups
    with tenant_context(alpha):
        group = Group.objects.get(members__image_id=ids[0][0])
    resolution_id = admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [ids[0][0]]}).json()[
        "resolution_id"
    ]
    assert admin_api.post(f"duplicates/resolutions/{resolution_id}/undo").status_code == 200
    # resolved again by hand: the old resolution must not reopen it
    again = admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [ids[0][1]]})
    assert again.status_code == 200
    before = (_trashed(alpha), _statuses(alpha))

    refused = admin_api.post(f"duplicates/resolutions/{resolution_id}/undo")

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "resolution_not_undoable"
    assert (_trashed(alpha), _statuses(alpha)) == before
    with tenant_context(alpha):
        assert AuditEvent.objects.filter(action="duplicates.resolution_undone").count() == 1


def test_undo_restores_what_is_left_when_a_trashed_member_was_purged(alpha, two_groups, admin_api):
    _ids, lone = two_groups
    job_id = admin_api.post("duplicates/resolve-all", {"dry_run": False}).json()["id"]
    with tenant_context(alpha):
        job_run(job_id=job_id)
        resolution = Resolution.objects.get(job_id=job_id)
        gone = str(resolution.trashed_ids[0])
        image_purge(image=Image.objects.get(pk=gone), actor=Actor.system(), tenant=alpha)

    undo = admin_api.post(f"duplicates/resolutions/{resolution.pk}/undo")

    assert undo.status_code == 200, undo.content
    assert _trashed(alpha) == {lone}
    with tenant_context(alpha):
        event = AuditEvent.objects.get(action="duplicates.resolution_undone")
        assert event.details["not_in_trash"] == [gone]
        assert Group.objects.filter(status=GroupStatus.OPEN).count() == 2


def test_undo_is_refused_while_the_job_still_runs(alpha, two_groups, admin_api):
    job_id = admin_api.post("duplicates/resolve-all", {"dry_run": False}).json()["id"]
    with tenant_context(alpha):
        job_run(job_id=job_id)
        Job.objects.filter(pk=job_id).update(state=Job.State.RUNNING, finished_at=None)
        resolution = Resolution.objects.get(job_id=job_id)
    before = (_trashed(alpha), _statuses(alpha))

    refused = admin_api.post(f"duplicates/resolutions/{resolution.pk}/undo")

    assert refused.status_code == 409
    assert "still resolving" in refused.json()["error"]["message"]
    assert (_trashed(alpha), _statuses(alpha)) == before


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_only_managers_undo_and_a_refusal_changes_nothing(alpha, two_groups, admin_api, users, role):
    ids, _lone = two_groups
    with tenant_context(alpha):
        group = Group.objects.get(members__image_id=ids[0][0])
    resolution_id = admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [ids[0][0]]}).json()[
        "resolution_id"
    ]
    before = (_trashed(alpha), _statuses(alpha))

    response = as_user(users[role]).post(f"duplicates/resolutions/{resolution_id}/undo")

    assert response.status_code == 403
    assert (_trashed(alpha), _statuses(alpha)) == before
    with tenant_context(alpha):
        assert Resolution.objects.get(pk=resolution_id).undone_at is None


def test_another_tenant_cannot_undo_and_alpha_credentials_do_not_work_on_beta(
    alpha, beta, two_groups, admin_api, users
):
    ids, _lone = two_groups
    with tenant_context(alpha):
        group = Group.objects.get(members__image_id=ids[0][0])
    resolution_id = admin_api.post(f"duplicates/groups/{group.pk}/resolve", {"keep": [ids[0][0]]}).json()[
        "resolution_id"
    ]
    before = (_trashed(alpha), _statuses(alpha))
    beta_admin = as_user(UserFactory(tenant=beta, role=Role.ADMIN, email="admin@beta.test"))
    alpha_admin_on_beta = Api(host(beta), bearer_for(users[Role.ADMIN]))

    assert beta_admin.post(f"duplicates/resolutions/{resolution_id}/undo").status_code == 404
    assert alpha_admin_on_beta.post(f"duplicates/resolutions/{resolution_id}/undo").status_code in (401, 403)

    assert (_trashed(alpha), _statuses(alpha)) == before
    with tenant_context(alpha):
        assert Resolution.objects.get(pk=resolution_id).undone_at is None
        assert timezone.now() > Resolution.objects.get(pk=resolution_id).created_at


def test_the_review_page_offers_undo_on_the_group_and_undoes_it(alpha, two_groups, users):
    ids, lone = two_groups
    with tenant_context(alpha):
        group = Group.objects.get(members__image_id=ids[0][0])
    admin = signed_in(alpha, users[Role.ADMIN].email)
    confirm = admin.get("/duplicates/").content.decode()
    assert (
        'data-confirm="Keep the checked images and move {count} image(s) ({bytes}) to the trash?"' in confirm
    )
    admin.post(f"/duplicates/{group.pk}/action/", {"action": "resolve", "keep": [ids[0][0]]})
    with tenant_context(alpha):
        resolution = Resolution.objects.get()

    resolved = admin.get("/duplicates/", {"status": "resolved"}).content.decode()
    assert f'action="/duplicates/resolutions/{resolution.pk}/undo/"' in resolved
    assert 'data-testid="undo-group"' in resolved and 'data-testid="recent-resolutions"' in resolved
    viewer = signed_in(alpha, users[Role.VIEWER].email)
    assert 'data-testid="undo' not in viewer.get("/duplicates/", {"status": "resolved"}).content.decode()
    assert viewer.post(f"/duplicates/resolutions/{resolution.pk}/undo/").status_code == 403
    assert _trashed(alpha) == {lone, ids[0][1]}

    done = admin.post(f"/duplicates/resolutions/{resolution.pk}/undo/", follow=True).content.decode()

    assert "Undone: 1 group open again" in done
    assert _trashed(alpha) == {lone}
    assert _statuses(alpha)[str(group.pk)] == GroupStatus.OPEN
