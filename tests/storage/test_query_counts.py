"""Storage lists (the locations with their usage, a location's jobs, the storage page) take as many
queries for 2N rows as for N."""

from itertools import count

from django.utils import timezone
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.jobs.models import Job
from apps.storage.models import StorageLocation, StorageProvider
from apps.storage.services.jobs import STORAGE_MIGRATE, STORAGE_SCAN
from tests.api import as_user
from tests.conftest import signed_in
from tests.factories import StorageLocationFactory, UserFactory
from tests.query_counts import N, assert_flat_queries, image_rows

_serial = count(1)


def _job(kind: str, location: StorageLocation, tenant, **params) -> Job:
    i = next(_serial)
    return Job.objects.create(
        kind=kind,
        state=Job.State.DONE,
        params={"location_id": str(location.pk), "missing": 1, **params},
        total=10,
        processed=9,
        failed=1,
        created_by=UserFactory(tenant=tenant, email=f"qc-starter-{i}@{tenant.slug}.test"),
        started_at=timezone.now(),
        finished_at=timezone.now(),
    )


def _locations(tenant):
    """N locations, every other one index-only (its thumbnails elsewhere, rescanned hourly, with
    credentials); each holds an image with its thumbnails and was the source of a migration."""

    def add():
        with tenant_context(tenant):
            default = StorageLocation.objects.get(is_default=True)
            for k in range(N):
                i = next(_serial)
                index_only = k % 2 == 0
                location = StorageLocationFactory(
                    name=f"qc store {i}",
                    provider=StorageProvider.S3,
                    index_only=index_only,
                    thumbnail_location=default if index_only else None,
                    scan_interval_minutes=60 if index_only else None,
                    last_scan_at=timezone.now() if index_only else None,
                    secrets_encrypted="not-a-real-token",
                )
                image_rows(1, tenant=tenant, location=location)
                _job(STORAGE_MIGRATE, location, tenant, target_id=str(default.pk))

    return add


def test_the_storage_config_list_takes_as_many_queries_for_2n_locations_as_for_n(alpha, users):
    api = as_user(users[Role.ADMIN])

    def listed():
        response = api.get(f"tenants/{alpha.pk}/storage-configs")
        assert response.status_code == 200, response.content
        return sum(row["name"].startswith("qc store") for row in response.json()["results"])

    assert_flat_queries(listed=listed, add=_locations(alpha))


def test_the_jobs_of_a_location_take_as_many_queries_for_2n_jobs_as_for_n(alpha, users):
    api = as_user(users[Role.ADMIN])
    with tenant_context(alpha):
        location = StorageLocationFactory(name="qc jobs", index_only=True)

    def add():
        with tenant_context(alpha):
            for k in range(N):
                _job(STORAGE_SCAN if k % 2 else STORAGE_MIGRATE, location, alpha, prefix="photos/")

    def listed():
        response = api.get(f"tenants/{alpha.pk}/storage-config/{location.pk}/jobs")
        assert response.status_code == 200, response.content
        return len(response.json()["results"])

    assert_flat_queries(listed=listed, add=add)


def test_the_storage_page_takes_as_many_queries_for_2n_locations_as_for_n(alpha, users):
    browser = signed_in(alpha, users[Role.ADMIN].email)

    def listed():
        response = browser.get("/settings/storage/")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count('href="/settings/storage/jobs/') == html.count('data-testid="location-qc-store-')
        return html.count('data-testid="location-qc-store-')

    assert_flat_queries(listed=listed, add=_locations(alpha))
