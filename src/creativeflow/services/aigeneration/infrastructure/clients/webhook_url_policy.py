"""Refuses webhook URLs that would make the service call into its own network (SSRF):
loopback, private, link-local (cloud metadata at 169.254.169.254), shared, reserved and
multicast addresses, whether written as an IP or reached through a name."""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from ...domain.errors import InvalidValue

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def is_public(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


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
