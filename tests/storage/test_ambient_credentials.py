"""The host's own cloud identity (instance metadata, environment, ~/.aws) for a tenant's location
without keys: only where the installation allows it (DEEPLENS_STORAGE_AMBIENT_CREDENTIALS) and a
global admin allowed it for that location (issue 17, item 1). Tenant admins cannot allow it."""

import pytest
from django_tenants.utils import tenant_context

from apps.accounts.models import Role
from apps.audit.models import AuditAction, AuditEvent
from apps.storage.backends import build_storage
from apps.storage.crypto import secrets_encrypt
from apps.storage.models import StorageLocation, StorageProvider
from tests.api import as_user
from tests.conftest import signed_in
from tests.factories import PASSWORD


def keyless(provider: str, *, ambient_credentials: bool) -> StorageLocation:
    location = StorageLocation(
        name=provider, provider=provider, config={"bucket": "b-1"}, ambient_credentials=ambient_credentials
    )
    location.secrets_encrypted = secrets_encrypt({})
    return location


@pytest.mark.parametrize(
    ("installation", "location", "ambient"),
    [(False, False, False), (True, False, False), (False, True, False), (True, True, True)],
)
def test_keyless_clients_use_the_hosts_identity_only_where_installation_and_location_allow_it(
    alpha, settings, installation, location, ambient
):
    from botocore import UNSIGNED
    from google.auth.credentials import AnonymousCredentials

    settings.DEEPLENS_STORAGE_AMBIENT_CREDENTIALS = installation

    s3 = build_storage(keyless(StorageProvider.S3, ambient_credentials=location))
    gcs = build_storage(keyless(StorageProvider.GCS, ambient_credentials=location))

    if ambient:
        assert (s3.client_config.signature_version, gcs.credentials) == ("s3v4", None)
    else:
        assert s3.client_config.signature_version is UNSIGNED
        assert isinstance(gcs.credentials, AnonymousCredentials)


def test_a_tenant_admin_cannot_allow_the_hosts_identity(alpha, users, s3_server, settings):
    settings.DEEPLENS_STORAGE_AMBIENT_CREDENTIALS = True
    api = as_user(users[Role.ADMIN])
    page = signed_in(alpha, users[Role.ADMIN].email)
    bucket = s3_server.bucket()
    config = {"bucket": bucket, "region": "us-east-1", "endpoint_url": s3_server.endpoint}

    by_api = api.post(
        f"/api/v1/tenants/{alpha.pk}/storage-config",
        {
            "name": "by api",
            "provider": "s3",
            "config": config,
            "credentials": s3_server.credentials(),
            "ambient_credentials": True,
        },
    )
    by_page = page.post(
        "/settings/storage/add/",
        {
            "provider": "s3",
            "name": "by page",
            **config,
            **s3_server.credentials(),
            "ambient_credentials": "on",
            "action": "create",
        },
    )
    admin_site = page.get("/admin/storage/")

    assert by_api.status_code == 201, by_api.content
    assert by_api.json()["ambient_credentials"] is False
    assert by_page.status_code == 302
    with tenant_context(alpha):
        assert sorted(
            StorageLocation.objects.filter(provider="s3").values_list("name", "ambient_credentials")
        ) == [
            ("by api", False),
            ("by page", False),
        ]
    assert admin_site.status_code == 404  # the Django admin lives on the base domain only


def test_the_storage_admin_page_is_for_global_admins_only(alpha, users, public_client):
    public_client.post("/admin/login/", {"username": users[Role.ADMIN].email, "password": PASSWORD})

    response = public_client.get("/admin/storage/")

    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_global_admin_allows_the_hosts_identity_for_one_location(alpha, beta, users, public_client):
    with tenant_context(alpha):
        chosen = StorageLocation.objects.create(
            name="bucket a", provider=StorageProvider.S3, config={"bucket": "a-1"}
        )
        other = StorageLocation.objects.create(
            name="bucket b", provider=StorageProvider.GCS, config={"bucket": "b-1"}
        )
    public_client.post("/admin/login/", {"username": "root@deeplens.test", "password": PASSWORD})

    listed = public_client.get("/admin/storage/").content.decode()
    allowed = public_client.post(
        "/admin/storage/",
        {"tenant_id": str(alpha.pk), "location_id": str(chosen.pk), "ambient_credentials": "on"},
    )
    wrong_tenant = public_client.post(
        "/admin/storage/",
        {"tenant_id": str(beta.pk), "location_id": str(other.pk), "ambient_credentials": "on"},
    )

    assert "bucket a" in listed and "bucket b" in listed
    assert allowed.status_code == wrong_tenant.status_code == 302
    with tenant_context(alpha):
        assert dict(
            StorageLocation.objects.filter(provider__in=["s3", "gcs"]).values_list(
                "name", "ambient_credentials"
            )
        ) == {
            "bucket a": True,
            "bucket b": False,
        }
        event = AuditEvent.objects.get(action=AuditAction.STORAGE_CHANGED, target_id=str(chosen.pk))
    assert event.details == {"change": "ambient_credentials", "name": "bucket a", "allowed": True}


@pytest.mark.parametrize("opted_in", [False, True])
def test_an_opted_in_s3_location_signs_with_the_hosts_keys_and_others_stay_anonymous(
    alpha, settings, recording_server, monkeypatch, opted_in
):
    """The host's identity stands in as keys in the environment (as instance metadata would)."""
    endpoint, seen = recording_server
    settings.DEEPLENS_STORAGE_AMBIENT_CREDENTIALS = True
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTIDENTITY0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    location = StorageLocation(
        name="s3",
        provider=StorageProvider.S3,
        config={"bucket": "b-1", "region": "us-east-1", "endpoint_url": endpoint},
        ambient_credentials=opted_in,
    )
    location.secrets_encrypted = secrets_encrypt({})

    from botocore.exceptions import ClientError

    storage = build_storage(location, checking=True)
    with pytest.raises(ClientError, match=r"403|Forbidden"):
        storage.connection.meta.client.head_bucket(Bucket="b-1")

    assert len(seen) == 1
    if opted_in:
        assert seen[0] is not None and "AKIAHOSTIDENTITY0000" in seen[0]
    else:
        assert seen[0] is None


@pytest.mark.parametrize("opted_in", [False, True])
def test_an_opted_in_gcs_location_uses_the_hosts_application_default_credentials(
    alpha, settings, tmp_path, monkeypatch, opted_in
):
    """The host's identity is a key file named by GOOGLE_APPLICATION_CREDENTIALS (as on a VM the
    metadata server would be)."""
    import json

    from google.auth.credentials import AnonymousCredentials

    from tests.storage.test_endpoints import service_account

    key = service_account("https://oauth2.googleapis.com/token")
    (tmp_path / "host.json").write_text(json.dumps(key))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "host.json"))
    settings.DEEPLENS_STORAGE_AMBIENT_CREDENTIALS = True

    client = build_storage(keyless(StorageProvider.GCS, ambient_credentials=opted_in)).client

    if opted_in:
        assert client._http.credentials.service_account_email == key["client_email"]
        assert client.project == "deeplens-test"
    else:
        assert isinstance(client._http.credentials, AnonymousCredentials)
