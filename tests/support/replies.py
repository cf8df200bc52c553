"""Calendar replies as clients send them (tests/fixtures/replies/, sources in SOURCES.md), with
their placeholders filled: the parser's tests and the seat's tests read the same mails."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "replies"
VALUES = {
    "{uid}": "meet-the-buyers.m1.3@rdv.test",
    "{sequence}": "2",
    "{attendee}": "Chloe@Acme.example",
    "{attendee_name}": "Chloé Martin",
    "{organizer}": "replies+a7.k2v9@rdv.test",
    "{summary}": "Acme × Water",
    "{start}": "20210408T083000Z",
    "{end}": "20210408T090000Z",
    "{start_local}": "20210408T103000",
    "{end_local}": "20210408T110000",
    "{proposed_start_local}": "20210408T140000",
    "{proposed_end_local}": "20210408T143000",
    "{dtstamp}": "20210401T100000Z",
}


def fixture(name: str, **changed: str) -> bytes:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    for placeholder, value in (VALUES | changed).items():
        text = text.replace(placeholder, value)
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")
