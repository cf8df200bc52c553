"""The calendar files themselves, as Thunderbird (ical.js), vobject and icalendar read them.

Every invite is read by three independent parsers, which must land each meeting on the same UTC
instant whatever the zone and the DST change. Every file is also held to what none of them check:
CRLF only, lines of at most 75 octets, no VTIMEZONE, the METHOD and people a client acts on.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import vobject
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar.parser.string import _foldline
from support.calendar_parsers import (
    Address,
    Read,
    Reader,
    assert_well_formed,
    icaljs_missing,
    read_icalendar,
    read_icaljs,
    read_vobject,
    unfolded,
)

from calendars import ics
from calendars.model import Entry, Party

NOW = datetime(2026, 3, 20, 9, 15, 42, tzinfo=UTC)
ORGANISER = Party("Grand Lyon Cluster", "rdv@cluster.example")
CHLOE = Party("Chloé Martin", "chloe@acme.example", "Acme")
ANA = Party("Ana López", "ana@water.example", "Water & Waste")
RAVI = Party("Ravi Iyer", "ravi@kolkata.example", "Ganga Pumps")
HOSTILE_NAME = 'O\'Brien, "Bob"; Jr. <script>alert(1)</script> \\ Ltd\r\nBcc: eve@evil.example'
HOSTILE_TEXT = 'Acme, Inc.; "Water" \\ <script>alert(1)</script>'


# --- the people and sessions of the stories --------------------------------------------------


def local(zone: str, wall: str, *, fold: int = 0) -> datetime:
    """A wall-clock time in `zone` as the UTC instant the service stores."""
    return datetime.fromisoformat(wall).replace(tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


def entry(**changes: Any) -> Entry:
    """Chloé's view of a 30-minute meeting with Ana, changed as the story needs."""
    start = local("Europe/Paris", "2026-07-01 10:00")
    base = Entry(
        uid="session-42@rdv.test",
        sequence=0,
        title="Acme × Water",
        kind="meeting",
        starts_at=start,
        ends_at=start + timedelta(minutes=30),
        zone="Europe/Paris",
        organiser=ORGANISER,
        recipient=CHLOE,
        attendees=(CHLOE, ANA),
        others=(ANA,),
        join_url="https://rdv.test/j/tok-chloe",
        description="You meet Ana López (Water & Waste).\nJoin: https://rdv.test/j/tok-chloe",
        event_title="Meet the buyers",
        last_modified=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
    )
    return dataclasses.replace(base, **changes)


def plenary(**changes: Any) -> Entry:
    """Chloé's view of the opening plenary that 116 people attend: only she is listed."""
    start = local("Europe/Paris", "2026-07-01 09:00")
    defaults: dict[str, Any] = {
        "uid": "plenary-1@rdv.test",
        "title": "Opening plenary",
        "kind": "plenary",
        "starts_at": start,
        "ends_at": start + timedelta(hours=1),
        "attendees": (CHLOE,),
        "others": (),
    }
    return entry(**defaults | changes)


# --- three parsers, one shape of answer -----------------------------------------------------


@pytest.fixture(params=["vobject", "icalendar", "ical.js"])
def read(request: pytest.FixtureRequest, tmp_path: Path) -> Reader:
    """Each test runs once per parser; every file is first held to the rules no parser checks."""
    if request.param == "ical.js" and (reason := icaljs_missing()):
        pytest.skip(reason)
    parsers = {
        "vobject": read_vobject,
        "icalendar": read_icalendar,
        "ical.js": read_icaljs(tmp_path),
    }
    parse = parsers[request.param]

    def checked(*calendars: bytes) -> list[list[Read]]:
        for data in calendars:
            assert_well_formed(data)
        return parse(*calendars)

    return checked


def one(read: Reader, data: bytes) -> Read:
    """The single VEVENT of an invite."""
    [[event]] = read(data)
    return event


# --- what no parser checks ------------------------------------------------------------------


