"""Where calendar replies come from (`RDV_INBOUND_MAIL_URL`): a mailbox rdv reads over IMAP, or
an address where rdv listens and the mail server delivers over LMTP. Parsed when the settings are
loaded, so a wrong URL stops rdv at once with a line that says what is wrong (never the password).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit


@dataclass(frozen=True)
class Mailbox:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    folder: str
    tls: bool


def parse_inbound_url(url: str) -> Mailbox:
    """`imap://user:password@host:port/FOLDER` (imaps:// for TLS); ValueError says what is wrong
    without repeating the password."""
    parts = urlsplit(url)
    if parts.scheme not in ("imap", "imaps"):
        raise ValueError("RDV_INBOUND_MAIL_URL: the scheme must be imap or imaps")
    if not parts.hostname or not parts.username or parts.password is None:
        raise ValueError("RDV_INBOUND_MAIL_URL: give user, password and host (imap://u:p@host)")
    tls = parts.scheme == "imaps"
    try:
        port = parts.port or (993 if tls else 143)
    except ValueError:
        raise ValueError("RDV_INBOUND_MAIL_URL: the port is not a number") from None
    folder = unquote(parts.path.lstrip("/")) or "INBOX"
    return Mailbox(
        parts.hostname, port, unquote(parts.username), unquote(parts.password), folder, tls
    )


@dataclass(frozen=True)
class Listen:
    host: str
    port: int


def parse_lmtp_url(url: str) -> Listen:
    """`lmtp://HOST:PORT`; ValueError says what is wrong."""
    parts = urlsplit(url)
    if parts.scheme != "lmtp" or not parts.hostname:
        raise ValueError(
            "RDV_INBOUND_MAIL_URL: expected lmtp://HOST:PORT, e.g. lmtp://127.0.0.1:2424"
        )
    try:
        port = parts.port
    except ValueError:
        port = None
    if not port:
        raise ValueError("RDV_INBOUND_MAIL_URL: give the port rdv listens on, lmtp://HOST:PORT")
    if parts.username or parts.password or parts.path not in ("", "/"):
        raise ValueError("RDV_INBOUND_MAIL_URL: lmtp:// takes only a host and a port")
    return Listen(parts.hostname, port)


def parse(url: str) -> Mailbox | Listen:
    """Either kind, by the URL's scheme."""
    return parse_lmtp_url(url) if url.startswith("lmtp:") else parse_inbound_url(url)
