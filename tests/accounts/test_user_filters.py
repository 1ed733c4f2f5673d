"""The team list's one FilterSet (apps/accounts/filters.py): GET /users and the team page."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from apps.accounts.models import Role, User
from tests.api import as_user
from tests.conftest import signed_in


def emails(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [user["email"] for user in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"role": "viewer"}, ["viewer@alpha.test"]),
        ({"search": "OWN"}, ["owner@alpha.test"]),
        ({"active": "false"}, ["viewer@alpha.test"]),
        ({"active": "True", "role": "viewer"}, []),
        (
            {"role": "", "search": "", "active": ""},
            [f"{r}@alpha.test" for r in ("admin", "member", "owner", "viewer")],
        ),
    ],
)
def test_the_api_filters_the_team(users, query, expected):
    User.objects.filter(pk=users[Role.VIEWER].pk).update(is_active=False)

    assert emails(as_user(users[Role.ADMIN]).get("users", query)) == expected


def test_a_bad_filter_is_a_400_naming_it(users):
    response = as_user(users[Role.ADMIN]).get("users", {"role": "global_admin", "active": "maybe"})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_filter",
        "message": "These filters are not valid: role, active. See detail for what each accepts.",
        "detail": {
            "role": ["Select a valid choice. global_admin is not one of the available choices."],
            "active": ["Must be true or false."],
        },
    }


def test_the_team_page_searches_with_the_same_filter(users, alpha):
    browser = signed_in(alpha, "admin@alpha.test")

    html = browser.get("/settings/users/", {"q": "view"}).content.decode()
    assert "viewer@alpha.test" in html and "owner@alpha.test" not in html

    refused = browser.get("/settings/users/", {"q": "x" * 101})
    assert refused.status_code == 400
    assert (
        "<li>Search: Ensure this value has at most 100 characters (it has 101).</li>"
        in refused.content.decode()
    )
    assert "viewer@alpha.test" not in refused.content.decode()


def test_the_openapi_document_describes_the_filters():
    schema = SchemaGenerator(urlconf="deeplens.urls_schema").get_schema(request=None, public=True)
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/users"]["get"]["parameters"]}

    assert parameters["role"]["schema"] == {"type": "string", "enum": ["admin", "member", "owner", "viewer"]}
    assert parameters["active"]["schema"] == {"type": "boolean"}
    assert parameters["search"]["schema"] == {"type": "string"}
