"""The trash: previews, detail and download of trashed images for whoever may restore them (404 to
anyone else); restore all as a job (at once for a small trash); empty the trash for good as an
audited background job; the pages' bulk actions. Refused actions change nothing."""

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.models import AuditAction, AuditEvent
from apps.images.models import Image
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from tests import imagefiles
from tests.api import Api, as_user, bearer_for, host
from tests.conftest import signed_in
from tests.factories import UserFactory
from tests.images.conftest import media_files, process, upload


def _ready(tenant, api, name: str, seed: int) -> Image:
    response = upload(api, name, imagefiles.jpeg(320, 240, seed=seed))
    assert response.status_code == 202, response.content
    return process(tenant, response.json()["id"])


def _trash(tenant) -> set[str]:
    with tenant_context(tenant):
        return {str(i) for i in Image.objects.filter(deleted_at__isnull=False).values_list("pk", flat=True)}


def _all(tenant) -> set[str]:
    with tenant_context(tenant):
        return {str(i) for i in Image.objects.values_list("pk", flat=True)}


@pytest.fixture
def other_member(alpha):
    return UserFactory(tenant=alpha, role=Role.MEMBER, email="other.member@alpha.test")


@pytest.fixture
def trashed(alpha, member_api):
    """One image of the member, in the trash."""
    image = _ready(alpha, member_api, "gone.jpg", 11)
    assert member_api.delete(f"images/{image.pk}").status_code == 204
    return image


@pytest.mark.parametrize("path", ["images/{id}/thumbnail?spec=small", "images/{id}/download"])
def test_a_trashed_image_is_served_to_whoever_may_restore_it(alpha, trashed, users, other_member, path):
    url = path.format(id=trashed.pk)
    for user in (users[Role.MEMBER], users[Role.ADMIN], users[Role.OWNER]):
        response = as_user(user).get(url)
        assert response.status_code == 200, (user.email, response.content[:200])
        assert response["Cache-Control" if "thumbnail" in path else "Content-Disposition"]
    # a viewer, another member, another tenant: as if it did not exist
    for user in (users[Role.VIEWER], other_member, users["beta_member"]):
        response = as_user(user).get(url)
        assert response.status_code == 404, user.email
        assert response.json()["error"]["code"] == "image_not_found"


def test_the_trashed_image_page_shows_its_preview_and_download_to_its_owner(alpha, trashed, other_member):
    mine = signed_in(alpha, "member@alpha.test").get(f"/images/{trashed.pk}/").content.decode()
    theirs = signed_in(alpha, other_member.email).get(f"/images/{trashed.pk}/").content.decode()

    assert 'data-testid="preview"' in mine and 'data-testid="download"' in mine
    assert 'data-testid="restore"' in mine
    assert 'data-testid="preview"' not in theirs and 'data-testid="download"' not in theirs


def test_restore_all_restores_only_what_the_caller_may_restore(alpha, member_api, users, other_member):
    mine = [_ready(alpha, member_api, f"m{i}.jpg", 20 + i) for i in range(2)]
    other_api = as_user(other_member)
    theirs = _ready(alpha, other_api, "t.jpg", 30)
    for image in mine:
        member_api.delete(f"images/{image.pk}")
    other_api.delete(f"images/{theirs.pk}")

    response = member_api.post("images/trash/restore-all")

    # a small trash: restored at once, through the same job a large one runs in the background
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["job"]["kind"], body["job"]["state"]) == ("images_trash_restore", "done")
    assert (body["count"], body["bytes"]) == (2, sum(i.size_bytes for i in mine))
    assert (body["job"]["total"], body["job"]["processed"], body["job"]["failed"]) == (2, 2, 0)
    assert body["status_url"] == f"/api/v1/jobs/{body['job']['id']}"
    assert _trash(alpha) == {str(theirs.pk)}
    with tenant_context(alpha):
        restored = AuditEvent.objects.filter(action=AuditAction.IMAGE_RESTORED)
        assert sorted(restored.values_list("target_id", flat=True)) == sorted(str(i.pk) for i in mine)
    admin = as_user(users[Role.ADMIN]).post("images/trash/restore-all").json()
    assert (admin["count"], admin["job"]["processed"]) == (1, 1)
    assert _trash(alpha) == set()


