"""Every API endpoint by every kind of caller, against a checked-in golden table.

tests/accounts/permissions_golden.py says, for each endpoint (method, URL name) and each principal
(anonymous, each role, a global admin, an API key of each scope), the exact status code: the
endpoint's success code where the caller may, 403 where it may not, 401 without a credential. The
request for each endpoint (tests/accounts/matrix_requests.py) is one that succeeds for an allowed
caller. The rows and credentials are made once for the module (tests/accounts/matrix_world.py) and
every test runs in a savepoint inside that transaction.

Independent rules (a viewer never manages storage, ...) are checked against the product's permission
tables, so a wrong grant there fails even where the golden table was copied from it.
"""

import itertools

import pytest
from django.urls import URLPattern

from apps.accounts.models import ApiKeyScope, Role
from apps.accounts.permissions import ROLE_PERMISSIONS, SCOPE_PERMISSIONS, Perm, api_key_permissions
from deeplens.urls_api import public_api_patterns, tenant_api_patterns
from tests.accounts.matrix_requests import REQUESTS, Call
from tests.accounts.matrix_world import PRINCIPALS, World, world_build
from tests.accounts.permissions_golden import GOLDEN, KNOWN_BUGS
from tests.api import Api, host
from tests.support.transactions import module_transaction

METHODS = ("get", "post", "put", "patch", "delete")


def endpoints(patterns: list[URLPattern]) -> list[tuple[str, str]]:
    return sorted(
        {
            (method.upper(), pattern.name)
            for pattern in patterns
            for method in METHODS
            if hasattr(pattern.callback.view_class, method)
        }
    )


TENANT_ENDPOINTS = endpoints(tenant_api_patterns)
PUBLIC_ENDPOINTS = endpoints(public_api_patterns)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> World:
    with module_transaction(django_db_blocker):
        yield world_build()


def fill(value, world: World, principal: str):
    if isinstance(value, str):
        names = {**world.ids, **world.extra, "session": world.sessions.get(principal, world.ids["tenant"])}
        names["image_url"] = "http://127.0.0.1:9/matrix.jpg"
        return value.format(**names) if "{" in value else value
    if isinstance(value, list):
        return [fill(v, world, principal) for v in value]
    if isinstance(value, dict):
        return {k: fill(v, world, principal) for k, v in value.items()}
    return value


def call(api: Api, method: str, request: Call, world: World, principal: str):
    path = "/api/v1/" + fill(request.path, world, principal)
    if request.files:
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = {name: SimpleUploadedFile("matrix-upload.jpg", world.extra["jpeg"]) for name in request.files}
        return api.client.post(path, data, **api.headers)
    return api.call(method.lower(), path, fill(request.body, world, principal))


def expected(method: str, name: str, principal: str) -> int:
    row = GOLDEN[(method, name)]
    return row[PRINCIPALS.index(principal)]


# Structure: the golden table, the requests and the URL conf name the same endpoints.


def test_every_endpoint_in_the_url_conf_is_in_the_golden_table():
    assert sorted(set(TENANT_ENDPOINTS) - set(GOLDEN)) == []
    assert sorted(set(GOLDEN) - set(TENANT_ENDPOINTS)) == []


def test_every_endpoint_has_a_request_and_every_row_a_column_per_principal():
    assert sorted(set(TENANT_ENDPOINTS) - set(REQUESTS)) == []
    assert {len(row) for row in GOLDEN.values()} == {len(PRINCIPALS)}


def test_the_public_site_serves_only_sign_in_and_the_platform():
    assert all(name.startswith(("auth-", "admin-", "stats-", "audit-")) for _m, name in PUBLIC_ENDPOINTS)


# Rules a product owner states, checked against the product's tables.


def test_a_viewer_only_looks_and_searches():
    assert ROLE_PERMISSIONS[Role.VIEWER] == {
        Perm.AUTHENTICATED,
        Perm.ACCOUNT_SELF,
        Perm.IMAGES_VIEW,
        Perm.SEARCH,
    }


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
@pytest.mark.parametrize(
    "power",
    [Perm.STORAGE_MANAGE, Perm.USERS_MANAGE, Perm.API_KEYS_MANAGE, Perm.AUDIT_VIEW, Perm.IMAGES_DELETE_ANY],
)
def test_viewers_and_members_never_administer(role, power):
    assert power not in ROLE_PERMISSIONS[role]


