"""The mail itself: the MIME shape calendar clients need, headers that hostile names cannot break,
HTML that escapes everything, and French for every English sentence."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir

from calendars.i18n import Catalogues
from calendars.imip import build
from calendars.model import Entry, Method, Party
from calendars.text import Notice, Writer

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2021, 4, 1, 8, 0, tzinfo=UTC)
HOSTILE = "Zoé \"<script>alert(1)</script>\", Ltd; =cmd|' /C calc'!A0"
CALENDAR = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def parsed(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=default)
    assert isinstance(message, EmailMessage)
    return message


def message(**overrides: object) -> bytes:
    values: dict[str, object] = {
        "sender": Party("Cluster", "rdv@service.example"),
        "reply_to": Party("Olga Organiser", "olga@cluster.example"),
        "recipient": Party("Chloé Martin", "chloe@acme.example"),
        "subject": "Invitation: Acme × Water — Thursday",
        "text": "Hello\nJoin: https://rdv.test/j/abc",
        "html": "<p>Hello</p>",
        "calendar": CALENDAR,
        "method": Method.REQUEST,
        "now": NOW,
    }
    values.update(overrides)
    return build(**values)  # type: ignore[arg-type]


def test_the_message_has_the_shape_outlook_gmail_and_thunderbird_expect() -> None:
    tree = parsed(message())
    shape = [part.get_content_type() for part in tree.walk()]
    assert shape == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
        "application/ics",
    ]
    calendar = next(p for p in tree.walk() if p.get_content_type() == "text/calendar")
    assert calendar.get_param("method") == "REQUEST"
    assert calendar.get_content_charset() == "utf-8"
    assert calendar.get_payload(decode=True) == CALENDAR  # CRLF kept through base64
    attachment = next(p for p in tree.walk() if p.get_content_type() == "application/ics")
    assert attachment.get_filename() == "invite.ics"


def test_the_raw_message_is_seven_bit_with_crlf_lines() -> None:
    raw = message(text="Réunion à 10 h 30 ✓", subject="Invitation : Réunion — jeudi")
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"")


def test_names_with_newlines_cannot_add_headers() -> None:
    raw = message(
        recipient=Party("Eve\r\nBcc: victim@example.com", "eve@globex.example"),
        sender=Party("Cluster\nX-Evil: 1", "rdv@service.example"),
        subject="Invitation\r\nBcc: other@example.com",
    )
    tree = parsed(raw)
    assert tree["Bcc"] is None
    assert tree["X-Evil"] is None
    assert tree["To"].addresses[0].addr_spec == "eve@globex.example"
    assert "Bcc: victim@example.com" in tree["To"].addresses[0].display_name


def test_non_ascii_and_punctuation_in_names_round_trip_in_headers() -> None:
    tree = parsed(message(recipient=Party(HOSTILE, "zoe@acme.example")))
    [recipient] = tree["To"].addresses
    assert recipient.display_name == HOSTILE
    assert recipient.addr_spec == "zoe@acme.example"


def test_each_message_gets_its_own_message_id_and_the_organiser_as_reply_to() -> None:
    first, second = parsed(message()), parsed(message())
    assert first["Message-ID"] != second["Message-ID"]
    assert first["Message-ID"].endswith("@service.example>")
    assert first["Reply-To"].addresses[0].addr_spec == "olga@cluster.example"
    assert first["From"].addresses[0].addr_spec == "rdv@service.example"


def entry(title: str = "Acme × Water", other: str = "Ana Lopez") -> Entry:
    writer = Writer(Catalogues())
    start, end = datetime(2021, 4, 8, 8, 30, tzinfo=UTC), datetime(2021, 4, 8, 9, tzinfo=UTC)
    others = (Party(other, "ana@water.example", "Water & Waste"),)
    organiser = Party("Cluster", "rdv@cluster.example")
    return Entry(
        uid="x@rdv.test",
        sequence=0,
        title=title,
        kind="meeting",
        starts_at=start,
        ends_at=end,
        zone="Europe/Paris",
        organiser=organiser,
        recipient=Party("Chloé", "chloe@acme.example"),
        attendees=others,
        others=others,
        join_url="https://rdv.test/j/abc?x=1&y=2",
        description=writer.describe(
            "en",
            title=title,
            kind="meeting",
            starts_at=start,
            ends_at=end,
            zone="Europe/Paris",
            others=others,
            join_url="https://rdv.test/j/abc?x=1&y=2",
            organiser=organiser,
            event_title="Meet <the> buyers",
            speaker=False,
            feed_url="https://rdv.test/calendar/f.ics",
        ),
        event_title="Meet <the> buyers",
    )


def test_html_escapes_every_name_and_title() -> None:
    text = Writer(Catalogues()).mail(entry(title=HOSTILE, other=HOSTILE), Notice.INVITATION, "en")
    assert "<script>" not in text.html
    assert "&lt;script&gt;" in text.html
    assert "Meet &lt;the&gt; buyers" in text.html
    assert 'href="https://rdv.test/j/abc?x=1&amp;y=2"' in text.html
    assert HOSTILE in text.text


def test_the_description_says_who_and_when_in_the_events_zone() -> None:
    description = entry().description
    assert (
        "Thursday, April 8, 2021, 10:30\u202fAM–11:00\u202fAM (Europe/Paris, UTC+02:00)"
        in (description)
        or "Thursday, April 8, 2021, 10:30 AM–11:00 AM (Europe/Paris, UTC+02:00)" in description
    )
    assert "  Ana Lopez, Water & Waste" in description
    assert "Join: https://rdv.test/j/abc?x=1&y=2" in description


@pytest.mark.parametrize("notice", list(Notice))
def test_subjects_say_what_happened_in_both_languages(notice: Notice) -> None:
    writer = Writer(Catalogues())
    english = writer.mail(entry(), notice, "en").subject
    french = writer.mail(entry(), notice, "fr").subject
    expected = {
        Notice.INVITATION: ("Invitation: ", "Invitation : "),
        Notice.UPDATE: ("Updated: ", "Modifié : "),
        Notice.CANCELLED: ("Cancelled: ", "Annulé : "),
        Notice.UNINVITED: ("Cancelled: ", "Annulé : "),
    }[notice]
    assert english.startswith(expected[0] + "Acme × Water — Thursday, April 8, 2021")
    assert french.startswith(expected[1] + "Acme × Water — jeudi 8 avril 2021")


def test_every_english_sentence_has_a_french_translation() -> None:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = {
        message if isinstance(message, str) else message[0]
        for package in ("calendars", "orchestrator", "integrations", "webhooks")
        for _, _, message, _, _ in extract_from_dir(ROOT / package, method_map)
    }
    assert found, "no translatable sentence found: the extraction is broken"
    french = Catalogues().get("fr").translations
    # Words that French writes as English does.
    same = {
        "Invitation",
        "Date",
        "Description",
        "Organisation",
        "Pages",
        "Sessions",
        "{count} sessions",
    }
    missing = sorted(m for m in found if french.gettext(m) == m and m not in same)
    assert missing == []
