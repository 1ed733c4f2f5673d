import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError

from apps.accounts.models import Role
from tests.conftest import tenant_client
from tests.factories import PASSWORD, GlobalAdminFactory, UserFactory

User = get_user_model()


def login(client, email, password=PASSWORD):
    return client.post("/accounts/login/", {"username": email, "password": password})


def test_a_tenant_user_signs_in_and_sees_the_dashboard(alpha, alpha_client):
    UserFactory(tenant=alpha, email="ann@alpha.test", role=Role.ADMIN)

    response = login(alpha_client, "ann@alpha.test")
    assert response.status_code == 302
    assert response["Location"] == "/"

    dashboard = alpha_client.get("/")
    assert dashboard.status_code == 200
    content = dashboard.content.decode()
    assert "ann@alpha.test" in content
    assert "Local files" in content
    assert "medium" in content


def test_the_dashboard_needs_a_signed_in_user(alpha_client):
    response = alpha_client.get("/")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/"


@pytest.mark.parametrize("email", ["ann@alpha.test", "nobody@alpha.test"])
def test_a_wrong_password_and_an_unknown_user_get_the_same_message(alpha, alpha_client, email):
    UserFactory(tenant=alpha, email="ann@alpha.test")

    response = login(alpha_client, email, "wrong password")

    assert response.status_code == 200
    assert "That email and password do not match an account in this workspace." in response.content.decode()
    assert "_auth_user_id" not in alpha_client.session


def test_a_user_cannot_sign_in_on_another_tenant(alpha, beta_client):
    UserFactory(tenant=alpha, email="ann@alpha.test")

    response = login(beta_client, "ann@alpha.test")

    assert response.status_code == 200
    assert "_auth_user_id" not in beta_client.session


def test_a_session_from_one_tenant_is_anonymous_on_another(alpha, beta, alpha_client):
    UserFactory(tenant=alpha, email="ann@alpha.test")
    login(alpha_client, "ann@alpha.test")
    stolen = tenant_client(beta)
    stolen.cookies = alpha_client.cookies

    response = stolen.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_global_admin_can_open_any_tenant(beta_client):
    GlobalAdminFactory(email="root@deeplens.test")

    assert login(beta_client, "root@deeplens.test").status_code == 302
    assert beta_client.get("/").status_code == 200


def test_a_global_admin_reaches_the_django_admin(public_client):
    GlobalAdminFactory(email="root@deeplens.test")

    response = public_client.post(
        "/admin/login/?next=/admin/", {"username": "root@deeplens.test", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert public_client.get("/admin/").status_code == 200


def test_a_tenant_admin_cannot_sign_in_to_the_django_admin(alpha, public_client):
    UserFactory(tenant=alpha, email="ann@alpha.test", role=Role.ADMIN, is_staff=True)

    public_client.post("/admin/login/?next=/admin/", {"username": "ann@alpha.test", "password": PASSWORD})

    assert public_client.get("/admin/").status_code == 302


def test_the_same_email_may_exist_once_per_tenant(alpha, beta):
    UserFactory(tenant=alpha, email="sam@example.com")
    UserFactory(tenant=beta, email="sam@example.com")

    with pytest.raises(IntegrityError):
        User.objects.create(tenant=alpha, email="sam@example.com", role=Role.MEMBER)


def test_signing_out_ends_the_session(alpha, alpha_client):
    UserFactory(tenant=alpha, email="ann@alpha.test")
    login(alpha_client, "ann@alpha.test")

    response = alpha_client.post("/accounts/logout/")

    assert response.status_code == 302
    assert alpha_client.get("/").status_code == 302
