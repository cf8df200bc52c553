"""Which network addresses rdv may connect to on someone else's word: a provider's recording
link, an organiser's webhook receiver. Loopback, private, link-local, reserved, multicast,
unspecified and other non-public addresses are refused, so that a link cannot make rdv reach
into the network it runs in.

A name is resolved with the event loop's getaddrinfo and refused if any of its addresses is not
public; aiohttp then connects to exactly those checked addresses, so a DNS answer cannot change
between the check and the connection. A literal address is checked as it stands (aiohttp
resolves no literal): check it before connecting (`refusal`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping

from aiohttp.abc import AbstractResolver, ResolveResult

_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


class AddressRefused(Exception):
    """A name resolves to an address rdv may not connect to; the message says which kind."""


def refusal(address: str, *, loopback: bool = False) -> str | None:
    """Why rdv may not connect to `address`, or None when it may (`loopback` lets a loopback
    address through, for tests' pinned names only); ValueError when it is no address."""
    found = ipaddress.ip_address(address.partition("%")[0])
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        found = found.ipv4_mapped
    if isinstance(found, ipaddress.IPv6Address) and found.sixtofour is not None:
        found = found.sixtofour  # 6to4 reaches the IPv4 address it carries
    if found.is_loopback:
        return None if loopback else "a loopback address"
    for kind, matches in (  # the narrower kinds first: most of them are private too
        ("an unspecified", found.is_unspecified),
        ("a link-local", found.is_link_local),
        ("a multicast", found.is_multicast),
        ("a reserved", found.is_reserved),
        ("a private", found.is_private),
        ("a non-public", not found.is_global),
    ):
        if matches:
            return f"{kind} address"
    return None


class CheckedResolver(AbstractResolver):
    """Resolves with the event loop's getaddrinfo and refuses a name with any address that is not
    public; aiohttp connects to the addresses it returns, and only to those. `pinned` names are
    answered with a fixed address instead of DNS (tests), a loopback one let through."""

    def __init__(self, pinned: Mapping[str, str] | None = None) -> None:
        self.pinned = {
            name.lower().rstrip("."): address for name, address in (pinned or {}).items()
        }

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.lower().rstrip(".")
        pin = self.pinned.get(name)
        if pin is not None:
            kind = socket.AF_INET6 if ":" in pin else socket.AF_INET
            answers = [(kind, pin)]
        else:
            try:
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM, family=family
                )
            except UnicodeError:  # an empty or overlong label: no name at all
                raise AddressRefused(f"{name[:80]} is not a valid name") from None
            answers = [(kind, str(address[0])) for kind, _, _, _, address in infos]
        if not answers:
            raise AddressRefused(f"{name} has no address")
        for _, address in answers:
            why = refusal(address, loopback=pin is not None)
            if why:
                raise AddressRefused(f"{name} resolves to {why}")
        return [
            ResolveResult(
                hostname=host, host=address, port=port, family=kind, proto=0, flags=_NUMERIC
            )
            for kind, address in answers
        ]

    async def close(self) -> None:
        """Nothing to release: getaddrinfo runs on the loop's own executor."""
