from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.accounts.models import ApiKey, Role, User
from apps.audit.models import AuditAction, AuditEvent
from tests.api import Api, as_user, host


def create_key(api, **body):
    return api.post("api-keys", {"name": "ci uploader", "scopes": ["upload"], **body})


def test_a_key_is_shown_once_and_stored_only_as_a_hash(users, alpha):
    response = create_key(as_user(users[Role.ADMIN]))

    assert response.status_code == 201
    body = response.json()
    raw = body["key"]
    assert raw.startswith(f"dl_{body['prefix']}_")
    assert len(raw) > 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(k)::text FROM accounts_apikey k")
        stored = " ".join(row[0] for row in cursor.fetchall())
    assert raw not in stored
    assert raw.split("_", 2)[2] not in stored
    listed = as_user(users[Role.ADMIN]).get("api-keys").json()["results"]
    assert [key["prefix"] for key in listed] == [body["prefix"]]
    assert "key" not in listed[0]
    assert (
        AuditEvent.objects.filter(action=AuditAction.API_KEY_CREATED, details__prefix=body["prefix"]).count()
        == 1
    )


def test_a_key_authenticates_with_its_scopes(users, alpha):
    raw = create_key(as_user(users[Role.ADMIN]), scopes=["search"]).json()["key"]
    api = Api(host(), f"Api-Key {raw}")

    me = api.get("auth/me").json()
    assert me["api_key"]["scopes"] == ["search"]
    assert set(me["permissions"]) == {"authenticated", "images.view", "search"}
    refused = api.get("users")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "permission_denied"
    assert ApiKey.objects.get(prefix=me["api_key"]["prefix"]).last_used_at is not None


def test_a_revoked_key_gets_401_at_once(users, alpha):
    admin = as_user(users[Role.ADMIN])
    created = create_key(admin, scopes=["admin"]).json()
    api = Api(host(), f"Api-Key {created['key']}")
    assert api.get("users").status_code == 200

    assert admin.delete(f"api-keys/{created['id']}").status_code == 204

    response = api.get("users")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_revoked"
    assert AuditEvent.objects.filter(action=AuditAction.API_KEY_REVOKED).count() == 1


def test_an_expired_key_gets_401(users, alpha):
    created = create_key(
        as_user(users[Role.ADMIN]), expires_at=(timezone.now() + timedelta(hours=1)).isoformat()
    )
    ApiKey.objects.filter(pk=created.json()["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = Api(host(), f"Api-Key {created.json()['key']}").get("auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_expired"


@pytest.mark.parametrize("value", ["dl_short", "garbage", "dl_abcdefgh_wrongsecret"])
def test_a_malformed_or_unknown_key_gets_401(users, alpha, value):
    response = Api(host(alpha), f"Api-Key {value}").get("auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "api_key_invalid"


def test_a_key_never_exceeds_its_creator(users, alpha):
    raw = create_key(as_user(users[Role.ADMIN]), scopes=["admin"]).json()["key"]
    api = Api(host(), f"Api-Key {raw}")
    assert api.get("users").status_code == 200

    User.objects.filter(pk=users[Role.ADMIN].pk).update(role=Role.MEMBER)
    assert api.get("users").status_code == 403

    User.objects.filter(pk=users[Role.ADMIN].pk).update(is_active=False)
    assert api.get("auth/me").json()["error"]["code"] == "api_key_revoked"


def test_a_key_cannot_create_keys(users, alpha):
    raw = create_key(as_user(users[Role.ADMIN]), scopes=["admin"]).json()["key"]

    response = create_key(Api(host(), f"Api-Key {raw}"))

    assert response.status_code == 403
    assert ApiKey.objects.filter(tenant=alpha).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["everything"]}, "scopes"),
        ({"name": ""}, "name"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_key_requests_are_refused_and_create_nothing(users, alpha, body, field):
    response = create_key(as_user(users[Role.ADMIN]), **body)

    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid_input", "expiry_invalid"}
    assert field in response.json()["error"]["detail"]
    assert ApiKey.objects.filter(tenant=alpha).count() == 0


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
def test_only_admins_manage_keys(users, alpha, role):
    response = create_key(as_user(users[role]))

    assert response.status_code == 403
    assert ApiKey.objects.filter(tenant=alpha).count() == 0


def test_revoking_another_tenants_key_is_not_found(users, alpha, beta):
    created = create_key(as_user(users[Role.ADMIN])).json()

    response = as_user(users["global"], beta).delete(f"api-keys/{created['id']}")

    assert response.status_code == 404
    assert ApiKey.objects.get(pk=created["id"]).is_active is True
