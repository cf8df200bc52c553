"""The three independent iCalendar parsers the tests hold every invite to (vobject, icalendar and
Mozilla's ical.js, as Thunderbird uses it), and the file rules none of them checks."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import vobject
from icalendar import Calendar

JS = Path(__file__).resolve().parents[1] / "js"


@dataclass(frozen=True)
class Address:
    uri: str
    params: dict[str, str]


@dataclass(frozen=True)
class Read:
    """One VEVENT as a parser understood it, with its calendar's METHOD."""

    method: str | None
    uid: str
    sequence: int
    status: str | None
    summary: str
    description: str
    start: datetime
    end: datetime
    organizer: Address | None
    attendees: tuple[Address, ...]
    alarms: int


Reader = Callable[..., list[list[Read]]]


def read_vobject(*calendars: bytes) -> list[list[Read]]:
    return [_vobject(data) for data in calendars]


def _vobject(data: bytes) -> list[Read]:
    calendar = vobject.readOne(data.decode("utf-8"), validate=True)
    method = calendar.method.value if "method" in calendar.contents else None

    def address(prop: Any) -> Address:
        return Address(prop.value, {key: values[0] for key, values in prop.params.items()})

    found = []
    for event in calendar.vevent_list:
        first = {name: props[0].value for name, props in event.contents.items() if name != "valarm"}
        found.append(
            Read(
                method=method,
                uid=first["uid"],
                sequence=int(first.get("sequence", 0)),
                status=first.get("status"),
                summary=first["summary"],
                description=first["description"],
                start=first["dtstart"].astimezone(UTC),
                end=first["dtend"].astimezone(UTC),
                organizer=address(event.organizer) if "organizer" in event.contents else None,
                attendees=tuple(address(p) for p in event.contents.get("attendee", [])),
                alarms=len(event.contents.get("valarm", [])),
            )
        )
    return found


def read_icalendar(*calendars: bytes) -> list[list[Read]]:
    return [_icalendar(data) for data in calendars]


def _icalendar(data: bytes) -> list[Read]:
    calendar = Calendar.from_ical(data)
    assert [(c.name, c.errors) for c in calendar.walk() if c.errors] == []
    method = calendar.get("METHOD")

    def address(prop: Any) -> Address:
        return Address(str(prop), {key.upper(): str(value) for key, value in prop.params.items()})

    found = []
    for event in calendar.events:
        attendees = event.get("ATTENDEE", [])
        attendees = attendees if isinstance(attendees, list) else [attendees]
        found.append(
            Read(
                method=None if method is None else str(method),
                uid=str(event["UID"]),
                sequence=event.sequence,
                status=str(event["STATUS"]) if "STATUS" in event else None,
                summary=str(event["SUMMARY"]),
                description=str(event["DESCRIPTION"]),
                start=event.start.astimezone(UTC),
                end=event.end.astimezone(UTC),
                organizer=address(event["ORGANIZER"]) if "ORGANIZER" in event else None,
                attendees=tuple(map(address, attendees)),
                alarms=len(event.walk("VALARM")),
            )
        )
    return found


def read_icaljs(folder: Path) -> Reader:
    """Mozilla's ical.js, as Thunderbird uses it: one node process reads all the files."""

    def read(*calendars: bytes) -> list[list[Read]]:
        paths = []
        for number, data in enumerate(calendars):
            path = folder / f"invite-{number}.ics"
            path.write_bytes(data)
            paths.append(str(path))
        done = subprocess.run(
            ["node", str(JS / "parse_ics.mjs"), *paths], capture_output=True, timeout=60
        )
        assert done.returncode == 0, done.stderr.decode()
        results = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
        assert [result.get("error") for result in results] == [None] * len(calendars)
        return [
            [_icaljs(result["method"], event) for event in result["events"]] for result in results
        ]

    return read


def _icaljs(method: str | None, event: dict[str, Any]) -> Read:
    def address(prop: dict[str, Any]) -> Address:
        return Address(prop["value"], {key.upper(): value for key, value in prop["params"].items()})

    return Read(
        method=method,
        uid=event["uid"],
        sequence=event["sequence"],
        status=event["status"],
        summary=event["summary"],
        description=event["description"],
        start=datetime.fromisoformat(event["start"]),
        end=datetime.fromisoformat(event["end"]),
        organizer=None if event["organizer"] is None else address(event["organizer"]),
        attendees=tuple(map(address, event["attendees"])),
        alarms=event["alarms"],
    )


def icaljs_missing() -> str | None:
    if shutil.which("node") is None:
        return "ical.js checks need Node.js on PATH"
    if not (JS / "node_modules" / "ical.js" / "package.json").exists():
        return "ical.js is not installed: run `make test` or `npm ci --prefix tests/js`"
    return None


def unfolded(data: bytes) -> list[str]:
    return data.decode("utf-8").replace("\r\n ", "").split("\r\n")[:-1]


def assert_well_formed(data: bytes) -> None:
    """RFC 5545 line rules, our header, and UTC times with no VTIMEZONE."""
    assert data.endswith(b"\r\n")
    assert b"\r" not in data.replace(b"\r\n", b"")
    assert b"\n" not in data.replace(b"\r\n", b"")
    for physical in data.split(b"\r\n"):
        assert len(physical) <= 75, physical
        physical.decode("utf-8")  # folding never cuts a character in two
    lines = unfolded(data)
    assert lines[:4] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//rdv-orchestrator//rdv//EN",
        "CALSCALE:GREGORIAN",
    ]
    assert lines[4] in ("METHOD:REQUEST", "METHOD:CANCEL", "METHOD:PUBLISH")
    assert "VTIMEZONE" not in data.decode()
    assert "TZID" not in data.decode()
    header = lines[: lines.index("BEGIN:VEVENT")] if "BEGIN:VEVENT" in lines else lines
    assert not any(text.startswith("UID:") for text in header), "no calendar-level UID"
    for text in lines:
        if text.startswith(("DTSTART", "DTEND", "DTSTAMP")):
            assert re.fullmatch(r"DT(START|END|STAMP):\d{8}T\d{6}Z", text), text
