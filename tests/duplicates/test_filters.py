"""The duplicate groups' one FilterSet (apps/duplicates/filters.py): the API and the review page
read the same kind / status / sort, with the same defaults and the same refusals."""

import pytest
from django_tenants.utils import tenant_context
from drf_spectacular.generators import SchemaGenerator

from apps.accounts.models import Role
from apps.duplicates.models import Group, GroupStatus, Kind
from tests.conftest import signed_in


@pytest.fixture
def groups(alpha):
    """Four groups without members (the list reads the group rows): named by their reclaimable bytes."""
    rows = [
        (Kind.EXACT, GroupStatus.OPEN, 2, 300),
        (Kind.NEAR, GroupStatus.OPEN, 3, 200),
        (Kind.NEAR, GroupStatus.OPEN, 1, 999),  # lost a member to the trash: not listed while open
        (Kind.SIMILAR, GroupStatus.RESOLVED, 2, 100),
    ]
    with tenant_context(alpha):
        return {
            nbytes: Group.objects.create(
                kind=kind, status=status, member_count=count, reclaimable_bytes=nbytes
            )
            for kind, status, count, nbytes in rows
        }


def listed(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [group["reclaimable_bytes"] for group in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, [300, 200]),
        ({"kind": "", "status": "", "sort": ""}, [300, 200]),
        ({"sort": "-reclaimable"}, [200, 300]),
        ({"kind": "near"}, [200]),
        ({"status": "resolved"}, [100]),
        ({"status": "dismissed"}, []),
        ({"sort": "-date"}, [200, 300]),
    ],
)
def test_the_api_lists_the_open_groups_by_default(groups, admin_api, query, expected):
    assert listed(admin_api.get("duplicates/groups", query)) == expected


def test_a_bad_value_is_a_400_naming_it(groups, admin_api):
    response = admin_api.get("duplicates/groups", {"kind": "blurry", "sort": "size; drop table"})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "invalid_filter",
        "message": "These filters are not valid: kind, sort. See detail for what each accepts.",
        "detail": {
            "kind": ["Select a valid choice. blurry is not one of the available choices."],
            "sort": ["Select a valid choice. size; drop table is not one of the available choices."],
        },
    }


def test_the_review_page_reads_the_same_filters(alpha, groups, users):
    browser = signed_in(alpha, users[Role.ADMIN].email)

    html = browser.get("/duplicates/", {"kind": "near"}).content.decode()

    assert html.count('data-testid="group"') == 1
    assert f'data-group="{groups[200].pk}"' in html
    assert '<option value="near" selected>' in html


def test_the_review_page_refuses_a_bad_filter_and_lists_nothing(alpha, groups, users):
    browser = signed_in(alpha, users[Role.ADMIN].email)

    response = browser.get("/duplicates/", {"kind": "blurry", "preview": "1"})

    assert response.status_code == 400
    html = response.content.decode()
    assert "<li>Kind: Select a valid choice. blurry is not one of the available choices.</li>" in html
    assert 'data-testid="group"' not in html
    assert 'data-testid="bulk-preview"' not in html


def test_the_openapi_document_describes_the_filters():
    schema = SchemaGenerator(urlconf="deeplens.urls_schema").get_schema(request=None, public=True)
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/duplicates/groups"]["get"]["parameters"]}

    assert parameters["kind"]["schema"] == {"type": "string", "enum": sorted(Kind.values)}
    assert parameters["status"]["schema"] == {"type": "string", "enum": sorted(GroupStatus.values)}
    assert parameters["sort"]["schema"]["enum"] == ["-date", "-reclaimable", "date", "reclaimable"]
    assert {"limit", "offset"} <= set(parameters)
