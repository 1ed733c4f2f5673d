"""Connections of a storage location's client go to the addresses its hosts were checked at.

apps/storage/endpoints.py resolves every host a tenant chose (endpoint URL, Azure blob endpoints, a
virtual-hosted S3 bucket host, a service account's token_uri) and allows it only if every address is
allowed. Were the SDK to resolve the name again when it connects, a DNS answer with a short TTL
could send it somewhere else (DNS rebinding: public at the check, 169.254.169.254 a second later).
So the client gets a urllib3 connection class that connects to the checked addresses instead of
looking the name up: botocore, azure-core (requests) and google-auth (requests) all connect through
urllib3. Only the TCP target changes: the Host header, TLS SNI and certificate verification keep
the host name (urllib3 reads those from `host`, the TCP connect from `_dns_host`).

A host that was not checked is connected to only under the provider's own domain (names the SDKs
build from a validated account, region or bucket: DNS there is the cloud's, not the tenant's);
any other host is refused. Environment proxies are not used for tenant locations (the proxy would
resolve the name itself).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

CLOUD_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "core.windows.net", "googleapis.com")


class HostNotPinned(NewConnectionError):
    """Raised instead of connecting to a host the location's check did not cover."""


def _normal(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


@dataclass(frozen=True)
class Pins:
    """host name -> the addresses it resolved to when it was checked."""

    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def for_host(self, host: str) -> tuple[str, ...] | None:
        """The checked addresses of `host`; None where the SDK may resolve it (the cloud's own
        domain); KeyError for any other host."""
        host = _normal(host)
        if host in self.addresses:
            return self.addresses[host]
        if any(host == domain or host.endswith("." + domain) for domain in CLOUD_DOMAINS):
            return None
        raise KeyError(host)


class _PinnedConnection:
    """Mixed in before a urllib3 HTTPConnection subclass: connect to the checked address."""

    pins: Pins = Pins()
    _dns_host: str

    def _new_conn(self) -> Any:
        try:
            addresses = self.pins.for_host(self._dns_host)
        except KeyError:
            raise HostNotPinned(
                self,  # type: ignore[arg-type]  # mixed into an HTTPConnection
                "This host was not checked for this storage location.",
            ) from None
        if addresses is None:
            return super()._new_conn()  # type: ignore[misc]
        name = self._dns_host
        error: Exception | None = None
        for address in addresses:
            self._dns_host = address  # the TCP target only; `host` (Host, SNI, certificate) is restored
            try:
                return super()._new_conn()  # type: ignore[misc]
            except (NewConnectionError, ConnectTimeoutError) as exc:
                error = exc
            finally:
                self._dns_host = name
        assert error is not None
        raise error


def pinned_pool_classes(
    pins: Pins,
    *,
    http_pool: type[HTTPConnectionPool] = HTTPConnectionPool,
    https_pool: type[HTTPSConnectionPool] = HTTPSConnectionPool,
) -> dict[str, type]:
    """Pool classes for urllib3's PoolManager.pool_classes_by_scheme whose connections are pinned."""
    classes: dict[str, type] = {}
    for scheme, pool in (("http", http_pool), ("https", https_pool)):
        connection = type(
            f"Pinned{pool.ConnectionCls.__name__}", (_PinnedConnection, pool.ConnectionCls), {"pins": pins}
        )
        classes[scheme] = type(f"Pinned{pool.__name__}", (pool,), {"ConnectionCls": connection})
    return classes


def pin_botocore_client(client: Any, pins: Pins) -> None:
    """Swap the pool classes of a botocore client's HTTP session (botocore takes no connection
    class: URLLib3Session sets pool_classes_by_scheme on its PoolManager, which this replaces
    before the first request) and drop environment proxies."""
    from botocore.awsrequest import AWSHTTPConnectionPool, AWSHTTPSConnectionPool

    session = client._endpoint.http_session
    classes = pinned_pool_classes(pins, http_pool=AWSHTTPConnectionPool, https_pool=AWSHTTPSConnectionPool)
    session._pool_classes_by_scheme = classes
    session._manager.pool_classes_by_scheme = classes
    session._manager.clear()
    session._proxy_config._proxies = {}


def pinned_requests_session(pins: Pins, *, session: Any = None) -> Any:
    """A requests.Session (or `session`, pinned in place) whose connections are pinned: azure-core's
    RequestsTransport and google-auth's AuthorizedSession take one. No environment proxies."""
    import requests
    from requests.adapters import HTTPAdapter

    class PinnedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pinned_pool_classes(pins)

    session = session if session is not None else requests.Session()
    session.trust_env = False
    session.mount("http://", PinnedAdapter())
    session.mount("https://", PinnedAdapter())
    return session
