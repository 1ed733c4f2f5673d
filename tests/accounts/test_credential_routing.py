"""One base URL for the API: the credential picks the tenant, and never another tenant's data."""

from apps.accounts.models import Role
from tests.api import Api, api_key_for, bearer_for, host


def emails(response) -> set[str]:
    return {user["email"] for user in response.json()["results"]}


def test_a_token_on_the_base_url_reaches_its_own_tenant(users, alpha):
    response = Api(host(), bearer_for(users[Role.ADMIN])).get("users")

    assert response.status_code == 200
    assert emails(response) == {
        "viewer@alpha.test",
        "member@alpha.test",
        "admin@alpha.test",
        "owner@alpha.test",
    }


def test_a_token_of_tenant_a_is_refused_on_tenant_bs_host(users, beta):
    response = Api(host(beta), bearer_for(users[Role.ADMIN])).get("users")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_mismatch"


def test_an_api_key_of_tenant_a_is_refused_on_tenant_bs_host(users, alpha, beta):
    key = api_key_for(tenant=alpha, creator=users[Role.OWNER], scopes=["admin"])

    assert Api(host(alpha), key).get("users").status_code == 200
    response = Api(host(beta), key).get("users")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_mismatch"


def test_an_api_key_on_the_base_url_reaches_its_own_tenant(users, alpha):
    key = api_key_for(tenant=alpha, creator=users[Role.OWNER], scopes=["admin"])

    response = Api(host(), key).get("users")

    assert response.status_code == 200
    assert "member@beta.test" not in emails(response)


def test_a_global_admin_picks_a_tenant_by_header(users):
    api = Api(host(), bearer_for(users["global"]))

    response = api.get("users", HTTP_X_DEEPLENS_TENANT="beta")

    assert response.status_code == 200
    assert emails(response) == {"member@beta.test"}


def test_a_global_admin_on_the_base_url_without_a_tenant_gets_no_tenant_data(users):
    response = Api(host(), bearer_for(users["global"])).get("users")

    assert response.status_code == 404


def test_a_tenant_user_cannot_pick_another_tenant_by_header(users):
    api = Api(host(), bearer_for(users[Role.ADMIN]))

    response = api.get("users", HTTP_X_DEEPLENS_TENANT="beta")

    assert response.status_code == 200
    assert emails(response) == {
        "viewer@alpha.test",
        "member@alpha.test",
        "admin@alpha.test",
        "owner@alpha.test",
    }


def test_a_browser_session_of_tenant_a_is_anonymous_on_tenant_bs_api(users, alpha, beta):
    from tests.conftest import tenant_client
    from tests.factories import PASSWORD

    alpha_browser = tenant_client(alpha)
    alpha_browser.post("/accounts/login/", {"username": "admin@alpha.test", "password": PASSWORD})
    beta_browser = tenant_client(beta)
    beta_browser.cookies = alpha_browser.cookies

    assert alpha_browser.get("/api/v1/users").status_code == 200
    assert beta_browser.get("/api/v1/users").status_code == 401
