"""Helpers the tests share: the injected clock, an API client with tokens, program builders."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from orchestrator import appkeys

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = ROOT / "examples" / "lyon-2021"
EXAMPLE_JSON = EXAMPLE_DIR / "program.json"
EXAMPLE_SLUG = "rdv-commande-publique-2021"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"


class ManualClock:
    """A clock that only moves when a test moves it."""

    def __init__(self, start: datetime = datetime(2021, 4, 1, 8, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta

    def set(self, moment: datetime) -> None:
        self.current = moment


class Api:
    """The service's HTTP API as an organiser (or another role) of one event sees it."""

    def __init__(self, client: TestClient[Any, Any], token: Callable[..., str]) -> None:
        self.client = client
        self.token = token

    def headers(self, slug: str, role: str = "organiser") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(slug, role)}"}

    async def put_program(
        self, program: dict[str, Any], slug: str | None = None, role: str = "organiser"
    ) -> ClientResponse:
        slug = slug or program["event"]["slug"]
        return await self.client.put(
            f"/api/v1/events/{slug}/program",
            data=json.dumps(program),
            headers={**self.headers(slug, role), "Content-Type": "application/json"},
        )

    async def import_ok(self, program: dict[str, Any]) -> dict[str, Any]:
        response = await self.put_program(program)
        body = await response.json()
        assert response.status in (200, 201), body
        changes: dict[str, Any] = body["changes"]
        return changes

    async def get_event(self, slug: str, role: str = "organiser") -> dict[str, Any]:
        response = await self.client.get(f"/api/v1/events/{slug}", headers=self.headers(slug, role))
        body: dict[str, Any] = await response.json()
        assert response.status == 200, body
        return body

    async def patch(self, slug: str, key: str, changes: dict[str, Any]) -> ClientResponse:
        return await self.client.patch(
            f"/api/v1/events/{slug}/sessions/{key}", json=changes, headers=self.headers(slug)
        )

    async def delete(self, slug: str, key: str) -> ClientResponse:
        return await self.client.delete(
            f"/api/v1/events/{slug}/sessions/{key}", headers=self.headers(slug)
        )

    async def deliver_mail(self) -> None:
        """Sends everything due in the outbox, as the sender's passes would (an app built with
        background=False runs no sender)."""
        app = self.client.app
        assert app is not None
        while (await app[appkeys.OUTBOX].deliver_due()).claimed:
            continue

    async def plan_mail(self) -> int:
        """Turns what the changes so far recorded into outbox messages, as the sender's next
        pass does before it sends (an app built with background=False runs no sender)."""
        app = self.client.app
        assert app is not None
        return await app[appkeys.COMPOSERS].prepare(app[appkeys.DB])


def example_program() -> dict[str, Any]:
    """The seed event (a fresh copy each time)."""
    document: dict[str, Any] = json.loads(EXAMPLE_JSON.read_text(encoding="utf-8"))
    return document


def small_program(slug: str = "meet-the-buyers") -> dict[str, Any]:
    """A small event: a plenary for everyone, then three one-to-one meetings."""
    return copy.deepcopy(
        {
            "event": {
                "slug": slug,
                "title": "Meet the buyers",
                "timezone": "Europe/Paris",
                "locale": "en",
                "organiser": {"name": "Cluster", "email": "rdv@cluster.example"},
            },
            "organisations": [
                {"key": "water", "name": "Water and Waste", "kind": "buyer"},
                {"key": "roads", "name": "Roads", "kind": "buyer"},
                {"key": "acme", "name": "Acme Sensors", "kind": "company"},
                {"key": "globex", "name": "Globex", "kind": "company"},
                {"key": "cluster", "name": "Cluster", "kind": "organiser"},
            ],
            "people": [
                {
                    "key": "ana",
                    "name": "Ana Lopez",
                    "email": "ana@water.example",
                    "organisation": "water",
                },
                {
                    "key": "ben",
                    "name": "Ben Okafor",
                    "email": "ben@roads.example",
                    "organisation": "roads",
                },
                {
                    "key": "chloe",
                    "name": "Chloé Martin",
                    "email": "chloe@acme.example",
                    "organisation": "acme",
                },
                {
                    "key": "dan",
                    "name": "Dan Weber",
                    "email": "dan@acme.example",
                    "organisation": "acme",
                },
                {
                    "key": "eve",
                    "name": "Eve Durand",
                    "email": "eve@globex.example",
                    "organisation": "globex",
                    "locale": "fr",
                },
                {
                    "key": "org",
                    "name": "Olga Organiser",
                    "email": "olga@cluster.example",
                    "organisation": "cluster",
                },
            ],
            "sessions": [
                {
                    "key": "plenary",
                    "kind": "plenary",
                    "title": "Opening plenary",
                    "start": "2021-04-08T09:00",
                    "end": "2021-04-08T10:00",
                    "attendees": "*",
                    "speakers": ["org"],
                    "stream_url": "https://www.youtube.com/watch?v=abcdefghijk",
                },
                {
                    "key": "m1",
                    "kind": "meeting",
                    "title": "Acme × Water",
                    "start": "2021-04-08T10:30",
                    "end": "2021-04-08T11:00",
                    "attendees": ["chloe", "ana"],
                },
                {
                    "key": "m2",
                    "kind": "meeting",
                    "title": "Globex × Roads",
                    "start": "2021-04-08T10:30",
                    "end": "2021-04-08T11:00",
                    "attendees": ["eve", "ben"],
                },
                {
                    "key": "m3",
                    "kind": "meeting",
                    "title": "Acme × Roads",
                    "start": "2021-04-08T11:00",
                    "end": "2021-04-08T11:30",
                    "attendees": ["dan", "ben"],
                },
            ],
        }
    )


def session_of(program: dict[str, Any], key: str) -> dict[str, Any]:
    session: dict[str, Any] = next(s for s in program["sessions"] if s["key"] == key)
    return session
