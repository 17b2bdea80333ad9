"""Refuses webhook URLs that would make the service call into its own network (SSRF):
loopback, private, link-local (cloud metadata at 169.254.169.254), shared, reserved and
multicast addresses, whether written as an IP or reached through a name, and IPv6 addresses
that carry one of those inside (IPv4-mapped and -compatible, NAT64, 6to4, Teredo). Checked
at creation and again before every delivery; redirects are not followed."""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from ...domain.errors import InvalidValue

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215: local use, never public
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d


def is_public(address: IpAddress) -> bool:
    """Globally reachable, and so is every IPv4 address it carries inside."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL:
            return False
        embedded = embedded_ipv4(address)
        if embedded:
            return all(is_public(inner) for inner in embedded)
    return address.is_global and not address.is_multicast


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a transition address routes to (a packet sent to it reaches them)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)  # (server, client): both are reached
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in NAT64:
        return [low32]
    if address in IPV4_COMPATIBLE and int(address) > 1:  # not :: and ::1 (judged as they are)
        return [low32]
    return []


class PublicWebhookUrlPolicy:
    def __init__(self, allowed_hosts: Iterable[str] = ()) -> None:
        self._allowed = {host.lower() for host in allowed_hosts}

    async def check(self, url: str) -> None:
        host = (urlsplit(url).hostname or "").lower()
        if not host:
            raise InvalidValue("webhook_url", "has no host")
        if host in self._allowed:
            return
        for address in await self._addresses(host):
            if not is_public(address):
                raise InvalidValue(
                    "webhook_url", f"points at a non-public address ({address}); not allowed"
                )

    async def _addresses(self, host: str) -> list[IpAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, type=socket.SOCK_STREAM
            )
        except OSError:
            raise InvalidValue("webhook_url", f"the host {host} does not resolve") from None
        return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
