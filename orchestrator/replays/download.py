"""Copies of provider recordings, fetched from the provider's own hosts and nowhere else.

Redirects are followed here, one hop at a time, and every hop must be a link the provider could
have announced (`links.provider_link`: https, no credentials, one of its hosts). A name is
resolved and refused if any of its addresses is not public, and the connection goes to exactly
those checked addresses (`webhooks.addresses`, shared with the outbound webhooks).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from yarl import URL

from webhooks.addresses import AddressRefused, CheckedResolver, refusal

from .links import ReplayRefused, provider_link

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
CHUNK = 1 << 20


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
        except AddressRefused as error:
            raise DownloadRefused(str(error)) from None
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
