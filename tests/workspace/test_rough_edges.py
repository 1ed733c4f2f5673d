"""UI rough edges: the unknown-workspace page is styled (its stylesheet loads on any host), and the
Team page offers only the roles the person may hand out."""

from django.conf import settings
from django.test import Client

from tests.conftest import signed_in


def test_the_unknown_workspace_page_gets_its_stylesheet(db):
    browser = Client(HTTP_HOST=f"nowhere.{settings.DEEPLENS_BASE_DOMAIN}")

    page = browser.get("/")
    stylesheet = browser.get("/static/css/deeplens.css")

    assert page.status_code == 404
    assert 'href="/static/css/deeplens.css"' in page.content.decode()
    assert stylesheet.status_code == 200
    assert b".error-page" in b"".join(stylesheet.streaming_content)


def test_the_team_page_offers_an_admin_no_owner_role_and_not_their_own(alpha, users):
    client = signed_in(alpha, users["admin"].email)

    page = client.get("/settings/users/")

    html = page.content.decode()
    offered = [value for value, _label in page.context["role_choices"]]
    assert offered == ["viewer", "member", "admin"]
    assert [value for value, _label in page.context["form"].fields["role"].choices] == offered
    assert 'aria-label="Role of admin@alpha.test"' not in html
    assert 'aria-label="Role of owner@alpha.test"' not in html
    assert 'aria-label="Role of member@alpha.test"' in html


def test_an_owner_is_offered_the_owner_role(alpha, users):
    page = signed_in(alpha, users["owner"].email).get("/settings/users/")

    assert [value for value, _label in page.context["role_choices"]] == ["viewer", "member", "admin", "owner"]


def test_the_team_page_counts_users_as_the_limit_and_the_dashboard_do(alpha, users):
    from apps.accounts.services import user_update
    from apps.audit.context import Actor

    user_update(user=users["viewer"], actor=Actor.system(), is_active=False)
    client = signed_in(alpha, users["admin"].email)

    team = client.get("/settings/users/")
    dashboard = client.get("/")

    active = sum(count for _label, count in dashboard.context["users_by_role"])
    assert active == 3
    assert f"{active} of 5 active users" in team.content.decode()


def test_a_search_from_the_page_counts_in_usage(alpha, users):
    from tests.api import as_user

    api = as_user(users["admin"])
    before = api.get(f"tenants/{alpha.pk}/analytics").json()["searches_today"]
    client = signed_in(alpha, users["member"].email)

    client.get("/search/", {"image_id": "00000000-0000-4000-8000-000000000001"})

    assert api.get(f"tenants/{alpha.pk}/analytics").json()["searches_today"] == before + 1


def test_a_bad_search_filter_is_named_as_on_the_form_and_shows_no_results(alpha, users):
    client = signed_in(alpha, users["member"].email)

    page = client.get(
        "/search/", {"image_id": "00000000-0000-4000-8000-000000000001", "similarity_threshold": "lots"}
    )

    assert page.status_code == 400
    error = page.context["error"]
    assert error.startswith("Min. similarity: ") and "similarity_threshold" not in error
    assert page.context["rows"] == []
