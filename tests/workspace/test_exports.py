"""The whole-workspace export: a job writing a zip (images as CSV and JSON lines, duplicate groups,
the audit log, a manifest of originals with their storage keys) downloadable once done; audited;
for admins of the workspace only."""

import csv
import io
import json
import zipfile

from django_tenants.utils import tenant_context

from apps.audit.models import AuditEvent
from apps.jobs.models import Job
from apps.jobs.runner import job_run
from tests.api import as_user
from tests.imagefiles import jpeg
from tests.images.conftest import process, upload


def test_an_export_is_made_opened_and_checked(alpha, users):
    member, admin = as_user(users["member"]), as_user(users["admin"])
    photo = jpeg(320, 240, seed=3)
    ids = [upload(member, name, photo, tags="=cmd, sea").json()["id"] for name in ("a.jpg", "b.jpg")]
    for image_id in ids:
        process(alpha, image_id)

    started = admin.post("exports")
    assert started.status_code == 202, started.content
    job_id = started.json()["id"]
    assert admin.get(f"exports/{job_id}/download").json()["error"]["code"] == "export_not_ready"
    with tenant_context(alpha):
        assert job_run(job_id=job_id).state == "done"

    response = admin.get(f"exports/{job_id}/download")

    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="deeplens-alpha-export.zip"'
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert sorted(archive.namelist()) == [
        "audit.csv", "duplicate_groups.csv", "images.csv", "images.jsonl", "manifest.json",
    ]  # fmt: skip
    lines = [json.loads(line) for line in archive.read("images.jsonl").decode().splitlines()]
    assert sorted(row["id"] for row in lines) == sorted(ids)
    assert {row["filename"] for row in lines} == {"a.jpg", "b.jpg"}
    assert all(row["tags"] == ["=cmd", "sea"] and row["width"] == 320 for row in lines)
    rows = list(csv.DictReader(io.StringIO(archive.read("images.csv").decode())))
    assert {row["tags"] for row in rows} == {'\'["=cmd", "sea"]'} or {row["tags"] for row in rows} == {
        '["=cmd", "sea"]'
    }
    assert {row["id"] for row in rows} == set(ids)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"]["images"] == 2
    assert {o["id"]: o["storage_key"] for o in manifest["originals"]} == {
        row["id"]: row["storage_key"] for row in lines
    }
    actions = {row["action"] for row in csv.DictReader(io.StringIO(archive.read("audit.csv").decode()))}
    assert "export.started" in actions
    with tenant_context(alpha):
        assert AuditEvent.objects.filter(action="export.downloaded", target_id=job_id).count() == 1
        assert Job.objects.get(pk=job_id).params["counts"]["images"] == 2


def test_members_cannot_export_and_another_tenant_cannot_download(alpha, beta, users):
    from tests.factories import UserFactory

    assert as_user(users["member"]).post("exports").status_code == 403
    job_id = as_user(users["admin"]).post("exports").json()["id"]
    with tenant_context(alpha):
        job_run(job_id=job_id)
    beta_admin = as_user(UserFactory(tenant=beta, role="admin", email="admin@beta.test"))

    assert beta_admin.get(f"exports/{job_id}/download").status_code == 404
    assert as_user(users["member"]).get(f"exports/{job_id}/download").status_code == 403


def test_one_export_at_a_time(users):
    admin = as_user(users["admin"])
    first = admin.post("exports")

    second = admin.post("exports")

    assert (second.status_code, second.json()["error"]["detail"]["job_id"]) == (409, first.json()["id"])


def test_the_jobs_page_starts_an_export_and_offers_its_download(alpha, users):
    from tests.conftest import signed_in

    admin = signed_in(alpha, users["admin"].email)
    started = admin.post("/jobs/", follow=True)
    with tenant_context(alpha):
        job = Job.objects.get(kind="tenant_export")
        job_run(job_id=job.pk)

    assert "Exporting the workspace" in started.content.decode()
    html = admin.get("/jobs/").content.decode()
    assert f'href="/api/v1/exports/{job.pk}/download"' in html
    download = admin.get(f"/api/v1/exports/{job.pk}/download")
    assert download.status_code == 200
    assert zipfile.ZipFile(io.BytesIO(b"".join(download.streaming_content))).namelist()
    member = signed_in(alpha, users["member"].email)
    assert 'data-testid="start-export"' not in member.get("/jobs/").content.decode()
    member.post("/jobs/")
    with tenant_context(alpha):
        assert Job.objects.filter(kind="tenant_export").count() == 1


