import pytest
from django.core import mail
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from apps.accounts.models import ApiKey, Role, User
from apps.accounts.permissions import PUBLIC, role_permissions
from apps.audit.models import AuditAction, AuditEvent
from tests.conftest import signed_in, tenant_client
from tests.factories import PASSWORD

PAGES = {
    "/": "authenticated",
    "/accounts/profile/": "account.self",
    "/settings/users/": "users.manage",
    "/settings/api-keys/": "api_keys.manage",
    "/settings/audit/": "audit.view",
    "/settings/sign-in/": "tenant.settings",
}


def page_views(resolver: URLResolver, prefix: str = ""):
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            if str(entry.pattern).startswith("api/"):
                continue
            yield from page_views(entry, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + str(entry.pattern), getattr(entry.callback, "view_class", None)


def test_every_tenant_page_declares_a_permission():
    undeclared = [
        path
        for path, view in page_views(get_resolver("deeplens.urls_tenants"))
        if getattr(view, "required_permission", None) is None
    ]
    assert undeclared == []


def test_the_pages_declare_what_this_test_expects():
    declared = {
        path: view.required_permission for path, view in page_views(get_resolver("deeplens.urls_tenants"))
    }
    assert {
        "/" + path: declared[path]
        for path in (
            "",
            "accounts/profile/",
            "settings/users/",
            "settings/api-keys/",
            "settings/audit/",
            "settings/sign-in/",
        )
    } == PAGES
    assert declared["accounts/login/"] == PUBLIC


@pytest.mark.parametrize("path", list(PAGES))
@pytest.mark.parametrize("who", ["anonymous", Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER, "global"])
def test_page_permissions(users, alpha, path, who):
    client = tenant_client(alpha) if who == "anonymous" else signed_in(alpha, users[who].email)

    response = client.get(path)

    if who == "anonymous":
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    elif PAGES[path] in role_permissions(users[who].role):
        assert response.status_code == 200
    else:
        assert response.status_code == 403


def test_the_navigation_shows_only_what_the_role_may_open(users, alpha):
    member_page = signed_in(alpha, "member@alpha.test").get("/").content.decode()
    admin_page = signed_in(alpha, "admin@alpha.test").get("/").content.decode()

    assert "/settings/users/" not in member_page
    assert all(link in admin_page for link in ("/settings/users/", "/settings/api-keys/", "/settings/audit/"))


def test_inviting_changing_and_deactivating_from_the_team_page(
    users, alpha, django_capture_on_commit_callbacks
):
    admin = signed_in(alpha, "admin@alpha.test")

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post("/settings/users/", {"email": "pat@alpha.test", "role": "member"})
    assert response.status_code == 302
    pat = User.objects.get(email="pat@alpha.test")
    assert mail.outbox[0].to == ["pat@alpha.test"]

    admin.post(f"/settings/users/{pat.pk}/", {"role": "viewer"})
    admin.post(f"/settings/users/{pat.pk}/", {"is_active": "false"})

    pat.refresh_from_db()
    assert (pat.role, pat.is_active) == (Role.VIEWER, False)
    assert "pat@alpha.test" in admin.get("/settings/users/").content.decode()


def test_the_team_page_explains_a_refusal(users, alpha):
    admin = signed_in(alpha, "admin@alpha.test")

    response = admin.post("/settings/users/", {"email": "member@alpha.test", "role": "member"})

    assert response.status_code == 409
    assert "already has an account" in response.content.decode()


def test_the_api_key_page_shows_a_new_key_once(users, alpha):
    admin = signed_in(alpha, "admin@alpha.test")

    response = admin.post("/settings/api-keys/", {"name": "backup job", "scopes": ["search", "upload"]})

    assert response.status_code == 201
    key = ApiKey.objects.get(name="backup job")
    content = response.content.decode()
    assert f"dl_{key.prefix}_" in content
    assert "shown only this once" in content
    listing = admin.get("/settings/api-keys/").content.decode()
    assert f"dl_{key.prefix}_…" in listing
    assert content.split('data-testid="new-key-value">')[1].split("<")[0] not in listing

    admin.post(f"/settings/api-keys/{key.pk}/revoke/")
    assert ApiKey.objects.get(pk=key.pk).is_active is False


def test_the_password_reset_pages(users, alpha):
    browser = tenant_client(alpha)

    sent = browser.post("/accounts/password-reset/", {"email": "member@alpha.test"})
    assert "Check your email" in sent.content.decode()
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line).strip()
    path = link.split("alpha.localhost", 1)[1]

    assert browser.post(path, {"new_password": "123"}).status_code == 200  # too weak: the form says why
    assert browser.post(path, {"new_password": "a fresh long passphrase"}).status_code == 302
    assert (
        tenant_client(alpha)
        .post("/accounts/login/", {"username": "member@alpha.test", "password": "a fresh long passphrase"})
        .status_code
        == 302
    )
    assert "does not work" in browser.get(path).content.decode()


def test_a_reset_link_of_another_tenant_does_not_work_here(users, alpha, beta):
    tenant_client(alpha).post("/accounts/password-reset/", {"email": "member@alpha.test"})
    link = next(line for line in mail.outbox[0].body.splitlines() if "/accounts/reset/" in line).strip()

    response = tenant_client(beta).get(link.split("alpha.localhost", 1)[1])

    assert "does not work" in response.content.decode()


def test_the_profile_page_changes_the_password_and_keeps_the_browser_signed_in(users, alpha):
    browser = signed_in(alpha, "member@alpha.test")

    response = browser.post(
        "/accounts/profile/",
        {"action": "password", "old_password": PASSWORD, "new_password": "another long passphrase"},
    )

    assert response.status_code == 302
    assert browser.get("/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.PASSWORD_CHANGED).count() == 1


@override_settings(DEEPLENS_LOGIN_MAX_FAILURES=2)
def test_the_sign_in_page_throttles_guessing(users, alpha):
    browser = tenant_client(alpha)
    for _ in range(2):
        browser.post("/accounts/login/", {"username": "member@alpha.test", "password": "guess"})

    response = browser.post("/accounts/login/", {"username": "member@alpha.test", "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, details__channel="browser").count() == 2
