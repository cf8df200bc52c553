"""Calendar replies as Outlook, Outlook.com, Gmail, Apple Calendar and Thunderbird send them back
(fixtures in tests/fixtures/replies/, with their sources in SOURCES.md) read into who answered
what for which event; and what is not a usable reply is refused with a reason, never an error."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from support.replies import fixture

from calendars.replies import CALENDAR_LIMIT, NotAReply, Reply, read_reply, replies_in


def only_reply(raw: bytes) -> Reply:
    """The reply of a mail: clients may attach the same calendar twice (Thunderbird does)."""
    found = list(replies_in(raw))
    replies = {r for r in found if isinstance(r, Reply)}
    assert len(replies) == 1, found
    return replies.pop()


@pytest.mark.parametrize(
    ("name", "answer"),
    [
        ("outlook-accepted.eml", "accepted"),
        ("outlook-declined-with-comment.eml", "declined"),
        ("outlookcom-accepted-no-organizer.eml", "accepted"),
        ("gmail-accepted.eml", "accepted"),
        ("gmail-declined.eml", "declined"),
        ("apple-tentative.eml", "tentative"),
        ("apple-declined.eml", "declined"),
        ("thunderbird-accepted.eml", "accepted"),
        ("thunderbird-declined-with-comment.eml", "declined"),
    ],
)
def test_each_clients_reply_says_who_answered_what_for_which_event(name: str, answer: str) -> None:
    reply = only_reply(fixture(name))
    assert reply.method == "REPLY"
    assert reply.uid == "meet-the-buyers.m1.3@rdv.test"
    assert reply.sequence == 2
    assert reply.attendee == "chloe@acme.example"  # compared without case: Exchange shouts
    assert reply.answer == answer
    assert reply.proposed is None


def test_the_note_a_person_adds_comes_with_the_answer_and_an_empty_one_is_none() -> None:
    declined = only_reply(fixture("outlook-declined-with-comment.eml"))
    assert declined.comment
    assert "\n" not in declined.comment
    assert only_reply(fixture("outlook-accepted.eml")).comment is None  # Exchange's empty COMMENT


@pytest.mark.parametrize("zone", ["Europe/Berlin", "W. Europe Standard Time"])
def test_a_proposal_of_another_time_is_a_decline_with_the_time_proposed(zone: str) -> None:
    raw = fixture("outlook-counter.eml").replace(b"Europe/Berlin", zone.encode())
    reply = only_reply(raw)
    assert (reply.method, reply.answer) == ("COUNTER", "declined")
    # 14:00-14:30 in Berlin (the message's own zone, Windows names too), 12:00-12:30 UTC.
    assert reply.proposed == (
        datetime(2021, 4, 8, 12, 0, tzinfo=UTC),
        datetime(2021, 4, 8, 12, 30, tzinfo=UTC),
    )


def test_a_reply_sent_as_base64_reads_the_same() -> None:
    raw = fixture("gmail-declined.eml").decode()
    _, _, rest = raw.partition("BEGIN:VCALENDAR")
    calendar = "BEGIN:VCALENDAR" + rest.split("END:VCALENDAR")[0] + "END:VCALENDAR\r\n"
    encoded = base64.encodebytes(calendar.encode()).decode().replace("\n", "\r\n")
    mail = (
        "From: Chloe@Acme.example\r\nTo: replies@rdv.test\r\nSubject: Declined\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/calendar; method=REPLY; charset=UTF-8\r\n"
        f"Content-Transfer-Encoding: base64\r\n\r\n{encoded}"
    )
    assert only_reply(mail.encode()).answer == "declined"


@pytest.mark.parametrize(
    ("calendar", "why"),
    [
        (b"not a calendar at all", "unreadable"),
        (b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n", "not REPLY"),
        (b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nEND:VCALENDAR\r\n", "no VEVENT"),
        (
            b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:x\r\n"
            b"ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:a@b.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "no answer",
        ),
        (
            b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:x\r\n"
            b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@b.example\r\n"
            b"ATTENDEE;PARTSTAT=DECLINED:mailto:c@b.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "several attendees",
        ),
        (
            b"BEGIN:VCALENDAR\r\nMETHOD:REPLY\r\nBEGIN:VEVENT\r\nUID:x\r\nSEQUENCE:lots\r\n"
            b"ATTENDEE;PARTSTAT=ACCEPTED:mailto:a@b.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
            "SEQUENCE",
        ),
        (b"BEGIN:VCALENDAR\r\n" + b"X" * CALENDAR_LIMIT, "larger than"),
    ],
)
def test_what_is_not_a_usable_reply_is_refused_with_its_reason(calendar: bytes, why: str) -> None:
    with pytest.raises(NotAReply, match=why):
        read_reply(calendar)


def test_a_mail_without_a_calendar_holds_no_reply_and_a_broken_one_says_why() -> None:
    plain = b"From: a@b.example\r\nSubject: hello\r\n\r\nJust text.\r\n"
    assert list(replies_in(plain)) == []
    broken = (
        b"From: a@b.example\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/calendar; method=REPLY\r\n\r\nBEGIN:VCALENDAR\r\nMETHOD:REPLY\r\n"
    )
    (why,) = list(replies_in(broken))
    assert isinstance(why, NotAReply)
