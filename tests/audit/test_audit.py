import csv
import io

import pytest
from django.db import DatabaseError, connection, transaction

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditAction, AuditEvent
from apps.audit.services import audit_record
from tests.api import Api, as_user, bearer_for, host

SETUP = "tenant.created"  # written once per run when the test tenants are provisioned


def actions(rows) -> list[str]:
    return [row["action"] for row in rows if row["action"] != SETUP]


@pytest.fixture
def events(users, alpha, beta):
    admin = Actor(user=users[Role.ADMIN], ip_address="10.0.0.1", user_agent="=cmd|' /C calc'!A0")
    audit_record(actor=admin, action=AuditAction.USER_CREATED, tenant=alpha, target=users[Role.VIEWER])
    audit_record(
        actor=admin, action=AuditAction.API_KEY_CREATED, tenant=alpha, details={"prefix": "abcd1234"}
    )
    audit_record(actor=Actor(user=users["beta_member"]), action=AuditAction.LOGOUT, tenant=beta)
    return AuditEvent.objects.count()


@pytest.mark.parametrize(
    "statement",
    ["UPDATE audit_auditevent SET action = 'x'", "DELETE FROM audit_auditevent", "TRUNCATE audit_auditevent"],
)
def test_audit_events_cannot_be_changed_or_deleted(events, statement):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(statement)
    assert AuditEvent.objects.count() == events


def test_the_orm_cannot_delete_them_either(events):
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.count() == events


def test_tenant_admins_see_only_their_tenants_events(events, users):
    response = as_user(users[Role.ADMIN]).get("audit-events")

    assert response.status_code == 200
    assert actions(response.json()["results"]) == ["api_key.created", "user.created"]


def test_filters_narrow_the_list(events, users):
    api = as_user(users[Role.ADMIN])

    assert api.get("audit-events", {"action": "user.created"}).json()["count"] == 1
    assert api.get("audit-events", {"action": "api_key."}).json()["count"] == 1
    assert api.get("audit-events", {"actor": "admin@alpha.test"}).json()["count"] == 2
    assert api.get("audit-events", {"actor": "nobody@alpha.test"}).json()["count"] == 0
    bad = api.get("audit-events", {"action": "rm -rf"})
    assert bad.status_code == 400
    assert "action" in bad.json()["error"]["detail"]


def test_global_admins_see_every_tenant_and_can_pick_one(events, users):
    root = Api(host(), bearer_for(users["global"]))

    everything = root.get("audit-events", {"action": "", "limit": 500}).json()
    assert {event["tenant"] for event in everything["results"]} >= {"alpha", "beta"}
    only_beta = root.get("audit-events", {"tenant": "beta"}).json()["results"]
    assert actions(only_beta) == ["auth.logout"]


def test_members_cannot_read_the_audit_log(events, users):
    assert as_user(users[Role.MEMBER]).get("audit-events").status_code == 403


def test_csv_export_has_the_same_rows_and_is_safe_for_spreadsheets(events, users):
    response = as_user(users[Role.ADMIN]).get("audit-events/export")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert actions(rows) == ["api_key.created", "user.created"]
    assert rows[0]["details"] == '{"prefix": "abcd1234"}'
    assert rows[0]["user_agent"].startswith("'=")


def test_audit_log_page_lists_and_filters(events, users, alpha_client):
    from tests.factories import PASSWORD

    alpha_client.post("/accounts/login/", {"username": "admin@alpha.test", "password": PASSWORD})

    page = alpha_client.get("/settings/audit/", {"action": "api_key.created"}).content.decode()

    assert "API key created" in page
    assert "User created" not in page.split("<tbody>")[1]
    assert "/api/v1/audit-events/export?action=api_key.created" in page
