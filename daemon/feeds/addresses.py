"""Which network addresses the daemon may connect to for links it did not choose itself."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class BlockedAddressError(Exception):
    """A host resolved to an address that must not be contacted."""

    def __init__(self, host: str, address: str) -> None:
        target = "" if host == address else f" to {host}"
        super().__init__(f"refusing to connect{target}: {address} is not a public address")
        self.host = host
        self.address = address


def is_public_address(address: IPAddress) -> bool:
    """False for loopback, private, link-local, multicast, reserved, unspecified, shared (CGNAT)
    and other special-purpose ranges, including IPv4 addresses mapped or embedded in IPv6."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None and not is_public_address(embedded):
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def parse_networks(networks: Iterable[str]) -> tuple[IPNetwork, ...]:
    """``["10.1.2.0/24", "192.168.0.7"]`` → networks; raises ValueError for anything else."""
    return tuple(ipaddress.ip_network(text.strip(), strict=False) for text in networks)


def public_addresses(host: str, port: int, allowed: Iterable[IPNetwork] = ()) -> list[str]:
    """Resolve ``host`` and return its addresses, all of them public (or inside one of the
    ``allowed`` networks), in resolver order.

    Raises BlockedAddressError if any address is not public (a name that resolves to both a
    public and a private address is refused), OSError (socket.gaierror) if it does not resolve.
    """
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for *_, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if not is_public_address(address) and not any(address in net for net in allowed):
            raise BlockedAddressError(host, text)
        if text not in addresses:
            addresses.append(text)
    return addresses
