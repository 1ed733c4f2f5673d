"""Self-service sign-up: off by default; when open, a confirmed e-mail address creates a Free
workspace with its owner, signed in (pages) or holding a token pair (API)."""

import re

import pytest
from django.core import mail
from django.db import connection
from django.test import override_settings
from django_tenants.utils import tenant_context

from apps.accounts.models import Role, User
from apps.audit.models import AuditAction, AuditEvent
from apps.core.redis import get_redis
from apps.images.models import ThumbnailSpec
from apps.storage.models import StorageLocation
from apps.tenants.models import Tenant, TenantStatus, TenantTier
from tests.api import Api, host
from tests.conftest import tenant_client

BODY = {
    "name": "Gamma Photos",
    "slug": "gamma",
    "email": "Founder@Gamma.test",
    "password": "a long enough passphrase 42",
    "first_name": "Gia",
}


@pytest.fixture(autouse=True)
def _fresh_counters():
    client = get_redis()
    keys = list(client.scan_iter("deeplens:signup*"))
    if keys:
        client.delete(*keys)


def mailed_token() -> str:
    assert len(mail.outbox) == 1
    return re.search(r"/signup/confirm/([^/\s]+)/", mail.outbox[0].body).group(1)


def test_sign_up_is_closed_by_default(db, public_client):
    response = Api(host()).post("auth/register", BODY)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "signup_disabled"
    assert public_client.get("/signup/").status_code == 404
    assert mail.outbox == []


@override_settings(DEEPLENS_SIGNUP_ENABLED=True)
def test_an_api_sign_up_creates_nothing_until_confirmed_then_the_workspace_its_owner_and_tokens(db):
    requested = Api(host()).post("auth/register", BODY)

    assert requested.status_code == 202
    assert not Tenant.objects.filter(slug="gamma").exists()
    assert mail.outbox[0].to == ["founder@gamma.test"]
    token = mailed_token()
    assert "passphrase" not in token

    confirmed = Api(host()).post("auth/register/confirm", {"token": token})

    assert confirmed.status_code == 201, confirmed.content
    body = confirmed.json()
    assert body["tenant"]["slug"] == "gamma"
    assert body["tenant"]["tier"] == TenantTier.FREE
    assert body["tenant"]["status"] == TenantStatus.ACTIVE
    assert body["user"]["email"] == "founder@gamma.test"
    assert body["user"]["role"] == Role.OWNER
    tenant = Tenant.objects.get(slug="gamma")
    owner = User.objects.get(tenant=tenant)
    assert owner.email_confirmed is True
    assert owner.check_password(BODY["password"])
    me = Api(host(tenant), f"Bearer {body['access']}").get("auth/me")
    assert me.json()["tenant"]["slug"] == "gamma"
    with tenant_context(tenant):
        assert StorageLocation.objects.filter(is_default=True).count() == 1
        assert ThumbnailSpec.objects.count() == 3
    connection.set_schema_to_public()
    assert AuditEvent.objects.get(action=AuditAction.SIGNUP_COMPLETED).details == {
        "slug": "gamma",
        "email": "founder@gamma.test",
        "tier": "free",
    }
    assert AuditEvent.objects.filter(action=AuditAction.SIGNUP_REQUESTED).count() == 1
    # The link works once.
    again = Api(host()).post("auth/register/confirm", {"token": token})
    assert again.status_code == 409
    assert User.objects.filter(tenant=tenant).count() == 1


@override_settings(DEEPLENS_SIGNUP_ENABLED=True)
@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"slug": "admin"}, "slug"),
        ({"slug": "www"}, "slug"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"slug": "alpha"}, "slug"),
        ({"password": "short"}, "password"),
        ({"name": "  "}, "name"),
    ],
)
def test_a_bad_sign_up_is_refused_per_field_and_mails_nothing(alpha, overrides, field):
    response = Api(host()).post("auth/register", {**BODY, **overrides})

    assert response.status_code in (400, 409)
    assert field in response.json()["error"]["detail"], response.json()
    assert mail.outbox == []


@override_settings(DEEPLENS_SIGNUP_ENABLED=True)
def test_a_broken_link_is_refused(db):
    response = Api(host()).post("auth/register/confirm", {"token": "gAAAAABforged"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "signup_link_invalid"
    assert not Tenant.objects.filter(slug="gamma").exists()


@override_settings(DEEPLENS_SIGNUP_ENABLED=True, DEEPLENS_SIGNUP_MAX_PER_IP=2)
def test_sign_ups_are_throttled_per_address(db):
    for slug in ("one", "two"):
        assert Api(host()).post("auth/register", {**BODY, "slug": slug}).status_code == 202

    third = Api(host()).post("auth/register", {**BODY, "slug": "three"})

    assert third.status_code == 429
    assert third.json()["error"]["code"] == "too_many_attempts"
    assert len(mail.outbox) == 2


@override_settings(DEEPLENS_SIGNUP_ENABLED=True)
def test_the_pages_sign_up_confirm_and_land_signed_in_on_the_new_workspace(db, public_client):
    form = public_client.get("/signup/")
    assert form.status_code == 200
    sent = public_client.post("/signup/", {**BODY, "slug": "delta"})
    assert sent.status_code == 200
    assert "Check your e-mail" in sent.content.decode()
    token = mailed_token()

    shown = public_client.get(f"/signup/confirm/{token}/")
    assert shown.status_code == 200
    assert "delta" in shown.content.decode()
    assert not Tenant.objects.filter(slug="delta").exists()  # a GET (a mail scanner) creates nothing
    created = public_client.post(f"/signup/confirm/{token}/")

    assert created.status_code == 302
    location = created["Location"]
    assert location.startswith("http://delta.localhost/signup/welcome/?ticket=")
    tenant = Tenant.objects.get(slug="delta")
    browser = tenant_client(tenant)
    welcome = browser.get(location.removeprefix("http://delta.localhost"))
    assert welcome.status_code == 302
    assert welcome["Location"] == "/"
    assert browser.session["_auth_user_id"] == str(User.objects.get(tenant=tenant).pk)
    # The ticket is spent.
    assert tenant_client(tenant).get(location.removeprefix("http://delta.localhost"))["Location"] == (
        "/accounts/login/"
    )


def test_a_global_admin_creates_a_tenant_with_its_first_owner_invited(
    users, public_client, django_capture_on_commit_callbacks
):
    from tests.api import bearer_for

    with django_capture_on_commit_callbacks(execute=True):
        response = Api(host(), bearer_for(users["global"])).post(
            "admin/tenants", {"name": "Epsilon", "slug": "epsilon", "owner_email": "boss@epsilon.test"}
        )

    assert response.status_code == 201, response.content
    owner = User.objects.get(tenant__slug="epsilon")
    assert (owner.email, owner.role, owner.has_usable_password()) == ("boss@epsilon.test", Role.OWNER, False)
    assert mail.outbox[0].to == ["boss@epsilon.test"]
    assert "epsilon.localhost" in mail.outbox[0].body
