"""Hostile JSON bodies: nesting deep enough to exhaust recursion is a 400 parse_error on every JSON
endpoint, never a 500 (issue 17, item 7)."""

import re
import uuid

import pytest

from apps.accounts.models import Role
from apps.core.parsers import MAX_JSON_DEPTH, json_depth_exceeds
from tests.accounts.matrix_requests import REQUESTS
from tests.api import Api, as_user, host

NESTED = "[" * 990 + "]" * 990
NESTED_OBJECTS = '{"a":' * 990 + "1" + "}" * 990


def post_raw(api: Api, path: str, body: str, method: str = "post"):
    url = path if path.startswith("/") else f"/api/v1/{path}"
    return getattr(api.client, method)(url, body, content_type="application/json", **api.headers)


@pytest.mark.parametrize("body", [NESTED, NESTED_OBJECTS], ids=["arrays", "objects"])
@pytest.mark.parametrize("path", ["auth/login", "auth/password/reset", "auth/refresh"])
def test_deeply_nested_json_on_the_sign_in_doors_is_a_400_parse_error(alpha, path, body):
    response = post_raw(Api(host(alpha)), path, body)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "parse_error"
    assert f"nested more than {MAX_JSON_DEPTH} levels" in error["message"]


def test_deeply_nested_json_is_a_4xx_json_answer_on_every_json_endpoint(alpha, users):
    """Every endpoint of the permission matrix that takes a JSON body, as the tenant's owner (or the
    global admin for the platform's): a JSON 4xx, parse_error wherever the body is read."""
    owner, root = as_user(users[Role.OWNER]), as_user(users["global"], tenant=None)
    parse_errors = 0
    for (method, _name), call in REQUESTS.items():
        if method not in ("POST", "PATCH", "PUT") or call.files or call.body is None:
            continue
        path = call.path.replace("{tenant}", str(alpha.pk))
        path = re.sub(r"\{[a-z_]+\}", str(uuid.uuid4()), path)
        api = root if path.startswith(("admin/", "stats/")) else owner
        response = post_raw(api, path, NESTED, method.lower())

        assert 400 <= response.status_code < 500, (method, path, response.status_code)
        assert response["Content-Type"] == "application/json", (method, path)
        parse_errors += response.json()["error"]["code"] == "parse_error"
    assert parse_errors >= 20


def test_search_by_similarity_refuses_a_body_that_is_not_an_object(alpha, users):
    member = as_user(users[Role.MEMBER])
    for body in ("[1, 2]", '"image_id"', "42", "null", "true"):
        response = post_raw(member, "search/similarity", body)

        assert response.status_code == 400, body
        assert response.json()["error"]["code"] == "invalid_search", body


def test_the_depth_check_is_exact_and_iterative():
    assert not json_depth_exceeds({"a": [{"b": 1}]}, 3)
    assert json_depth_exceeds({"a": [{"b": []}]}, 3)
    deep: list = []
    for _ in range(100_000):  # far past the recursion limit: no RecursionError
        deep = [deep]
    assert json_depth_exceeds(deep, MAX_JSON_DEPTH)
