"""Every host a storage location makes DeepLens connect to, found the way the connecting library
finds it, and checked before any client is built (on save, by the connection test and each time a
process builds the location's client).

- An endpoint URL is parsed strictly: http(s), a host, no userinfo, no backslash, no whitespace, no
  query or fragment, and urllib3 (which botocore, the Azure SDK and google-auth connect through)
  must read the same host and port as urllib.parse. `http://127.0.0.1:9\\@public-host` is refused,
  not checked as the second host and connected to as the first.
- Azure connection strings are read by the Azure SDK's own parser (keys in any case,
  UseDevelopmentStorage, AccountName + EndpointSuffix), and the client is built from what it returns;
  account names are DNS labels (3-24 lower-case letters and digits).
- S3 virtual-hosted addressing puts the bucket into the host: with a custom endpoint that host is
  checked too (path style is the default there).
- A GCS service account's token_uri is an endpoint like any other.
- A tenant-chosen host must resolve only to allowed addresses (apps.core.network): public ones or
  DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS. Names the SDKs build under the cloud's own domain from a
  validated account name (`<account>.blob.core.windows.net`) are not resolved here.

Every refusal after the syntax checks is one error, `storage_endpoint_not_allowed`, with the same
message whether the host is internal, does not resolve or (in the connection test) cannot be
reached, so a tenant cannot map the private network by the answers."""

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings

from apps.core.network import address_allowed
from apps.storage.errors import StorageConfigInvalid, StorageEndpointRefused
from apps.storage.models import StorageProvider
from apps.storage.pinning import Pins

