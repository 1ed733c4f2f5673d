"""Fetching an image from a URL without becoming a proxy into the private network (SSRF).

http and https only; at most 3 redirects; before every connection each address the host resolves
to is checked, and the connection goes to the checked address (no second DNS answer can swap it):
loopback, private, link-local, multicast, reserved and unspecified addresses are refused, unless an
operator allow-lists a network (DEEPLENS_URL_FETCH_ALLOWED_NETWORKS). The body streams to a
temporary file with its SHA-256, up to a size cap.

DEEPLENS_URL_FETCH_TIMEOUT_SECONDS bounds the whole transfer, not each read: every socket operation
waits at most the time left, and a watchdog shuts the socket at the deadline, so a server that
drips a byte at a time (in the headers or the body) is cut there. Fetches run at most
DEEPLENS_URL_FETCH_PER_TENANT at once per tenant (in Redis, across processes) and
DEEPLENS_URL_FETCH_PER_PROCESS per web process; more answer 429 url_fetch_busy at once, so slow
servers cannot hold every web thread.
"""

import contextlib
import functools
import hashlib
import http.client
import logging
import socket
import ssl
import tempfile
import threading
import time
from dataclasses import dataclass
from email.message import Message
from urllib.parse import unquote, urljoin, urlsplit

import redis
from django.conf import settings
from django.core.files import File

from apps.core.connection import connection
from apps.core.network import address_allowed
from apps.core.redis import redis_key, run_script
from apps.core.tracing import span
from apps.images.errors import FileTooLarge, UrlFetchBusy, UrlFetchFailed, UrlNotAllowed

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
CHUNK = 64 * 1024
USER_AGENT = "DeepLens/1.0 (+image import)"


@dataclass
class Fetched:
    file: File
    filename: str
    final_url: str


def resolve(host: str, port: int) -> str:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UrlFetchFailed(f"The host {host!r} could not be resolved.", code="url_unresolvable") from exc
    addresses = sorted({str(info[4][0]) for info in infos})
    refused = [address for address in addresses if not address_allowed(address)]
    if refused or not addresses:
        raise UrlNotAllowed(
            f"The host {host!r} points to an address DeepLens may not fetch from.", extra={"host": host}
        )
    return addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address checked in advance, with the certificate checked for the host name."""

    def __init__(self, address: str, hostname: str, port: int, timeout: float):
        self._ssl_context = ssl.create_default_context()
        super().__init__(hostname, port, timeout=timeout, context=self._ssl_context)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ssl_context.wrap_socket(sock, server_hostname=self.host)


@functools.cache
def _process_slots() -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(settings.DEEPLENS_URL_FETCH_PER_PROCESS)


_RELEASE = "if redis.call('DECR', KEYS[1]) <= 0 then redis.call('DEL', KEYS[1]) end"
_ACQUIRE = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
if count > tonumber(ARGV[1]) then redis.call('DECR', KEYS[1]) return 0 end
return 1
"""


def _busy() -> UrlFetchBusy:
    return UrlFetchBusy(
        "Too many images are being fetched from URLs at once; try again in a few seconds.",
        extra={"retry_after": 5},
    )


@contextlib.contextmanager
def fetch_slot():
    """One of the tenant's and this process's URL-fetch slots for the duration, or UrlFetchBusy.
    The tenant's count lives in Redis (with a TTL past the deadline, so a killed process frees it);
    if Redis cannot be reached only the process's cap applies."""
    if not _process_slots().acquire(blocking=False):
        raise _busy()
    key = redis_key("url-fetch", connection.schema_name)
    held = False
    try:
        try:
            ttl = settings.DEEPLENS_URL_FETCH_TIMEOUT_SECONDS + 30
            held = bool(run_script(_ACQUIRE, [key], [settings.DEEPLENS_URL_FETCH_PER_TENANT, ttl]))
            if not held:
                raise _busy()
        except redis.RedisError:
            logger.warning("URL fetch: Redis unreachable, the per-tenant cap is not applied")
        yield
    finally:
        if held:
            with contextlib.suppress(redis.RedisError):
                run_script(_RELEASE, [key], [])
        _process_slots().release()


def fetch(url: str) -> Fetched:
    # A client span when tracing is on (http.client has no instrumentation); no trace headers go
    # to the remote server, and only the host is recorded (a query string may hold a secret).
    with fetch_slot(), span("url_fetch", **{"server.address": urlsplit(url).hostname or ""}):
        return _fetch(url)


