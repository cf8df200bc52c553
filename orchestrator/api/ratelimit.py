"""A rate limit on personal and sign-in links that a real event never reaches: so many requests
a minute for one link (its route and token), and so many from one client address, counted in
this instance's memory. A refusal is a 429 with `Retry-After`, a short page where a person reads
it, and a count in `rdv_rate_limited_total{route}`.

Each limit is a sliding window over the last minute, kept as two counts (Cloudflare's "sliding
window" approximation): the requests of the current minute, plus those of the minute before
weighted by how much of it still lies in the window. Memory stays a few numbers per link or
address, and windows that have emptied are dropped as the table grows."""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..metrics import Metrics
from ..pages import Pages
from .errors import refused_page


@dataclass(frozen=True, slots=True)
class Limits:
    """How many requests a window lets through, per link and per client address."""

    per_link: int = 60
    per_address: int = 600
    window: float = 60.0


@dataclass(slots=True)
class _Count:
    start: float
    previous: int = 0
    current: int = 0


class Windows:
    """One sliding window per key, all of the same limit and length."""

    def __init__(self, limit: int, length: float) -> None:
        self.limit, self.length = limit, length
        self._counts: dict[str, _Count] = {}
        self._swept_at_size = 1024

    def _count(self, key: str, now: float) -> _Count:
        count = self._counts.get(key)
        if count is None:
            count = self._counts[key] = _Count(start=now)
            if len(self._counts) > 2 * self._swept_at_size:
                self._sweep(now)
        if now < count.start:  # the clock was set back: the minute restarts from here
            count.start = now
        passed = int((now - count.start) // self.length)
        if passed > 0:
            count.previous = count.current if passed == 1 else 0
            count.current = 0
            count.start += passed * self.length
        return count

    def wait(self, key: str, now: float) -> float:
        """Seconds until one more request for `key` would be let through; 0 when it would now."""
        count = self._count(key, now)
        into = (now - count.start) / self.length
        room = self.limit - 1 - count.current  # what the previous minute's share may still be
        if count.previous * (1 - into) <= room:
            return 0.0
        if room >= 0:  # later in this minute, once enough of the previous one has slid out
            return self.length * (1 - room / count.previous) - (now - count.start)
        # in the next minute, as this one's requests (more than the limit) slide out
        share = 1 - (self.limit - 1) / count.current
        return (count.start + self.length - now) + self.length * share

    def add(self, key: str, now: float) -> None:
        self._count(key, now).current += 1

    def _sweep(self, now: float) -> None:
        """Drops windows that weigh nothing any more (both their minutes are past)."""
        for key in [k for k, c in self._counts.items() if now - c.start >= 2 * self.length]:
            del self._counts[key]
        self._swept_at_size = max(len(self._counts), 1024)


class RateLimiter:
    """The two limits of one instance; the app factory builds one, with the app's clock."""

    def __init__(self, now: Callable[[], datetime], limits: Limits | None = None) -> None:
        self.now = now
        self.limits = limits or Limits()
        self.links = Windows(self.limits.per_link, self.limits.window)
        self.addresses = Windows(self.limits.per_address, self.limits.window)

    def admit(self, link: str, address: str) -> float:
        """Counts a request and returns 0, or the seconds to wait when it is refused (and not
        counted, so that a client who waits gets in)."""
        now = self.now().timestamp()
        wait = max(self.links.wait(link, now), self.addresses.wait(address, now))
        if wait > 0:
            return wait
        self.links.add(link, now)
        self.addresses.add(address, now)
        return 0.0


def client_address(request: web.BaseRequest) -> str:
    """Whom to count a request against: its peer, or, when the peer is a proxy on this host or
    a private network (the README's TLS proxy, Docker's bridge), the address that proxy put last
    in X-Forwarded-For. An IPv6 client counts by its /64, which one host often holds whole."""
    peer = _address(request.remote or "")
    if peer is not None and (peer.is_loopback or peer.is_private):
        forwarded = request.headers.get("X-Forwarded-For", "").split(",")[-1]
        peer = _address(forwarded) or peer
    if peer is None:
        return request.remote or "?"
    if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is None:
        return str(ipaddress.IPv6Network((peer, 64), strict=False))
    return str(peer.ipv4_mapped if isinstance(peer, ipaddress.IPv6Address) else peer)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def rate_limited(limiter: RateLimiter, metrics: Metrics, pages: Pages) -> Middleware:
    """The middleware: every route that takes a token (personal links, their calendar files,
    sign-in links) is counted; pages are refused with a page, calendar files with a line."""

    @web.middleware
    async def limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        token = request.match_info.get("token")
        resource = request.match_info.route.resource
        if token is None or resource is None:
            return await handler(request)
        route = resource.canonical
        wait = limiter.admit(f"{route} {token}", client_address(request))
        if not wait:
            return await handler(request)
        metrics.rate_limited.labels(route).inc()
        seconds = max(1, math.ceil(wait))
        headers = {"Retry-After": str(seconds)}
        if route.endswith(".ics"):
            return web.Response(
                status=429,
                text=f"Too many requests for this calendar; retry in {seconds} s.",
                headers=headers,
            )
        return refused_page(request, pages, 429, "too-many", headers, retry_after=seconds)

    return limit
