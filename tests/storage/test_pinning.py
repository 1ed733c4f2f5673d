"""A storage client connects to the addresses its hosts were checked at (issue 17, item 1: DNS
rebinding). The resolver is the machine boundary, so it is the one thing replaced: the tenant's host
name answers 127.0.0.1 (allowed here, where the protocol server listens) while the location is
checked and 127.0.0.2 (not allowed: an "internal" service on the same port) afterwards. Every
request must still reach the checked server, and the internal one must see no connection."""

import socket
import ssl
import threading
import uuid

import pytest
from django.core.files.base import ContentFile

from apps.storage.backends import build_storage, list_objects
from apps.storage.crypto import secrets_encrypt
from apps.storage.errors import StorageEndpointRefused
from apps.storage.models import StorageLocation, StorageProvider
from apps.storage.pinning import HostNotPinned, Pins, pinned_pool_classes
from tests.storage.conftest import AZURITE_ACCOUNT, AZURITE_KEY
from tests.support.listeners import InternalService

HOST = "localhost.rebind.test"  # "localhost…": moto reads the bucket from the path, not the host


class RebindingResolver:
    def __init__(self, original):
        self.original = original
        self.answer = "127.0.0.1"
        self.asked: list[str] = []

    def __call__(self, host, port, *args, **kwargs):
        if isinstance(host, str) and host.rstrip(".").lower() == HOST:
            self.asked.append(self.answer)
            return self.original(self.answer, port, *args, **kwargs)
        return self.original(host, port, *args, **kwargs)


@pytest.fixture
def resolver(monkeypatch, settings):
    settings.DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    fake = RebindingResolver(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def internal_service():
    services = []

    def start(endpoint: str) -> InternalService:
        service = InternalService(int(endpoint.rsplit(":", 1)[1].split("/")[0]))
        services.append(service)
        return service

    yield start
    for service in services:
        service.close()


def location(provider, config, secrets=None) -> StorageLocation:
    made = StorageLocation(name=f"pinned-{provider}", provider=provider, config=config)
    made.secrets_encrypted = secrets_encrypt(secrets or {})
    return made


def rebound_roundtrip(made, resolver, internal) -> None:
    """Build the client while the name answers the checked address, rebind, then use it."""
    storage = build_storage(made)
    assert resolver.asked == ["127.0.0.1"]
    resolver.answer = "127.0.0.2"
    key = f"pinned/{uuid.uuid4().hex}.txt"

    storage.save(key, ContentFile(b"pinned"))
    with storage.open(key, "rb") as handle:
        content = handle.read()
    keys = [item.key for page in list_objects(made, prefix="pinned/", storage=storage) for item in page]

    assert (content, key in keys) == (b"pinned", True)
    assert internal.connections == 0
    assert resolver.asked == ["127.0.0.1"]  # the SDK never looked the name up again
    with pytest.raises(StorageEndpointRefused):
        build_storage(made)  # a new client checks again, and now refuses


def test_an_s3_client_keeps_connecting_to_the_checked_address(alpha, s3_server, resolver, internal_service):
    internal = internal_service(s3_server.endpoint)
    port = s3_server.endpoint.rsplit(":", 1)[1]
    made = location(
        StorageProvider.S3,
        {"bucket": s3_server.bucket(), "region": "us-east-1", "endpoint_url": f"http://{HOST}:{port}"},
        s3_server.credentials(),
    )

    rebound_roundtrip(made, resolver, internal)


def test_an_azure_client_keeps_connecting_to_the_checked_address(alpha, azurite, resolver, internal_service):
    internal = internal_service(azurite.endpoint)
    port = azurite.endpoint.split(":")[2].split("/")[0]
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://{HOST}:{port}/{AZURITE_ACCOUNT};"
    )
    made = location(
        StorageProvider.AZURE, {"container": azurite.container()}, {"connection_string": connection_string}
    )

    rebound_roundtrip(made, resolver, internal)


def test_a_gcs_client_keeps_connecting_to_the_checked_address(alpha, gcs_server, resolver, internal_service):
    internal = internal_service(gcs_server.endpoint)
    port = gcs_server.endpoint.rsplit(":", 1)[1]
    made = location(
        StorageProvider.GCS, {"bucket": gcs_server.bucket(), "endpoint_url": f"http://{HOST}:{port}"}
    )

    rebound_roundtrip(made, resolver, internal)


def test_a_host_that_was_not_checked_is_not_connected_to():
    """Outside the provider's own domains only checked hosts are reached (a redirect, a host built
    from unchecked input)."""
    from urllib3 import PoolManager

    manager = PoolManager(retries=False)
    manager.pool_classes_by_scheme = pinned_pool_classes(Pins({"checked.test": ("127.0.0.1",)}))

    with pytest.raises(HostNotPinned):
        manager.request("GET", "http://unchecked.test:9/", timeout=2)
    assert Pins({}).for_host("bucket.s3.eu-west-1.amazonaws.com") is None  # the cloud's own DNS


@pytest.fixture
def tls_server(tmp_path):
    """An HTTPS server with a certificate for HOST only, signed by a CA made here; records the SNI
    and Host header it was sent."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "DeepLens test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(HOST)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    seen: dict[str, str | None] = {}
    context.sni_callback = lambda sock, name, ctx: seen.__setitem__("sni", name)  # type: ignore[func-returns-value]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve():
        conn, _ = listener.accept()
        with context.wrap_socket(conn, server_side=True) as tls:
            request = tls.recv(65536).decode()
            seen["host"] = next(
                (
                    line.split(":", 1)[1].strip()
                    for line in request.split("\r\n")
                    if line.lower().startswith("host:")
                ),
                None,
            )
            tls.sendall(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1], str(tmp_path / "ca.pem"), seen
    thread.join(timeout=5)
    listener.close()


def test_a_pinned_https_connection_verifies_the_host_name_not_the_address(tls_server):
    """Connected to the pinned address, TLS still sends and verifies the host name (the certificate
    is for HOST only, so a check against 127.0.0.1 would fail), and Host names it too."""
    from urllib3 import PoolManager

    port, ca, seen = tls_server
    manager = PoolManager(retries=False, ca_certs=ca, cert_reqs="CERT_REQUIRED")
    manager.pool_classes_by_scheme = pinned_pool_classes(Pins({HOST: ("127.0.0.1",)}))

    response = manager.request("GET", f"https://{HOST}:{port}/", timeout=5)

    assert response.status == 204
    assert seen == {"sni": HOST, "host": f"{HOST}:{port}"}