def line(data: bytes, name: str) -> list[str]:
    """The unfolded `name` properties of the calendar and its events, not of the alarm."""
    found, in_alarm = [], False
    for text in unfolded(data):
        in_alarm = (in_alarm or text == "BEGIN:VALARM") and text != "END:VALARM"
        if not in_alarm and re.match(rf"{name}[;:]", text):
            found.append(text)
    return found


# --- time zones -----------------------------------------------------------------------------

ZONED = [
    # (story, zone, local start, local end, UTC start, UTC end), all in 2026;
    # '+fold' is the second time a wall-clock hour happens when the clocks go back.
    ("Paris in winter",
     "Europe/Paris", "01-15 10:00", "01-15 10:30", "01-15T09:00", "01-15T09:30"),
    ("Paris in summer",
     "Europe/Paris", "07-01 10:00", "07-01 10:30", "07-01T08:00", "07-01T08:30"),
    ("Paris, Friday before the change",
     "Europe/Paris", "03-27 10:00", "03-27 10:30", "03-27T09:00", "03-27T09:30"),
    ("Paris, Monday after the change",
     "Europe/Paris", "03-30 10:00", "03-30 10:30", "03-30T08:00", "03-30T08:30"),
    ("Paris, across the spring-forward night",
     "Europe/Paris", "03-29 01:30", "03-29 03:30", "03-29T00:30", "03-29T01:30"),
    ("Paris, 02:30 twice in the autumn night",
     "Europe/Paris", "10-25 02:30", "10-25 02:30+fold", "10-25T00:30", "10-25T01:30"),
    ("New York, before its change",
     "America/New_York", "03-06 09:00", "03-06 09:30", "03-06T14:00", "03-06T14:30"),
    ("New York, the week it changed and Paris had not",
     "America/New_York", "03-10 09:00", "03-10 09:30", "03-10T13:00", "03-10T13:30"),
    ("New York, across the change night",
     "America/New_York", "03-08 01:00", "03-08 04:00", "03-08T06:00", "03-08T08:00"),
    ("New York, 01:30 twice in November",
     "America/New_York", "11-01 01:30", "11-01 01:30+fold", "11-01T05:30", "11-01T06:30"),
    ("Kolkata, half-hour offset",
     "Asia/Kolkata", "03-29 15:00", "03-29 16:00", "03-29T09:30", "03-29T10:30"),
    ("Lord Howe, Friday before the half-hour change",
     "Australia/Lord_Howe", "04-03 10:00", "04-03 10:30", "04-02T23:00", "04-02T23:30"),
    ("Lord Howe, Monday after",
     "Australia/Lord_Howe", "04-06 10:00", "04-06 10:30", "04-05T23:30", "04-06T00:00"),
    ("Lord Howe, across the change night",
     "Australia/Lord_Howe", "04-05 01:00", "04-05 03:00", "04-04T14:00", "04-04T16:30"),
    ("Lord Howe, 01:45 twice",
     "Australia/Lord_Howe", "04-05 01:45", "04-05 01:45+fold", "04-04T14:45", "04-04T15:15"),
    ("Lord Howe, spring forward by 30 minutes",
     "Australia/Lord_Howe", "10-04 01:45", "10-04 02:45", "10-03T15:15", "10-03T15:45"),
]  # fmt: skip


def wall(zone: str, text: str) -> datetime:
    return local(zone, "2026-" + text.removesuffix("+fold"), fold=int(text.endswith("+fold")))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-{text}:00+00:00")


def test_each_meeting_lands_at_the_same_utc_instant_whatever_the_zone(read: Reader) -> None:
    invites = [
        ics.request(
            entry(uid=f"zoned-{number}@rdv.test", zone=zone, starts_at=wall(zone, start),
                  ends_at=wall(zone, end)),
            now=NOW,
        )
        for number, (_, zone, start, end, _, _) in enumerate(ZONED)
    ]  # fmt: skip
    seen = [(story, e.start, e.end) for (story, *_), [e] in zip(ZONED, read(*invites), strict=True)]
    assert seen == [(story, utc(start), utc(end)) for story, *_, start, end in ZONED]


