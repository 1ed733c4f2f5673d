"""Which network addresses DeepLens may connect to on a tenant's behalf (URL import, storage
endpoints): public ones, or those in an operator's allow-list. A leaf module: URL fetching
(apps/images/fetch.py) and storage providers (apps/storage/providers.py) both use it."""

import ipaddress

from django.conf import settings


def _allowed_networks():
    return [ipaddress.ip_network(net, strict=False) for net in settings.DEEPLENS_URL_FETCH_ALLOWED_NETWORKS]


def address_allowed(address: str, *, allowed_networks=None) -> bool:
    """A public address, or one in the operator's allow-list (by default the URL-import one)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    networks = _allowed_networks() if allowed_networks is None else allowed_networks
    if any(ip in network for network in networks):
        return True
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )
