"""Copies of provider recordings, fetched from the provider's own hosts and nowhere else.

Redirects are followed here, one hop at a time, and every hop must be a link the provider could
have announced (`links.provider_link`: https, no credentials, one of its hosts). A name is
resolved with the event loop's getaddrinfo and refused if any of its addresses is loopback,
private, link-local, reserved, multicast, unspecified or otherwise not public; the connection
then goes to exactly those checked addresses, so a DNS answer cannot change between the check and
the connection. A literal address is checked as it stands (aiohttp resolves no literal).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from .links import ReplayRefused, provider_link

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 1 << 20
_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV


class DownloadFailed(Exception):
    """The copy could not be made; the message says why, never with the link (it may carry a
    token)."""


class DownloadRefused(DownloadFailed):
    """A hop of the download goes where recordings may not be fetched from."""


@dataclass(frozen=True, slots=True)
class LoopbackForTests:
    """For tests only, never built by the app: names answered with a fixed address instead of
    DNS (where a test's fake provider listens) and the TLS context that trusts its certificate.
    A pinned loopback address is let through; any other address is checked as always."""

    pinned: Mapping[str, str] = field(default_factory=dict)
    tls: ssl.SSLContext | None = None


def refusal(address: str, *, loopback: bool = False) -> str | None:
    """Why a download may not connect to `address`, or None when it may (`loopback` lets a
    loopback address through, for `LoopbackForTests` only)."""
    found = ipaddress.ip_address(address.partition("%")[0])
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        found = found.ipv4_mapped
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
    public; aiohttp connects to the addresses it returns, and only to those."""

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
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM, family=family
            )
            answers = [(kind, str(address[0])) for kind, _, _, _, address in infos]
        if not answers:
            raise DownloadRefused(f"{name} has no address")
        for _, address in answers:
            why = refusal(address, loopback=pin is not None)
            if why:
                raise DownloadRefused(f"{name} resolves to {why}")
        return [
            ResolveResult(
                hostname=host, host=address, port=port, family=kind, proto=0, flags=_NUMERIC
            )
            for kind, address in answers
        ]

    async def close(self) -> None:
        """Nothing to release: getaddrinfo runs on the loop's own executor."""


def check_hop(url: str, hosts: Sequence[str], provider: str) -> str:
    """The link of one hop as it will be requested, or DownloadRefused."""
    try:
        link = provider_link(url, hosts, provider)
    except ReplayRefused as error:
        raise DownloadRefused(str(error)) from None
    host = URL(link).host or ""
    try:
        why = refusal(host)
    except ValueError:  # a name: the resolver checks what it resolves to
        return link
    if why:
        raise DownloadRefused(f"the link names {why}")
    return link


async def download(
    url: str,
    target: Path,
    *,
    hosts: Sequence[str],
    provider: str,
    limit: int,
    timeout: float,  # noqa: ASYNC109 (applied below with asyncio.timeout)
    testing: LoopbackForTests | None = None,
) -> None:
    """Streams the recording at `url` into `target` (through a `.part` file, renamed once
    complete); DownloadFailed, or DownloadRefused for a hop these rules refuse."""
    partial = target.with_suffix(".part")
    connector = aiohttp.TCPConnector(
        resolver=CheckedResolver(testing.pinned if testing else None),
        use_dns_cache=False,
        ssl=testing.tls if testing and testing.tls else True,
    )
    try:
        try:
            async with (
                aiohttp.ClientSession(
                    connector=connector, cookie_jar=aiohttp.DummyCookieJar()
                ) as http,
                asyncio.timeout(timeout),
            ):
                response = await _follow(http, url, hosts, provider)
                async with response:
                    if response.status != 200:
                        raise DownloadFailed(f"the recording's host answered {response.status}")
                    await _save(response, partial, limit)
            await asyncio.to_thread(partial.replace, target)
        except aiohttp.ClientError as error:
            raise DownloadFailed(f"the download failed ({type(error).__name__})") from None
        except TimeoutError:
            raise DownloadFailed(f"the download took more than {timeout:.0f} s") from None
        except OSError as error:
            raise DownloadFailed(f"the copy cannot be written ({error.strerror})") from None
    except DownloadFailed:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        raise


async def _follow(
    http: aiohttp.ClientSession, url: str, hosts: Sequence[str], provider: str
) -> aiohttp.ClientResponse:
    """The first answer that is no redirect, each hop checked before it is requested."""
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        link = check_hop(current, hosts, provider)
        response = await http.get(link, allow_redirects=False)
        if response.status not in REDIRECTS:
            return response
        location = response.headers.get("Location")
        response.release()
        if not location:
            raise DownloadFailed(f"a {response.status} redirect without a Location")
        try:
            current = str(URL(link).join(URL(location)))
        except ValueError:
            raise DownloadRefused("a redirect to a malformed address") from None
    raise DownloadRefused(f"more than {MAX_REDIRECTS} redirects")


async def _save(response: aiohttp.ClientResponse, partial: Path, limit: int) -> None:
    await asyncio.to_thread(partial.parent.mkdir, parents=True, exist_ok=True)
    size = 0
    with partial.open("wb") as out:
        async for chunk in response.content.iter_chunked(CHUNK):
            size += len(chunk)
            if size > limit:
                raise DownloadFailed("the recording is larger than the download limit")
            out.write(chunk)
