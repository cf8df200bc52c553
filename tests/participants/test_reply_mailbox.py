"""Replies from people's calendars reach their seats through a real mailbox (Dovecot over IMAP):
each invite names its seat's own reply address as organiser, Chloé declines from Outlook and Ana
accepts from Thunderbird, and one pass of the reader puts both answers on their seats. A reply
sent to her address by someone else, an automatic reply and a mail with no calendar change
nothing; every message read leaves the inbox for `rdv-handled`; no mail goes back to a reply."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.dovecot import Dovecot
from support.mailsink import MailSink
from support.replies import fixture
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.inbound_url import parse_inbound_url
from orchestrator.mail.inbound import HANDLED

SLUG = "meet-the-buyers"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


def answers(event: dict[str, Any], session: str) -> dict[str, tuple[str, str | None]]:
    found = next(s for s in event["sessions"] if s["key"] == session)
    return {a["key"]: (a["answer"], a["answer_source"]) for a in found["attendees"]}


async def test_calendar_replies_in_the_mailbox_reach_their_seats(
    make_api: Callable[..., Any],
    sink: MailSink,
    dovecot: Dovecot,
    clock: ManualClock,
) -> None:
    api: Api = await make_api(
        mail_url=sink.url, reply_address="replies@rdv.test", inbound_mail_url=dovecot.url
    )
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(hours=2))
    await api.deliver_mail()
    invites = {
        message.recipient: message for message in sink.received if "Acme × Water" in message.subject
    }
    chloe, ana = invites["chloe@acme.example"], invites["ana@water.example"]
    chloe_address = str(chloe.event["ORGANIZER"]).removeprefix("mailto:")
    ana_address = str(ana.event["ORGANIZER"]).removeprefix("mailto:")
    assert chloe_address.startswith("replies+a")
    assert chloe_address.endswith("@rdv.test")
    assert chloe_address != ana_address  # each seat its own
    assert chloe.message["Reply-To"] == "Cluster <rdv@cluster.example>"  # people write to people
    uid, sequence = str(chloe.event["UID"]), str(chloe.event.get("SEQUENCE", 0))
    common = {"{uid}": uid, "{sequence}": sequence}
    dovecot.append(
        fixture(
            "outlook-declined-with-comment.eml",
            **common,
            **{"{organizer}": chloe_address, "{attendee}": "chloe@acme.example"},
        )
    )
    dovecot.append(
        fixture(
            "thunderbird-accepted.eml",
            **common,
            **{"{organizer}": ana_address, "{attendee}": "ana@water.example"},
        )
    )
    forged = {"{organizer}": chloe_address, "{attendee}": "eve@globex.example"}
    dovecot.append(fixture("gmail-accepted.eml", **common, **forged))
    automatic = fixture(
        "gmail-accepted.eml",
        **common,
        **{"{organizer}": chloe_address, "{attendee}": "chloe@acme.example"},
    )
    dovecot.append(b"Auto-Submitted: auto-replied\r\n" + automatic)
    question = f"From: chloe@acme.example\r\nTo: {chloe_address}\r\nSubject: a question\r\n\r\n"
    dovecot.append(question.encode() + b"Hi!\r\n")
    sink.clear()

    outcomes = await api.client.app[appkeys.REPLIES].read_once()  # type: ignore[union-attr]
    assert outcomes == {
        "applied": 2,
        "ignored: the reply answers for someone else": 1,
        "ignored: automatic mail": 1,
        "ignored: no calendar reply in it": 1,
    }
    m1 = answers(await api.get_event(SLUG), "m1")
    assert m1["chloe"] == ("declined", "calendar")
    assert m1["ana"] == ("accepted", "calendar")
    assert dovecot.count("INBOX") == 0
    assert dovecot.count(HANDLED) == 5

    await (
        api.deliver_mail()
    )  # the decline tells Ana and the organisers; nothing goes to the replies
    assert sorted(message.recipient for message in sink.received) == [
        "ana@water.example",
        "rdv@cluster.example",
    ]
    assert await api.client.app[appkeys.REPLIES].read_once() == {}  # type: ignore[union-attr]
    metrics = await (await api.client.get("/metrics")).text()
    assert 'rdv_calendar_replies_total{outcome="applied"} 2.0' in metrics
    assert 'rdv_calendar_replies_total{outcome="ignored: automatic mail"} 1.0' in metrics


def test_the_mailbox_address_reads_as_written_and_its_errors_keep_the_password_out() -> None:
    found = parse_inbound_url("imaps://replies%40rdv.example:p%40ss@mail.example/Cal%20replies")
    assert (found.user, found.password, found.host) == (
        "replies@rdv.example",
        "p@ss",
        "mail.example",
    )
    assert (found.port, found.folder, found.tls) == (993, "Cal replies", True)
    plain = parse_inbound_url("imap://u:secret@127.0.0.1")
    assert (plain.port, plain.folder, plain.tls) == (143, "INBOX", False)
    assert "secret" not in repr(plain)
    for wrong in ("imap://127.0.0.1", "imap://u:secret@host:port/INBOX", "pop3://u:secret@h"):
        with pytest.raises(ValueError, match="RDV_INBOUND_MAIL_URL") as raised:
            parse_inbound_url(wrong)
        assert "secret" not in str(raised.value)
