"""Connections of a storage location's client go to the addresses its hosts were checked at.

apps/storage/endpoints.py resolves every host a tenant chose (endpoint URL, Azure blob endpoints, a
virtual-hosted S3 bucket host, a service account's token_uri) and allows it only if every address is
allowed. The connection classes that then connect to those addresses, never to a second DNS answer
(DNS rebinding), are apps/core/pinning.py's, shared with single sign-on; this module fits them to
the storage SDKs: botocore, azure-core (requests) and google-auth (requests) all connect through
urllib3, and the Host header, TLS SNI and certificate verification keep the host name.

A host that was not checked is connected to only under the provider's own domain (names the SDKs
build from a validated account, region or bucket: DNS there is the cloud's, not the tenant's);
any other host is refused. Environment proxies are not used for tenant locations (the proxy would
resolve the name itself).
"""

from dataclasses import dataclass
from typing import Any

from apps.core import pinning
from apps.core.pinning import HostNotPinned, pinned_pool_classes, pinned_requests_session

CLOUD_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "core.windows.net", "googleapis.com")

__all__ = [
    "CLOUD_DOMAINS",
    "HostNotPinned",
    "Pins",
    "pin_botocore_client",
    "pinned_pool_classes",
    "pinned_requests_session",
]


@dataclass(frozen=True)
class Pins(pinning.Pins):
    """host name -> the addresses it resolved to when it was checked; the SDKs resolve names under
    the clouds' own domains themselves."""

    resolved_domains: tuple[str, ...] = CLOUD_DOMAINS


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
