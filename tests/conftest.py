"""Shared fixtures: the embedded servers, two provisioned tenants, a real Celery worker.

The embedded PostgreSQL and Redis are started once per run by deeplens/settings/test.py (pytest-django
needs the database before any conftest loads), or taken from DATABASE_URL / REDIS_URL.
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client

from apps.accounts.models import Role
from apps.core import process_cache
from apps.tenants.models import Tenant
from apps.tenants.services import tenant_ensure_public, tenant_provision
from tests.factories import GlobalAdminFactory, UserFactory
from tests.support.workers import worker_start

ROOT = Path(__file__).resolve().parent.parent
TENANT_SLUGS = ("alpha", "beta")
UNTHROTTLED = {
    "requests_per_minute": 1_000_000,
    "searches_per_minute": 1_000_000,
    "uploads_per_minute": 1_000_000,
    "max_api_calls_per_day": 1_000_000_000,
}


@pytest.fixture(scope="session")
def database_url() -> str:
    return os.environ["DATABASE_URL"]


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ["REDIS_URL"]


def _test_database_ensure(request, django_db_blocker) -> None:
    """pytest-django creates the test database only when a collected test asks for `db` (or a
    django_db mark). The tests that commit from several processes (tests/faults) ask for
    `django_db_setup` alone, so a run of only those got no test database, and what follows would
    have written into the configured one. Create it here then, as pytest-django would."""
    from django.test.utils import setup_databases, teardown_databases

    if connection.settings_dict["NAME"] == connection.creation._get_test_db_name():
        return
    with django_db_blocker.unblock():
        created = setup_databases(verbosity=0, interactive=False, aliases={"default"})

    def teardown() -> None:
        with django_db_blocker.unblock():
            teardown_databases(created, verbosity=0)

    request.addfinalizer(teardown)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, request):
    """The test database, migrated, with the public tenant and two tenants committed for the run."""
    _test_database_ensure(request, django_db_blocker)
    with django_db_blocker.unblock():
        tenant_ensure_public()
        for slug in TENANT_SLUGS:
            tenant_provision(name=slug.capitalize(), slug=slug)
        # The Free tier's 5 uploads a minute would throttle the suite itself; tests/usage sets low
        # limits where it tests them.
        Tenant.objects.filter(slug__in=TENANT_SLUGS).update(**UNTHROTTLED)


@pytest.fixture(autouse=True)
def _public_schema_after_test():
    yield
    connection.set_schema_to_public()


@pytest.fixture(autouse=True)
def _process_cache_emptied_after_test():
    """A test that turns the process cache on (the product's 5 s) leaves its entries behind; the next
    test would read, say, a tenant as it was before that test suspended it."""
    yield
    process_cache.clear()


@pytest.fixture
def alpha(db) -> Tenant:
    return Tenant.objects.get(slug="alpha")


@pytest.fixture
def beta(db) -> Tenant:
    return Tenant.objects.get(slug="beta")


def tenant_client(tenant: Tenant, **kwargs) -> Client:
    return Client(HTTP_HOST=f"{tenant.slug}.{settings.DEEPLENS_BASE_DOMAIN}", **kwargs)


def signed_in(tenant: Tenant, email: str) -> Client:
    """A browser session of that user on the tenant's host."""
    from tests.factories import PASSWORD

    client = tenant_client(tenant)
    response = client.post("/accounts/login/", {"username": email, "password": PASSWORD})
    assert response.status_code == 302, f"{email} could not sign in"
    return client


@pytest.fixture
def alpha_client(alpha) -> Client:
    return tenant_client(alpha)


@pytest.fixture
def beta_client(beta) -> Client:
    return tenant_client(beta)


@pytest.fixture
def public_client(db) -> Client:
    return Client(HTTP_HOST=settings.DEEPLENS_BASE_DOMAIN)


def url_of_test_database() -> str:
    """The URL of the test database pytest-django created, for processes the tests start."""
    params = connection.settings_dict
    password = f":{params['PASSWORD']}" if params["PASSWORD"] else ""
    if params["HOST"].startswith("/"):
        return f"postgresql://{params['USER']}{password}@/{params['NAME']}?host={params['HOST']}"
    port = f":{params['PORT']}" if params["PORT"] else ""
    return f"postgresql://{params['USER']}{password}@{params['HOST']}{port}/{params['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, redis_url):
    """A real `celery worker` process on every queue, against the test database and Redis."""
    with django_db_blocker.unblock():
        worker = worker_start(name="celery-worker", database_url=url_of_test_database())
    yield worker.process
    worker.stop()


@pytest.fixture
def users(alpha, beta):
    """One user of each role in alpha, a member of beta and a global admin."""
    made = {
        role: UserFactory(tenant=alpha, role=role, email=f"{role}@alpha.test")
        for role in (Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER)
    }
    made["beta_member"] = UserFactory(tenant=beta, role=Role.MEMBER, email="member@beta.test")
    made["global"] = GlobalAdminFactory(email="root@deeplens.test")
    return made


def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API leaves an event loop in the main thread, and Django
    refuses database calls under a running loop in the tests that would follow."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
