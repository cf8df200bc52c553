"""Public keys a provider signs its deliveries with, published as a JWK set (Microsoft Graph's
validation tokens, Google's Pub/Sub push tokens).

Verifiers are pure and never wait on the network, so the keys are fetched ahead and kept: a
delivery signed with a key not fetched yet is answered 503 (`WebhookUnverifiable`) and a fetch is
started, at most one a minute; the provider sends the delivery again. Keys are fetched again
every few hours, since providers rotate them. Only RSA keys are kept: the verifiers take RS256.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import jwt

from .base import ProviderError

log = logging.getLogger("rdv.providers")
KEEP = 6 * 3600.0  # seconds before the set is fetched again
RETRY = 60.0  # seconds between two fetches asked for by unknown keys


class KeySet:
    """The keys of one JWK set by `kid`; `fetch` returns the set's JSON document."""

    def __init__(
        self,
        fetch: Callable[[], Awaitable[bytes]],
        *,
        clock: Callable[[], float] = time.monotonic,
        keep: float = KEEP,
        retry: float = RETRY,
    ) -> None:
        self.fetch, self.clock, self.keep, self.retry = fetch, clock, keep, retry
        self._keys: dict[str, Any] = {}
        self._fetched: float | None = None
        self._tried: float | None = None
        self._task: asyncio.Task[bool] | None = None

    def key(self, kid: str) -> Any | None:
        """The public key named `kid`, or None (a fetch is then started, for the next time)."""
        found = self._keys.get(kid)
        if found is None or self.stale():
            self.want()
        return found

    def stale(self) -> bool:
        return self._fetched is None or self.clock() - self._fetched > self.keep

    def want(self) -> None:
        """Starts a fetch in the background, unless one ran within the last `retry` seconds."""
        if self._task is not None and not self._task.done():
            return
        if self._tried is not None and self.clock() - self._tried < self.retry:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # called outside the service's loop: the next pass fetches
            return
        self._task = loop.create_task(self.refresh())

    async def ready(self) -> None:
        """Fetches the set when it is missing or old (a periodic pass calls it), at most once
        a minute while the fetch fails."""
        recent = self._tried is not None and self.clock() - self._tried < self.retry
        if self.stale() and not recent:
            await self.refresh()

    async def refresh(self) -> bool:
        """Fetches the set; True when it was read. A failure keeps the keys already known."""
        self._tried = self.clock()
        try:
            document = json.loads(await self.fetch())
            found = {
                key.key_id: key.key
                for key in jwt.PyJWKSet.from_dict(document).keys
                if key.key_id and key.key_type == "RSA" and key.public_key_use in (None, "sig")
            }
        except (ProviderError, ValueError, jwt.PyJWTError) as error:
            log.warning("fetching signing keys failed: %s", error)
            return False
        self._keys, self._fetched = found, self.clock()
        return True

    async def close(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
