import pytest
from django.core import mail

from apps.accounts.models import RefreshToken, Role, User
from apps.audit.models import AuditAction, AuditEvent
from apps.tenants.models import Tenant
from tests.api import Api, as_user, bearer_for, host


def test_an_admin_invites_a_user_by_email(users, alpha, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_user(users[Role.ADMIN]).post(
            "users", {"email": "New.Person@Alpha.test", "role": "viewer"}
        )

    assert response.status_code == 201
    assert response.json()["email"] == "new.person@alpha.test"
    assert response.json()["role"] == "viewer"
    created = User.objects.get(email="new.person@alpha.test")
    assert created.tenant == alpha
    assert not created.has_usable_password()
    assert len(mail.outbox) == 1
    assert "http://alpha.localhost/accounts/reset/" in mail.outbox[0].body
    event = AuditEvent.objects.get(action=AuditAction.USER_CREATED, target_id=str(created.pk))
    assert (event.actor, event.tenant, event.details["invited"]) == (users[Role.ADMIN], alpha, True)


def test_the_same_email_twice_is_a_conflict(users, alpha):
    response = as_user(users[Role.ADMIN]).post("users", {"email": "member@alpha.test", "role": "viewer"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "user_exists"


def test_the_user_quota_is_enforced(users, alpha):
    Tenant.objects.filter(pk=alpha.pk).update(max_users=4)
    count = User.objects.filter(tenant=alpha).count()

    response = as_user(users[Role.ADMIN]).post("users", {"email": "one.more@alpha.test", "role": "viewer"})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "user_quota_exceeded"
    assert User.objects.filter(tenant=alpha).count() == count


def test_an_admin_cannot_make_an_owner_but_an_owner_can(users, alpha):
    target = users[Role.MEMBER]

    refused = as_user(users[Role.ADMIN]).patch(f"users/{target.pk}", {"role": "owner"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "role_not_assignable"
    assert User.objects.get(pk=target.pk).role == Role.MEMBER

    allowed = as_user(users[Role.OWNER]).patch(f"users/{target.pk}", {"role": "owner"})
    assert allowed.status_code == 200
    assert allowed.json()["role"] == "owner"
    event = AuditEvent.objects.get(action=AuditAction.USER_ROLE_CHANGED)
    assert event.details == {"from": "member", "to": "owner"}


def test_an_admin_cannot_touch_an_owner(users, alpha):
    response = as_user(users[Role.ADMIN]).patch(f"users/{users[Role.OWNER].pk}", {"is_active": False})

    assert response.status_code == 403
    assert User.objects.get(pk=users[Role.OWNER].pk).is_active is True


def test_the_last_owner_stays(users, alpha):
    response = as_user(users["global"], alpha).patch(f"users/{users[Role.OWNER].pk}", {"role": "admin"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "last_owner"


def test_nobody_changes_their_own_role(users, alpha):
    response = as_user(users[Role.OWNER]).patch(f"users/{users[Role.OWNER].pk}", {"role": "viewer"})

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "cannot_change_self"


def test_deactivation_ends_the_users_sessions(users, alpha):
    member = users[Role.MEMBER]
    member_api = Api(host(), bearer_for(member))

    response = as_user(users[Role.ADMIN]).patch(f"users/{member.pk}", {"is_active": False})

    assert response.status_code == 200
    assert response.json()["is_active"] is False
    assert member_api.get("auth/me").status_code == 401
    assert not RefreshToken.objects.filter(user=member, revoked_at__isnull=True).exists()
    assert (
        AuditEvent.objects.filter(action=AuditAction.USER_DEACTIVATED, target_id=str(member.pk)).count() == 1
    )


def test_deleting_a_user_is_soft_and_frees_the_address(users, alpha):
    admin = as_user(users[Role.ADMIN])

    assert admin.delete(f"users/{users[Role.VIEWER].pk}").status_code == 204

    gone = User.objects.get(pk=users[Role.VIEWER].pk)
    assert gone.deleted_at is not None
    assert gone.is_active is False
    assert admin.get(f"users/{gone.pk}").status_code == 404
    assert admin.post("users", {"email": "viewer@alpha.test", "role": "viewer"}).status_code == 201


def test_users_of_another_tenant_are_not_found(users, alpha, beta):
    response = as_user(users[Role.ADMIN]).patch(f"users/{users['beta_member'].pk}", {"role": "viewer"})

    assert response.status_code == 404
    assert User.objects.get(pk=users["beta_member"].pk).role == Role.MEMBER


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "role": "viewer"}, "email"),
        ({"email": "x@alpha.test", "role": "god"}, "role"),
        ({"email": "x@alpha.test", "role": "global_admin"}, "role"),
    ],
)
def test_bad_user_input_is_refused(users, alpha, body, field):
    count = User.objects.count()

    response = as_user(users[Role.ADMIN]).post("users", body)

    assert response.status_code == 400
    assert field in response.json()["error"]["detail"]
    assert User.objects.count() == count
