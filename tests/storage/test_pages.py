"""The storage settings pages: locations with usage, add (with a connection test), default, delete,
migration with progress, index locations with scans; admins only."""

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.jobs.models import Job
from apps.storage.models import StorageLocation
from tests.conftest import signed_in
from tests.storage.helpers import fs_location, s3_location


@pytest.fixture
def admin_page(alpha, users):
    return signed_in(alpha, users[Role.ADMIN].email)


def test_the_storage_page_lists_locations_with_usage_and_is_linked(alpha, admin_page):
    home = admin_page.get("/")
    page = admin_page.get("/settings/storage/")

    assert 'href="/settings/storage/"' in home.content.decode()
    assert page.status_code == 200
    body = page.content.decode()
    assert "Local files" in body and "<progress" in body
    for provider in ("filesystem", "s3", "azure", "gcs"):
        assert f'data-testid="add-{provider}"' in body


def test_add_with_a_connection_test_then_save(alpha, admin_page, s3_server):
    bucket = s3_server.bucket()
    form = {
        "provider": "s3",
        "name": "Photos bucket",
        "bucket": bucket,
        "region": "us-east-1",
        "endpoint_url": s3_server.endpoint,
        **s3_server.credentials(),
    }

    tested = admin_page.post("/settings/storage/add/", {**form, "action": "test"})
    wrong = admin_page.post("/settings/storage/add/", {**form, "secret_access_key": "nope", "action": "test"})
    created = admin_page.post("/settings/storage/add/", {**form, "action": "create"})

    assert tested.status_code == 200 and "Connection works" in tested.content.decode()
    assert wrong.status_code == 400 and "msg-error" in wrong.content.decode()
    # the message names the problem for people, without internal codes; the form keeps its input
    assert "storage_credentials_invalid" not in wrong.content.decode()
    assert 'value="Photos bucket"' in tested.content.decode()
    assert 'value="Photos bucket"' in wrong.content.decode()
    assert s3_server.secret_access_key not in tested.content.decode()
    assert created.status_code == 302
    with tenant_context(alpha):
        assert StorageLocation.objects.filter(name="Photos bucket").exists()


def test_testing_a_missing_folder_says_so_and_creates_nothing(alpha, admin_page, fs_roots):
    folder = fs_roots / "alpha" / "not-yet"
    form = {"provider": "filesystem", "name": "New disk", "root": str(folder)}

    tested = admin_page.post("/settings/storage/add/", {**form, "action": "test"})

    assert tested.status_code == 200
    assert "does not exist yet" in tested.content.decode()
    assert 'value="New disk"' in tested.content.decode()
    assert not folder.exists()
    created = admin_page.post("/settings/storage/add/", {**form, "action": "create"})
    assert created.status_code == 302
    assert folder.is_dir()


def test_default_and_delete_buttons(alpha, admin_page, tmp_path):
    with tenant_context(alpha):
        other = fs_location("second disk", tmp_path / "second")

    admin_page.post(f"/settings/storage/{other.pk}/default/")
    with tenant_context(alpha):
        assert StorageLocation.objects.get(is_default=True).pk == other.pk
    refused = admin_page.post(f"/settings/storage/{other.pk}/delete/", follow=True)
    with tenant_context(alpha):
        old = StorageLocation.objects.get(name="Local files")
    admin_page.post(f"/settings/storage/{old.pk}/delete/")

    assert "msg-error" in refused.content.decode()
    assert "storage_location_is_default" not in refused.content.decode()
    with tenant_context(alpha):
        assert list(StorageLocation.objects.values_list("name", flat=True)) == ["second disk"]


def test_migration_page_starts_a_job_with_a_progress_page(alpha, admin_page, tmp_path, s3_server):
    with tenant_context(alpha):
        source = fs_location("old disk", tmp_path / "src")
        target = s3_location("bucket", s3_server, s3_server.bucket())

    form = admin_page.get(f"/settings/storage/{source.pk}/migrate/")
    started = admin_page.post(f"/settings/storage/{source.pk}/migrate/", {"target_config_id": str(target.pk)})
    with tenant_context(alpha):
        job = Job.objects.get(kind="storage_migrate")
    progress = admin_page.get(started["Location"])
    api = admin_page.get(f"/api/v1/tenants/{alpha.pk}/storage-jobs/{job.pk}")
    cancelled = admin_page.post(started["Location"])

    assert form.status_code == 200 and "bucket" in form.content.decode()
    assert started.status_code == 302 and started["Location"] == f"/settings/storage/jobs/{job.pk}/"
    assert progress.status_code == 200 and 'id="job-progress"' in progress.content.decode()
    assert api.status_code == 200 and api.json()["state"] == "queued"
    assert cancelled.status_code == 302
    job.refresh_from_db()
    assert job.state == "cancelled"


def test_index_page_scans_and_shows_history(alpha, admin_page, s3_server):
    with tenant_context(alpha):
        location = s3_location("camera roll", s3_server, s3_server.bucket(), index_only=True)

    page = admin_page.get("/settings/storage/index/")
    started = admin_page.post(
        "/settings/storage/index/", {"location_id": str(location.pk), "prefix": "2024/"}
    )
    history = admin_page.get("/settings/storage/index/")

    assert page.status_code == 200 and "camera roll" in page.content.decode()
    assert started.status_code == 302
    with tenant_context(alpha):
        job = Job.objects.get(kind="storage_scan")
    assert job.params["prefix"] == "2024/"
    assert f"/settings/storage/jobs/{job.pk}/" in history.content.decode()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_storage_pages_are_for_admins(alpha, users, role):
    client = signed_in(alpha, users[role].email)

    assert client.get("/settings/storage/").status_code == 403
    assert client.get("/settings/storage/index/").status_code == 403
    assert 'href="/settings/storage/"' not in client.get("/").content.decode()


def test_another_tenants_job_page_is_404(alpha, beta, admin_page, tmp_path):
    from tests.factories import UserFactory

    with tenant_context(alpha):
        location = fs_location("ro", tmp_path, index_only=True)
    admin_page.post("/settings/storage/index/", {"location_id": str(location.pk)})
    with tenant_context(alpha):
        job = Job.objects.get(kind="storage_scan")
    UserFactory(tenant=beta, role=Role.ADMIN, email="admin@beta.test")
    beta_page = signed_in(beta, "admin@beta.test")

    assert beta_page.get(f"/settings/storage/jobs/{job.pk}/").status_code == 404
    assert beta_page.get(f"/settings/storage/{location.pk}/migrate/").status_code == 404