class _Watchdog:
    """Shuts the connection's socket at the deadline: a read blocked in the TLS handshake, the
    headers or the body returns at once, however slowly the server sends."""

    def __init__(self, conn: http.client.HTTPConnection, deadline: float):
        self.conn = conn
        self.fired = False
        self.timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self.timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        sock = self.conn.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc_info):
        self.timer.cancel()


def _timed_out() -> UrlFetchFailed:
    return UrlFetchFailed(
        f"The download took longer than {settings.DEEPLENS_URL_FETCH_TIMEOUT_SECONDS} seconds.",
        code="url_timeout",
    )


def _fetch(url: str) -> Fetched:
    deadline = time.monotonic() + settings.DEEPLENS_URL_FETCH_TIMEOUT_SECONDS
    for _hop in range(MAX_REDIRECTS + 1):
        if time.monotonic() >= deadline:
            raise _timed_out()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UrlNotAllowed(
                "Only http and https URLs with a host can be imported.", extra={"url": url[:200]}
            )
        if parts.username or parts.password:
            raise UrlNotAllowed("URLs with credentials are not accepted.")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = resolve(parts.hostname, port)
        timeout = max(1.0, deadline - time.monotonic())
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = _PinnedHTTPSConnection(address, parts.hostname, port, timeout)
        else:
            conn = http.client.HTTPConnection(address, port, timeout=timeout)
        path = parts.path or "/"
        if parts.query:
            path += f"?{parts.query}"
        with _Watchdog(conn, deadline) as watchdog:
            try:
                conn.request(
                    "GET",
                    path,
                    headers={
                        "Host": parts.netloc.rsplit("@", 1)[-1],
                        "User-Agent": USER_AGENT,
                        "Accept": "image/*",
                    },
                )
                response = conn.getresponse()
                if response.status in (301, 302, 303, 307, 308):
                    location = response.getheader("Location")
                    response.close()
                    if not location:
                        raise UrlFetchFailed("The server redirected without a location.")
                    url = urljoin(url, location)
                    continue
                if response.status != 200:
                    raise UrlFetchFailed(
                        f"The server answered {response.status} {response.reason}.",
                        extra={"status": response.status},
                    )
                return Fetched(
                    file=_download(conn, response, deadline),
                    filename=_filename(response, parts.path),
                    final_url=url,
                )
            except (OSError, http.client.HTTPException) as exc:
                if watchdog.fired or time.monotonic() >= deadline:
                    raise _timed_out() from exc
                raise UrlFetchFailed(f"The image could not be downloaded: {exc}.") from exc
            finally:
                conn.close()
    raise UrlFetchFailed(f"More than {MAX_REDIRECTS} redirects.", code="url_too_many_redirects")


class FetchedFile(File):
    """A downloaded file with the SHA-256 taken while it arrived (image_ingest reads it)."""

    sha256: str


def _download(conn: http.client.HTTPConnection, response, deadline: float) -> FetchedFile:
    limit = settings.DEEPLENS_URL_FETCH_MAX_BYTES
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise FileTooLarge(f"The image is larger than {limit} bytes.")
    sha = hashlib.sha256()
    spool = tempfile.NamedTemporaryFile(prefix="deeplens-url-", suffix=".upload")  # noqa: SIM115
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            spool.close()
            raise _timed_out()
        if conn.sock is not None:
            conn.sock.settimeout(left)  # one read waits at most the time left
        try:
            chunk = response.read1(CHUNK)  # what has arrived, not a full 64 KiB
        except (OSError, http.client.HTTPException):
            spool.close()
            raise
        if not chunk:
            if time.monotonic() >= deadline:  # the watchdog shut the socket
                spool.close()
                raise _timed_out()
            break
        size += len(chunk)
        if size > limit:
            spool.close()
            raise FileTooLarge(f"The image is larger than {limit} bytes.")
        sha.update(chunk)
        spool.write(chunk)
    spool.flush()
    spool.seek(0)
    file = FetchedFile(spool)
    file.size = size
    file.sha256 = sha.hexdigest()
    return file


def _filename(response, path: str) -> str:
    disposition = response.getheader("Content-Disposition")
    if disposition:
        message = Message()
        message["content-disposition"] = disposition
        if name := message.get_filename():
            return name
    return unquote(path.rsplit("/", 1)[-1]) or "image"
