"""Outbound HTTP for provider clients: every call under a timeout, failures sorted into
"retry later" (`ProviderUnavailable`, with Retry-After) and "refused" (`ProviderRejected`)."""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp

from .base import ProviderRejected, ProviderUnavailable

DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta seconds (Microsoft Graph sends them
    with decimals, "2.128") or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        return _until(value)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _until(date: str) -> float | None:
    """Seconds until an HTTP date (none when it is no date)."""
    try:
        moment = parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return max((moment - datetime.now(UTC)).total_seconds(), 0.0)


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    provider: str,
    timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109 (applied below with asyncio.timeout)
    accept: tuple[int, ...] = (),
    **options: Any,
) -> Reply:
    """Sends one request. 2xx and the statuses in `accept` come back as a Reply; 429 and 5xx raise
    ProviderUnavailable, other statuses ProviderRejected. `url` never appears in errors (it may
    carry a checksum or token)."""
    try:
        async with asyncio.timeout(timeout):
            async with session.request(method, url, allow_redirects=False, **options) as response:
                body = await response.read()
                reply = Reply(response.status, dict(response.headers), body)
    except TimeoutError:
        raise ProviderUnavailable(f"{provider} did not answer within {timeout:.0f} s") from None
    except aiohttp.ClientError as error:
        raise ProviderUnavailable(f"{provider} unreachable: {type(error).__name__}") from None
    if 200 <= reply.status < 300 or reply.status in accept:
        return reply
    summary = f"{provider} answered {reply.status}: {reply.text()[:200]}"
    if reply.status == 429 or reply.status >= 500:
        wait = retry_after(reply.headers.get("Retry-After"))
        raise ProviderUnavailable(summary, retry_after=wait)
    raise ProviderRejected(summary)


def json_object(reply: Reply, provider: str, *, strict: bool = True) -> dict[str, Any]:
    """The reply's JSON object; with `strict`, anything else is ProviderRejected (else `{}`)."""
    try:
        answer = json.loads(reply.body) if reply.body else {}
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        return answer
    if strict:
        raise ProviderRejected(f"{provider} answered {reply.status} with something other than JSON")
    return {}


def json_items(answer: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The objects of a JSON list at `key` (none when it is missing or not a list)."""
    items = answer.get(key)
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


class CachedToken:
    """A bearer token kept until `refresh_before` seconds before it expires, fetched again by one
    caller at a time (twenty concurrent calls cost one request). `fetch` returns the token and
    its lifetime in seconds; `clock` is monotonic."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[tuple[str, float]]],
        clock: Callable[[], float],
        *,
        refresh_before: float = 60.0,
    ) -> None:
        self.fetch, self.clock, self.refresh_before = fetch, clock, refresh_before
        self.value: str | None = None
        self._expires = 0.0
        self._refreshing = asyncio.Lock()

    def _current(self) -> str | None:
        if self.value is not None and self.clock() < self._expires - self.refresh_before:
            return self.value
        return None

    async def get(self) -> str:
        token = self._current()
        if token is not None:
            return token
        async with self._refreshing:
            token = self._current()  # another caller may have fetched it meanwhile
            if token is not None:
                return token
            started = self.clock()
            token, lifetime = await self.fetch()
            self.value, self._expires = token, started + lifetime
            return token

    def drop(self, token: str) -> None:
        """Forgets `token` (revoked, or expired early), unless another caller replaced it."""
        if self.value == token:
            self.value = None


async def with_bearer(
    session: aiohttp.ClientSession,
    tokens: CachedToken,
    method: str,
    url: str,
    *,
    provider: str,
    timeout: float,  # noqa: ASYNC109 (handed to `request`, which applies it)
    accept: tuple[int, ...],
    headers: Mapping[str, str] | None = None,
    renew: Callable[[Reply], bool] = lambda _reply: True,
    **options: Any,
) -> Reply:
    """`request` with the bearer token of `tokens`; a 401 that `renew` says is about the token
    (revoked, expired early) drops it and tries once more with a fresh one. The caller reads the
    reply's status (`accept` lists what comes back instead of raising)."""
    for attempt in (1, 2):
        token = await tokens.get()
        reply = await request(
            session,
            method,
            url,
            provider=provider,
            timeout=timeout,
            accept=accept,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
            **options,
        )
        if reply.status == 401 and attempt == 1 and renew(reply):
            tokens.drop(token)
            continue
        return reply
    raise AssertionError("unreachable")
