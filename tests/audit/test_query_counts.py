"""The audit log (the API list, its CSV export, the page) takes as many queries for 2N events as
for N, for a tenant admin and for a global admin reading every tenant's events."""

from itertools import count

import pytest

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditAction
from apps.audit.services import audit_record
from tests.api import as_user
from tests.conftest import signed_in
from tests.factories import UserFactory
from tests.query_counts import N, assert_flat_queries

MARKER = "querycount"
_serial = count(1)


def _events(*tenants):
    """N events, spread over the tenants, each by its own user, impersonated, through an API key."""

    def add():
        for k in range(N):
            i, tenant = next(_serial), tenants[k % len(tenants)]
            actor = UserFactory(tenant=tenant, email=f"qc-actor-{i}@{tenant.slug}.test")
            impersonator = UserFactory(tenant=tenant, email=f"qc-support-{i}@{tenant.slug}.test")
            audit_record(
                actor=Actor(
                    user=actor,
                    impersonator=impersonator,
                    api_key_prefix=f"qc{i:06d}",
                    ip_address="192.0.2.9",
                    user_agent="query counts",
                ),
                action=AuditAction.USER_UPDATED,
                tenant=tenant,
                target=actor,
                target_type=MARKER,
                details={"changed": ["first_name"], "n": i},
            )

    return add


@pytest.fixture(params=["tenant_admin", "global_admin"])
def reader(request, alpha, beta, users):
    """(API client, the tenants whose events it reads)."""
    if request.param == "global_admin":
        return as_user(users["global"]), (alpha, beta)
    return as_user(users[Role.ADMIN]), (alpha,)


def test_the_audit_event_list_takes_as_many_queries_for_2n_events_as_for_n(reader):
    api, tenants = reader

    def listed():
        response = api.get("audit-events", {"limit": 100, "target_type": MARKER})
        assert response.status_code == 200, response.content
        return len(response.json()["results"])

    assert_flat_queries(listed=listed, add=_events(*tenants))


def test_the_audit_export_takes_as_many_queries_for_2n_events_as_for_n(reader):
    api, tenants = reader

    def listed():
        response = api.get("audit-events/export", {"target_type": MARKER})
        assert response.status_code == 200
        body = b"".join(response.streaming_content).decode()  # the rows are read while streaming
        return body.count(f",{MARKER},")

    assert_flat_queries(listed=listed, add=_events(*tenants))


def test_the_audit_page_takes_as_many_queries_for_2n_events_as_for_n(alpha, users):
    browser = signed_in(alpha, users[Role.ADMIN].email)

    def listed():
        response = browser.get("/settings/audit/")
        assert response.status_code == 200
        return response.content.decode().count(f'<td class="mono">{MARKER} ')

    assert_flat_queries(listed=listed, add=_events(alpha))
