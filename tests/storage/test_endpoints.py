"""Storage endpoints as the connecting libraries read them (issue 17, item 1): each way around the
SSRF check is refused with the one answer of a refused endpoint, clients never use the host's own
cloud identity, and the connection test ends within the storage timeout."""

import json
import socket
import threading
import time

import pytest
from django_tenants.utils import tenant_context

from apps.storage.models import StorageLocation
from tests.storage.conftest import AZURITE_KEY


def url(tenant, rest: str = "") -> str:
    return f"/api/v1/tenants/{tenant.pk}/storage-config{rest}"


def locations(tenant) -> int:
    with tenant_context(tenant):
        return StorageLocation.objects.count()


BACKSLASH = "http://127.0.0.1:9\\@8.8.8.8:80"  # urllib.parse: host 8.8.8.8; urllib3: 127.0.0.1:9


@pytest.fixture
def no_private_networks(settings):
    settings.DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS = []


@pytest.mark.parametrize(
    ("provider", "config", "credentials"),
    [
        ("s3", {"bucket": "b-1", "endpoint_url": BACKSLASH}, {}),
        ("azure", {"container": "c", "account_name": "acct1", "endpoint_url": BACKSLASH}, {}),
        ("gcs", {"bucket": "b-1", "endpoint_url": BACKSLASH}, {}),
        ("s3", {"bucket": "b-1", "endpoint_url": "http://user@8.8.8.8:80"}, {}),
        ("s3", {"bucket": "b-1", "endpoint_url": "http://[2002:7f00:1::1]:9000"}, {}),  # 6to4 of 127.0.0.1
        ("s3", {"bucket": "b-1", "endpoint_url": "http://[::ffff:169.254.169.254]/"}, {}),
        (
            "azure",
            {"container": "c"},
            {
                "connection_string": f"accountname=acct1;accountkey={AZURITE_KEY};blobendpoint=http://127.0.0.1:9/a"
            },
        ),
        (
            "azure",
            {"container": "c"},
            {"connection_string": f"AccountName=acct1;AccountKey={AZURITE_KEY};BLOBENDPOINT={BACKSLASH}"},
        ),
        ("azure", {"container": "c"}, {"connection_string": "UseDevelopmentStorage=true"}),
    ],
)
def test_endpoint_bypasses_are_refused_with_one_answer(
    alpha, admin_api, no_private_networks, provider, config, credentials
):
    before = locations(alpha)

    response = admin_api.post(
        url(alpha), {"name": "bypass", "provider": provider, "config": config, "credentials": credentials}
    )

    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "storage_endpoint_not_allowed"
    assert list(error["detail"].values()) == [["not_allowed"]]
    assert "127.0.0.1" not in error["message"] and "169.254" not in error["message"]
    assert locations(alpha) == before


@pytest.mark.parametrize(
    ("config", "credentials", "field"),
    [
        (
            {"container": "c", "account_name": "127.0.0.1:9000/x?"},
            {"account_key": AZURITE_KEY},
            "account_name",
        ),
        (
            {"container": "c"},
            {"connection_string": f"AccountName=127.0.0.1:9000/x?;AccountKey={AZURITE_KEY}"},
            "connection_string",
        ),
    ],
)
def test_azure_account_names_that_are_not_dns_labels_are_refused(
    alpha, admin_api, no_private_networks, config, credentials, field
):
    """The SDK and django-storages build https://<account>.blob.core.windows.net from the name."""
    before = locations(alpha)

    response = admin_api.post(
        url(alpha), {"name": "acct", "provider": "azure", "config": config, "credentials": credentials}
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "storage_config_invalid"
    assert response.json()["error"]["detail"] == {field: ["invalid"]}
    assert locations(alpha) == before


def service_account(token_uri: str) -> dict:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    return {
        "type": "service_account",
        "project_id": "deeplens-test",
        "client_email": "dl@deeplens-test.iam.gserviceaccount.com",
        "private_key": pem,
        "token_uri": token_uri,
    }


@pytest.mark.parametrize(
    "token_uri", ["http://169.254.169.254/computeMetadata/v1/token", "http://127.0.0.1:9/token", BACKSLASH]
)
def test_a_service_accounts_token_uri_is_checked_like_an_endpoint(
    alpha, admin_api, no_private_networks, token_uri
):
    before = locations(alpha)

    response = admin_api.post(
        url(alpha),
        {
            "name": "gcs",
            "provider": "gcs",
            "config": {"bucket": "b-1"},
            "credentials": {"service_account_json": json.dumps(service_account(token_uri))},
        },
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "storage_endpoint_not_allowed", response.json()
    assert response.json()["error"]["detail"] == {"service_account_json": ["not_allowed"]}
    assert locations(alpha) == before


def test_s3_without_keys_never_uses_the_hosts_credentials(alpha, admin_api, recording_server, monkeypatch):
    """The host's identity stands in as keys in the environment (as instance metadata would): a
    tenant's keyless location sends anonymous requests, never signed with it."""
    endpoint, seen = recording_server
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHOSTIDENTITY0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "host-secret")
    before = locations(alpha)

    response = admin_api.post(
        url(alpha),
        {
            "name": "keyless",
            "provider": "s3",
            "config": {"bucket": "b-1", "region": "us-east-1", "endpoint_url": endpoint},
        },
    )

    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "storage_credentials_invalid", response.json()
    assert seen and seen == [None] * len(seen)
    assert locations(alpha) == before


@pytest.fixture
def silent_server():
    """Accepts connections and never answers (a black-holed endpoint)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(32)
    held = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_the_azure_connection_test_ends_within_the_storage_timeout(alpha, admin_api, settings, silent_server):
    settings.DEEPLENS_STORAGE_TIMEOUT_SECONDS = 2
    started = time.monotonic()

    response = admin_api.post(
        url(alpha),
        {
            "name": "azure",
            "provider": "azure",
            "config": {"container": "c", "account_name": "devstoreaccount1", "endpoint_url": silent_server},
            "credentials": {"account_key": AZURITE_KEY},
        },
    )

    elapsed = time.monotonic() - started
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "storage_endpoint_not_allowed", response.json()
    assert elapsed < 6, elapsed
