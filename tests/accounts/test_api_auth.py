import time
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.test import override_settings

from apps.accounts.models import RefreshToken, Role
from apps.accounts.tokens import access_token_for
from apps.audit.models import AuditAction, AuditEvent
from apps.tenants.models import Tenant, TenantStatus
from tests.api import Api, as_user, host
from tests.factories import PASSWORD, UserFactory


def login(tenant, email, password=PASSWORD, **extra):
    body = {"email": email, "password": password, **extra}
    if tenant is not None:
        body["tenant"] = tenant.slug
    return Api(host()).post("auth/login", body)


def test_login_returns_tokens_bound_to_the_tenant(users, alpha):
    response = login(alpha, "member@alpha.test")

    assert response.status_code == 200
    body = response.json()
    assert body["user"]["email"] == "member@alpha.test"
    assert body["user"]["tenant"] == "alpha"
    assert body["user"]["role"] == "member"
    me = Api(host(), f"Bearer {body['access']}").get("auth/me")
    assert me.status_code == 200
    assert me.json()["tenant"]["slug"] == "alpha"
    assert "images.upload" in me.json()["permissions"]
    assert "users.manage" not in me.json()["permissions"]
    assert (
        AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, actor=users[Role.MEMBER]).count() == 1
    )


def test_a_global_admin_logs_in_without_a_tenant(users):
    response = login(None, "root@deeplens.test")

    assert response.status_code == 200
    assert response.json()["user"]["tenant"] is None
    assert response.json()["user"]["role"] == "global_admin"


def test_a_tenant_user_cannot_log_in_without_naming_the_tenant(users):
    response = login(None, "member@alpha.test")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize(
    ("tenant_slug", "email", "password"),
    [
        ("alpha", "member@alpha.test", "wrong password"),
        ("alpha", "nobody@alpha.test", PASSWORD),
        ("no-such-tenant", "member@alpha.test", PASSWORD),
        ("beta", "member@alpha.test", PASSWORD),
    ],
)
def test_every_failed_login_gets_the_same_401(users, tenant_slug, email, password):
    response = Api(host()).post("auth/login", {"tenant": tenant_slug, "email": email, "password": password})

    assert response.status_code == 401
    assert response.json()["error"] == {
        "code": "invalid_credentials",
        "message": "The tenant, email and password do not match an account.",
        "detail": {},
    }
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, details__email=email).count() == 1


@override_settings(DEEPLENS_LOGIN_MAX_FAILURES=3)
def test_repeated_failures_are_throttled_even_with_the_right_password(users, alpha):
    for _ in range(3):
        assert login(alpha, "admin@alpha.test", "wrong").status_code == 401

    response = login(alpha, "admin@alpha.test")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_attempts"
    assert 0 < response.json()["error"]["detail"]["retry_after"] <= 900
    assert response["Retry-After"] == str(response.json()["error"]["detail"]["retry_after"])
    # Another account is not affected.
    assert login(alpha, "owner@alpha.test").status_code == 200


def test_a_suspended_tenant_cannot_log_in(users, alpha):
    Tenant.objects.filter(pk=alpha.pk).update(status=TenantStatus.SUSPENDED)

    response = login(alpha, "member@alpha.test")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_suspended"


def test_refresh_rotates_and_the_old_token_is_spent(users, alpha):
    tokens = login(alpha, "member@alpha.test").json()

    rotated = Api(host()).post("auth/refresh", {"refresh": tokens["refresh"]})

    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh"] != tokens["refresh"]
    assert Api(host(), f"Bearer {new['access']}").get("auth/me").status_code == 200
    old_row = RefreshToken.objects.get(revoked_reason=RefreshToken.RevokedReason.ROTATED)
    assert old_row.replaced_by_id is not None


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(users, alpha):
    first = login(alpha, "member@alpha.test").json()
    second = Api(host()).post("auth/refresh", {"refresh": first["refresh"]}).json()

    replay = Api(host()).post("auth/refresh", {"refresh": first["refresh"]})

    assert replay.status_code == 401
    assert replay.json()["error"]["code"] == "token_reused"
    # The thief's and the owner's tokens of that family are all dead now.
    assert (
        Api(host()).post("auth/refresh", {"refresh": second["refresh"]}).json()["error"]["code"]
        == "token_revoked"
    )
    assert Api(host(), f"Bearer {second['access']}").get("auth/me").json()["error"]["code"] == "token_revoked"
    assert AuditEvent.objects.filter(action=AuditAction.REFRESH_REUSED).count() == 1
    assert not RefreshToken.objects.filter(user=users[Role.MEMBER], revoked_at__isnull=True).exists()