def test_old_export_zips_are_deleted_by_the_maintenance_and_say_so(alpha, beta, users, settings):
    from datetime import timedelta

    from django.utils import timezone

    from apps.storage.backends import storage_for
    from apps.storage.models import StorageLocation
    from apps.workspace.exports import exports_expire
    from tests.conftest import signed_in

    settings.DEEPLENS_EXPORT_RETENTION_DAYS = 7
    admin = as_user(users["admin"])
    old = admin.post("exports").json()["id"]
    with tenant_context(alpha):
        job_run(job_id=old)
        Job.objects.filter(pk=old).update(finished_at=timezone.now() - timedelta(days=8))
    recent = admin.post("exports").json()["id"]
    with tenant_context(alpha):
        job_run(job_id=recent)
        key = Job.objects.get(pk=old).params["key"]
        location = StorageLocation.objects.get(is_default=True)
        assert storage_for(location).exists(key)
    with tenant_context(beta):
        assert exports_expire() == 0  # another workspace's run leaves alpha's alone

    with tenant_context(alpha):
        assert exports_expire() == 1
        assert exports_expire() == 0  # once
        assert not storage_for(location).exists(key)
        assert Job.objects.get(pk=old).params["expired_at"]

    gone = admin.get(f"exports/{old}/download")
    assert (gone.status_code, gone.json()["error"]["code"]) == (404, "export_expired")
    assert admin.get(f"exports/{recent}/download").status_code == 200
    html = signed_in(alpha, users["admin"].email).get("/jobs/").content.decode()
    assert f"/api/v1/exports/{old}/download" not in html
    assert f"/api/v1/exports/{recent}/download" in html


def test_image_metadata_and_the_duplicates_report_stream_from_their_own_endpoints(alpha, beta, users):
    member, admin = as_user(users["member"]), as_user(users["admin"])
    photo = jpeg(320, 240, seed=5)
    ids = [upload(member, name, photo, tags="=cmd, sea").json()["id"] for name in ("a.jpg", "b.jpg")]
    for image_id in ids:
        process(alpha, image_id)

    csv_response = admin.get("exports/images.csv")
    assert csv_response.status_code == 200
    assert csv_response.streaming
    assert csv_response["Content-Type"].startswith("text/csv")
    assert csv_response["Content-Disposition"] == 'attachment; filename="deeplens-alpha-images.csv"'
    rows = list(csv.DictReader(io.StringIO(b"".join(csv_response.streaming_content).decode())))
    assert sorted(row["id"] for row in rows) == sorted(ids)
    assert all("sea" in row["tags"] for row in rows)

    lines = b"".join(admin.get("exports/images.jsonl").streaming_content).decode().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(ids)

    report = b"".join(admin.get("exports/duplicates.csv").streaming_content).decode()
    groups = list(csv.DictReader(io.StringIO(report)))
    assert report.startswith("id,kind,status,member_count")
    if groups:  # identical uploads form a group once indexed
        assert set(json.loads(groups[0]["images"])) <= set(ids)

    with tenant_context(alpha):
        downloads = AuditEvent.objects.filter(action="export.downloaded").values_list("details", flat=True)
        assert sorted(d["export"] for d in downloads) == ["duplicates.csv", "images.csv", "images.jsonl"]
    assert member.get("exports/images.csv").status_code == 403
    assert as_user(users["beta_member"]).get("exports/images.csv").status_code == 403
    # beta's admin streams beta's rows only, never alpha's
    from apps.accounts.models import Role
    from tests.factories import UserFactory

    beta_admin = as_user(UserFactory(tenant=beta, role=Role.ADMIN, email="admin@beta.test"))
    beta_csv = b"".join(beta_admin.get("exports/images.csv").streaming_content).decode()
    assert beta_csv.startswith("id,filename") and not any(image_id in beta_csv for image_id in ids)
