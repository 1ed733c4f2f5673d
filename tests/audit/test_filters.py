"""The audit log's one FilterSet (apps/audit/filters.py): the list, the CSV export and the page read
the same parameters and refuse the same bad values."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.accounts.models import Role
from apps.audit.context import Actor
from apps.audit.models import AuditAction, AuditEvent
from apps.audit.services import audit_record
from tests.api import as_user
from tests.conftest import signed_in


@pytest.fixture
def events(users, alpha):
    admin = Actor(user=users[Role.ADMIN])
    audit_record(actor=admin, action=AuditAction.USER_CREATED, tenant=alpha, target=users[Role.VIEWER])
    audit_record(actor=admin, action=AuditAction.USER_ROLE_CHANGED, tenant=alpha, target=users[Role.MEMBER])
    return AuditEvent.objects.count()


def actions(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["action"] for row in response.json()["results"] if row["action"] != "tenant.created"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "user."}, ["user.role_changed", "user.created"]),
        ({"target_type": "accounts.user", "action": "user.created"}, ["user.created"]),
        (
            {"actor": "ADMIN@alpha.test", "since": "2000-01-01T00:00:00Z"},
            ["user.role_changed", "user.created"],
        ),
        ({"until": "2000-01-01"}, []),
        ({"action": "", "actor": "", "target_id": ""}, ["user.role_changed", "user.created"]),
    ],
)
def test_the_list_filters(events, users, query, expected):
    assert actions(as_user(users[Role.ADMIN]).get("audit-events", query)) == expected


def test_the_target_id_filter(events, users):
    target = str(users[Role.MEMBER].pk)

    assert actions(as_user(users[Role.ADMIN]).get("audit-events", {"target_id": target})) == [
        "user.role_changed"
    ]


@pytest.mark.parametrize("path", ["audit-events", "audit-events/export"])
def test_a_bad_filter_is_a_400_and_never_the_whole_log(events, users, path):
    response = as_user(users[Role.ADMIN]).get(path, {"action": "rm -rf", "since": "yesterday"})

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_filter"
    assert error["message"] == "These filters are not valid: action, since. See detail for what each accepts."
    assert error["detail"]["since"] == ["Enter a valid date/time."]
    assert error["detail"]["action"][0].startswith("Unknown action; one of auth.login_succeeded, ")
    assert error["detail"]["action"][0].endswith("or a prefix ending in '.' such as 'user.'.")


def test_the_page_refuses_a_bad_filter_and_lists_nothing(events, alpha):
    browser = signed_in(alpha, "admin@alpha.test")

    response = browser.get("/settings/audit/", {"since": "yesterday", "actor": "admin@alpha.test"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "<li>Since: Enter a valid date/time.</li>" in html
    assert "No events match." in html


def test_the_openapi_document_describes_the_filters():
    schema = SchemaGenerator(urlconf="deeplens.urls_schema").get_schema(request=None, public=True)
    for path in ("/api/v1/audit-events", "/api/v1/audit-events/export"):
        parameters = {p["name"]: p for p in schema["paths"][path]["get"]["parameters"]}

        assert set(parameters) >= {"action", "actor", "target_type", "target_id", "since", "until", "tenant"}
        assert parameters["since"]["schema"] == {"type": "string", "format": "date-time"}
        assert parameters["action"]["description"].startswith("an action such as user.created")


def test_an_action_outside_audit_action_is_refused_and_nothing_is_written(users, alpha):
    before = AuditEvent.objects.count()

    with pytest.raises(ValueError, match=r"'user\.poked' is not an AuditAction"):
        audit_record(actor=Actor(user=users[Role.ADMIN]), action="user.poked", tenant=alpha)

    assert AuditEvent.objects.count() == before
