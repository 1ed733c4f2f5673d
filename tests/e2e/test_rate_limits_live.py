"""Rate limits through the running product (gunicorn, its own Redis): concurrent requests against a
limit admit exactly the limit."""

import http.client
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.e2e


def call(product, method, path, body=None, token="", key=""):
    conn = http.client.HTTPConnection("127.0.0.1", product.port, timeout=30)
    headers = {"Host": "localhost", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Authorization"] = f"Api-Key {key}"
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, dict(response.getheaders()), (json.loads(data) if data else {})


def login(product, **credentials):
    status, _headers, body = call(product, "POST", "/api/v1/auth/login", credentials)
    assert status == 200, body
    return body["access"]


def test_concurrent_requests_against_a_key_limit_admit_exactly_the_limit(product):
    admin = login(product, tenant="demo", email="admin@demo.local", password="demo-admin")
    limit = 12
    # The key's own limit: a fresh counter, whatever other tests spent of the demo tenant's minute.
    status, _h, key = call(
        product,
        "POST",
        "/api/v1/api-keys",
        {"name": "load", "scopes": ["search"], "requests_per_minute": limit},
        token=admin,
    )
    assert status == 201, key
    if time.time() % 60 > 48:  # keep the burst inside one minute window
        time.sleep(60 - time.time() % 60 + 0.5)
    status, headers, _body = call(product, "GET", "/api/v1/images", key=key["key"])
    assert (status, headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == (
        200,
        str(limit),
        str(limit - 1),
    )

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(lambda _: call(product, "GET", "/api/v1/images", key=key["key"]), range(40)))

    codes = [status for status, _headers, _body in results]
    assert (codes.count(200), codes.count(429)) == (limit - 1, 40 - (limit - 1))
    refused = next((headers, body) for status, headers, body in results if status == 429)
    assert int(refused[0]["Retry-After"]) >= 1 and refused[0]["RateLimit-Remaining"] == "0"
    assert refused[1]["error"]["detail"]["scope"] == "api_key"
