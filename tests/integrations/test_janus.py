"""Janus VideoRoom against a real Janus started by the tests (skipped where `janus` is missing):
rooms with a pin and the seats' tokens, joins as the join page makes them, idempotent creation,
and the join page's template."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import TYPE_CHECKING

import aiohttp
import pytest
from jinja2 import Environment, PackageLoader, select_autoescape
from support.mailsink import free_port

from integrations.base import (
    JoinPage,
    JoinRequest,
    Participant,
    ProviderRejected,
    ProviderUnavailable,
    Role,
    Room,
    RoomRequest,
    Seat,
)
from integrations.janus import JanusClient, JanusProvider, JanusRejected

if TYPE_CHECKING:
    from support.janus_server import JanusServer, Join, OpenPage


PUBLIC_URL = "https://rdv.example.org"
KEY = b"janus-test-key-0123456789abcdef!"
START = datetime(2021, 4, 1, 9, 0, tzinfo=UTC)
ALICE = Seat("seat-alice", 11, "tok-alice-" + uuid.uuid4().hex)
BOB = Seat("seat-bob", 12, "tok-bob-" + uuid.uuid4().hex)
CAROL = Seat("seat-carol", 13, "tok-carol-" + uuid.uuid4().hex)


@pytest.fixture
def janus(janus_client: JanusClient) -> JanusProvider:
    return JanusProvider(janus_client, public_url=PUBLIC_URL, secret_key=KEY)


def room_request(*seats: Seat) -> RoomRequest:
    return RoomRequest(
        room_key=f"r-{uuid.uuid4().hex}",
        title="Acme × Globex",
        starts_at=START,
        ends_at=START + timedelta(minutes=20),
        seats=seats,
    )


def join_request(room: Room, seat: Seat) -> JoinRequest:
    return JoinRequest(
        room=room,
        seat=seat,
        display_name=seat.seat_id,
        email=None,
        role=Role.PARTICIPANT,
        not_before=START - timedelta(minutes=10),
        expires_at=START + timedelta(minutes=20),
    )


async def exists(client: JanusClient, room: Room) -> bool:
    async with client.videoroom() as send:
        answer = await send({"request": "exists", "room": room.data["room"]})
    return bool(answer["exists"])


async def test_provisioning_creates_a_private_room_that_only_opens_with_pin_and_seat_token(
    janus: JanusProvider, janus_client: JanusClient, janus_join: Join
) -> None:
    room = await janus.create_room(room_request(ALICE, BOB))

    assert isinstance(room.data["room"], int)
    assert 1 <= room.data["room"] <= 2**52
    assert room.data["pin"] == janus.pin(room.room_key)
    assert "secret" not in room.data
    assert await exists(janus_client, room)
    async with janus_client.videoroom() as send:
        listed = await send({"request": "list"})
    assert room.data["room"] not in [item["room"] for item in listed["list"]], "is_private"

    wrong_pin = await janus_join(room.data["room"], pin="0000", token=BOB.token, seat_number=12)
    assert wrong_pin["error_code"] == 433

    joined = await janus_join(
        room.data["room"], pin=room.data["pin"], token=BOB.token, seat_number=BOB.number
    )
    assert joined["videoroom"] == "joined"
    assert joined["id"] == BOB.number
    assert joined["description"] == "Acme × Globex"


async def test_a_seat_that_joins_with_its_token_is_listed_under_its_seat_number(
    janus: JanusProvider, janus_join: Join
) -> None:
    room = await janus.create_room(room_request(ALICE, BOB))
    assert await janus.list_participants(room) == []

    await janus_join(
        room.data["room"],
        pin=room.data["pin"],
        token=ALICE.token,
        seat_number=ALICE.number,
        display="Alice <Acme>",
    )

    assert await janus.list_participants(room) == [
        Participant(provider_id="11", display_name="Alice <Acme>", seat_id=None)
    ]


async def test_a_join_with_a_token_that_is_not_allowed_is_refused(
    janus: JanusProvider, janus_join: Join
) -> None:
    room = await janus.create_room(room_request(ALICE))

    answer = await janus_join(room.data["room"], pin=room.data["pin"], token="nope", seat_number=9)

    assert answer["error_code"] == 433
    assert "allowed" in answer["error"]
    assert await janus.list_participants(room) == []


async def test_a_room_without_seats_yet_admits_nobody(
    janus: JanusProvider, janus_join: Join
) -> None:
    room = await janus.create_room(room_request())

    answer = await janus_join(room.data["room"], pin=room.data["pin"], token="any", seat_number=1)

    assert answer["error_code"] == 433


async def test_creating_the_same_room_again_keeps_the_room_and_its_people(
    janus: JanusProvider, janus_join: Join
) -> None:
    request = room_request(ALICE)
    first = await janus.create_room(request)
    await janus_join(first.data["room"], pin=first.data["pin"], token=ALICE.token, seat_number=11)

    # A retry after a crash, with a seat added in between.
    again = await janus.create_room(replace(request, seats=(ALICE, BOB)))

    assert again == first
    assert [p.provider_id for p in await janus.list_participants(again)] == ["11"]
    joined = await janus_join(
        again.data["room"], pin=again.data["pin"], token=BOB.token, seat_number=12
    )
    assert joined["videoroom"] == "joined"


async def test_join_url_admits_a_seat_added_after_provisioning(
    janus: JanusProvider, janus_join: Join
) -> None:
    room = await janus.create_room(room_request(ALICE))
    pin, number = room.data["pin"], room.data["room"]
    refused = await janus_join(number, pin=pin, token=CAROL.token, seat_number=CAROL.number)
    assert refused["error_code"] == 433

    url = await janus.join_url(join_request(room, CAROL), now=START)
    url_again = await janus.join_url(join_request(room, CAROL), now=START)

    assert url == url_again == f"{PUBLIC_URL}/room/{CAROL.token}"
    joined = await janus_join(number, pin=pin, token=CAROL.token, seat_number=CAROL.number)
    assert joined["videoroom"] == "joined"


async def test_join_url_brings_back_a_room_that_janus_forgot(
    janus: JanusProvider, janus_client: JanusClient, janus_join: Join
) -> None:
    room = await janus.create_room(room_request(ALICE, BOB))
    await janus.close_room(room)  # what a restart of Janus does to every room

    await janus.join_url(join_request(room, BOB), now=START)

    assert await exists(janus_client, room)
    joined = await janus_join(
        room.data["room"], pin=room.data["pin"], token=BOB.token, seat_number=BOB.number
    )
    assert joined["description"] == "Acme × Globex"
    refused = await janus_join(
        room.data["room"], pin=room.data["pin"], token=ALICE.token, seat_number=ALICE.number
    )
    assert refused["error_code"] == 433, "only the seat that asked is back in"


async def test_close_destroys_the_room_and_closing_again_is_fine(
    janus: JanusProvider, janus_client: JanusClient
) -> None:
    room = await janus.create_room(room_request(ALICE))

    await janus.close_room(room)
    await janus.close_room(room)

    assert not await exists(janus_client, room)
    assert await janus.list_participants(room) == []


async def test_a_provider_with_another_key_cannot_close_the_room(
    janus: JanusProvider, janus_client: JanusClient
) -> None:
    room = await janus.create_room(room_request(ALICE))
    stranger = JanusProvider(janus_client, public_url=PUBLIC_URL, secret_key=b"x" * 32)

    with pytest.raises(JanusRejected) as refused:
        await stranger.close_room(room)

    assert refused.value.code == 433
    assert isinstance(refused.value, ProviderRejected)
    assert janus.secret(room.room_key) not in str(refused.value)
    assert await exists(janus_client, room)


async def test_an_unreachable_janus_is_worth_retrying() -> None:
    async with aiohttp.ClientSession() as session:
        client = JanusClient(session, f"http://127.0.0.1:{free_port()}/janus", timeout=2)
        janus = JanusProvider(client, public_url=PUBLIC_URL, secret_key=KEY)

        with pytest.raises(ProviderUnavailable):
            await janus.create_room(room_request(ALICE))


def render_room_page(**context: object) -> str:
    environment = Environment(
        loader=PackageLoader("orchestrator", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    values: dict[str, object] = {
        "lang": "en",
        "title": "Acme × Globex",
        "display_name": "Alice",
        "page": JoinPage(
            library="/static/janus/janus.js",
            script="janus-room.js",
            connect=("https://janus.example.org/janus",),
            values={
                "server": "https://janus.example.org/janus",
                "room": "4503599627370496",
                "pin": "0f3a",
                "token": ALICE.token,
                "seat": "11",
            },
        ),
        "leave_url": "/j/link-token/left",
        "_": str,
    }
    return environment.get_template("room.html").render(**{**values, **context})


class PageParts(HTMLParser):
    """What the join page hands its script: #room's dataset, the scripts, the buttons."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.dataset: dict[str, str] = {}
        self.scripts: list[str] = []
        self.inline: list[str] = []
        self.buttons: list[str] = []
        self.styled = False
        self._in: str | None = None
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.styled = self.styled or tag == "style" or "style" in values
        if values.get("id") == "room":
            self.dataset = {
                re.sub(r"-(\w)", lambda match: match[1].upper(), name[5:]): value or ""
                for name, value in attrs
                if name.startswith("data-")
            }
        if tag == "script":
            self.scripts.append(values.get("src") or "")
        self._in = tag

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.inline.append(data)
        if self._in == "button" and data.strip():
            self.buttons.append(data.strip())

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def test_the_join_page_hands_everything_to_its_script_in_data_attributes() -> None:
    display = 'Alice "<script>alert(1)</script>'
    html = render_room_page(display_name=display)
    page = PageParts(html)

    assert {
        key: page.dataset[key]
        for key in ("server", "room", "pin", "token", "seat", "display", "leaveUrl")
    } == {
        "server": "https://janus.example.org/janus",
        "room": "4503599627370496",
        "pin": "0f3a",
        "token": ALICE.token,
        "seat": "11",
        "display": display,
        "leaveUrl": "/j/link-token/left",
    }
    assert "<script>alert" not in html
    assert page.scripts == ["/static/janus/janus.js", "/static/janus-room.js"]
    assert page.inline == [], "no inline script (CSP)"
    assert not page.styled, "no inline style (CSP)"
    assert page.buttons == ["Leave"]
    assert all(page.dataset[key] for key in page.dataset if key.startswith("msg"))