def test_a_large_trash_is_restored_by_a_background_job_the_caller_can_follow(
    alpha, member_api, users, monkeypatch
):
    monkeypatch.setattr("apps.images.services.trash.RESTORE_AT_ONCE", 1)
    images = [_ready(alpha, member_api, f"big{i}.jpg", 60 + i) for i in range(3)]
    for image in images:
        member_api.delete(f"images/{image.pk}")

    response = member_api.post("images/trash/restore-all")

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["count"], body["job"]["state"]) == (3, "queued")
    assert _trash(alpha) == {str(i.pk) for i in images}  # nothing yet: the job does it
    # trashed after the call: not part of what the person asked for, so it stays
    late = _ready(alpha, member_api, "late.jpg", 70)
    member_api.delete(f"images/{late.pk}")
    page = signed_in(alpha, "member@alpha.test").get("/images/trash/").content.decode()
    assert f'data-job-api="/api/v1/jobs/{body["job"]["id"]}"' in page and "Restoring from the trash" in page
    with tenant_context(alpha):
        job = job_run(job_id=body["job"]["id"])
    assert (job.state, job.total, job.processed) == ("done", 3, 3)
    assert _trash(alpha) == {str(late.pk)}
    progress = member_api.get(body["status_url"]).json()
    assert (progress["state"], progress["progress"]) == ("done", 1.0)
    # the job shows counts only, to whoever may restore; not to a viewer
    assert as_user(users[Role.VIEWER]).get(body["status_url"]).status_code == 404


def test_a_cancelled_restore_all_restores_nothing(alpha, member_api, admin_api, monkeypatch):
    monkeypatch.setattr("apps.images.services.trash.RESTORE_AT_ONCE", 0)
    image = _ready(alpha, member_api, "stay.jpg", 80)
    member_api.delete(f"images/{image.pk}")
    job_id = admin_api.post("images/trash/restore-all").json()["job"]["id"]

    assert admin_api.post(f"jobs/{job_id}/cancel").status_code == 200
    with tenant_context(alpha):
        job = job_run(job_id=job_id)

    assert job.state == "cancelled" and job.processed == 0
    assert _trash(alpha) == {str(image.pk)}


def test_empty_trash_previews_then_purges_what_was_in_the_trash_as_an_audited_job(
    alpha, member_api, admin_api, trashed
):
    second = _ready(alpha, member_api, "gone-too.jpg", 12)
    member_api.delete(f"images/{second.pk}")
    live = _ready(alpha, member_api, "stays.jpg", 13)
    keys = {i.storage_key for i in (trashed, second)}
    assert keys <= media_files()

    preview = admin_api.post("images/trash/empty")
    assert preview.status_code == 200
    assert preview.json() == {"dry_run": True, "count": 2, "bytes": trashed.size_bytes + second.size_bytes}
    assert _trash(alpha) == {str(trashed.pk), str(second.pk)}

    response = admin_api.post("images/trash/empty", {"dry_run": False})

    assert response.status_code == 202, response.content
    body = response.json()
    assert body["count"] == 2 and body["status_url"] == f"/api/v1/jobs/{body['job']['id']}"
    # trashed after the call: not part of what the person confirmed, so it stays
    late = _ready(alpha, member_api, "late.jpg", 14)
    member_api.delete(f"images/{late.pk}")
    with tenant_context(alpha):
        job = job_run(job_id=body["job"]["id"])
    assert (job.state, job.total, job.processed) == ("done", 2, 2)
    assert _all(alpha) == {str(live.pk), str(late.pk)}
    assert _trash(alpha) == {str(late.pk)}
    assert not keys & media_files()
    progress = admin_api.get(body["status_url"]).json()
    assert progress["progress"] == 1.0 and progress["state"] == "done"
    emptied = AuditEvent.objects.get(action=AuditAction.TRASH_EMPTIED)
    assert emptied.details["images"] == 2 and emptied.target_id == body["job"]["id"]
    assert AuditEvent.objects.filter(action=AuditAction.IMAGE_PURGED).count() == 2


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_only_administrators_empty_the_trash_and_a_refusal_changes_nothing(alpha, trashed, users, role):
    before = _all(alpha)

    response = as_user(users[role]).post("images/trash/empty", {"dry_run": False})

    assert response.status_code == 403
    assert _all(alpha) == before and _trash(alpha) == {str(trashed.pk)}
    with tenant_context(alpha):
        assert not Job.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.TRASH_EMPTIED).exists()


