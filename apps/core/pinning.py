"""Connections that go to the addresses a host was checked at, not to a second DNS answer.

Whoever checks a tenant-chosen host (apps/storage/endpoints.py for storage endpoints,
apps/accounts/sso/client.py for an identity provider) resolves it and allows it only if every
address is allowed (apps.core.network). Were the HTTP library to resolve the name again when it
connects, a DNS answer with a short TTL could send it somewhere else (DNS rebinding: public at the
check, 169.254.169.254 a second later). So the client gets a urllib3 connection class that connects
to the checked addresses instead of looking the name up: requests, botocore, azure-core and
google-auth all connect through urllib3. Only the TCP target changes: the Host header, TLS SNI and
certificate verification keep the host name (urllib3 reads those from `host`, the TCP connect from
`_dns_host`).

A host that was not checked is refused, unless it is under one of the Pins' `resolved_domains`
(names a library builds from validated input under a domain whose DNS is not the tenant's: the
cloud's own, for storage). Environment proxies are not used (a proxy would resolve the name itself).
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError


class HostNotPinned(NewConnectionError):
    """Raised instead of connecting to a host the check did not cover."""


def _normal(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


@dataclass(frozen=True)
class Pins:
    """host name -> the addresses it resolved to when it was checked."""

    addresses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    resolved_domains: tuple[str, ...] = ()

    def for_host(self, host: str) -> tuple[str, ...] | None:
        """The checked addresses of `host`; None where the library may resolve it (under one of
        `resolved_domains`); KeyError for any other host."""
        host = _normal(host)
        if host in self.addresses:
            return self.addresses[host]
        if any(host == domain or host.endswith("." + domain) for domain in self.resolved_domains):
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
                "This host was not checked before connecting to it.",
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


def pinned_requests_session(pins: Pins, *, session: Any = None) -> Any:
    """A requests.Session (or `session`, pinned in place: an Authlib OAuth2Session is one) whose
    connections are pinned. No environment proxies; a CA bundle named by REQUESTS_CA_BUNDLE or
    CURL_CA_BUNDLE is still used (requests reads both only while it trusts the environment)."""
    import requests
    from requests.adapters import HTTPAdapter

    class PinnedAdapter(HTTPAdapter):
        def init_poolmanager(self, *args, **kwargs):
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pinned_pool_classes(pins)

    session = session if session is not None else requests.Session()
    if session.trust_env and session.verify is True:
        session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.trust_env = False
    session.mount("http://", PinnedAdapter())
    session.mount("https://", PinnedAdapter())
    return session
