import pytest
from django.test import Client

from apps.audit.context import Actor
from apps.tenants.models import Tenant, TenantStatus
from apps.tenants.services import tenant_update


def test_unknown_host_gets_a_clear_404_page(db):
    response = Client(HTTP_HOST="nobody.localhost").get("/")

    assert response.status_code == 404
    assert b"There is no DeepLens workspace at nobody.localhost." in response.content
    assert b"Traceback" not in response.content


def test_unknown_host_gets_a_json_error_on_the_api(db):
    response = Client(HTTP_HOST="nobody.localhost").get("/api/v1/images")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "tenant_not_found"


def test_a_host_outside_allowed_hosts_gets_404_not_an_error(db):
    response = Client(HTTP_HOST="attacker.example").get("/")

    assert response.status_code == 404
    assert b"Workspace not found" in response.content


def test_the_public_host_serves_the_public_site(public_client):
    response = public_client.get("/")

    assert response.status_code == 200
    assert b"Self-hosted image similarity search" in response.content


def test_a_tenant_host_routes_to_its_schema(alpha_client):
    response = alpha_client.get("/accounts/login/")

    assert response.status_code == 200
    assert b"to Alpha" in response.content


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/v1/anything"])
def test_a_suspended_tenant_is_refused_on_every_request(alpha, alpha_client, path):
    tenant_update(tenant=alpha, status=TenantStatus.SUSPENDED, actor=Actor.system())

    response = alpha_client.get(path, HTTP_ACCEPT="application/json")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_suspended"
    assert "suspended" in response.json()["error"]["message"]


def test_a_suspended_tenant_gets_a_page_in_the_browser(alpha, alpha_client):
    tenant_update(tenant=alpha, status=TenantStatus.SUSPENDED, actor=Actor.system())

    response = alpha_client.get("/", HTTP_ACCEPT="text/html")

    assert response.status_code == 403
    assert b"is suspended" in response.content


def test_a_tenant_still_being_set_up_is_refused(alpha, alpha_client):
    Tenant.objects.filter(pk=alpha.pk).update(status=TenantStatus.PENDING_SETUP)

    response = alpha_client.get("/api/v1/x")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "tenant_not_ready"


def test_a_deleted_tenant_is_not_found(alpha, alpha_client):
    tenant_update(tenant=alpha, status=TenantStatus.DELETED, actor=Actor.system())

    response = alpha_client.get("/")

    assert response.status_code == 404


def test_reactivating_a_tenant_lets_requests_through_again(alpha, alpha_client):
    tenant_update(tenant=alpha, status=TenantStatus.SUSPENDED, actor=Actor.system())
    tenant_update(tenant=Tenant.objects.get(pk=alpha.pk), status=TenantStatus.ACTIVE, actor=Actor.system())

    assert alpha_client.get("/accounts/login/").status_code == 200