AZURE_ACCOUNT_NAME = re.compile(r"^[a-z0-9]{3,24}$")
AZURE_DEFAULT_SUFFIX = "core.windows.net"
S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
S3_REGION = re.compile(r"^[a-z0-9](?:[a-z0-9\-]{0,30}[a-z0-9])?$")
GOOGLE_UNIVERSE = "googleapis.com"
_FORBIDDEN_CHARACTERS = re.compile(r"[\\@\s\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Endpoint:
    scheme: str
    host: str
    port: int

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


@dataclass(frozen=True)
class AzureClientParts:
    """What the Azure BlobServiceClient is built from: nothing else reaches the SDK."""

    account_url: str
    secondary_hostname: str | None
    credential: object
    account_name: str | None
    account_key: str | None


def refused(field: str) -> StorageEndpointRefused:
    return StorageEndpointRefused(
        "DeepLens cannot use this storage endpoint: it is not allowed for tenants or cannot be reached. "
        "An operator can allow a private network with DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS.",
        extra={field: ["not_allowed"]},
    )


def endpoint_parse(url: str, *, field: str = "endpoint_url") -> Endpoint:
    """The scheme, host and port a client connects to, or a refusal where parsers could disagree."""
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    url = str(url or "")
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        raise StorageConfigInvalid(
            "The endpoint URL must be an http or https URL.", extra={field: ["invalid"]}
        )
    if _FORBIDDEN_CHARACTERS.search(url):
        raise refused(field)  # userinfo, backslashes and spaces read differently by different parsers
    try:
        parts = urlsplit(url)
        port = parts.port
        seen = parse_url(url)
    except (ValueError, LocationParseError) as exc:
        raise refused(field) from exc
    if not parts.hostname or parts.query or parts.fragment or "?" in url or "#" in url:
        raise refused(field)
    host = parts.hostname.lower().rstrip(".")
    seen_host = (seen.host or "").strip("[]").lower().rstrip(".")
    port = port or (443 if scheme == "https" else 80)
    if seen_host != host or (seen.port or port) != port or (seen.scheme or "").lower() != scheme:
        raise refused(field)
    return Endpoint(scheme=scheme, host=host, port=port)


def _networks():
    return [
        ipaddress.ip_network(net, strict=False) for net in settings.DEEPLENS_STORAGE_ENDPOINT_ALLOWED_NETWORKS
    ]


def endpoint_check(
    url: str, *, field: str = "endpoint_url", pins: dict[str, tuple[str, ...]] | None = None
) -> Endpoint:
    """Parse strictly, then every address the host resolves to must be allowed. The addresses are
    recorded in `pins`: the client connects to them, never to a second answer (apps/storage/pinning.py)."""
    endpoint = endpoint_parse(url, field=field)
    try:
        infos = socket.getaddrinfo(endpoint.host, endpoint.port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError, ValueError) as exc:
        raise refused(field) from exc
    addresses = {str(info[4][0]) for info in infos}
    networks = _networks()
    if not addresses or not all(address_allowed(address, allowed_networks=networks) for address in addresses):
        raise refused(field)
    if pins is not None:
        pins[endpoint.host] = tuple(sorted(addresses))
    return endpoint


def azure_account_name_check(name: str, *, field: str = "account_name") -> str:
    if not AZURE_ACCOUNT_NAME.match(name or ""):
        raise StorageConfigInvalid(
            "An Azure storage account name is 3 to 24 lower-case letters and digits.",
            extra={field: ["invalid"]},
        )
    return name


def _azure_host_check(url: str, account_name: str | None, *, field: str, pins: dict | None) -> str:
    """The SDK's URL, checked: resolved unless it is the account's own host under Azure's domain."""
    endpoint = endpoint_parse(url, field=field)
    if account_name and endpoint.host == f"{account_name}.blob.{AZURE_DEFAULT_SUFFIX}":
        return url
    endpoint_check(url, field=field, pins=pins)
    return url


def azure_client_parts(*, config: dict, secrets: dict, pins: dict | None = None) -> AzureClientParts:
    """Where and how the Azure client connects, from the location's settings, checked."""
    connection_string = secrets.get("connection_string")
    if connection_string:
        from azure.storage.blob._shared.base_client import parse_connection_str

        try:
            primary, secondary, credential = parse_connection_str(str(connection_string), None, "blob")
        except (ValueError, KeyError) as exc:
            raise StorageConfigInvalid(
                "The connection string cannot be read.", extra={"connection_string": ["invalid"]}
            ) from exc
        account_name = credential.get("account_name") if isinstance(credential, dict) else None
        if account_name is not None:
            azure_account_name_check(account_name, field="connection_string")
        _azure_host_check(primary, account_name, field="connection_string", pins=pins)
        if secondary:
            secondary_url = secondary if "://" in secondary else f"https://{secondary}"
            secondary_host = endpoint_parse(secondary_url, field="connection_string").host
            if not (
                account_name and secondary_host == f"{account_name}-secondary.blob.{AZURE_DEFAULT_SUFFIX}"
            ):
                endpoint_check(secondary_url, field="connection_string", pins=pins)
        return AzureClientParts(
            account_url=primary,
            secondary_hostname=secondary,
            credential=credential,
            account_name=account_name,
            account_key=credential.get("account_key") if isinstance(credential, dict) else None,
        )
    account_name = azure_account_name_check(config.get("account_name", ""))
    if config.get("endpoint_url"):
        account_url = config["endpoint_url"].rstrip("/")
        endpoint_check(account_url, pins=pins)
    else:
        account_url = f"https://{account_name}.blob.{AZURE_DEFAULT_SUFFIX}"
    credential = None  # anonymous: a public container
    if secrets.get("account_key"):
        credential = {"account_name": account_name, "account_key": secrets["account_key"]}
    elif secrets.get("sas_token"):
        credential = secrets["sas_token"]
    return AzureClientParts(
        account_url=account_url,
        secondary_hostname=None,
        credential=credential,
        account_name=account_name,
        account_key=secrets.get("account_key") or None,
    )


def s3_addressing_style(config: dict) -> str | None:
    """Path style at a custom endpoint unless virtual hosting is asked for (the bucket then becomes
    part of the host, which is checked)."""
    style = config.get("addressing_style")
    if config.get("endpoint_url") and style in (None, "", "auto"):
        return "path"
    return style or None


def location_endpoints_check(*, provider: str, config: dict, secrets: dict) -> Pins:
    """Every host this location's client would connect to is allowed; raises otherwise. Returns the
    checked addresses, which the client is then pinned to."""
    pins: dict[str, tuple[str, ...]] = {}
    if provider == StorageProvider.S3:
        if config.get("region") and not S3_REGION.match(config["region"]):
            raise StorageConfigInvalid("The region is not a region name.", extra={"region": ["invalid"]})
        if config.get("endpoint_url"):
            endpoint = endpoint_check(config["endpoint_url"], pins=pins)
            if s3_addressing_style(config) == "virtual":
                if not S3_BUCKET.match(config.get("bucket", "")):
                    raise StorageConfigInvalid(
                        "Virtual-hosted addressing needs a DNS-compatible bucket name.",
                        extra={"bucket": ["invalid"]},
                    )
                endpoint_check(
                    f"{endpoint.scheme}://{config['bucket']}.{endpoint.host}:{endpoint.port}", pins=pins
                )
    elif provider == StorageProvider.AZURE:
        azure_client_parts(config=config, secrets=secrets, pins=pins)
    elif provider == StorageProvider.GCS:
        if config.get("endpoint_url"):
            endpoint_check(config["endpoint_url"], pins=pins)
        account = secrets.get("service_account_json")
        if isinstance(account, dict):
            universe = account.get("universe_domain") or GOOGLE_UNIVERSE
            if universe != GOOGLE_UNIVERSE:
                raise StorageConfigInvalid(
                    "Service accounts of other universes than googleapis.com are not supported.",
                    extra={"service_account_json": ["universe_domain"]},
                )
            endpoint_check(account.get("token_uri", ""), field="service_account_json", pins=pins)
    return Pins(pins)
