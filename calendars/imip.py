"""iMIP mail: the shape calendar clients recognise as an invitation, as the CalConnect guide
recommends it (https://github.com/CalConnect/DEVGUIDE/blob/HEAD/_pages/iMip/iMipBest-Practices.md).

multipart/mixed
  multipart/alternative
    text/plain, text/html                      (quoted-printable, UTF-8)
    text/calendar; method=…; charset=UTF-8     (base64 of the CRLF bytes, so CRLF survives)
  application/ics; name=invite.ics             (attachment, for clients that only look there)
"""

from __future__ import annotations

import re
import string
from datetime import datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import SMTP, Policy, default
from email.utils import format_datetime, make_msgid

from .model import Method, Party

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# RFC 2047: a line holding encoded words is at most 76 characters; "Subject: " takes 9.
_LONGEST_WORD = 76 - len("Subject: ")
_OPEN, _CLOSE = "=?utf-8?q?", "?="
# What "Q" encoding may leave as it is (RFC 2047, 5 (3)); a space is "_", the rest "=XX".
_PLAIN = frozenset(string.ascii_letters + string.digits + "!*+-/")


def _q(character: str) -> str:
    if character in _PLAIN:
        return character
    if character == " ":
        return "_"
    return "".join(f"={byte:02X}" for byte in character.encode())


def encoded_words(text: str) -> list[str]:
    """`text` as UTF-8 encoded words, each short enough for a header line, every space inside one.

    The standard library folds a long subject between two encoded words at a space it leaves
    outside them, and readers drop such a space (RFC 2047: whitespace between encoded words is
    not text): "Numérique & Systèmes" read back as "Numérique &Systèmes".
    """
    room = _LONGEST_WORD - len(_OPEN) - len(_CLOSE)
    words: list[str] = []
    pieces: list[str] = []
    used = 0
    for piece in map(_q, text):
        if used + len(piece) > room:
            words.append(_OPEN + "".join(pieces) + _CLOSE)
            pieces, used = [], 0
        pieces.append(piece)
        used += len(piece)
    words.append(_OPEN + "".join(pieces) + _CLOSE)
    return words


class _Subject(UnstructuredHeader, BaseHeader):
    """A Subject folded only between encoded words that carry their own spaces."""

    def fold(self, *, policy: Policy) -> str:
        if str(self).isascii():
            return super().fold(policy=policy)
        return (
            f"{self.name}: " + f"{policy.linesep} ".join(encoded_words(str(self))) + policy.linesep
        )


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("subject", _Subject)
_POLICY = default.clone(header_factory=_HEADERS)


def header_name(name: str) -> str:
    """A display name that cannot break a header line, whatever it was given."""
    return _UNSAFE.sub(" ", name).strip()


def address(party: Party) -> Address:
    local, _, domain = party.email.rpartition("@")
    return Address(display_name=header_name(party.name), username=local, domain=domain)


def message_domain(sender_email: str) -> str:
    return sender_email.rpartition("@")[2] or "localhost"


def build(
    *,
    sender: Party,
    reply_to: Party,
    recipient: Party,
    subject: str,
    text: str,
    html: str,
    calendar: bytes | None,
    method: Method | None,
    now: datetime,
) -> bytes:
    """The complete message, CRLF line endings, 7-bit clean. Without a calendar it is a plain
    text-and-HTML message (the replay mail)."""
    message = EmailMessage(policy=_POLICY)
    message["From"] = address(sender)
    message["To"] = address(recipient)
    message["Reply-To"] = address(reply_to)
    message["Subject"] = header_name(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid("rdv", domain=message_domain(sender.email))
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    if calendar is None or method is None:
        return message.as_bytes(policy=SMTP)
    message.add_alternative(
        calendar,
        maintype="text",
        subtype="calendar",
        cte="base64",
        params={"method": method.value, "charset": "UTF-8"},
    )
    message.add_attachment(
        calendar, maintype="application", subtype="ics", filename="invite.ics", cte="base64"
    )
    return message.as_bytes(policy=SMTP)
