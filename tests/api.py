"""Helpers for API tests: a JSON client per host and credentials minted like login mints them."""

import json

from django.conf import settings
from django.test import Client

from apps.accounts.services import api_key_create
from apps.accounts.services.sessions import _session_start
from apps.audit.context import Actor


class Api:
    """A JSON client for /api/v1 on one host, with an optional credential."""

    def __init__(self, host: str, authorization: str = "", **headers):
        self.client = Client(HTTP_HOST=host)
        self.headers = {"HTTP_AUTHORIZATION": authorization, **headers} if authorization else headers

    def call(self, method: str, path: str, data=None, **headers):
        kwargs = {**self.headers, **headers}
        url = path if path.startswith("/") else f"/api/v1/{path}"
        if method in ("get", "delete") and data is None:
            return getattr(self.client, method)(url, **kwargs)
        if method == "get":
            return self.client.get(url, data, **kwargs)
        body = json.dumps(data if data is not None else {})
        return getattr(self.client, method)(url, body, content_type="application/json", **kwargs)

    def get(self, path, data=None, **headers):
        return self.call("get", path, data, **headers)

    def post(self, path, data=None, **headers):
        return self.call("post", path, data, **headers)

    def patch(self, path, data=None, **headers):
        return self.call("patch", path, data, **headers)

    def delete(self, path, **headers):
        return self.call("delete", path, None, **headers)


def host(tenant=None) -> str:
    return f"{tenant.slug}.{settings.DEEPLENS_BASE_DOMAIN}" if tenant else settings.DEEPLENS_BASE_DOMAIN


def bearer_for(user) -> str:
    """A fresh access token (a new session), minted the way login does."""
    access, _refresh, _row = _session_start(user=user, actor=Actor.system())
    return f"Bearer {access}"


def api_key_for(*, tenant, creator, scopes) -> str:
    _key, raw = api_key_create(
        tenant=tenant, creator=creator, name="test key", scopes=scopes, actor=Actor(user=creator)
    )
    return f"Api-Key {raw}"


def as_user(user, tenant=None) -> Api:
    return Api(host(tenant if tenant is not None else user.tenant), bearer_for(user))