def test_only_owners_change_tenant_settings_and_only_global_admins_run_the_platform():
    assert [role for role, perms in ROLE_PERMISSIONS.items() if Perm.TENANT_SETTINGS in perms] == [
        Role.OWNER,
        Role.GLOBAL_ADMIN,
    ]
    assert [role for role, perms in ROLE_PERMISSIONS.items() if Perm.PLATFORM_ADMIN in perms] == [
        Role.GLOBAL_ADMIN
    ]


def test_roles_are_nested():
    order = [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER, Role.GLOBAL_ADMIN]
    for lower, higher in itertools.pairwise(order):
        assert ROLE_PERMISSIONS[lower] < ROLE_PERMISSIONS[higher]


def test_no_key_scope_but_admin_manages_users_and_none_manages_keys_the_platform_or_a_person():
    for scope, perms in SCOPE_PERMISSIONS.items():
        assert (Perm.USERS_MANAGE in perms) == (scope == ApiKeyScope.ADMIN), scope
        assert not perms & {
            Perm.API_KEYS_MANAGE,
            Perm.PLATFORM_ADMIN,
            Perm.ACCOUNT_SELF,
            Perm.TENANT_SETTINGS,
        }


@pytest.mark.parametrize("scope", ApiKeyScope.values)
@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER])
def test_a_key_never_does_more_than_its_creator(scope, role):
    assert api_key_permissions(scopes=[scope], creator_role=role) <= ROLE_PERMISSIONS[role]


def test_a_search_key_cannot_write():
    writes = {p for p in Perm if p.endswith(("manage", "upload", "delete_own", "delete_any", "settings"))}
    assert not SCOPE_PERMISSIONS[ApiKeyScope.SEARCH] & writes


# The matrix.

CASES = [
    pytest.param(
        method,
        name,
        principal,
        id=f"{method} {name} {principal}",
        marks=[pytest.mark.xfail(strict=True, reason=KNOWN_BUGS[(method, name, principal)])]
        if (method, name, principal) in KNOWN_BUGS
        else [],
    )
    for method, name in TENANT_ENDPOINTS
    for principal in PRINCIPALS
]


@pytest.mark.parametrize(("method", "name", "principal"), CASES)
def test_permission_matrix(world, db, method, name, principal):
    api = Api(host(world.tenant), world.credentials[principal])

    response = call(api, method, REQUESTS[(method, name)], world, principal)

    want = expected(method, name, principal)
    assert response.status_code == want, getattr(response, "content", b"")[:300]
    if want == 403:
        # not_your_image: an upload key acts for its creator (the owner), who did not upload the image.
        assert response.json()["error"]["code"] in {
            "permission_denied",
            "api_key_cannot_create",
            "not_your_image",
        }
    if want == 401:
        assert response.json()["error"]["code"] in {
            "not_authenticated",
            "authentication_failed",
            "mfa_challenge_invalid",
            "sso_code_invalid",
        }


# One person and two keys on every endpoint; every tenant principal on auth/me.
CROSS_TENANT = [
    pytest.param(method, name, principal, id=f"{method} {name} {principal}")
    for method, name in TENANT_ENDPOINTS
    for principal in PRINCIPALS[1:]
    if principal != "global_admin"
    and (principal in (Role.OWNER, "key:admin", "key:search") or (method, name) == ("GET", "auth-me"))
]


@pytest.mark.parametrize(("method", "name", "principal"), CROSS_TENANT)
def test_credentials_of_one_tenant_are_refused_on_another(world, db, method, name, principal):
    """Refused on beta's host before any view runs, whatever the endpoint would have said."""
    api = Api(host(world.other), world.credentials[principal])

    response = call(api, method, REQUESTS[(method, name)], world, principal)

    assert response.status_code == 403, response.content
    assert response.json()["error"]["code"] == "tenant_mismatch"


@pytest.mark.parametrize(("method", "name"), PUBLIC_ENDPOINTS, ids=[f"{m} {n}" for m, n in PUBLIC_ENDPOINTS])
@pytest.mark.parametrize("principal", ["anonymous", "global_admin"])
def test_public_site_matrix(world, db, method, name, principal):
    """On the base URL, sign-in works for anyone and the platform endpoints for global admins."""
    api = Api(host(), world.credentials[principal])

    response = call(api, method, REQUESTS[(method, name)], world, principal)

    assert response.status_code == expected(method, name, principal), response.content[:300]