def test_times_are_written_in_utc_without_a_timezone_block() -> None:
    start = local("Australia/Lord_Howe", "2026-04-05 01:00")
    invite = ics.request(entry(starts_at=start, ends_at=start + timedelta(hours=2)), now=NOW)
    assert line(invite, "DTSTART") == ["DTSTART:20260404T140000Z"]
    assert line(invite, "DTEND") == ["DTEND:20260404T160000Z"]
    assert line(invite, "DTSTAMP") == ["DTSTAMP:20260320T091542Z"]
    assert b"VTIMEZONE" not in invite
    assert b"TZID" not in invite


def test_naive_times_are_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        ics.request(entry(starts_at=datetime(2026, 7, 1, 10)), now=NOW)


# --- invitations ----------------------------------------------------------------------------


def test_meeting_invite_lists_everyone_and_asks_each_to_reply(read: Reader) -> None:
    invite = ics.request(entry(attendees=(CHLOE, ANA, RAVI)), now=NOW)
    event = one(read, invite)
    assert event.method == "REQUEST"
    assert (event.uid, event.sequence, event.status) == ("session-42@rdv.test", 0, "CONFIRMED")
    assert event.organizer == Address("mailto:rdv@cluster.example", {"CN": "Grand Lyon Cluster"})
    assert [a.uri for a in event.attendees] == [
        "mailto:chloe@acme.example",
        "mailto:ana@water.example",
        "mailto:ravi@kolkata.example",
    ]
    assert [a.params for a in event.attendees] == [
        {"CN": name, "CUTYPE": "INDIVIDUAL", "ROLE": "REQ-PARTICIPANT",
         "PARTSTAT": "NEEDS-ACTION", "RSVP": "TRUE"}
        for name in ("Chloé Martin", "Ana López", "Ravi Iyer")
    ]  # fmt: skip
    assert event.summary == "Acme × Water"
    assert event.description.endswith("\nJoin: https://rdv.test/j/tok-chloe")
    assert event.alarms == 1
    assert line(invite, "LOCATION") == ["LOCATION:https://rdv.test/j/tok-chloe"]
    assert line(invite, "URL") == ["URL:https://rdv.test/j/tok-chloe"]
    assert line(invite, "TRANSP") == ["TRANSP:OPAQUE"]


def test_reminder_comes_after_the_event_properties() -> None:
    lines = unfolded(ics.request(entry(), now=NOW))
    alarm = lines.index("BEGIN:VALARM")
    assert lines[alarm:] == [
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        "DESCRIPTION:Acme × Water",
        "TRIGGER:-PT10M",
        "END:VALARM",
        "END:VEVENT",
        "END:VCALENDAR",
    ]


def test_plenary_invite_lists_only_the_recipient_and_asks_no_reply(read: Reader) -> None:
    event = one(read, ics.request(plenary(), now=NOW))
    assert event.method == "REQUEST"
    assert [(a.uri, a.params["RSVP"], a.params["PARTSTAT"]) for a in event.attendees] == [
        ("mailto:chloe@acme.example", "FALSE", "NEEDS-ACTION")
    ]


def test_plenary_never_lists_the_whole_room_even_if_handed_it() -> None:
    data = ics.request(plenary(attendees=(CHLOE, ANA, RAVI)), now=NOW)
    assert [text.rsplit(":", 1)[1] for text in line(data, "ATTENDEE")] == ["chloe@acme.example"]


def test_a_speaker_chairs_their_own_invite_only(read: Reader) -> None:
    event = one(read, ics.request(entry(speaker=True), now=NOW))
    assert [(a.uri, a.params["ROLE"]) for a in event.attendees] == [
        ("mailto:chloe@acme.example", "CHAIR"),
        ("mailto:ana@water.example", "REQ-PARTICIPANT"),
    ]


