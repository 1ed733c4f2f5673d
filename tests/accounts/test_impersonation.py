from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import ApiKey, ImpersonationSession, RefreshToken, Role, User
from apps.audit.models import AuditAction, AuditEvent
from tests.api import Api, as_user, bearer_for, host
from tests.conftest import tenant_client
from tests.factories import PASSWORD, GlobalAdminFactory


def impersonate(users, target, reason="customer ticket #42", admin_api=None):
    admin_api = admin_api or Api(host(), bearer_for(users["global"]))
    return admin_api.post("admin/impersonate", {"user_id": str(target.pk), "reason": reason})


def test_impersonation_gives_a_short_token_with_the_actor_and_no_refresh(users, alpha):
    admin_api = Api(host(), bearer_for(users["global"]))
    refresh_rows = RefreshToken.objects.count()

    response = impersonate(users, users[Role.ADMIN], admin_api=admin_api)

    assert response.status_code == 201
    body = response.json()
    assert "refresh" not in body
    token = AccessToken(body["access"])
    assert token["act"] == {"sub": str(users["global"].pk), "email": "root@deeplens.test"}
    assert token["sub"] == str(users[Role.ADMIN].pk)
    assert token["exp"] - token["iat"] <= 15 * 60
    assert RefreshToken.objects.count() == refresh_rows
    me = Api(host(), f"Bearer {body['access']}").get("auth/me").json()
    assert me["user"]["email"] == "admin@alpha.test"
    assert me["impersonator"] == {"id": str(users["global"].pk), "email": "root@deeplens.test"}
    started = AuditEvent.objects.get(action=AuditAction.IMPERSONATION_STARTED)
    assert (started.actor, started.tenant, started.details["reason"]) == (
        users["global"],
        alpha,
        "customer ticket #42",
    )


def test_actions_while_impersonating_record_both_identities(users, alpha):
    token = impersonate(users, users[Role.ADMIN]).json()["access"]

    created = Api(host(), f"Bearer {token}").post("users", {"email": "hired@alpha.test", "role": "viewer"})

    assert created.status_code == 201
    event = AuditEvent.objects.get(action=AuditAction.USER_CREATED, details__email="hired@alpha.test")
    assert (event.actor_email, event.impersonator_email) == ("admin@alpha.test", "root@deeplens.test")
    assert event.impersonator == users["global"]


def test_nobody_can_impersonate_a_global_admin(users):
    other_admin = GlobalAdminFactory(email="other-root@deeplens.test")

    response = impersonate(users, other_admin)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "cannot_impersonate_admin"
    assert not ImpersonationSession.objects.exists()


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.MEMBER])
def test_only_global_admins_impersonate(users, role):
    response = as_user(users[role]).post(
        "admin/impersonate", {"user_id": str(users[Role.VIEWER].pk), "reason": "curious"}
    )

    assert response.status_code == 403
    assert not ImpersonationSession.objects.exists()


def test_an_impersonation_token_cannot_impersonate_again(users, alpha):
    token = impersonate(users, users[Role.OWNER]).json()["access"]

    response = Api(host(), f"Bearer {token}").post(
        "admin/impersonate", {"user_id": str(users[Role.VIEWER].pk), "reason": "chain"}
    )

    assert response.status_code == 403
    assert ImpersonationSession.objects.count() == 1


def test_a_reason_is_required(users):
    response = impersonate(users, users[Role.MEMBER], reason="   ")

    assert response.status_code == 400
    assert not ImpersonationSession.objects.exists()


def test_stopping_ends_the_token_at_once(users, alpha):
    token = impersonate(users, users[Role.MEMBER]).json()["access"]
    api = Api(host(), f"Bearer {token}")

    assert api.post("admin/impersonate/stop").status_code == 204

    assert api.get("auth/me").json()["error"]["code"] == "token_revoked"
    stopped = AuditEvent.objects.get(action=AuditAction.IMPERSONATION_STOPPED)
    assert (stopped.actor, stopped.impersonator) == (users[Role.MEMBER], users["global"])


def test_an_expired_impersonation_is_refused(users, alpha):
    token = impersonate(users, users[Role.MEMBER]).json()["access"]
    ImpersonationSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    assert Api(host(), f"Bearer {token}").get("auth/me").status_code == 401


