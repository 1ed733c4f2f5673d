"""The OpenAPI document against real answers (issue 17, item 8): real calls through the test client
to the main endpoints (images, duplicates, jobs, search, storage, users, API keys, audit, usage,
sign-in, webhooks), each answer's status and body validated against what the served document (?format=json)
says of that operation. Objects are checked strictly: a field the document does not name fails as
much as a missing or mistyped one."""

import copy
import json
import uuid

import pytest
from django_tenants.utils import tenant_context
from openapi_schema_validator import OAS30Validator, oas30_format_checker

from apps.accounts.models import Role
from apps.duplicates.models import Group, GroupStatus
from tests.api import Api, as_user, host
from tests.duplicates.conftest import VARIANTS, ingest, jpeg_bytes, photo
from tests.factories import PASSWORD
from tests.images.conftest import upload, uploaded


def strict(node):
    """The schema with additionalProperties: false on every object that lists its properties and
    says nothing about others."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    made = {key: strict(value) for key, value in node.items()}
    if "properties" in made and "additionalProperties" not in made:
        made["additionalProperties"] = False
    return made


class Document:
    def __init__(self, served: dict):
        self.paths = served["paths"]
        self.components = strict(served["components"])
        self.disagreements: list[str] = []
        self.checked: set[str] = set()

    def check(self, response, method: str, template: str) -> dict | list | None:
        """Record where the answer disagrees with the document; return its JSON body."""
        name = f"{method.upper()} {template}"
        self.checked.add(name)
        operation = self.paths.get(template, {}).get(method)
        if operation is None:
            self.disagreements.append(f"{name}: not in the document")
            return None
        code = str(response.status_code)
        documented = operation["responses"].get(code)
        if documented is None:
            self.disagreements.append(f"{name}: {code} is not documented")
            return None
        media = response.get("Content-Type", "").split(";")[0]
        content = documented.get("content")
        if not content:
            if response.content:
                self.disagreements.append(f"{name}: {code} has a body the document does not describe")
            return None
        if media not in content:
            self.disagreements.append(f"{name}: {code} answers {media}, documented {sorted(content)}")
            return None
        body = json.loads(response.content) if media.endswith("json") else None
        schema = {**strict(content[media].get("schema", {})), "components": self.components}
        validator = OAS30Validator(schema, format_checker=oas30_format_checker)
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(part) for part in error.absolute_path)
            self.disagreements.append(f"{name}: {code} at /{where}: {error.message[:300]}")
        return body


@pytest.fixture
def document(public_client):
    response = public_client.get("/api/schema/?format=json")
    assert response["Content-Type"].startswith("application/json")
    return Document(json.loads(response.content))


@pytest.fixture
def group(alpha, users):
    """Three real uploads, processed and detected: one open group of near duplicates."""
    member = as_user(users[Role.MEMBER])
    img = photo(3)
    ids = [
        ingest(alpha, member, "original.jpg", jpeg_bytes(img)),
        ingest(alpha, member, "mirror.jpg", VARIANTS["hflip"](img)),
        ingest(alpha, member, "copy.png", VARIANTS["png"](img)),
    ]
    with tenant_context(alpha):
        made = Group.objects.get(status=GroupStatus.OPEN)
    return made, ids


def test_image_duplicate_job_and_search_answers_match_the_document(document, alpha, users, group):
    api = as_user(users[Role.ADMIN])
    made, ids = group
    image_id = ids[0]
    img = photo(3)
    missing = uuid.uuid4()

    document.check(api.get("images"), "get", "/api/v1/images")
    document.check(api.get("images", {"limit": 1, "sort": "-created_at"}), "get", "/api/v1/images")
    document.check(api.get(f"images/{image_id}"), "get", "/api/v1/images/{image_id}")
    document.check(api.get(f"images/{missing}"), "get", "/api/v1/images/{image_id}")
    document.check(api.get(f"images/{image_id}/status"), "get", "/api/v1/images/{image_id}/status")
    document.check(api.get(f"images/{image_id}/metadata"), "get", "/api/v1/images/{image_id}/metadata")
    document.check(api.get(f"images/{image_id}/thumbnails"), "get", "/api/v1/images/{image_id}/thumbnails")
    document.check(api.get("images/deleted"), "get", "/api/v1/images/deleted")
    document.check(api.get("images/failed"), "get", "/api/v1/images/failed")
    document.check(api.get("images/search", {"q": "original"}), "get", "/api/v1/images/search")
    document.check(api.get("duplicates/groups"), "get", "/api/v1/duplicates/groups")
    document.check(api.get(f"duplicates/groups/{made.pk}"), "get", "/api/v1/duplicates/groups/{group_id}")
    document.check(api.get(f"duplicates/groups/{missing}"), "get", "/api/v1/duplicates/groups/{group_id}")
    document.check(api.get("duplicates/report"), "get", "/api/v1/duplicates/report")
    document.check(api.get("duplicates/settings"), "get", "/api/v1/duplicates/settings")
    document.check(api.get("duplicates/upload-policy"), "get", "/api/v1/duplicates/upload-policy")
    document.check(
        api.post(f"duplicates/groups/{made.pk}/resolve", {"keep": [image_id], "dry_run": True}),
        "post",
        "/api/v1/duplicates/groups/{group_id}/resolve",
    )
    rescan = document.check(api.post("duplicates/rescan", {}), "post", "/api/v1/duplicates/rescan")
    assert isinstance(rescan, dict), document.disagreements
    job_id = rescan["id"]
    document.check(api.get(f"duplicates/jobs/{job_id}"), "get", "/api/v1/duplicates/jobs/{job_id}")
    document.check(api.get(f"jobs/{job_id}"), "get", "/api/v1/jobs/{job_id}")
    document.check(api.get(f"jobs/{missing}"), "get", "/api/v1/jobs/{job_id}")
    document.check(
        api.post("search/similarity", {"image_id": image_id, "limit": 5}), "post", "/api/v1/search/similarity"
    )
    document.check(api.post("search/similarity", [1, 2]), "post", "/api/v1/search/similarity")
    document.check(api.get("search/text", {"q": "a photo"}), "get", "/api/v1/search/text")
    document.check(api.get("search/hash", {"image_id": image_id}), "get", "/api/v1/search/hash")
    document.check(api.get("search/models"), "get", "/api/v1/search/models")
    document.check(api.post("search/duplicates", {"image_id": image_id}), "post", "/api/v1/search/duplicates")
    document.check(
        api.client.post(
            "/api/v1/search/duplicates", {"file": uploaded("q.jpg", jpeg_bytes(img))}, **api.headers
        ),
        "post",
        "/api/v1/search/duplicates",
    )
    document.check(upload(api, "another.jpg", jpeg_bytes(photo(4))), "post", "/api/v1/images/upload")
    document.check(upload(api, "empty.jpg", b""), "post", "/api/v1/images/upload")

    assert document.disagreements == [], "\n".join(document.disagreements)
    assert len(document.checked) == 23


def test_account_storage_audit_and_usage_answers_match_the_document(document, alpha, users, public_client):
    admin = users[Role.ADMIN]
    api = as_user(admin)
    tenant = f"tenants/{alpha.pk}"
    anonymous = Api(host(alpha))

    login = document.check(
        anonymous.post("auth/login", {"tenant": "alpha", "email": admin.email, "password": PASSWORD}),
        "post",
        "/api/v1/auth/login",
    )
    document.check(
        anonymous.post("auth/login", {"tenant": "alpha", "email": admin.email, "password": "wrong"}),
        "post",
        "/api/v1/auth/login",
    )
    assert isinstance(login, dict), document.disagreements
    document.check(
        anonymous.post("auth/refresh", {"refresh": login["refresh"]}), "post", "/api/v1/auth/refresh"
    )
    document.check(anonymous.post("auth/refresh", {"refresh": "forged"}), "post", "/api/v1/auth/refresh")
    document.check(api.get("auth/me"), "get", "/api/v1/auth/me")
    document.check(api.get("auth/sessions"), "get", "/api/v1/auth/sessions")
    document.check(anonymous.get("auth/me"), "get", "/api/v1/auth/me")
    document.check(api.get("users"), "get", "/api/v1/users")
    document.check(api.get(f"users/{admin.pk}"), "get", "/api/v1/users/{user_id}")
    document.check(
        api.post("users", {"email": "new@alpha.test", "role": "viewer", "password": "a-long-passphrase-42"}),
        "post",
        "/api/v1/users",
    )
    document.check(api.post("users", {"email": "not an address"}), "post", "/api/v1/users")
    created = document.check(
        api.post("api-keys", {"name": "ci", "scopes": ["images.read"]}), "post", "/api/v1/api-keys"
    )
    document.check(api.get("api-keys"), "get", "/api/v1/api-keys")
    assert isinstance(created, dict), document.disagreements
    document.check(api.get("audit-events"), "get", "/api/v1/audit-events")
    document.check(api.get("audit-events", {"action": "no.such.action"}), "get", "/api/v1/audit-events")
    document.check(api.get(f"{tenant}/analytics"), "get", "/api/v1/tenants/{tenant_id}/analytics")
    document.check(api.get("stats/overview"), "get", "/api/v1/stats/overview")
    configs = document.check(
        api.get(f"{tenant}/storage-configs"), "get", "/api/v1/tenants/{tenant_id}/storage-configs"
    )
    assert isinstance(configs, dict), document.disagreements
    config_id = configs["results"][0]["id"]
    document.check(
        api.get(f"{tenant}/storage-config/{config_id}/usage"),
        "get",
        "/api/v1/tenants/{tenant_id}/storage-config/{config_id}/usage",
    )
    document.check(
        api.get(f"{tenant}/storage-config/{config_id}/jobs"),
        "get",
        "/api/v1/tenants/{tenant_id}/storage-config/{config_id}/jobs",
    )
    document.check(
        api.post(f"{tenant}/storage-config/{config_id}/test"),
        "post",
        "/api/v1/tenants/{tenant_id}/storage-config/{config_id}/test",
    )
    document.check(
        api.post(f"{tenant}/storage-config", {"name": "x", "provider": "s3", "config": {}}),
        "post",
        "/api/v1/tenants/{tenant_id}/storage-config",
    )
    document.check(
        api.get(f"{tenant}/thumbnail-config"), "get", "/api/v1/tenants/{tenant_id}/thumbnail-config"
    )
    document.check(as_user(users[Role.VIEWER]).get("users"), "get", "/api/v1/users")

    assert document.disagreements == [], "\n".join(document.disagreements)
    assert len(document.checked) == 18


def test_webhook_answers_match_the_document(document, users):
    api = as_user(users[Role.ADMIN])
    base = "/api/v1/webhooks/{endpoint_id}"
    # a public address: nothing is sent, deliveries are queued after a commit the test never makes
    created = document.check(
        api.post("webhooks", {"url": "https://93.184.216.34/hook", "events": ["job.finished"]}),
        "post",
        "/api/v1/webhooks",
    )
    assert isinstance(created, dict), document.disagreements
    endpoint = f"webhooks/{created['id']}"
    document.check(api.get("webhooks"), "get", "/api/v1/webhooks")
    ping = document.check(api.post(f"{endpoint}/ping"), "post", f"{base}/ping")
    assert isinstance(ping, dict), document.disagreements
    document.check(api.get(f"{endpoint}/deliveries"), "get", f"{base}/deliveries")
    document.check(
        api.post(f"{endpoint}/deliveries/{ping['id']}/redeliver"),
        "post",
        f"{base}/deliveries/{{delivery_id}}/redeliver",
    )
    document.check(api.patch(endpoint, {"is_active": False}), "patch", base)
    disabled = api.post(f"{endpoint}/ping")
    document.check(disabled, "post", f"{base}/ping")

    assert disabled.status_code == 409
    assert document.disagreements == [], "\n".join(document.disagreements)
    assert len(document.checked) == 6


def test_the_strict_check_finds_an_undocumented_field(document, users):
    """The check itself: a field the document does not name is a disagreement."""
    api = as_user(users[Role.ADMIN])
    response = api.get("auth/me")
    tampered = copy.copy(response)
    tampered.content = json.dumps({**response.json(), "undocumented": 1}).encode()

    document.check(tampered, "get", "/api/v1/auth/me")

    assert len(document.disagreements) == 1 and "undocumented" in document.disagreements[0]
