"""iMIP mail: the shape calendar clients recognise as an invitation, as the CalConnect guide
recommends it (https://github.com/CalConnect/DEVGUIDE/blob/HEAD/_pages/iMip/iMipBest-Practices.md).

multipart/mixed
  multipart/alternative
    text/plain, text/html                      (quoted-printable, UTF-8)
    text/calendar; method=…; charset=UTF-8     (base64 of the CRLF bytes, so CRLF survives)
  application/ics; name=invite.ics             (attachment, for clients that only look there)
"""

from __future__ import annotations

import functools
import re
import secrets
import string
from datetime import datetime
from email import charset, encoders
from email.generator import BytesGenerator
from email.headerregistry import Address
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.policy import SMTP, Compat32
from email.utils import format_datetime, formataddr, make_msgid
from io import BytesIO

from .model import Method, Party
from .text import MailText

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")
# RFC 2047: a line holding encoded words is at most 76 characters; "Reply-To: " takes 10, the
# longest name of a header that may hold them.
_LONGEST_WORD = 76 - len("Reply-To: ")
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


def header_name(name: str) -> str:
    """A display name that cannot break a header line, whatever it was given."""
    return _UNSAFE.sub(" ", name).strip()


def header_text(text: str) -> str:
    """A header's text as it is written: ASCII as it is (folded at its spaces), anything else as
    encoded words that carry their own spaces."""
    clean = header_name(text)
    return clean if clean.isascii() else " ".join(encoded_words(clean))


def address(party: Party) -> str:
    """`Name <email>`, the name quoted or encoded as it needs."""
    name = header_name(party.name)
    if name.isascii():
        return formataddr((name, party.email))
    return _encoded_address(name, party.email)


@functools.lru_cache(maxsize=4096)
def _encoded_address(name: str, email: str) -> str:
    """A non-ASCII name as the email library's header model encodes it (only the words that
    need it, which every reader, Python's own included, reads back as given), unfolded: the
    message folds it again. Cached: a person's name comes in each of their messages."""
    local, _, domain = email.rpartition("@")
    header = SMTP.header_factory("To", Address(display_name=name, username=local, domain=domain))
    folded = str(header.fold(policy=SMTP))
    return folded.removeprefix("To: ").replace("\r\n", "").strip()


def message_domain(sender_email: str) -> str:
    return sender_email.rpartition("@")[2] or "localhost"


_QP = charset.Charset("utf-8")
_QP.body_encoding = charset.QP


class _Headers(Compat32):
    """compat32, minus folding a header that needs none: ours are ASCII (encoded words where the
    text is not), and most fit a line, which the library would still run through its folder."""

    def fold_binary(self, name: str, value: str) -> bytes:
        line = f"{name}: {value}"
        if isinstance(value, str) and len(line) <= 78 and line.isascii() and "\n" not in line:
            return (line + self.linesep).encode("ascii")
        return super().fold_binary(name, value)


_SMTP = _Headers(linesep="\r\n")


def _boundary() -> str:
    """A boundary no part can hold: `=_` never starts a line of quoted-printable or base64, so
    the generator need not search the parts for it (a regular expression per message)."""
    return f"=_rdv_{secrets.token_hex(12)}"


def _text(subtype: str, content: str) -> Message:
    part = MIMEBase("text", subtype, charset="utf-8")
    part.set_payload(content, _QP)
    return part


def _bytes(maintype: str, subtype: str, content: bytes, *params: tuple[str, str]) -> Message:
    part = MIMEBase(maintype, subtype)
    for name, value in params:
        part.set_param(name, value)
    part.set_payload(content)
    encoders.encode_base64(part)
    return part


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
    message_id: str | None = None,
) -> bytes:
    """The complete message, CRLF line endings, 7-bit clean. Without a calendar it is a plain
    text-and-HTML message (the replay mail). `message_id` is the left part of the Message-ID
    when it must be the same at every attempt (a message sent again after a crash is then
    recognisably the one sent before); without it the id is new.

    Written with the email library's message classes of the compat32 policy, which build a
    message several times faster than `EmailMessage` (no header is parsed back to be written):
    an event's thousands of invites are composed in seconds, not minutes."""
    alternative = MIMEMultipart(
        "alternative", _boundary(), [_text("plain", text), _text("html", html)]
    )
    message: Message = alternative
    if calendar is not None and method is not None:
        alternative.attach(
            _bytes("text", "calendar", calendar, ("method", method.value), ("charset", "UTF-8"))
        )
        attachment = _bytes("application", "ics", calendar)
        attachment.add_header("Content-Disposition", "attachment", filename="invite.ics")
        message = MIMEMultipart("mixed", _boundary(), [alternative, attachment])
    message["From"] = address(sender)
    message["To"] = address(recipient)
    message["Reply-To"] = address(reply_to)
    message["Subject"] = header_text(subject)
    message["Date"] = format_datetime(now)
    domain = message_domain(sender.email)
    message["Message-ID"] = (
        make_msgid("rdv", domain=domain) if message_id is None else f"<{message_id}@{domain}>"
    )
    if calendar is None:  # a notice (RFC 3834): no out-of-office reply, no reply taken back as one
        message["Auto-Submitted"] = "auto-generated"
    out = BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_SMTP).flatten(message)
    return out.getvalue()


def plain(
    *,
    organiser: Party,
    mail_from: str,
    recipient: Party,
    text: MailText,
    now: datetime,
    message_id: str | None = None,
) -> bytes:
    """A message without a calendar as an event's mail goes out (a reminder, a replay, a
    notice): From the organiser's name at `mail_from` (an address the service may send as),
    Reply-To the organiser."""
    return build(
        sender=Party(organiser.name, mail_from),
        reply_to=organiser,
        recipient=recipient,
        subject=text.subject,
        text=text.text,
        html=text.html,
        calendar=None,
        method=None,
        now=now,
        message_id=message_id,
    )
