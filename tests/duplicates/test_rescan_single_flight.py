"""Re-scans are single-flight per workspace (issue 17: 175 re-scans piled up on one stuck image), and
one image OpenCV refuses does not stop a re-scan."""

import io

from django_tenants.utils import tenant_context
from PIL import Image as PILImage

from apps.accounts.models import Role
from apps.images.models import ImageStatus
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from tests import imagefiles
from tests.api import as_user
from tests.factories import UserFactory
from tests.images.conftest import process, upload


def rescans(tenant) -> list[Job]:
    with tenant_context(tenant):
        return list(Job.objects.filter(kind="duplicates_rescan").order_by("created_at"))


def test_a_second_rescan_while_one_is_queued_is_409_with_its_id(alpha, users):
    admin = as_user(users[Role.ADMIN])

    first = admin.post("duplicates/rescan")
    second = admin.post("duplicates/rescan")

    assert first.status_code == 202
    assert second.status_code == 409
    error = second.json()["error"]
    assert error["code"] == "job_already_running"
    assert error["detail"] == {"job_id": first.json()["id"], "state": "queued", "kind": "duplicates_rescan"}
    assert [str(job.pk) for job in rescans(alpha)] == [first.json()["id"]]

    with tenant_context(alpha):
        assert job_run(job_id=first.json()["id"]).state == "done"
    third = admin.post("duplicates/rescan")
    assert third.status_code == 202
    assert third.json()["id"] != first.json()["id"]


def test_a_running_rescan_blocks_another_until_it_is_cancelled(alpha, users):
    admin = as_user(users[Role.ADMIN])
    with tenant_context(alpha):
        running = Job.objects.create(kind="duplicates_rescan", created_by=users[Role.ADMIN], state="running")

    refused = admin.post("duplicates/rescan")
    cancelled = admin.post(f"jobs/{running.pk}/cancel")
    started = admin.post("duplicates/rescan")

    assert refused.status_code == 409
    assert refused.json()["error"]["detail"]["job_id"] == str(running.pk)
    assert refused.json()["error"]["detail"]["state"] == "running"
    assert cancelled.status_code == 200, cancelled.content
    assert started.status_code == 202


def test_one_workspaces_rescan_does_not_block_anothers(alpha, beta, users):
    beta_admin = as_user(UserFactory(tenant=beta, role=Role.ADMIN, email="admin@beta.test"))
    assert as_user(users[Role.ADMIN]).post("duplicates/rescan").status_code == 202

    response = beta_admin.post("duplicates/rescan")

    assert response.status_code == 202
    assert len(rescans(beta)) == 1


def test_the_rescan_page_says_one_is_running_instead_of_starting_another(alpha, users):
    from tests.conftest import signed_in

    page = signed_in(alpha, users[Role.ADMIN].email)
    page.post("/duplicates/bulk/", {"action": "rescan"})
    response = page.post("/duplicates/bulk/", {"action": "rescan"}, follow=True)

    assert response.status_code == 200
    assert "already running" in response.content.decode()
    assert len(rescans(alpha)) == 1


def test_a_rescan_over_a_1x20000_png_finishes_with_that_image_failed(alpha, users):
    """OpenCV cannot resize a 1 x 20000 strip (cv2.error): the re-scan counts it failed and goes on,
    instead of leaving the job running for ever."""
    member = as_user(users[Role.MEMBER])
    buffer = io.BytesIO()
    PILImage.new("L", (1, 20000), 255).save(buffer, "PNG")
    ids = []
    for name, data in (("thin.png", buffer.getvalue()), ("after.jpg", imagefiles.jpeg(320, 240, seed=9))):
        image = process(alpha, upload(member, name, data).json()["id"])
        assert image.status == ImageStatus.READY, image.failure_reason
        ids.append(image.pk)
    job_id = as_user(users[Role.ADMIN]).post("duplicates/rescan").json()["id"]

    with tenant_context(alpha):
        job = job_run(job_id=job_id)

    assert (job.state, job.processed, job.failed) == ("done", 1, 1)
