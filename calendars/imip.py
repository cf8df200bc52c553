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
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

from .model import Method, Party

_UNSAFE = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


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
    message = EmailMessage()
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
