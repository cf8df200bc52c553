"""Outbound HTTP for provider clients: every call under a timeout, failures sorted into
"retry later" (`ProviderUnavailable`, with Retry-After) and "refused" (`ProviderRejected`)."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
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
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        moment = parsedate_to_datetime(value)
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