def test_a_viewer_may_not_restore_all(alpha, trashed, users):
    assert as_user(users[Role.VIEWER]).post("images/trash/restore-all").status_code == 403
    assert _trash(alpha) == {str(trashed.pk)}


def test_another_tenant_neither_empties_nor_restores_alphas_trash(alpha, beta, trashed, users):
    beta_admin = as_user(UserFactory(tenant=beta, role=Role.ADMIN, email="admin@beta.test"))
    alpha_admin_on_beta = Api(host(beta), bearer_for(users[Role.ADMIN]))

    assert beta_admin.post("images/trash/empty").json() == {"dry_run": True, "count": 0, "bytes": 0}
    emptied = beta_admin.post("images/trash/empty", {"dry_run": False})
    assert emptied.status_code == 202 and emptied.json()["count"] == 0
    restored = beta_admin.post("images/trash/restore-all")
    assert restored.status_code == 200 and restored.json()["count"] == 0
    assert alpha_admin_on_beta.post("images/trash/empty", {"dry_run": False}).status_code in (401, 403)
    with tenant_context(beta):
        job_run(job_id=emptied.json()["job"]["id"])
    assert _trash(alpha) == {str(trashed.pk)}


def test_the_trash_page_restores_selected_and_all_and_empties(alpha, member_api, users):
    images = [_ready(alpha, member_api, f"p{i}.jpg", 40 + i) for i in range(3)]
    for image in images:
        member_api.delete(f"images/{image.pk}")
    member = signed_in(alpha, "member@alpha.test")
    page = member.get("/images/trash/").content.decode()
    assert page.count('data-testid="select"') == 3 and 'data-testid="restore-all"' in page
    assert 'data-testid="empty-trash"' not in page  # members do not empty the trash

    member.post("/images/bulk/", {"action": "restore", "ids": [str(images[0].pk)]})
    assert _trash(alpha) == {str(images[1].pk), str(images[2].pk)}
    refused = member.post("/images/bulk/", {"action": "empty"}, follow=True)
    assert "Only administrators" in refused.content.decode()
    assert _trash(alpha) == {str(images[1].pk), str(images[2].pk)}
    restored = member.post("/images/bulk/", {"action": "restore_all"}, follow=True).content.decode()
    assert "2 images restored." in restored
    assert _trash(alpha) == set()
    for image in images[1:]:
        member_api.delete(f"images/{image.pk}")

    admin = signed_in(alpha, "admin@alpha.test")
    page = admin.get("/images/trash/").content.decode()
    assert "Delete all 2 images in the trash" in page
    admin.post("/images/bulk/", {"action": "empty"})
    with tenant_context(alpha):
        job = Job.objects.get(kind="images_trash_empty")
        job_run(job_id=job.pk)
    assert _all(alpha) == {str(images[0].pk)}
    page = admin.get("/images/trash/").content.decode()
    assert 'data-testid="trash-job"' in page


def test_the_gallery_moves_selected_images_to_the_trash_and_skips_what_is_not_yours(
    alpha, member_api, other_member
):
    mine = _ready(alpha, member_api, "mine.jpg", 50)
    theirs = _ready(alpha, as_user(other_member), "theirs.jpg", 51)
    member = signed_in(alpha, "member@alpha.test")

    response = member.post(
        "/images/bulk/", {"action": "delete", "ids": [str(mine.pk), str(theirs.pk), "nonsense"]}, follow=True
    )

    html = response.content.decode()
    assert "1 image moved to the trash." in html and "1 not changed" in html
    assert _trash(alpha) == {str(mine.pk)}
