"""iCalendar bytes for invites, cancellations and personal feeds, from plain `calendars.model` data.

Times are written in UTC (`...Z`) with no VTIMEZONE: the VTIMEZONE icalendar generates is misread
by ical.js (Thunderbird) and vobject, while a UTC instant reads the same in every parser. The
builders are pure (the clock comes in as `now`), so mail, feeds and tests share them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Alarm, Calendar, Event, vCalAddress, vDuration, vText
from icalendar.enums import STATUS, TRANSP

from calendars.model import Entry, Method, Party

PRODID = "-//rdv-orchestrator//rdv//EN"
REMINDER = timedelta(minutes=10)
REFRESH = timedelta(hours=1)
FEED_UID_PREFIX = "feed-"

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
FOLD_AT = 74  # octets of a piece: with the leading space of the next, lines stay within 75
ESCAPES = frozenset(b"\\^")


def request(entry: Entry, *, now: datetime) -> bytes:
    """A new or changed session for one recipient (RFC 5546 §3.2.2): same UID, current SEQUENCE."""
    event = _event(entry, uid=entry.uid, stamp=now, status=STATUS.CONFIRMED)
    # RSVP=FALSE on a plenary, or a hundred clients would mail the organiser their answer.
    _address(event, entry, _listed(entry), reply=entry.kind != "plenary")
    # Properties before the alarm: Outlook refuses a VALARM placed first (ics-py issue #416).
    event.add_component(_alarm(entry))
    return _bytes(_calendar(Method.REQUEST, [event]))


def cancel(entry: Entry, *, now: datetime) -> bytes:
    """Takes the session out of the recipient's calendar (RFC 5546 §3.2.5).

    A cancelled session says STATUS:CANCELLED and lists everyone. A recipient removed from a
    session that goes on (an "uninvite") is the only ATTENDEE and gets no STATUS, since the
    event itself is not cancelled.
    """
    if entry.cancelled:
        event = _event(entry, uid=entry.uid, stamp=now, status=STATUS.CANCELLED)
        _address(event, entry, _listed(entry), reply=None)
    else:
        event = _event(entry, uid=entry.uid, stamp=now, status=None)
        _address(event, entry, (entry.recipient,), reply=None)
    return _bytes(_calendar(Method.CANCEL, [event]))


def feed(entries: Sequence[Entry], *, name: str) -> bytes:
    """A subscribable PUBLISH calendar; the same entries give the same bytes (for ETags).

    UIDs get a prefix so a client that also holds the mailed invite does not see one UID from two
    sources, and there is no ORGANIZER or ATTENDEE so no client mails replies.
    DTSTAMP is when the session last changed (else its start), never the time of the request.
    """
    events = [
        _event(
            entry,
            uid=FEED_UID_PREFIX + entry.uid,
            stamp=entry.last_modified or entry.starts_at,
            status=STATUS.CANCELLED if entry.cancelled else STATUS.CONFIRMED,
        )
        for entry in sorted(entries, key=lambda entry: (entry.starts_at, entry.uid))
    ]
    calendar = _calendar(Method.PUBLISH, events)
    # icalendar types NAME and X-WR-CALNAME as unknown and would write commas unescaped.
    calendar.add("NAME", vText(name))
    calendar.add("X-WR-CALNAME", vText(name))
    calendar.add("REFRESH-INTERVAL", vDuration(REFRESH), parameters={"VALUE": "DURATION"})
    calendar.add("X-PUBLISHED-TTL", vDuration(REFRESH))
    return _bytes(calendar)


def _calendar(method: Method, events: Iterable[Event]) -> Calendar:
    calendar = Calendar.new(
        prodid=PRODID, method=method.value, calscale="GREGORIAN", subcomponents=events
    )
    # `Calendar.new()` adds an RFC 7986 calendar UID; nobody asked for it and Outlook's take on
    # it is unknown, and it would make the feed differ on every request.
    del calendar["UID"]
    return calendar


def _bytes(calendar: Calendar) -> bytes:
    """CRLF lines folded at 75 octets, never inside a UTF-8 sequence, text escaped (RFC 5545).

    The lines are icalendar's; the folding is ours (`fold`): the library folds character by
    character, which was most of the time spent on an invite's calendar."""
    return b"\r\n".join(fold(line) for line in calendar.content_lines() if line) + b"\r\n"


def fold(line: str, limit: int = FOLD_AT) -> bytes:
    """One content line, folded as icalendar folds it: pieces of at most `limit` octets, never
    cut inside a UTF-8 sequence, nor right after a `\\` or `^` (clients misread an escape split
    across lines), the next piece starting with a space."""
    data = line.encode()
    if len(data) <= limit:
        return data
    pieces, start = [], 0
    while len(data) - start > limit:
        cut = start + limit
        while data[cut] & 0xC0 == 0x80:  # a continuation byte: the sequence began before
            cut -= 1
        if cut - start > 1 and data[cut - 1] in ESCAPES:
            cut -= 1
        pieces.append(data[start:cut])
        start = cut
    pieces.append(data[start:])
    return b"\r\n ".join(pieces)


def _event(entry: Entry, *, uid: str, stamp: datetime, status: STATUS | None) -> Event:
    """The VEVENT properties every message shares."""
    return Event.new(
        uid=uid,
        sequence=entry.sequence,
        stamp=_utc(stamp),
        start=_utc(entry.starts_at),
        end=_utc(entry.ends_at),
        summary=entry.title,
        description=entry.description,
        location=entry.join_url,
        url=entry.join_url,
        status=status,
        transparency=TRANSP.OPAQUE,
    )


def _address(event: Event, entry: Entry, attendees: Iterable[Party], *, reply: bool | None) -> None:
    """Adds ORGANIZER and the ATTENDEEs; `reply` is RSVP, None in a CANCEL (which asks nothing)."""
    event.add("ORGANIZER", vCalAddress.new(entry.organiser.email, cn=_cn(entry.organiser.name)))
    recipient = entry.recipient.email.casefold()
    for party in attendees:
        chair = entry.speaker and party.email.casefold() == recipient
        attendee = vCalAddress.new(
            party.email,
            cn=_cn(party.name),
            cutype="INDIVIDUAL",
            role="CHAIR" if chair else "REQ-PARTICIPANT",
            partstat=None if reply is None else "NEEDS-ACTION",
            rsvp=reply,
        )
        event.add("ATTENDEE", attendee)


def _listed(entry: Entry) -> tuple[Party, ...]:
    """The people an invite names: a plenary names only its recipient, never the whole room."""
    return (entry.recipient,) if entry.kind == "plenary" else entry.attendees


def _alarm(entry: Entry) -> Alarm:
    alarm = Alarm()
    alarm.add("ACTION", "DISPLAY")
    alarm.add("TRIGGER", -REMINDER)
    alarm.add("DESCRIPTION", entry.title)
    return alarm


def _cn(name: str) -> str:
    """A display name every parser reads the same: one line, and `"` written as `'`.

    A parameter value cannot hold a double quote or a line break except through RFC 6868 escapes
    (`^'`, `^n`), which vobject shows literally and Outlook's support for is unknown.
    """
    return " ".join(_CONTROL.sub(" ", name).split()).replace('"', "'")


def _utc(moment: datetime) -> datetime:
    """The same instant in UTC; a naive datetime is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"calendar times must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)