def test_rescheduled_meeting_keeps_its_uid_and_carries_the_raised_sequence(read: Reader) -> None:
    first = ics.request(entry(), now=NOW)
    later = local("Europe/Paris", "2026-07-01 14:00")
    moved = ics.request(
        entry(sequence=1, starts_at=later, ends_at=later + timedelta(minutes=30)),
        now=NOW + timedelta(days=2),
    )
    [[before], [after]] = read(first, moved)
    assert [(e.uid, e.sequence, e.start) for e in (before, after)] == [
        ("session-42@rdv.test", 0, utc("07-01T08:00")),
        ("session-42@rdv.test", 1, utc("07-01T12:00")),
    ]
    assert line(moved, "DTSTAMP") == ["DTSTAMP:20260322T091542Z"]


# --- cancellations --------------------------------------------------------------------------


def test_cancelled_session_tells_everyone_it_is_cancelled(read: Reader) -> None:
    data = ics.cancel(entry(sequence=3, cancelled=True, attendees=(CHLOE, ANA, RAVI)), now=NOW)
    event = one(read, data)
    assert (event.method, event.uid, event.sequence) == ("CANCEL", "session-42@rdv.test", 3)
    assert event.status == "CANCELLED"
    assert event.organizer is not None
    assert event.organizer.uri == "mailto:rdv@cluster.example"
    assert [a.uri for a in event.attendees] == [
        "mailto:chloe@acme.example",
        "mailto:ana@water.example",
        "mailto:ravi@kolkata.example",
    ]
    assert event.alarms == 0


def test_removed_attendee_gets_a_cancel_for_themselves_while_the_session_goes_on(
    read: Reader,
) -> None:
    data = ics.cancel(entry(sequence=2, attendees=(CHLOE,)), now=NOW)
    event = one(read, data)
    assert (event.method, event.uid, event.sequence) == ("CANCEL", "session-42@rdv.test", 2)
    assert event.status is None
    assert line(data, "STATUS") == []
    assert [a.uri for a in event.attendees] == ["mailto:chloe@acme.example"]


def test_uninvite_names_only_the_recipient_even_if_handed_the_whole_meeting() -> None:
    data = ics.cancel(entry(sequence=2), now=NOW)
    assert [text.rsplit(":", 1)[1] for text in line(data, "ATTENDEE")] == ["chloe@acme.example"]


# --- hostile and long text ------------------------------------------------------------------


def test_hostile_names_titles_and_descriptions_round_trip(read: Reader) -> None:
    stranger = Party(HOSTILE_NAME, "bob@obrien.example")
    description = 'Agenda:\r\n1. pricing; terms, "SLA"\n2. <script>x</script> C:\\temp\\n\rEnd'
    data = ics.request(
        entry(title=HOSTILE_TEXT, description=description, attendees=(CHLOE, stranger),
              organiser=Party("Cluster, Lyon; \"Grand\"", "rdv@cluster.example")),
        now=NOW,
    )  # fmt: skip
    event = one(read, data)
    assert event.summary == HOSTILE_TEXT
    assert event.description == (
        'Agenda:\n1. pricing; terms, "SLA"\n2. <script>x</script> C:\\temp\\n\nEnd'
    )
    assert event.attendees[1].params["CN"] == (
        "O'Brien, 'Bob'; Jr. <script>alert(1)</script> \\ Ltd Bcc: eve@evil.example"
    )
    assert event.attendees[1].uri == "mailto:bob@obrien.example"
    assert event.organizer is not None
    assert event.organizer.params["CN"] == "Cluster, Lyon; 'Grand'"


