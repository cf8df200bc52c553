"""A meeting declined ahead is not lost: its slot and the person still coming go to an open
request that fits. In Lyon, Camille Girard (Aquasentis) cannot come to meet Hélène Martin at
10:30; `rdv schedule --refill` gives that half hour to the company that asked to meet Eau et
Déchets, nobody else moves, and the two people of the new meeting get their invites. With
`"refill": "auto"` it happens as soon as the decline is in."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.mailsink import MailSink
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.cli import main
from orchestrator.db import models as m

LYON = Path(__file__).parents[2] / "examples" / "lyon-2021" / "program.json"
LYON_SLUG = "rdv-commande-publique-2021"
SLUG = "meet-the-buyers"
Command = Callable[..., Awaitable[tuple[int, str, str]]]


def lyon_with_requests() -> dict[str, Any]:
    """The Lyon day ten years on (the command runs on the real clock), with a schedule and
    open requests: one that cannot come at 10:30, one that fits best, one that fits less,
    and one for two people the declined meeting does not free."""
    program = json.loads(LYON.read_text(encoding="utf-8").replace("2021-04-08", "2031-04-08"))
    program["schedule"] = {
        "windows": [
            ["2031-04-08T10:30", "2031-04-08T12:30"],
            ["2031-04-08T14:00", "2031-04-08T17:00"],
        ],
        "slot_minutes": 30,
    }
    program["availability"] = {"amercier": [["2031-04-08T14:00", "2031-04-08T17:00"]]}
    company = {person["key"]: person["organisation"] for person in program["people"]}
    program["requests"] = [
        {"from": "amercier", "to": "hmartin", "priority": 3},  # only free in the afternoon
        {"from": company["ftissot"], "to": "eau-dechets", "priority": 2},  # Humanéo Lab
        {"from": "rgauthier", "to": "hmartin", "priority": 1},
        {"from": "sroche", "to": "mperrin", "priority": 3},  # neither is freed
    ]
    return program


async def agenda_of(db: Any, person: str) -> str:
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == person))
    return f"/me/{token}"


async def decline(api: Api, db: Any, person: str, session: str, reason: str = "") -> None:
    sent = await api.client.post(
        f"{await agenda_of(db, person)}/{session}/answer",
        data={"answer": "declined", "reason": reason},
        allow_redirects=False,
    )
    assert sent.status == 303
    assert "answered=" in sent.headers["Location"]
    app = api.client.app
    assert app is not None
    await app[appkeys.REFILL].settle()  # an automatic re-fill, when the program asks for one


def invited(sink: MailSink, method: str) -> set[str]:
    """Who received a calendar message of this method (decline notices carry no calendar)."""
    return {
        message.recipient
        for message in sink.received
        if message.message.get_content_type() == "multipart/mixed" and message.method == method
    }


def sessions_of(event: dict[str, Any]) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """The sessions still on (a cancelled one stays listed, marked)."""
    return {
        s["key"]: (s["start"], s["end"], tuple(sorted(a["key"] for a in s["attendees"])))
        for s in event["sessions"]
        if s["status"] == "scheduled"
    }


@pytest.fixture
def rdv(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Command:
    """The `rdv` command, in this process, on the test database."""
    for name in ("RDV_CONFIG", "RDV_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RDV_DATABASE_URL", database_url)

    async def run(*args: str) -> tuple[int, str, str]:
        status = await asyncio.to_thread(main, list(args))  # it runs its own event loop
        out, err = capsys.readouterr()
        return status, out, err

    return run


async def test_in_lyon_a_declined_meeting_goes_to_the_best_fitting_request_and_nobody_moves(
    make_api: Callable[..., Any],
    db: Any,
    sink: MailSink,
    clock: ManualClock,
    rdv: Command,
) -> None:
    api: Api = await make_api(mail_url=sink.url)
    await api.import_ok(lyon_with_requests())
    clock.set(datetime(2031, 4, 1, 9, 0, tzinfo=UTC))
    await api.deliver_mail()
    before = sessions_of(await api.get_event(LYON_SLUG))
    await decline(api, db, "cgirard", "b2b-01", "Salon à Paris ce jour-là")
    sink.clear()

    status, out, err = await rdv("schedule", LYON_SLUG, "--refill", "--dry-run")
    assert status == 0, err
    assert "dry run: nothing was written" in out
    assert sessions_of(await api.get_event(LYON_SLUG)) == before

    status, out, err = await rdv("schedule", LYON_SLUG, "--refill")
    assert status == 0, err
    lines = out.splitlines()
    assert (
        lines[0] == f"{LYON_SLUG}: 1 meeting(s) declined ahead, 1 re-filled from the open requests"
    )
    refilled = next(line for line in lines if line.startswith("  refilled b2b-01"))
    # priority 2 fits; amercier's 3 does not (afternoon only), Camille's colleagues' 1 loses
    assert refilled == (
        "  refilled b2b-01 (2031-04-08 10:30–11:00, declined by Camille Girard) → "
        "humaneo.eau-dechets: Agnès Collomb, Hélène Martin (requests[1])"
    )

    after = sessions_of(await api.get_event(LYON_SLUG))
    assert "b2b-01" not in after
    (new,) = set(after) - set(before)
    start, end, attendees = after[new]
    assert (start, end) == before["b2b-01"][:2]  # the freed half hour, exactly
    assert "hmartin" in attendees
    (newcomer,) = set(attendees) - {"hmartin"}
    lyon = lyon_with_requests()
    company = {person["key"]: person["organisation"] for person in lyon["people"]}
    assert company[newcomer] == "humaneo"
    assert new == "humaneo.eau-dechets"
    assert {key: value for key, value in after.items() if key != new} == {
        key: value for key, value in before.items() if key != "b2b-01"
    }  # no other meeting moved

    await api.deliver_mail()
    emails = {person["key"]: person["email"] for person in lyon["people"]}
    assert invited(sink, "REQUEST") == {emails["hmartin"], emails[newcomer]}  # the new pair
    assert invited(sink, "CANCEL") == {emails["hmartin"], emails["cgirard"]}  # b2b-01's

    status, out, _ = await rdv("schedule", LYON_SLUG, "--refill")
    assert out.strip() == f"{LYON_SLUG}: no meeting to come is declined ahead; nothing to re-fill"


def auto_program() -> dict[str, Any]:
    """The small event with `"refill": "auto"` and one open request: Dan (Acme) would like to
    meet Ana (Water and Waste)."""
    program = small_program()
    program["schedule"] = {
        "windows": [["2021-04-08T10:30", "2021-04-08T11:30"]],
        "slot_minutes": 30,
        "refill": "auto",
    }
    program["requests"] = [{"from": "dan", "to": "ana", "priority": 2}]
    return program


async def test_with_refill_auto_the_slot_is_taken_again_as_soon_as_the_decline_is_in(
    make_api: Callable[..., Any], db: Any, sink: MailSink, clock: ManualClock
) -> None:
    api: Api = await make_api(mail_url=sink.url)
    await api.import_ok(auto_program())
    clock.set(datetime(2021, 4, 8, 6, 30, tzinfo=UTC))
    await api.deliver_mail()
    sink.clear()

    await decline(api, db, "chloe", "m1", "Ill")

    after = sessions_of(await api.get_event(SLUG))
    assert "m1" not in after
    assert after["dan.ana"] == (
        "2021-04-08T08:30:00Z",
        "2021-04-08T09:00:00Z",
        ("ana", "dan"),
    )
    await api.deliver_mail()
    assert invited(sink, "REQUEST") == {"ana@water.example", "dan@acme.example"}
    audit = await api.client.get(f"/api/v1/events/{SLUG}/audit", headers=api.headers(SLUG))
    entries = (await audit.json())["entries"]
    assert entries[0]["action"] == "refill"
    assert entries[0]["source"] == "scheduler"


async def test_without_refill_auto_a_decline_moves_nothing_and_nothing_fitting_leaves_it(
    make_api: Callable[..., Any],
    db: Any,
    clock: ManualClock,
    rdv: Command,
    tmp_path: Path,
) -> None:
    program = auto_program()
    del program["schedule"]["refill"]
    program["requests"] = [
        {"from": "chloe", "to": "ana", "key": "m0"},  # the declined one's own pair
        {"from": "globex", "to": "water"},  # Chloé (Acme) is on neither side
    ]
    program = json.loads(json.dumps(program).replace("2021-04-08", "2031-04-08"))
    api: Api = await make_api()
    await api.import_ok(copy.deepcopy(program))
    clock.set(datetime(2031, 4, 8, 6, 0, tzinfo=UTC))
    before = sessions_of(await api.get_event(SLUG))

    await decline(api, db, "ana", "m1")
    assert sessions_of(await api.get_event(SLUG)) == before  # no "refill": "auto"

    status, out, err = await rdv("schedule", SLUG, "--refill")
    assert status == 0, err
    assert (
        "  open     m1 (2031-04-08 10:30–11:00, declined by Ana Lopez): no open request fits "
        "Chloé Martin at that time; the meeting stays" in out.splitlines()
    )
    assert sessions_of(await api.get_event(SLUG)) == before
    status, _, err = await rdv("schedule", SLUG, "--refill", "--move")
    assert status != 0
    assert "--refill moves no one" in err


async def test_the_request_of_a_declined_meeting_is_withdrawn_once_its_slot_is_taken(
    make_api: Callable[..., Any], db: Any, clock: ManualClock
) -> None:
    program = auto_program()
    program["schedule"]["windows"] = [["2021-04-08T10:30", "2021-04-08T11:00"]]  # one slot
    program["sessions"] = [s for s in program["sessions"] if s["key"] != "m1"]
    program["requests"] = [
        {"from": "chloe", "to": "ana", "key": "m1", "priority": 3},  # takes Ana's one slot
        {"from": "dan", "to": "ana", "priority": 2},  # left open
    ]
    api: Api = await make_api()
    await api.import_ok(program)
    clock.set(datetime(2021, 4, 8, 6, 0, tzinfo=UTC))
    assert (await schedule(api))["placed"] == 1
    meetings = sessions_of(await api.get_event(SLUG))
    assert meetings["m1"][2] == ("ana", "chloe")

    await decline(api, db, "chloe", "m1")

    after = sessions_of(await api.get_event(SLUG))
    assert "m1" not in after
    assert after["dan.ana"] == (*meetings["m1"][:2], ("ana", "dan"))
    again = await schedule(api)
    assert [meeting["from"] for meeting in again["meetings"]] == ["dan"]  # Chloé's is gone
    assert again["requests"] == 1
    assert "m1" not in sessions_of(await api.get_event(SLUG))  # she is not invited again


async def schedule(api: Api) -> dict[str, Any]:
    response = await api.client.post(
        f"/api/v1/events/{SLUG}/schedule", json={"time_limit": 5}, headers=api.headers(SLUG)
    )
    body: dict[str, Any] = await response.json()
    assert response.status == 200, body
    return body
