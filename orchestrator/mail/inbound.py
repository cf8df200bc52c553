"""Calendar replies read from the reply mailbox (`RDV_INBOUND_MAIL_URL`, imap:// or imaps://),
and how one reply is handled whichever way it came (mail/lmtp.py takes delivery instead).

Invites name each seat's own sub-address of `RDV_REPLY_ADDRESS` as their organiser, so the
reply a calendar sends when someone accepts or declines comes back to that mailbox addressed to
the seat. A pass reads what is in the folder (at most BATCH messages), applies each reply to the
seat its address names (`participants/replies.py` decides whether it may), and moves every
message it looked at to the folder `rdv-handled`, so nothing is read twice and nothing is lost.
Nothing is ever sent back to a reply; automatic mail (vacation notices, bounces) is ignored. The
mailbox's password is never logged. The IMAP client is the standard library's, in a thread.
"""

from __future__ import annotations

import asyncio
import imaplib
import logging
import ssl
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from calendars.replies import Reply, replies_in

from ..inbound_url import Mailbox, parse
from ..participants.replies import apply_reply, reply_key, seat_of_address
from ..settings import Settings
from .declines import after_answer

log = logging.getLogger("rdv.replies")
HANDLED = "rdv-handled"
BATCH = 200
TIMEOUT = 30.0  # seconds for the server to answer


def _connect(mailbox: Mailbox) -> imaplib.IMAP4:
    if mailbox.tls:
        client: imaplib.IMAP4 = imaplib.IMAP4_SSL(
            mailbox.host, mailbox.port, ssl_context=ssl.create_default_context(), timeout=TIMEOUT
        )
    else:
        client = imaplib.IMAP4(mailbox.host, mailbox.port, timeout=TIMEOUT)
    client.login(mailbox.user, mailbox.password)
    return client


def fetch(mailbox: Mailbox) -> list[tuple[bytes, bytes]]:
    """(uid, the whole message) of what waits in the folder, oldest first, at most BATCH."""
    client = _connect(mailbox)
    try:
        _ok(client.select(_quoted(mailbox.folder)), "select the folder")
        found = _ok(client.uid("SEARCH", "ALL"), "search the folder")
        first = found[0] if found else b""
        uids = (first if isinstance(first, bytes) else b"").split()[:BATCH]
        messages = []
        for uid in uids:
            data = _ok(client.uid("FETCH", uid.decode(), "(BODY.PEEK[])"), "fetch a message")
            raw = next((part[1] for part in data if isinstance(part, tuple)), None)
            if raw is not None:
                messages.append((uid, bytes(raw)))
        return messages
    finally:
        client.logout()


def move(mailbox: Mailbox, uids: list[bytes]) -> None:
    """The messages out of the folder into HANDLED (made when missing)."""
    client = _connect(mailbox)
    try:
        _ok(client.select(_quoted(mailbox.folder)), "select the folder")
        client.create(HANDLED)  # an error here is "it exists already"
        which = b",".join(uids).decode()
        if "MOVE" in {capability.upper() for capability in client.capabilities}:
            _ok(client.uid("MOVE", which, HANDLED), "move messages")
        else:
            _ok(client.uid("COPY", which, HANDLED), "copy messages")
            _ok(client.uid("STORE", which, "+FLAGS.SILENT", r"(\Deleted)"), "flag messages")
            client.expunge()
    finally:
        client.logout()


def _quoted(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ok(answer: tuple[str, list[Any]], doing: str) -> list[Any]:
    status, data = answer
    if status != "OK":
        raise imaplib.IMAP4.error(f"could not {doing}: {status}")
    return data


class ReplyReader:
    """Reads the reply mailbox; the app factory builds one when RDV_INBOUND_MAIL_URL is set."""

    def __init__(
        self,
        db: async_sessionmaker[AsyncSession],
        settings: Settings,
        now: Callable[[], datetime],
        on_changed: Callable[[int, bool, bool], None],
        counted: Callable[[str], None] = lambda _: None,
    ) -> None:
        """`on_changed(event_id, declined, mail_queued)` is called after a reply changed a seat's
        answer, `counted`
        with each message's outcome (the metrics)."""
        assert settings.inbound_mail_url
        assert settings.secret_key
        self.db, self.settings, self.now, self.on_changed = db, settings, now, on_changed
        self.counted = counted
        found = parse(settings.inbound_mail_url)
        self.mailbox = found if isinstance(found, Mailbox) else None  # else delivered over LMTP
        self.key = reply_key(settings.secret_key)

    async def read_once(self) -> Counter[str]:
        """One pass over the mailbox; how many messages ended how."""
        if self.mailbox is None:  # replies are delivered to rdv over LMTP
            return Counter()
        messages = await asyncio.to_thread(fetch, self.mailbox)
        outcomes: Counter[str] = Counter()
        for _, raw in messages:
            outcome = await self.handle(raw)
            outcomes[outcome] += 1
        if messages:
            await asyncio.to_thread(move, self.mailbox, [uid for uid, _ in messages])
            log.info(
                "calendar replies read: %s", ", ".join(f"{n} {w}" for w, n in outcomes.items())
            )
        return outcomes

    async def handle(self, raw: bytes, recipients: Sequence[str] = ()) -> str:
        """What one message did: "applied", "unchanged", or why it was ignored (also counted).

        `recipients` are the envelope's when rdv took delivery itself (LMTP); a mailbox read over
        IMAP has only the headers to say which reply address the message was sent to."""
        outcome = await self._handle(raw, recipients)
        self.counted(outcome)
        return outcome

    async def _handle(self, raw: bytes, recipients: Sequence[str]) -> str:
        headers = BytesHeaderParser().parsebytes(raw)
        automatic = str(headers.get("Auto-Submitted", "no")).strip().lower()
        if automatic != "no" or headers.get_content_type() == "multipart/report":
            return "ignored: automatic mail"  # an absence notice, a bounce, our own notice
        fields = [
            str(v)
            for name in ("To", "Cc", "Delivered-To", "X-Original-To")
            for v in headers.get_all(name, [])
        ]
        addresses = [*recipients, *(a for _, a in getaddresses(fields))]
        seats = {s for a in addresses if (s := seat_of_address(self.key, a))}
        if len(seats) != 1:
            return "ignored: not sent to one seat's reply address"
        # the first reply is enough: the copy in an .ics attachment is the same, left unread
        reply = next((found for found in replies_in(raw) if isinstance(found, Reply)), None)
        if reply is None:
            return "ignored: no calendar reply in it"
        (seat_id,) = seats
        now = self.now()
        async with self.db() as db, db.begin():
            applied = await apply_reply(
                db, reply, seat_id, base_url=self.settings.base_url, now=now
            )
            queued = 0
            if applied.changed and applied.seat is not None and applied.session is not None:
                queued = await after_answer(
                    db,
                    applied.session,
                    applied.seat,
                    applied.previous,
                    sender=self.settings.mail_from,
                    now=now,
                )
        if applied.ignored:
            return f"ignored: {applied.ignored}"
        if applied.changed and applied.seat is not None and applied.session is not None:
            declined = applied.seat.answer == "declined"
            self.on_changed(applied.session.event_id, declined, bool(queued))
            return "applied"
        return "unchanged"