def test_hostile_text_is_escaped_in_the_file_never_split_across_lines() -> None:
    description = "line one, with; punctuation\r\nline two \\ end"
    data = ics.request(entry(title=HOSTILE_TEXT, description=description), now=NOW)
    assert line(data, "SUMMARY") == [
        'SUMMARY:Acme\\, Inc.\\; "Water" \\\\ <script>alert(1)</script>'
    ]
    assert line(data, "DESCRIPTION") == [
        "DESCRIPTION:line one\\, with\\; punctuation\\nline two \\\\ end"
    ]
    assert not any(text.startswith(("line two", "Bcc")) for text in unfolded(data))


def test_long_accented_title_folds_at_75_octets_and_reads_back_whole(read: Reader) -> None:
    title = ("éèà " + "🎉" + "ü") * 50
    assert len(title) == 300
    data = ics.request(entry(title=title), now=NOW)
    assert len(data.split(b"\r\n")) > len(unfolded(data)) + 10  # really folded
    assert one(read, data).summary == title


# --- the personal feed ----------------------------------------------------------------------


def test_feed_publishes_the_sessions_without_people(read: Reader) -> None:
    later = local("Asia/Kolkata", "2026-07-02 15:00")
    entries = [
        entry(),
        plenary(),
        entry(uid="session-43@rdv.test", title="Acme × Ganga", cancelled=True, sequence=4,
              starts_at=later, ends_at=later + timedelta(minutes=30)),
    ]  # fmt: skip
    data = ics.feed(entries, name="Meet the buyers — Chloé Martin")
    events = read(data)[0]
    assert {event.method for event in events} == {"PUBLISH"}
    assert [(e.uid, e.status, e.sequence, e.start) for e in events] == [
        ("feed-plenary-1@rdv.test", "CONFIRMED", 0, utc("07-01T07:00")),
        ("feed-session-42@rdv.test", "CONFIRMED", 0, utc("07-01T08:00")),
        ("feed-session-43@rdv.test", "CANCELLED", 4, utc("07-02T09:30")),
    ]
    assert all(e.organizer is None and e.attendees == () and e.alarms == 0 for e in events)
    assert b"ATTENDEE" not in data
    assert b"ORGANIZER" not in data
    assert events[1].description.startswith("You meet Ana López")


def test_feed_carries_refresh_hints_and_an_escaped_name() -> None:
    data = ics.feed([entry()], name="Meet the buyers, Lyon; 2026")
    lines = unfolded(data)
    assert "METHOD:PUBLISH" in lines
    assert "REFRESH-INTERVAL;VALUE=DURATION:PT1H" in lines
    assert "X-PUBLISHED-TTL:PT1H" in lines
    assert "NAME:Meet the buyers\\, Lyon\\; 2026" in lines
    assert "X-WR-CALNAME:Meet the buyers\\, Lyon\\; 2026" in lines
    calendar = vobject.readOne(data.decode(), validate=True)
    assert calendar.contents["x-wr-calname"][0].value == "Meet the buyers, Lyon; 2026"


def test_feed_is_byte_identical_for_the_same_sessions_so_etags_hold() -> None:
    entries = [entry(), plenary()]
    first = ics.feed(entries, name="Chloé")
    assert ics.feed(entries, name="Chloé") == first
    assert ics.feed(list(reversed(entries)), name="Chloé") == first
    assert line(first, "DTSTAMP") == ["DTSTAMP:20260301T120000Z"] * 2
    changed = ics.feed(
        [entry(last_modified=datetime(2026, 3, 2, tzinfo=UTC)), plenary()], name="Chloé"
    )
    assert changed != first


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",), exclude_characters="\r\n")))
def test_our_folding_writes_the_lines_icalendar_writes(line: str) -> None:
    """The calendar's lines are folded by our own code (the library's folding was most of the
    time an invite took): octet for octet what icalendar writes, escapes never split."""
    assert ics.fold(line) == _foldline(line).encode()
    assert all(len(piece) <= 75 for piece in ics.fold(line).split(b"\r\n"))