def test_logout_ends_the_session_at_once(users, alpha):
    tokens = login(alpha, "member@alpha.test").json()
    api = Api(host(), f"Bearer {tokens['access']}")

    assert api.post("auth/logout").status_code == 204

    assert api.get("auth/me").json()["error"]["code"] == "token_revoked"
    assert Api(host()).post("auth/refresh", {"refresh": tokens["refresh"]}).status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.LOGOUT, actor=users[Role.MEMBER]).count() == 1


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        ("Bearer not-a-jwt", "token_invalid"),
        ("Bearer", "token_invalid"),
        ("Bearer a b", "token_invalid"),
    ],
)
def test_malformed_tokens_get_401_with_a_code(users, alpha, authorization, code):
    response = Api(host(alpha), authorization).get("auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == code


def test_a_tampered_token_is_refused(users, alpha):
    token = login(alpha, "member@alpha.test").json()["access"]
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-3]}abc"

    response = Api(host(alpha), f"Bearer {tampered}").get("auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_invalid"


def test_an_expired_token_is_refused(users, alpha):
    token = access_token_for(user=users[Role.MEMBER], session_id=uuid.uuid4())
    token.set_exp(lifetime=timedelta(seconds=-1))

    response = Api(host(alpha), f"Bearer {token}").get("auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_expired"


def test_sessions_are_listed_and_revocable(users, alpha):
    first = login(alpha, "member@alpha.test", HTTP_USER_AGENT="laptop").json()
    second = login(alpha, "member@alpha.test").json()
    api = Api(host(), f"Bearer {first['access']}")

    sessions = api.get("auth/sessions").json()["results"]
    assert len(sessions) == 2
    assert sum(session["current"] for session in sessions) == 1
    other = next(session for session in sessions if not session["current"])

    assert api.delete(f"auth/sessions/{other['id']}").status_code == 204
    assert Api(host(), f"Bearer {second['access']}").get("auth/me").status_code == 401
    assert api.get("auth/me").status_code == 200
    assert api.delete(f"auth/sessions/{other['id']}").status_code == 404


def test_changing_the_password_ends_other_sessions(users, alpha):
    keep = login(alpha, "member@alpha.test").json()
    other = login(alpha, "member@alpha.test").json()

    response = Api(host(), f"Bearer {keep['access']}").post(
        "auth/password/change", {"old_password": PASSWORD, "new_password": "a much longer new secret 42"}
    )

    assert response.status_code == 204
    assert Api(host(), f"Bearer {other['access']}").get("auth/me").status_code == 401
    assert Api(host(), f"Bearer {keep['access']}").get("auth/me").status_code == 200
    assert login(alpha, "member@alpha.test", "a much longer new secret 42").status_code == 200


@pytest.mark.parametrize(
    ("old", "new", "code"),
    [("wrong", "a much longer new secret 42", "old_password_invalid"), (PASSWORD, "123", "password_invalid")],
)
def test_a_bad_password_change_is_refused_and_changes_nothing(users, alpha, old, new, code):
    api = as_user(users[Role.MEMBER])

    response = api.post("auth/password/change", {"old_password": old, "new_password": new})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code
    assert login(alpha, "member@alpha.test").status_code == 200


def test_password_reset_by_emailed_token(users, alpha):
    assert (
        Api(host()).post("auth/password/reset", {"tenant": "alpha", "email": "member@alpha.test"}).status_code
        == 202
    )
    assert (
        Api(host()).post("auth/password/reset", {"tenant": "alpha", "email": "nobody@alpha.test"}).status_code
        == 202
    )

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["member@alpha.test"]
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line).strip()
    assert link.startswith("http://alpha.localhost")
    uid, token = link.rstrip("/").split("/")[-2:]

    response = Api(host()).post(
        "auth/password/reset/confirm", {"uid": uid, "token": token, "new_password": "brand new password 99"}
    )
    assert response.status_code == 204
    assert login(alpha, "member@alpha.test", "brand new password 99").status_code == 200
    # The link works once.
    again = Api(host()).post(
        "auth/password/reset/confirm", {"uid": uid, "token": token, "new_password": "x" * 20}
    )
    assert again.status_code == 401
    assert again.json()["error"]["code"] == "token_invalid"


def test_access_tokens_last_fifteen_minutes_and_refresh_tokens_seven_days(users, alpha):
    from rest_framework_simplejwt.tokens import AccessToken

    tokens = login(alpha, "member@alpha.test").json()
    access = AccessToken(tokens["access"])

    assert 15 * 60 - 5 <= access["exp"] - time.time() <= 15 * 60
    row = RefreshToken.objects.get(user=users[Role.MEMBER])
    assert 7 * 86400 - 60 <= (row.expires_at.timestamp() - time.time()) <= 7 * 86400
    assert access["tenant"] == str(alpha.pk)
    assert "act" not in access.payload


def test_a_deactivated_users_token_stops_working(users, alpha):
    api = as_user(users[Role.MEMBER])
    UserFactory._meta.model.objects.filter(pk=users[Role.MEMBER].pk).update(is_active=False)

    response = api.get("auth/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "user_inactive"
