"""The small event with participants' requests open (from 15 March to 1 April 2021, one request
going per person), and a participant's form sent as a browser would: what the page then says."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from typing import Any

from .service import Api, small_program

OPEN_DAY = datetime(2021, 3, 20, 9, 0, tzinfo=UTC)


def requests_open() -> dict[str, Any]:
    program = small_program()
    program["schedule"] = {
        "windows": [["2021-04-08T10:30", "2021-04-08T12:00"]],
        "slot_minutes": 30,
        "requests_open": "2021-03-15T09:00",
        "requests_close": "2021-04-01T18:00",
        "max_requests_per_person": 1,
    }
    return program


async def post(api: Api, path: str, **form: str) -> str:
    """Sends a form of the page; what the page then says (it redirects back with it)."""
    sent = await api.client.post(path, data=form, allow_redirects=False)
    assert sent.status == 303, await sent.text()
    return await text_of(api, sent.headers["Location"])


async def text_of(api: Api, path: str) -> str:
    """The page's words, as a reader sees them (tags out, spaces tidied)."""
    answer = await api.client.get(path)
    assert answer.status == 200
    words = re.sub(r"<[^>]+>", " ", await answer.text())
    return " ".join(html.unescape(words).split())
