"""Mail transports chosen by `RDV_MAIL_URL`: pooled SMTP for production, a folder of `.eml` files
for the demo; both raise the same two errors so the outbox knows whether to retry."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aiosmtplib
from aiosmtplib import (
    SMTPDataError,
    SMTPNotSupported,
    SMTPRecipientRefused,
    SMTPRecipientsRefused,
    SMTPResponseException,
    SMTPSenderRefused,
)
from aiosmtplib.protocol import SMTPProtocol

log = logging.getLogger("rdv.outbox")

DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
# Refusals of this message (sender, recipient, content): 4xx transient, 5xx permanent.
_ABOUT_THE_MESSAGE = (SMTPSenderRefused, SMTPRecipientRefused, SMTPDataError)
# Errors after which the server has answered and reset the envelope: the connection stays usable.
_ANSWERED = (SMTPResponseException, SMTPRecipientsRefused, SMTPNotSupported)
# The file transport writes a message to a hidden `.XXXXXXXX.tmp` beside it, then renames it.
_TEMPORARY = re.compile(r"\.[a-z0-9_]+\.tmp")


class MailError(Exception):
    """A message could not be delivered; `reason` is fit for organisers and holds no secret."""

    def __init__(self, reason: str, *, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class TransientMailError(MailError):
    """Worth retrying later: the server or network is unavailable, or the setup can be fixed."""


class PermanentMailError(MailError):
    """Retrying will not help: the server refused this recipient, sender or message (5xx)."""


class MailTransport(Protocol):
    async def send(self, *, ident: str, sender: str, recipient: str, message: bytes) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class MailTarget:
    """Where mail goes, parsed from `RDV_MAIL_URL`; the password never shows in repr or str."""

    scheme: str
    host: str = ""
    port: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    path: Path | None = None

    def __str__(self) -> str:
        if self.scheme == "file":
            return f"file://{self.path}"
        user = f"{self.username}:***@" if self.username is not None else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_mail_url(url: str) -> MailTarget:
    """Parses a mail URL; errors name the faulty part and never echo the URL, which may hold a
    password."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise ValueError("mail URL: cannot be parsed (check the host part)") from None
    scheme = parts.scheme.lower()
    if scheme == "file":
        # Everything after `file://` is the folder: `file://var/outbox` is relative (urlsplit would
        # take `var` for a host), `file:///srv/mail` absolute, and `?` or `#` are plain characters.
        path = unquote(url.strip()[len("file:") :].removeprefix("//"))
        if not path:
            raise ValueError("mail URL: file:// needs a folder, e.g. file://var/outbox")
        return MailTarget(scheme="file", path=Path(path))
    if scheme not in DEFAULT_PORTS:
        shown = f"{scheme!r}" if scheme else "none"
        raise ValueError(
            f"mail URL: unknown scheme {shown}; use smtp, smtp+starttls, smtps or file"
        )
    if parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ValueError(f"mail URL: {scheme}:// takes only [user:password@]host[:port]")
    if not parts.hostname:
        raise ValueError(f"mail URL: {scheme}:// needs a host")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is not None and not 0 < port < 65536:
        raise ValueError("mail URL: the port must be a number from 1 to 65535")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and username is None:
        raise ValueError("mail URL: a password is given without a user name")
    return MailTarget(
        scheme=scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[scheme],
        username=username,
        password=password if username is not None else None,
    )


def transport_for(
    target: MailTarget,
    *,
    timeout: float = 30.0,
    connections: int = 4,
    tls_context: ssl.SSLContext | None = None,
) -> MailTransport:
    """Builds the transport for a target; `tls_context` replaces the strict default (tests trust
    their own certificate with it)."""
    if target.scheme == "file":
        assert target.path is not None
        return FileTransport(target.path)
    return SmtpTransport(target, timeout=timeout, connections=connections, tls_context=tls_context)


