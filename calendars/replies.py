"""Calendar replies as mail clients send them back (iTIP REPLY and COUNTER, RFC 5546, carried by
mail as RFC 6047 says): which event (UID and SEQUENCE), who answers (the one ATTENDEE), what they
said (PARTSTAT and an optional COMMENT) and, for a counter-proposal, the time they propose.

Pure: bytes in, a `Reply` out, or `NotAReply` saying why. Nothing here trusts the message: it is
size-limited before it is parsed, every value is checked, and which seat the reply is for is
decided by the caller from the address it was sent to, never from what the reply says.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from typing import Any

from icalendar import Calendar

CALENDAR_LIMIT = 256 * 1024  # bytes: a real reply is a few kilobytes
MESSAGE_LIMIT = 2 * 1024 * 1024
PARTS_LIMIT = 50  # MIME parts looked at in one message
COMMENT_LIMIT = 500
_ANSWERS = {"ACCEPTED": "accepted", "TENTATIVE": "tentative", "DECLINED": "declined"}
_CALENDAR_TYPES = {"text/calendar", "application/ics", "application/x-ics"}


class NotAReply(ValueError):
    """Why these bytes are not a reply we can use, in a short phrase for the log."""


@dataclass(frozen=True, slots=True)
class Reply:
    method: str  # REPLY or COUNTER
    uid: str
    sequence: int
    attendee: str  # the answering attendee's address, in lower case
    answer: str  # accepted, tentative or declined (a counter-proposal is a decline)
    comment: str | None
    proposed: tuple[datetime, datetime] | None  # a COUNTER's start and end, in UTC


def read_reply(data: bytes) -> Reply:
    """The reply in one iCalendar object."""
    if len(data) > CALENDAR_LIMIT:
        raise NotAReply(f"the calendar part is larger than {CALENDAR_LIMIT} bytes")
    try:
        calendar = Calendar.from_ical(data)
    except Exception as error:  # icalendar raises ValueError and others on broken input
        raise NotAReply(f"unreadable calendar ({type(error).__name__})") from None
    method = str(calendar.get("METHOD", "")).strip().upper()
    if method not in ("REPLY", "COUNTER"):
        raise NotAReply(f"METHOD is {method or 'missing'}, not REPLY or COUNTER")
    events = [part for part in calendar.walk("VEVENT")]
    if not events:
        raise NotAReply("no VEVENT")
    event = events[0]
    uid = str(event.get("UID", "")).strip()
    if not uid or len(uid) > 300:
        raise NotAReply("no usable UID")
    attendee, status = _attendee(event)
    if method == "COUNTER":
        answer, proposed = "declined", _proposed(event)
    elif status in _ANSWERS:
        answer, proposed = _ANSWERS[status], None
    else:
        raise NotAReply(f"PARTSTAT {status or 'missing'} is no answer")
    return Reply(
        method=method,
        uid=uid,
        sequence=_sequence(event),
        attendee=attendee,
        answer=answer,
        comment=_comment(event),
        proposed=proposed,
    )


def replies_in(raw: bytes) -> Iterator[Reply | NotAReply]:
    """Each calendar part of a mail, read (or why not): clients put the reply in a text/calendar
    part, an application/ics attachment, or both (the same reply twice)."""
    if len(raw) > MESSAGE_LIMIT:
        yield NotAReply(f"the message is larger than {MESSAGE_LIMIT} bytes")
        return
    # compat32 (the default policy): headers stay strings; policy.default made header objects of
    # every header looked at, 11 times slower on the same replies (bench/replies.py)
    message = message_from_bytes(raw)
    for count, part in enumerate(_leaves(message)):
        if count >= PARTS_LIMIT:
            yield NotAReply(f"more than {PARTS_LIMIT} parts")
            return
        if not _is_calendar(part):
            continue
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes):
            yield NotAReply("an empty calendar part")
            continue
        try:
            yield read_reply(data)
        except NotAReply as why:
            yield why


def _leaves(message: Message) -> Iterator[Message]:
    return (part for part in message.walk() if not part.is_multipart())


def _is_calendar(part: Message) -> bool:
    kind = part.get_content_type()
    name = (part.get_filename() or "").lower()
    return kind in _CALENDAR_TYPES or name.endswith(".ics")


def _attendee(event: Any) -> tuple[str, str]:
    """The answering attendee: a REPLY names only them (RFC 5546 §3.2.3); if a client lists
    more, the one who gave an answer."""
    found = event.get("ATTENDEE")
    listed = found if isinstance(found, list) else [found] if found is not None else []
    people = []
    for value in listed:
        address = str(value).strip()
        if address.lower().startswith("mailto:"):
            address = address[7:]
        status = str(getattr(value, "params", {}).get("PARTSTAT", "")).strip().upper()
        if "@" in address and len(address) <= 300:
            people.append((address.strip().lower(), status))
    if not people:
        raise NotAReply("no ATTENDEE with an email address")
    if len(people) > 1:
        people = [person for person in people if person[1] and person[1] != "NEEDS-ACTION"]
        if len(people) != 1:
            raise NotAReply("several attendees answer in one reply")
    return people[0]


def _sequence(event: Any) -> int:
    """SEQUENCE as the reply echoes it; 0 when absent (RFC 5545's default)."""
    value = event.get("SEQUENCE", 0)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise NotAReply("SEQUENCE is not a number") from None
    if not 0 <= number < 2**31:
        raise NotAReply("SEQUENCE is out of range")
    return number


def _comment(event: Any) -> str | None:
    found = event.get("COMMENT")
    if isinstance(found, list):
        found = " ".join(str(item) for item in found)
    text = " ".join(str(found).split()) if found is not None else ""
    return text[:COMMENT_LIMIT] or None


def _proposed(event: Any) -> tuple[datetime, datetime] | None:
    """A COUNTER's DTSTART and DTEND (or DURATION) in UTC; None when it gives no usable time."""
    start = _instant(event.get("DTSTART"))
    end = _instant(event.get("DTEND"))
    if start is not None and end is None and event.get("DURATION") is not None:
        end = start + event.get("DURATION").dt
    if start is None or end is None or end <= start:
        return None
    return start, end


def _instant(value: Any) -> datetime | None:
    moment = getattr(value, "dt", None)
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        return None  # a date, or a floating time: no instant to show
    return moment.astimezone(UTC)
