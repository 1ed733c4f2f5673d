"""The duplicate groups (API and review page) take as many queries for 2N groups as for N."""

from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from tests.api import as_user
from tests.conftest import signed_in
from tests.query_counts import N, assert_flat_queries, group_rows


def _adder(tenant):
    def add():
        with tenant_context(tenant):
            group_rows(N, tenant=tenant)

    return add


def test_the_group_list_takes_as_many_queries_for_2n_groups_as_for_n(alpha, users):
    api = as_user(users[Role.MEMBER])

    def listed():
        response = api.get("duplicates/groups", {"limit": 100})
        assert response.status_code == 200, response.content
        groups = response.json()["results"]
        assert all(len(group["members"]) == 3 for group in groups)
        return len(groups)

    assert_flat_queries(listed=listed, add=_adder(alpha))


def test_the_review_page_takes_as_many_queries_for_2n_groups_as_for_n(alpha, users):
    browser = signed_in(alpha, users[Role.ADMIN].email)

    def listed():
        response = browser.get("/duplicates/")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count('data-testid="member"') == 3 * html.count('data-testid="group" ')
        return html.count('data-testid="group" ')

    assert_flat_queries(listed=listed, add=_adder(alpha))
