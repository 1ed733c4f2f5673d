"""Real protocol servers for the storage tests: moto's S3 server as a subprocess (with IAM
authentication enforced, so wrong credentials are refused like AWS refuses them) and, where it is
installed (`make azurite`, which `make test` runs), Azurite's blob service."""

import http.server
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from apps.accounts.models import Role
from tests.api import as_user
from tests.storage.servers import free_port, moto_user, start_moto, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
AZURITE = ROOT / "var" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
# Azurite's well-known development account (public, in Microsoft's documentation).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class S3Server:
    endpoint: str
    access_key_id: str
    secret_access_key: str

    def client(self, **overrides):
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=overrides.get("access_key_id", self.access_key_id),
            aws_secret_access_key=overrides.get("secret_access_key", self.secret_access_key),
        )

    def bucket(self) -> str:
        name = f"dl-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def credentials(self) -> dict:
        return {"access_key_id": self.access_key_id, "secret_access_key": self.secret_access_key}


@pytest.fixture(scope="session")
def s3_server():
    port = free_port()
    (ROOT / "var").mkdir(exist_ok=True)
    process = start_moto(port, ROOT / "var" / "test-moto-server.log")
    endpoint = f"http://127.0.0.1:{port}"
    try:
        key_id, secret = moto_user(endpoint)
        yield S3Server(endpoint=endpoint, access_key_id=key_id, secret_access_key=secret)
    finally:
        process.terminate()
        process.wait(timeout=10)


@dataclass
class AzureServer:
    endpoint: str

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={self.endpoint};"
        )

    def container(self) -> str:
        from azure.storage.blob import BlobServiceClient

        name = f"dl-{uuid.uuid4().hex[:12]}"
        BlobServiceClient.from_connection_string(self.connection_string).create_container(name)
        return name


@pytest.fixture(scope="session")
def azurite(tmp_path_factory):
    if not AZURITE.exists():
        pytest.skip("Azurite is not installed: make azurite (npm install into var/azurite)")
    port = free_port()
    log_path = ROOT / "var" / "test-azurite.log"
    log = open(log_path, "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(AZURITE),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            str(tmp_path_factory.mktemp("azurite")),
            "--skipApiVersionCheck",
            "--loose",
            "--disableTelemetry",
            # The account is the path's first segment, whatever the host is called (test_pinning
            # reaches it under a host name).
            "--disableProductStyleUrl",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, log_path)
        yield AzureServer(endpoint=f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}")
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@dataclass
class GcsServer:
    endpoint: str

    def bucket(self) -> str:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        name = f"dl-{uuid.uuid4().hex[:12]}"
        client = storage.Client(
            project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": self.endpoint}
        )
        client.create_bucket(name)
        return name


@pytest.fixture(scope="session")
def gcs_server():
    """gcp-storage-emulator (PyPI), the GCS JSON API over HTTP, as a subprocess."""
    port = free_port()
    log_path = ROOT / "var" / "test-gcs.log"
    log = open(log_path, "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gcp-storage-emulator"),
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--in-memory",
            "--quiet",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, process, log_path)
        yield GcsServer(endpoint=f"http://127.0.0.1:{port}")
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@pytest.fixture
def fs_roots(settings, tmp_path):
    """DEEPLENS_FS_ROOTS for this test: tmp/roots/{tenant}."""
    settings.DEEPLENS_FS_ROOTS = [str(tmp_path / "roots" / "{tenant}")]
    for slug in ("alpha", "beta"):
        (tmp_path / "roots" / slug).mkdir(parents=True)
    return tmp_path / "roots"


@pytest.fixture
def admin_api(users):
    return as_user(users[Role.ADMIN])


@pytest.fixture
def member_api(users):
    return as_user(users[Role.MEMBER])


@pytest.fixture
def recording_server():
    """An S3-like endpoint that refuses every request (403) and records its Authorization headers."""
    seen: list[str | None] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            seen.append(self.headers.get("Authorization"))
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_HEAD

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()