def page_for(
    janus: JanusProvider, room: Room, seat: Seat, display: str = "Alice"
) -> dict[str, str]:
    """The join page as the service renders it for this seat, from what the provider says the
    page needs."""
    page = render_room_page(
        display_name=display,
        page=janus.join_page_for(join_request(room, seat)),
        leave_url="https://rdv.example.org/left",
    )
    return PageParts(page).dataset


async def test_the_join_page_joins_as_its_seat_and_leaves(
    janus: JanusProvider, janus_server: JanusServer, join_page: OpenPage
) -> None:
    room = await janus.create_room(room_request(ALICE))
    page = await join_page(page_for(janus, room, ALICE, display="Alice <Acme>"))

    await page.wait_for_status("You are in the room.")
    assert await janus.list_participants(room) == [
        Participant(provider_id="11", display_name="Alice <Acme>")
    ]
    await page.wait_for_status(
        "Your camera or microphone is blocked. Allow them for this site in your browser, then "
        "reload the page. You can still see and hear the others."
    )

    assert await page.leave() == "https://rdv.example.org/left"
    assert await janus.list_participants(room) == []


async def test_the_join_page_says_when_the_link_no_longer_opens_the_room(
    janus: JanusProvider, janus_server: JanusServer, join_page: OpenPage
) -> None:
    room = await janus.create_room(room_request(ALICE))

    page = await join_page(page_for(janus, room, BOB))

    await page.wait_for_status(
        "This link no longer opens the room. Ask the organisers for a new one."
    )
    assert await janus.list_participants(room) == []


async def test_the_join_page_says_when_the_room_is_not_open(
    janus: JanusProvider, janus_server: JanusServer, join_page: OpenPage
) -> None:
    room = await janus.create_room(room_request(ALICE))
    await janus.close_room(room)

    page = await join_page(page_for(janus, room, ALICE))

    await page.wait_for_status(
        "The room is not open. It opens a few minutes before the start: reload this page then."
    )


async def test_the_join_page_says_when_janus_cannot_be_reached(join_page: OpenPage) -> None:
    room = Room("r-gone", {"room": 1, "pin": "x"})

    async with aiohttp.ClientSession() as http:
        gone = JanusClient(http, f"http://127.0.0.1:{free_port()}/janus")
        janus = JanusProvider(gone, public_url=PUBLIC_URL, secret_key=KEY)
        page = await join_page(page_for(janus, room, ALICE))

    await page.wait_for_status(
        "The connection to the video server is lost. Check your network, then reload this page."
    )
