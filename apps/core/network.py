"""Which network addresses DeepLens may connect to on a tenant's behalf (URL import, storage
endpoints): public ones, or those in an operator's allow-list. A leaf module: URL fetching
(apps/images/fetch.py) and storage providers (apps/storage/providers.py) both use it.

An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, 6to4 2002:aabb:ccdd::/48,
NAT64 64:ff9b::a.b.c.d) is judged by the IPv4 address it reaches: 2002:7f00:1:: is loopback."""

import ipaddress

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _allowed_networks():
    return [ipaddress.ip_network(net, strict=False) for net in settings.DEEPLENS_URL_FETCH_ALLOWED_NETWORKS]


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address leads to, where it embeds one."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _public(ip: IPAddress) -> bool:
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def address_allowed(address: str, *, allowed_networks=None) -> bool:
    """A public address, or one in the operator's allow-list (by default the URL-import one)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    ip = embedded_ipv4(ip) or ip
    networks = _allowed_networks() if allowed_networks is None else allowed_networks
    if any(ip.version == network.version and ip in network for network in networks):
        return True
    return _public(ip)
