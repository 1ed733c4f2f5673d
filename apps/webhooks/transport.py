"""Sending one signed POST to a webhook endpoint without becoming a proxy into the private network:
the same address rules as URL import (apps/core/network.py; public addresses, or the operator's
DEEPLENS_URL_FETCH_ALLOWED_NETWORKS), the connection pinned to the checked address, no redirects
followed, a timeout on the whole exchange. HTTPS is required unless the address is one the operator
allow-listed (a receiver inside the installation's own network)."""

import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.network import address_allowed
from apps.webhooks.errors import WebhookUrlNotAllowed

USER_AGENT = "DeepLens-Webhooks/1"
SIGNATURE_HEADER = "X-DeepLens-Signature"


def sign(*, secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>` (as Stripe does: the
    timestamp is signed, so a captured delivery cannot be replayed later as new)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _operator_allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    networks = [ipaddress.ip_network(n, strict=False) for n in settings.DEEPLENS_URL_FETCH_ALLOWED_NETWORKS]
    return any(ip.version == net.version and ip in net for net in networks)


def target_check(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, the address to connect to), or WebhookUrlNotAllowed saying why."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookUrlNotAllowed("A webhook URL is an https URL with a host.", extra={"url": ["invalid"]})
    if parts.username or parts.password:
        raise WebhookUrlNotAllowed("URLs with credentials are not accepted.", extra={"url": ["credentials"]})
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        infos = []
    addresses = sorted({str(info[4][0]) for info in infos})
    if not addresses or any(not address_allowed(address) for address in addresses):
        raise WebhookUrlNotAllowed(
            f"The host {parts.hostname!r} points to an address DeepLens may not send to "
            "(private, loopback and similar addresses need DEEPLENS_URL_FETCH_ALLOWED_NETWORKS).",
            extra={"url": ["not_allowed"]},
        )
    if parts.scheme != "https" and not all(_operator_allowed(address) for address in addresses):
        raise WebhookUrlNotAllowed("Webhook URLs must use https.", extra={"url": ["https_required"]})
    return parts.scheme, parts.hostname, port, addresses[0]


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, address: str, hostname: str, port: int, timeout: float):
        self._ssl_context = ssl.create_default_context()
        super().__init__(hostname, port, timeout=timeout, context=self._ssl_context)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._ssl_context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and return the status code; raises WebhookUrlNotAllowed, OSError or HTTPException."""
    scheme, hostname, port, address = target_check(url)
    timeout = settings.DEEPLENS_WEBHOOK_TIMEOUT_SECONDS
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = _PinnedHTTPSConnection(address, hostname, port, timeout)
    else:
        conn = http.client.HTTPConnection(address, port, timeout=timeout)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request(
            "POST",
            path,
            body=body,
            headers={
                "Host": parts.netloc,
                "User-Agent": USER_AGENT,
                "Content-Type": "application/json",
                **headers,
            },
        )
        response = conn.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        conn.close()
