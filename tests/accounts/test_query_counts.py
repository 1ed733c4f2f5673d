"""The team's lists (users, API keys, the caller's sessions; the team and API key pages) take as
many queries for 2N rows as for N."""

from datetime import timedelta
from itertools import count

import pytest
from django.utils import timezone

from apps.accounts.models import Role
from apps.accounts.services import api_key_create
from apps.accounts.services.sessions import _session_start
from apps.audit.context import Actor
from tests.api import as_user
from tests.conftest import signed_in
from tests.factories import UserFactory
from tests.query_counts import N, assert_flat_queries

_serial = count(1)


def _users(tenant):
    def add():
        for _ in range(N):
            i = next(_serial)
            UserFactory(
                tenant=tenant,
                role=Role.VIEWER,
                email=f"qc-user-{i}@alpha.test",
                first_name="Query",
                last_name=f"Count {i}",
                last_login=timezone.now(),
            )

    return add


def _api_keys(tenant):
    """Keys of N different creators: the list shows each creator's email."""

    def add():
        for _ in range(N):
            i = next(_serial)
            creator = UserFactory(tenant=tenant, role=Role.ADMIN, email=f"qc-creator-{i}@alpha.test")
            api_key_create(
                tenant=tenant,
                creator=creator,
                name=f"qc key {i}",
                scopes=["search", "upload"],
                actor=Actor(user=creator),
                expires_at=timezone.now() + timedelta(days=30),
                requests_per_minute=60,
            )

    return add


def _json_rows(api, endpoint):
    def listed():
        response = api.get(endpoint, {"limit": 100})
        assert response.status_code == 200, response.content
        return len(response.json()["results"])

    return listed


def _page_rows(browser, path, marker):
    def listed():
        response = browser.get(path)
        assert response.status_code == 200
        return response.content.decode().count(marker)

    return listed


@pytest.mark.parametrize(("endpoint", "rows"), [("users", _users), ("api-keys", _api_keys)])
def test_a_team_list_takes_as_many_queries_for_2n_rows_as_for_n(endpoint, rows, alpha, users):
    assert_flat_queries(listed=_json_rows(as_user(users[Role.ADMIN]), endpoint), add=rows(alpha))


def test_the_session_list_takes_as_many_queries_for_2n_sessions_as_for_n(alpha, users):
    member = users[Role.MEMBER]

    def add():
        for _ in range(N):
            _session_start(user=member, actor=Actor(user=member, ip_address="192.0.2.7", user_agent="qc"))

    assert_flat_queries(listed=_json_rows(as_user(member), "auth/sessions"), add=add)


@pytest.mark.parametrize(
    ("path", "rows", "marker"),
    [
        ("/settings/users/", _users, 'data-email="qc-user-'),
        ("/settings/api-keys/", _api_keys, "<td>qc key "),
    ],
)
def test_a_team_page_takes_as_many_queries_for_2n_rows_as_for_n(path, rows, marker, alpha, users):
    browser = signed_in(alpha, users[Role.ADMIN].email)

    assert_flat_queries(listed=_page_rows(browser, path, marker), add=rows(alpha))