class SmtpTransport:
    """Sends over up to `connections` reused SMTP connections; every network step is bounded by
    `timeout`, and a connection that failed in an unknown state is dropped, never reused."""

    def __init__(
        self,
        target: MailTarget,
        *,
        timeout: float,
        connections: int,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if connections < 1:
            raise ValueError("connections must be at least 1")
        self._target = target
        self._timeout = timeout
        self._tls_context = tls_context
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[_Connection] = []
        self._closed_protocols: list[SMTPProtocol] = []
        self._closed = False

    def __repr__(self) -> str:
        return f"SmtpTransport({self._target})"

    async def send(self, *, ident: str, sender: str, recipient: str, message: bytes) -> None:
        if self._closed:
            raise TransientMailError("the mail transport is closed")
        async with self._slots:
            smtp = await self._checkout()
            reusable = False
            try:
                options = [] if (sender + recipient).isascii() else ["SMTPUTF8"]
                async with asyncio.timeout(self._timeout):
                    await smtp.sendmail(sender, [recipient], message, mail_options=options)
                reusable = True
            except ValueError as exc:
                reusable = smtp.is_connected
                raise PermanentMailError(f"address cannot be sent: {exc}") from exc
            except _ANSWERED as exc:
                reusable = smtp.is_connected
                raise self._classify(exc) from exc
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise self._classify(exc) from exc
            finally:
                if reusable and not self._closed:
                    self._idle.append(smtp)
                else:
                    smtp.close()

    async def _checkout(self) -> _Connection:
        """Returns an idle connection the server has not closed, or a new one."""
        while self._idle:
            smtp = self._idle.pop()
            if smtp.is_connected:
                return smtp
            smtp.close()
        target = self._target
        smtp = _Connection(
            self._closed_protocols,
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.scheme == "smtps",
            start_tls=target.scheme == "smtp+starttls",
            tls_context=self._tls_context,
            timeout=self._timeout,
        )
        try:
            async with asyncio.timeout(self._timeout):
                await smtp.connect()
        except (aiosmtplib.SMTPException, OSError) as exc:
            smtp.close()
            raise self._classify(exc) from exc
        return smtp

    def _classify(self, exc: BaseException) -> MailError:
        """Maps an aiosmtplib or socket error to transient or permanent, keeping the server's
        words: only a 5xx about this message (sender, recipient, data) is permanent."""
        where = f"{self._target.host}:{self._target.port}"
        kind: type[MailError] = TransientMailError
        code: int | None = None
        if isinstance(exc, SMTPRecipientsRefused) and exc.recipients:
            exc = exc.recipients[0]
        if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            code, reason = exc.code, f"{where} refused the login: {exc.code} {exc.message}"
        elif isinstance(exc, _ABOUT_THE_MESSAGE):
            # 530 is "authentication required": a setup fault an operator fixes, not the message's.
            if 500 <= exc.code < 600 and exc.code != 530:
                kind = PermanentMailError
            code, reason = exc.code, f"{exc.code} {exc.message}"
        elif isinstance(exc, SMTPResponseException):
            code, reason = exc.code, f"{where} answered {exc.code} {exc.message}"
        elif isinstance(exc, SMTPNotSupported):
            kind, reason = PermanentMailError, f"{where}: {exc}"
        elif isinstance(exc, TimeoutError):
            reason = f"{where} did not answer within {self._timeout:g} s"
        else:
            reason = f"{where}: {exc or type(exc).__name__}"
        if self._target.password:
            reason = reason.replace(self._target.password, "***")
        return kind(reason, code=code)

    async def aclose(self) -> None:
        """Says QUIT on idle connections, then waits (briefly) until every closed connection is
        really gone: a TLS shutdown takes round trips, and a loop ending first leaks sockets."""
        self._closed = True
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(smtp) for smtp in idle))
        try:
            async with asyncio.timeout(min(self._timeout, 5.0)):
                # aiosmtplib offers no event for "connection lost", hence the polling.
                while any(p.transport is not None for p in self._closed_protocols):  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
        except TimeoutError:
            pass
        self._closed_protocols.clear()

    async def _quit(self, smtp: _Connection) -> None:
        try:
            async with asyncio.timeout(min(self._timeout, 5.0)):
                await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()


class _Connection(aiosmtplib.SMTP):
    """An aiosmtplib client that reports each connection it closes, whoever closes it, so the
    transport can wait for those shutdowns to finish."""

    def __init__(self, closed: list[SMTPProtocol], **options: Any) -> None:
        super().__init__(**options)
        self._closed = closed

    def close(self) -> None:
        if self.protocol is not None:
            self._closed[:] = [p for p in self._closed if p.transport is not None]
            self._closed.append(self.protocol)
        super().close()


class FileTransport:
    """Writes one `.eml` per message, named from its ident, so a re-send replaces the earlier copy
    and a crash mid-write leaves only a hidden temporary file, which the next start removes."""

    def __init__(self, directory: Path, *, stale_after: float = 60.0) -> None:
        self.directory = directory.absolute()
        if removed := self.sweep(stale_after):
            log.info("mail: removed %d unfinished message files from %s", removed, self.directory)

    def sweep(self, stale_after: float) -> int:
        """Removes the temporary files of writes a crash cut short, older than `stale_after`
        seconds (a younger one may be another instance's write in progress); returns how many."""
        limit = time.time() - stale_after
        removed = 0
        try:
            leftovers = [p for p in self.directory.iterdir() if _TEMPORARY.fullmatch(p.name)]
        except OSError:
            return 0  # no folder yet, or not one: the first send says what is wrong
        for leftover in leftovers:
            try:
                if leftover.is_file() and leftover.stat().st_mtime < limit:
                    leftover.unlink()
                    removed += 1
            except OSError:
                continue  # gone meanwhile, or not ours to remove
        return removed

    def path_for(self, ident: str) -> Path:
        """The file for an ident; idents that needed cleaning get a hash so two never collide."""
        safe = re.sub(r"[^A-Za-z0-9._-]", "_", ident)
        if not safe or safe != ident or len(safe) > 120 or safe.startswith("."):
            digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:12]
            safe = f"{safe.lstrip('.')[:100]}-{digest}"
        return self.directory / f"{safe}.eml"

    async def send(self, *, ident: str, sender: str, recipient: str, message: bytes) -> None:
        path = self.path_for(ident)
        try:
            await asyncio.to_thread(_write_atomically, path, message)
        except OSError as exc:
            raise TransientMailError(f"cannot write {path}: {exc.strerror or exc}") from exc

    async def aclose(self) -> None:
        return None


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
