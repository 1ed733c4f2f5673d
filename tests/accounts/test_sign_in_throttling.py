"""Issue 17 items 3 and 4: every sign-in door is throttled per account+client and per client with an
account-wide ceiling, on the normalised address; the admin site's sign-in is throttled and audited;
password-reset mails are throttled per address and per client."""

from django.core import mail
from django.test import Client, override_settings

from apps.audit.models import AuditAction, AuditEvent
from tests.api import Api, host
from tests.conftest import tenant_client
from tests.factories import PASSWORD, GlobalAdminFactory


def api_login(tenant, email, password=PASSWORD, ip="127.0.0.1"):
    body = {"email": email, "password": password}
    if tenant is not None:
        body["tenant"] = tenant.slug
    return Api(host(), REMOTE_ADDR=ip).post("auth/login", body)


def page_login(tenant, email, password=PASSWORD, ip="127.0.0.1"):
    return tenant_client(tenant, REMOTE_ADDR=ip).post(
        "/accounts/login/", {"username": email, "password": password}
    )


@override_settings(DEEPLENS_LOGIN_MAX_FAILURES=2)
def test_spaces_and_capitals_around_the_address_do_not_escape_a_lock_set_through_the_api(users, alpha):
    for _ in range(2):
        assert api_login(alpha, "member@alpha.test", "guess").status_code == 401

    for email in ("member@alpha.test", "  member@alpha.test ", " MEMBER@Alpha.test"):
        response = page_login(alpha, email)
        assert response.status_code == 429, email
        assert "_auth_user_id" not in response.client.session


@override_settings(DEEPLENS_LOGIN_MAX_FAILURES=2)
def test_spaced_addresses_on_the_page_count_towards_one_lock(users, alpha):
    for email in (" member@alpha.test", "Member@alpha.test "):
        assert page_login(alpha, email, "guess").status_code == 200

    assert page_login(alpha, "member@alpha.test").status_code == 429
    assert api_login(alpha, "member@alpha.test").status_code == 429


@override_settings(DEEPLENS_LOGIN_MAX_FAILURES=3)
def test_a_guesser_elsewhere_cannot_lock_the_owner_out(users, alpha):
    for _ in range(3):
        assert api_login(alpha, "member@alpha.test", "guess", ip="203.0.113.9").status_code == 401
    assert api_login(alpha, "member@alpha.test", ip="203.0.113.9").status_code == 429

    assert api_login(alpha, "member@alpha.test", ip="198.51.100.7").status_code == 200
    assert page_login(alpha, "member@alpha.test", ip="198.51.100.7").status_code == 302


@override_settings(DEEPLENS_LOGIN_MAX_FAILURES=3, DEEPLENS_LOGIN_MAX_FAILURES_PER_ACCOUNT=4)
def test_guessing_spread_over_many_clients_meets_the_account_ceiling(users, alpha):
    for number in range(4):
        assert api_login(alpha, "member@alpha.test", "guess", ip=f"203.0.113.{number}").status_code == 401

    response = api_login(alpha, "member@alpha.test", ip="198.51.100.7")

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "too_many_attempts"
    # Another account is not affected.
    assert api_login(alpha, "owner@alpha.test", ip="198.51.100.7").status_code == 200


def test_the_admin_sign_in_without_next_goes_to_the_admin_index(db):
    GlobalAdminFactory(email="root@deeplens.test")
    client = Client(HTTP_HOST=host())

    response = client.post("/admin/login/", {"username": "root@deeplens.test", "password": PASSWORD})

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert (
        AuditEvent.objects.filter(action=AuditAction.LOGIN_SUCCEEDED, details__channel="admin").count() == 1
    )


@override_settings(DEEPLENS_LOGIN_MAX_FAILURES=3)
def test_the_admin_sign_in_records_wrong_passwords_and_locks(db):
    GlobalAdminFactory(email="root@deeplens.test")
    client = Client(HTTP_HOST=host())
    for _ in range(3):
        response = client.post(
            "/admin/login/?next=/admin/", {"username": " Root@deeplens.test", "password": "guess"}
        )
        assert response.status_code == 200

    response = client.post(
        "/admin/login/?next=/admin/", {"username": "root@deeplens.test", "password": PASSWORD}
    )

    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert client.get("/admin/").status_code == 302
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, details__channel="admin")
    assert failures.count() == 3
    assert set(failures.values_list("details__email", flat=True)) == {"root@deeplens.test"}
    # The API's global-admin sign-in is the same account: it is locked too.
    assert api_login(None, "root@deeplens.test").status_code == 429


@override_settings(DEEPLENS_PASSWORD_RESET_MAX_PER_ADDRESS=2)
def test_reset_mails_are_throttled_per_address(users, alpha):
    api = Api(host())
    answers = [
        api.post("auth/password/reset", {"tenant": "alpha", "email": email}).status_code
        for email in ("member@alpha.test", " Member@alpha.test", "member@alpha.test")
    ]

    assert answers == [202, 202, 429]
    assert len(mail.outbox) == 2
    # Unknown addresses are counted the same way, so the answer reveals nothing.
    unknown = [
        api.post("auth/password/reset", {"tenant": "alpha", "email": "nobody@alpha.test"}).status_code
        for _ in range(3)
    ]
    assert unknown == [202, 202, 429]
    assert (
        api.post("auth/password/reset", {"tenant": "alpha", "email": "owner@alpha.test"}).status_code == 202
    )


@override_settings(DEEPLENS_PASSWORD_RESET_MAX_PER_IP=3)
def test_reset_mails_are_throttled_per_client(users, alpha):
    api = Api(host(), REMOTE_ADDR="203.0.113.5")
    answers = [
        api.post("auth/password/reset", {"tenant": "alpha", "email": f"{role}@alpha.test"}).status_code
        for role in ("viewer", "member", "admin", "owner")
    ]

    assert answers == [202, 202, 202, 429]
    assert len(mail.outbox) == 3
    assert (
        Api(host(), REMOTE_ADDR="198.51.100.7")
        .post("auth/password/reset", {"tenant": "alpha", "email": "owner@alpha.test"})
        .status_code
        == 202
    )


@override_settings(DEEPLENS_PASSWORD_RESET_MAX_PER_ADDRESS=1)
def test_the_reset_page_says_when_it_is_throttled(users, alpha):
    browser = tenant_client(alpha)
    assert browser.post("/accounts/password-reset/", {"email": "member@alpha.test"}).status_code == 200

    response = browser.post("/accounts/password-reset/", {"email": "member@alpha.test"})

    assert response.status_code == 429
    assert "Too many reset requests" in response.content.decode()
    assert len(mail.outbox) == 1
