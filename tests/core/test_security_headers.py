"""Issue 17 item 8: a Content-Security-Policy the pages keep working under (no inline script
anywhere), HSTS on by default in production, and `Cache-Control: no-store` where secrets travel."""

import json
import os
import re
import subprocess
import sys

from django.conf import settings
from django.test import Client

from apps.accounts.models import Role
from tests.api import Api, as_user, bearer_for, host
from tests.conftest import signed_in, tenant_client
from tests.factories import PASSWORD

INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def assert_no_inline_script(html: str) -> None:
    assert INLINE_SCRIPT.findall(html) == []
    assert INLINE_HANDLER.findall(html) == []
    assert "javascript:" not in html


def test_every_answer_carries_the_content_security_policy(users, alpha):
    page = tenant_client(alpha).get("/accounts/login/")
    api = Api(host(alpha)).get("auth/me")
    admin = Client(HTTP_HOST=host()).get("/admin/login/")

    for response in (page, api, admin):
        policy = response["Content-Security-Policy"]
        assert "script-src 'self';" in policy
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
        assert "object-src 'none'" in policy
        assert "frame-ancestors 'none'" in policy


def test_no_template_has_inline_script():
    for path in sorted((settings.BASE_DIR / "templates").rglob("*.html")):
        html = path.read_text()
        assert INLINE_SCRIPT.findall(html) == [], path
        assert INLINE_HANDLER.findall(html) == [], path


def test_pages_that_had_inline_handlers_use_data_attributes(users, alpha):
    browser = signed_in(alpha, "admin@alpha.test")

    search = browser.get("/search/").content.decode()
    storage = browser.get("/settings/storage/").content.decode()

    assert "data-autosubmit" in search
    assert 'data-output="s-threshold-value"' in search
    assert_no_inline_script(search)
    assert_no_inline_script(storage)
    assert "/static/js/pages.js" in search


def test_the_api_docs_page_runs_no_inline_script(db):
    response = Client(HTTP_HOST=host()).get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert_no_inline_script(html)
    script = Client(HTTP_HOST=host()).get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


def test_answers_with_tokens_or_new_keys_are_not_stored(users, alpha):
    api = Api(host())
    login = api.post("auth/login", {"tenant": "alpha", "email": "admin@alpha.test", "password": PASSWORD})
    refresh = api.post("auth/refresh", {"refresh": login.json()["refresh"]})
    impersonate = Api(host(), bearer_for(users["global"])).post(
        "admin/impersonate", {"user_id": str(users[Role.MEMBER].pk), "reason": "ticket"}
    )
    key = as_user(users[Role.ADMIN], alpha).post("api-keys", {"name": "ci", "scopes": ["search"]})
    page_key = signed_in(alpha, "admin@alpha.test").post(
        "/settings/api-keys/", {"name": "ci page", "scopes": ["search"]}
    )

    assert [r.status_code for r in (login, refresh, impersonate, key, page_key)] == [200, 200, 201, 201, 201]
    assert all(no_store(r) for r in (login, refresh, impersonate, key, page_key))
    # Ordinary reads stay cacheable as before.
    assert not no_store(as_user(users[Role.ADMIN], alpha).get("auth/me"))


def production_settings(**extra) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in (
            "DJANGO_SETTINGS_MODULE",
            "DJANGO_SECURE_HSTS_SECONDS",
            "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS",
        )
    }
    env.update(
        DJANGO_SECRET_KEY="p" * 60,
        DATABASE_URL="postgresql://nobody@127.0.0.1:9/none",
        REDIS_URL="redis://127.0.0.1:9/0",
        DEEPLENS_STORAGE_KEY="x" * 44,
        **extra,
    )
    script = (
        "import json; from deeplens.settings import production as s; "
        "print(json.dumps([s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS]))"
    )
    run = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_production_settings_turn_hsts_on_by_default():
    assert production_settings() == [31536000, True]
    assert production_settings(DJANGO_SECURE_HSTS_SECONDS="0") == [0, True]