def test_browser_impersonation_from_the_admin_shows_a_banner_and_stops(users, alpha, public_client):
    public_client.post("/admin/login/?next=/admin/", {"username": "root@deeplens.test", "password": PASSWORD})
    target = users[Role.MEMBER]

    response = public_client.post(f"/admin/accounts/user/{target.pk}/impersonate/", {"reason": "ticket 7"})

    assert response.status_code == 302
    accept = response["Location"]
    assert accept.startswith("http://alpha.localhost/accounts/impersonate/accept/?ticket=")
    browser = tenant_client(alpha)
    assert browser.get(accept.split("alpha.localhost", 1)[1]).status_code == 302
    page = browser.get("/").content.decode()
    assert "acting as <strong>member@alpha.test</strong>" in page
    assert "root@deeplens.test" in page
    # The ticket is single-use.
    assert tenant_client(alpha).get(accept.split("alpha.localhost", 1)[1]).status_code == 403

    stopped = browser.post("/accounts/impersonate/stop/")
    assert stopped.status_code == 200
    assert browser.get("/").status_code == 302
    session = ImpersonationSession.objects.get()
    assert session.ended_at is not None
    assert session.channel == "browser"


def test_the_browser_impersonation_records_actions_with_both_names(users, alpha, public_client):
    public_client.post("/admin/login/?next=/admin/", {"username": "root@deeplens.test", "password": PASSWORD})
    target = users[Role.ADMIN]
    accept = public_client.post(f"/admin/accounts/user/{target.pk}/impersonate/", {"reason": "help"})[
        "Location"
    ]
    browser = tenant_client(alpha)
    browser.get(accept.split("alpha.localhost", 1)[1])

    browser.post("/settings/users/", {"email": "invited-while-impersonating@alpha.test", "role": "member"})

    event = AuditEvent.objects.get(action=AuditAction.USER_CREATED)
    assert (event.actor_email, event.impersonator_email) == ("admin@alpha.test", "root@deeplens.test")


# Issue 17 item 6: an impersonation cannot create credentials that outlive it, and its logout ends it.


def test_an_impersonation_token_cannot_create_an_api_key(users, alpha):
    token = impersonate(users, users[Role.ADMIN]).json()["access"]
    api = Api(host(alpha), f"Bearer {token}")

    response = api.post("api-keys", {"name": "backdoor", "scopes": ["admin"]})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "impersonation_cannot_create_credentials"
    assert not ApiKey.objects.filter(name="backdoor").exists()


def test_an_impersonation_token_cannot_change_the_password(users, alpha):
    target = users[Role.ADMIN]
    token = impersonate(users, target).json()["access"]
    api = Api(host(alpha), f"Bearer {token}")

    response = api.post(
        "auth/password/change", {"old_password": PASSWORD, "new_password": "chosen by the impersonator 77"}
    )

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "impersonation_cannot_create_credentials"
    target.refresh_from_db()
    assert target.check_password(PASSWORD)


def test_an_impersonation_token_may_invite_but_not_create_a_user_with_a_password(users, alpha):
    token = impersonate(users, users[Role.OWNER]).json()["access"]
    api = Api(host(alpha), f"Bearer {token}")

    refused = api.post(
        "users", {"email": "mole@alpha.test", "role": "owner", "password": "chosen by the impersonator 77"}
    )
    invited = api.post("users", {"email": "invitee@alpha.test", "role": "member"})

    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "impersonation_cannot_create_credentials"
    assert not User.objects.filter(email="mole@alpha.test").exists()
    assert invited.status_code == 201


def test_a_browser_impersonation_cannot_create_an_api_key(users, alpha, public_client):
    public_client.post("/admin/login/?next=/admin/", {"username": "root@deeplens.test", "password": PASSWORD})
    accept = public_client.post(f"/admin/accounts/user/{users[Role.ADMIN].pk}/impersonate/", {"reason": "t"})
    browser = tenant_client(alpha)
    assert browser.get(accept["Location"].split("alpha.localhost", 1)[1]).status_code == 302

    response = browser.post("/settings/api-keys/", {"name": "backdoor", "scopes": ["admin"]})

    assert response.status_code == 403
    assert not ApiKey.objects.filter(name="backdoor").exists()


def test_logout_with_an_impersonation_token_ends_the_impersonation(users, alpha):
    token = impersonate(users, users[Role.MEMBER]).json()["access"]
    api = Api(host(alpha), f"Bearer {token}")

    assert api.post("auth/logout").status_code == 204

    assert api.get("auth/me").status_code == 401
    assert api.get("auth/me").json()["error"]["code"] == "token_revoked"
    assert ImpersonationSession.objects.get().ended_at is not None
