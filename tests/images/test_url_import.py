"""URL imports against a local HTTP server. Loopback is refused by default (SSRF), so the tests that
must succeed allow-list 127.0.0.1 exactly as an operator would allow an internal source."""

import http.server
import threading
import time

import pytest
from django_tenants.utils import tenant_context

from apps.core.network import address_allowed
from apps.images import fetch as fetch_module
from apps.images.errors import UrlFetchBusy, UrlFetchFailed
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
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("2002:a9fe:a9fe::1", False),  # 6to4 of 169.254.169.254
        ("2002:a00:1::1", False),  # 6to4 of 10.0.0.1
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("64:ff9b::808:808", True),
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


class DripHandler(http.server.BaseHTTPRequestHandler):
    """A slow server: one byte every half second, of the headers (/slow-headers) or of the body."""

    def do_GET(self):
        head = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100\r\n\r\n"
        body = PHOTO[:100]
        data, drip_from = (head + body, 0) if self.path == "/slow-headers" else (head + body, len(head))
        try:
            self.wfile.write(data[:drip_from])
            for byte in data[drip_from:]:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            return

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def drip_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), DripHandler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fetch_caps(settings):
    """Caps set by the test; the process's semaphore is made again from the settings."""

    def caps(*, per_tenant: int, per_process: int) -> None:
        settings.DEEPLENS_URL_FETCH_PER_TENANT = per_tenant
        settings.DEEPLENS_URL_FETCH_PER_PROCESS = per_process
        fetch_module._process_slots.cache_clear()

    yield caps
    fetch_module._process_slots.cache_clear()


@pytest.mark.parametrize("path", ["/slow-body", "/slow-headers"])
def test_a_server_dripping_bytes_is_cut_at_the_deadline(
    alpha, member_api, drip_server, allow_loopback, settings, path
):
    settings.DEEPLENS_URL_FETCH_TIMEOUT_SECONDS = 2
    started = time.monotonic()

    response = member_api.post("images/url", {"url": f"{drip_server}{path}"})

    elapsed = time.monotonic() - started
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "url_timeout"
    # The server would take 50 s (body) or 85 s (headers and body) to finish: ending with
    # url_timeout in less than half of that shows the transfer was cut by the deadline, not by the
    # server, without timing the deadline itself.
    assert elapsed < len(PHOTO[:100]) * 0.5 / 2, elapsed
    assert images(alpha) == 0


def fetch_all(tenants, url: str) -> list[tuple[str, float]]:
    """fetch(url) from one thread per tenant given, all at once: (outcome code, seconds) each."""
    results: list[tuple[str, float]] = []
    lock = threading.Lock()

    def one(tenant):
        started = time.monotonic()
        try:
            with tenant_context(tenant):
                fetch_module.fetch(url)
            outcome = "ok"
        except (UrlFetchBusy, UrlFetchFailed) as exc:
            outcome = exc.code
        with lock:
            results.append((outcome, time.monotonic() - started))

    threads = [threading.Thread(target=one, args=(tenant,)) for tenant in tenants]
    for thread in threads:
        thread.start()
        time.sleep(0.02)
    for thread in threads:
        thread.join(timeout=30)
    return sorted(results)


def test_ten_slow_imports_of_a_tenant_hold_only_its_two_slots(
    alpha, drip_server, allow_loopback, settings, fetch_caps
):
    settings.DEEPLENS_URL_FETCH_TIMEOUT_SECONDS = 2
    fetch_caps(per_tenant=2, per_process=20)

    results = fetch_all([alpha] * 10, f"{drip_server}/slow-body")
    again = fetch_all([alpha], f"{drip_server}/slow-body")  # the slots are free again

    assert [code for code, _ in results] == ["url_fetch_busy"] * 8 + ["url_timeout"] * 2
    assert all(seconds < 1 for code, seconds in results if code == "url_fetch_busy")
    assert all(seconds < 3.5 for code, seconds in results if code == "url_timeout")
    assert [code for code, _ in again] == ["url_timeout"]


def test_slow_imports_of_all_tenants_leave_web_threads_free(
    alpha, beta, drip_server, allow_loopback, settings, fetch_caps
):
    """Below the web process's 4 threads: /healthz and every other request keep two."""
    settings.DEEPLENS_URL_FETCH_TIMEOUT_SECONDS = 2
    fetch_caps(per_tenant=10, per_process=2)

    results = fetch_all([alpha, beta] * 5, f"{drip_server}/slow-body")

    assert [code for code, _ in results] == ["url_fetch_busy"] * 8 + ["url_timeout"] * 2
    assert all(seconds < 1 for code, seconds in results if code == "url_fetch_busy")


def test_a_busy_answer_is_a_429_with_retry_after(alpha, member_api, allow_loopback, fetch_caps):
    fetch_caps(per_tenant=2, per_process=0)

    response = member_api.post("images/url", {"url": "http://127.0.0.1:9/x.jpg"})

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "url_fetch_busy"
    assert response["Retry-After"] == "5"
    assert images(alpha) == 0
