"""Every API endpoint by every kind of caller, in its own and another tenant, from the URL conf.

The expected answer comes from the permission each endpoint declares and what each role or key
scope grants (apps/accounts/permissions.py). A new endpoint that declares no permission fails
`test_every_endpoint_declares_a_permission`; a wrong check anywhere fails the matrix.
"""

import re
import uuid

import pytest
from django.urls import URLPattern

from apps.accounts.api_permissions import required_permission_for
from apps.accounts.models import ApiKeyScope, Role
from apps.accounts.permissions import PUBLIC, api_key_permissions, role_permissions
from deeplens.urls_api import public_api_patterns, tenant_api_patterns
from tests.api import Api, api_key_for, bearer_for, host

METHODS = ("get", "post", "put", "patch", "delete")


def endpoints(patterns: list[URLPattern]) -> list[tuple[str, str, type]]:
    found = []
    for pattern in patterns:
        view = pattern.callback.view_class
        path = "/api/v1/" + re.sub(
            r"<slug:\w+>", "small", re.sub(r"<uuid:\w+>", "{id}", str(pattern.pattern))
        )
        found.extend((method, path, view) for method in METHODS if hasattr(view, method))
    return found


TENANT_ENDPOINTS = endpoints(tenant_api_patterns)
PUBLIC_ENDPOINTS = endpoints(public_api_patterns)
PRINCIPALS = [
    "anonymous",
    Role.VIEWER,
    Role.MEMBER,
    Role.ADMIN,
    Role.OWNER,
    "global_admin",
    *(f"key:{scope}" for scope in ApiKeyScope.values),
]


def test_every_endpoint_declares_a_permission():
    undeclared = [
        f"{method.upper()} {path}"
        for method, path, view in TENANT_ENDPOINTS + PUBLIC_ENDPOINTS
        if required_permission_for(view, method) is None
    ]
    assert undeclared == []


def test_the_matrix_covers_the_api():
    assert len(TENANT_ENDPOINTS) >= 20


def permissions_of(principal: str):
    if principal == "anonymous":
        return frozenset()
    if principal == "global_admin":
        return role_permissions(Role.GLOBAL_ADMIN)
    if principal.startswith("key:"):
        return api_key_permissions(scopes=[principal[4:]], creator_role=Role.OWNER)
    return role_permissions(principal)


def credential(principal: str, alpha, users) -> str:
    if principal == "anonymous":
        return ""
    if principal == "global_admin":
        return bearer_for(users["global"])
    if principal.startswith("key:"):
        return api_key_for(tenant=alpha, creator=users[Role.OWNER], scopes=[principal[4:]])
    return bearer_for(users[principal])


@pytest.mark.parametrize("where", ["own", "other"])
@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize(
    ("method", "path", "view"), TENANT_ENDPOINTS, ids=[f"{m.upper()} {p}" for m, p, _ in TENANT_ENDPOINTS]
)
def test_permission_matrix(users, alpha, beta, method, path, view, principal, where):
    required = required_permission_for(view, method)
    tenant = alpha if where == "own" else beta
    api = Api(host(tenant), credential(principal, alpha, users))

    response = api.call(
        method, path.replace("{id}", str(uuid.uuid4())), {} if method in ("post", "patch") else None
    )

    status = response.status_code
    if where == "other" and principal not in ("anonymous", "global_admin"):
        # A credential of alpha is refused anywhere on beta's host, before any view runs.
        assert status == 403, response.content
        assert response.json()["error"]["code"] == "tenant_mismatch"
    elif required == PUBLIC:
        assert status not in (401, 403), response.content
    elif principal == "anonymous":
        assert status == 401, response.content
    elif required in permissions_of(principal):
        assert status not in (401, 403), response.content
    else:
        assert status == 403, response.content
        assert response.json()["error"]["code"] in {"permission_denied", "api_key_cannot_create"}


@pytest.mark.parametrize(
    ("method", "path", "view"), PUBLIC_ENDPOINTS, ids=[f"{m.upper()} {p}" for m, p, _ in PUBLIC_ENDPOINTS]
)
@pytest.mark.parametrize("principal", [Role.OWNER, "global_admin", "anonymous"])
def test_public_site_matrix(users, alpha, method, path, view, principal):
    """On the base URL a tenant credential routes to its tenant; only global admins reach admin data."""
    required = required_permission_for(view, method)
    api = Api(host(), credential(principal, alpha, users))

    response = api.call(
        method, path.replace("{id}", str(uuid.uuid4())), {} if method in ("post", "patch") else None
    )

    if required == PUBLIC:
        assert response.status_code not in (401, 403)
    elif principal == "anonymous":
        assert response.status_code == 401
    elif required in permissions_of(principal):
        assert response.status_code not in (401, 403)
    else:
        assert response.status_code == 403
