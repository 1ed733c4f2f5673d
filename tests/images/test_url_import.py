"""URL imports against a local HTTP server. Loopback is refused by default (SSRF), so the tests that
must succeed allow-list 127.0.0.1 exactly as an operator would allow an internal source."""

import http.server
import threading

import pytest
from django_tenants.utils import tenant_context

from apps.core.network import address_allowed
from apps.images.models import Image
from tests import imagefiles

PHOTO = imagefiles.jpeg(400, 300)


class Handler(http.server.BaseHTTPRequestHandler):
    routes: dict = {}

    def do_GET(self):
        status, headers, body = self.routes.get(self.path, (404, {}, b"not found"))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = httpd.server_address[1]
    base = f"http://127.0.0.1:{port}"
    Handler.routes = {
        "/photo.jpg": (200, {"Content-Type": "image/jpeg"}, PHOTO),
        "/named": (200, {"Content-Disposition": 'attachment; filename="from-header.jpg"'}, PHOTO),
        "/hop1": (302, {"Location": "/hop2"}, b""),
        "/hop2": (302, {"Location": f"{base}/photo.jpg"}, b""),
        "/to-private": (302, {"Location": "http://10.0.0.1/secret.jpg"}, b""),
        "/to-metadata": (301, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/page.html": (200, {"Content-Type": "text/html"}, imagefiles.HTML),
        "/big.jpg": (200, {"Content-Type": "image/jpeg"}, b"\xff\xd8" + b"0" * 5000),
    }
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield base
    httpd.shutdown()


@pytest.fixture
def allow_loopback(settings):
    settings.DEEPLENS_URL_FETCH_ALLOWED_NETWORKS = ["127.0.0.1/32"]


def images(alpha) -> int:
    with tenant_context(alpha):
        return Image.objects.count()


def test_an_image_is_imported_from_a_url(alpha, member_api, server, allow_loopback):
    response = member_api.post("images/url", {"url": f"{server}/hop1", "tags": ["web"]})

    assert response.status_code == 202, response.content
    with tenant_context(alpha):
        image = Image.objects.get(pk=response.json()["id"])
    assert image.source_url == f"{server}/photo.jpg"
    assert image.original_filename == "photo.jpg"
    assert image.size_bytes == len(PHOTO)
    assert image.tags == ["web"]


def test_the_filename_comes_from_content_disposition(alpha, member_api, server, allow_loopback):
    response = member_api.post("images/url", {"url": f"{server}/named"})

    assert response.json()["filename"] == "from-header.jpg"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x.jpg",
        "http://localhost/x.jpg",
        "http://10.0.0.1/x.jpg",
        "http://192.168.1.1/x.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/x.jpg",
        "http://0.0.0.0/x.jpg",
        "http://[::ffff:127.0.0.1]/x.jpg",
        "http://224.0.0.1/x.jpg",
    ],
)
def test_private_addresses_are_refused(alpha, member_api, url):
    response = member_api.post("images/url", {"url": url})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_not_allowed"
    assert images(alpha) == 0


@pytest.mark.parametrize("url", ["ftp://example.com/x.jpg", "file:///etc/passwd", "javascript:alert(1)"])
def test_other_schemes_are_refused(alpha, member_api, url):
    response = member_api.post("images/url", {"url": url})

    assert response.status_code == 400
    assert images(alpha) == 0


@pytest.mark.parametrize("path", ["/to-private", "/to-metadata"])
def test_a_redirect_into_the_private_network_is_refused(alpha, member_api, server, allow_loopback, path):
    response = member_api.post("images/url", {"url": f"{server}{path}"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "url_not_allowed"
    assert images(alpha) == 0


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/loop", 422, "url_too_many_redirects"),
        ("/missing.jpg", 422, "url_fetch_failed"),
        ("/page.html", 415, "unsupported_media_type"),
    ],
)
def test_fetch_failures_are_explained(alpha, member_api, server, allow_loopback, path, status, code):
    response = member_api.post("images/url", {"url": f"{server}{path}"})

    assert response.status_code == status
    assert response.json()["error"]["code"] == code
    assert images(alpha) == 0


def test_the_size_cap_applies_while_streaming(alpha, member_api, server, allow_loopback, settings):
    settings.DEEPLENS_URL_FETCH_MAX_BYTES = 1000

    response = member_api.post("images/url", {"url": f"{server}/big.jpg"})

    assert response.status_code == 413
    assert images(alpha) == 0


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fd00::1", False),
        ("fe80::1", False),
        ("::ffff:10.0.0.1", False),
    ],
)
def test_address_rules(address, allowed):
    assert address_allowed(address) is allowed


def test_a_url_import_retried_with_its_idempotency_key_is_fetched_and_stored_once(
    alpha, member_api, server, allow_loopback
):
    first = member_api.post("images/url", {"url": f"{server}/photo.jpg"}, HTTP_IDEMPOTENCY_KEY="import-1")
    retry = member_api.post("images/url", {"url": f"{server}/photo.jpg"}, HTTP_IDEMPOTENCY_KEY="import-1")
    other = member_api.post("images/url", {"url": f"{server}/named"}, HTTP_IDEMPOTENCY_KEY="import-1")

    assert (first.status_code, retry.status_code) == (202, 202)
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert (other.status_code, other.json()["error"]["code"]) == (422, "idempotency_key_reused")
    assert images(alpha) == 1


def test_a_refused_url_import_is_replayed_too(alpha, member_api, server, allow_loopback):
    first = member_api.post("images/url", {"url": f"{server}/page.html"}, HTTP_IDEMPOTENCY_KEY="import-2")
    retry = member_api.post("images/url", {"url": f"{server}/page.html"}, HTTP_IDEMPOTENCY_KEY="import-2")

    assert first.status_code == retry.status_code == 415
    assert retry.json() == first.json()
    assert retry["Idempotent-Replayed"] == "true"
    assert images(alpha) == 0
