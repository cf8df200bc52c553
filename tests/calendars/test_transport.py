"""Mail transports against a real SMTP server (aiosmtpd in its own thread) and a real folder:
what arrives, over how many connections, and which failures the outbox may retry."""

from __future__ import annotations

import asyncio
import email
import re
import socket
import ssl
import subprocess
import threading
import traceback
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from calendars.transport import (
    FileTransport,
    MailTarget,
    MailTransport,
    PermanentMailError,
    TransientMailError,
    parse_mail_url,
    transport_for,
)

SENDER = "rdv@rdv.test"
CALENDAR = (
    b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//rdv//test//EN\r\nMETHOD:REQUEST\r\n"
    b"BEGIN:VEVENT\r\nUID:b2b-01@rdv.test\r\nSEQUENCE:0\r\nDTSTART:20210408T083000Z\r\n"
    b"SUMMARY:Neovision x Eau et D\xc3\xa9chets\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
)
USER = "rdv@mail.example"
PASSWORD = "p@ss:w/rd%20é"


def invite(recipient: str, subject: str = "Invitation") -> bytes:
    """A complete invite as the outbox hands it over: CRLF, 7-bit, a base64 calendar part."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = SENDER
    message["To"] = recipient
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="rdv.test")
    message.set_content("See you there.\n.A line that starts with a dot.\n")
    message.add_attachment(
        CALENDAR,
        maintype="text",
        subtype="calendar",
        cte="base64",
        params={"method": "REQUEST", "charset": "UTF-8"},
        filename="invite.ics",
    )
    return message.as_bytes()


async def deliver(
    mail: MailTransport, recipient: str, ident: str = "m1", message: bytes | None = None
) -> None:
    """Sends as the outbox does: one recipient, the complete message."""
    message = invite(recipient) if message is None else message
    await mail.send(ident=ident, sender=SENDER, recipient=recipient, message=message)


def listing(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Received:
    sender: str
    recipients: list[str]
    content: bytes
    peer: Any


@dataclass
class Recorder:
    """An aiosmtpd handler that keeps what it accepts, notes every connection (each says EHLO
    at least once) and every QUIT, and answers chosen MAIL, RCPT or DATA commands as told."""

    messages: list[Received] = field(default_factory=list)
    connections: set[Any] = field(default_factory=set)
    quits: int = 0
    refuse: dict[tuple[str, str], str] = field(default_factory=dict)
    data_delay: float = 0.0

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        self.connections.add(session.peer)
        return responses

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if reply := self.refuse.get(("MAIL", address)):
            return reply
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if reply := self.refuse.get(("RCPT", address)):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.data_delay)
        for address in envelope.rcpt_tos:
            if reply := self.refuse.get(("DATA", address)):
                return reply
        self.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.peer)
        )
        return "250 2.0.0 Message accepted"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        self.quits += 1
        return "221 Bye"


class SmtpServer:
    """A real aiosmtpd server on 127.0.0.1 that a test can stop and start again on its port."""

    def __init__(self, **options: Any) -> None:
        self.handler = Recorder()
        self.port = free_port()
        self.options = options
        self._controller: Controller | None = None

    def start(self) -> None:
        controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **self.options)
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def url(self, scheme: str = "smtp", credentials: str = "") -> str:
        return f"{scheme}://{credentials}127.0.0.1:{self.port}"


@pytest.fixture
def smtp_server() -> Iterator[Callable[..., SmtpServer]]:
    """Starts servers with aiosmtpd options: `smtp_server(auth_required=True, ...)`."""
    servers: list[SmtpServer] = []

    def start(**options: Any) -> SmtpServer:
        server = SmtpServer(**options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
async def transport(smtp_server: Any) -> AsyncIterator[Callable[..., MailTransport]]:
    """Builds transports from URLs and closes them before the servers stop."""
    made: list[MailTransport] = []

    def make(url: str, **options: Any) -> MailTransport:
        made.append(transport_for(parse_mail_url(url), **options))
        return made[-1]

    yield make
    for each in made:
        await each.aclose()


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    return context


@pytest.fixture
def client_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def accept_only(user: str, password: str) -> Callable[..., AuthResult]:
    """An aiosmtpd authenticator that lets in one user with one password."""
    expected = LoginPassword(user.encode(), password.encode())

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        return AuthResult(success=data == expected, handled=False)

    return authenticator


@pytest.fixture
def login_server(smtp_server: Any, server_tls: ssl.SSLContext) -> Callable[[str], SmtpServer]:
    """A server that takes mail only after STARTTLS and a login as USER with the given password."""

    def start(password: str) -> SmtpServer:
        server: SmtpServer = smtp_server(
            tls_context=server_tls, auth_required=True, authenticator=accept_only(USER, password)
        )
        return server

    return start


# SMTP: what arrives


async def test_a_message_arrives_byte_for_byte_with_crlf_intact_in_its_calendar_part(
    smtp_server: Any, transport: Any
) -> None:
    server = smtp_server()
    message = invite("mathieu@neovision.test")

    await transport(server.url()).send(
        ident="m1", sender=SENDER, recipient="mathieu@neovision.test", message=message
    )

    [received] = server.handler.messages
    assert (received.sender, received.recipients) == (SENDER, ["mathieu@neovision.test"])
    assert received.content == message
    parsed = email.message_from_bytes(received.content, policy=policy.default)
    [calendar] = [part for part in parsed.walk() if part.get_content_type() == "text/calendar"]
    assert calendar["Content-Transfer-Encoding"] == "base64"
    assert calendar.get_payload(decode=True) == CALENDAR


async def test_an_internationalised_address_is_sent_with_smtputf8(
    smtp_server: Any, transport: Any
) -> None:
    server = smtp_server()

    await deliver(transport(server.url()), "élodie@café.test", message=invite("x@rdv.test"))

    assert server.handler.messages[0].recipients == ["élodie@café.test"]


async def test_messages_sent_one_after_another_share_one_connection(
    smtp_server: Any, transport: Any
) -> None:
    server = smtp_server()
    mail = transport(server.url())

    for number in range(10):
        await deliver(mail, f"person{number}@rdv.test", ident=f"m{number}")

    assert len(server.handler.messages) == 10
    assert len(server.handler.connections) == 1


async def test_fifty_messages_at_once_use_no_more_connections_than_the_pool_allows(
    smtp_server: Any, transport: Any
) -> None:
    server = smtp_server()
    mail = transport(server.url(), connections=4)
    recipients = [f"person{number}@rdv.test" for number in range(50)]

    await asyncio.gather(*(deliver(mail, address, ident=address) for address in recipients))

    assert sorted(m.recipients[0] for m in server.handler.messages) == sorted(recipients)
    assert 1 <= len(server.handler.connections) <= 4


async def test_closing_the_transport_says_quit_on_every_pooled_connection(
    smtp_server: Any, transport: Any
) -> None:
    server = smtp_server()
    mail = transport(server.url(), connections=3)
    recipients = [f"person{number}@rdv.test" for number in range(9)]
    await asyncio.gather(*(deliver(mail, address, ident=address) for address in recipients))

    await mail.aclose()

    assert server.handler.quits == len(server.handler.connections)
    with pytest.raises(TransientMailError, match="closed"):
        await deliver(mail, "late@rdv.test")


# SMTP: refusals


async def test_a_recipient_rejected_with_550_is_a_permanent_failure_with_the_servers_reason(
    smtp_server: Any, transport: Any
) -> None:
    server = smtp_server()
    server.handler.refuse[("RCPT", "nobody@rdv.test")] = "550 5.1.1 <nobody@rdv.test>: user unknown"
    mail = transport(server.url())

    with pytest.raises(PermanentMailError) as refused:
        await deliver(mail, "nobody@rdv.test", ident="m1")
    await deliver(mail, "anna@rdv.test", ident="m2")

    assert refused.value.reason == "550 5.1.1 <nobody@rdv.test>: user unknown"
    assert refused.value.code == 550
    assert [m.recipients for m in server.handler.messages] == [["anna@rdv.test"]]
    assert len(server.handler.connections) == 1, "a clean refusal keeps the connection"


async def test_a_recipient_deferred_with_451_is_a_transient_failure(
    smtp_server: Any, transport: Any
) -> None:
    server = smtp_server()
    server.handler.refuse[("RCPT", "busy@rdv.test")] = "451 4.3.0 Mailbox busy, try later"

    with pytest.raises(TransientMailError) as deferred:
        await deliver(transport(server.url()), "busy@rdv.test")

    assert deferred.value.reason == "451 4.3.0 Mailbox busy, try later"
    assert deferred.value.code == 451


@pytest.mark.parametrize(
    ("command", "reply", "expected"),
    [
        ("MAIL", "553 5.7.1 Sender not allowed", PermanentMailError),
        ("MAIL", "452 4.3.1 Insufficient system storage", TransientMailError),
        ("DATA", "554 5.6.0 Message refused as spam", PermanentMailError),
        ("DATA", "450 4.7.1 Greylisted, come back later", TransientMailError),
    ],
)
async def test_a_refusal_of_the_sender_or_the_data_is_classified_by_its_code(
    smtp_server: Any, transport: Any, command: str, reply: str, expected: type[Exception]
) -> None:
    server = smtp_server()
    server.handler.refuse[(command, SENDER if command == "MAIL" else "anna@rdv.test")] = reply

    with pytest.raises(expected) as refused:
        await deliver(transport(server.url()), "anna@rdv.test")

    assert type(refused.value) is expected
    assert str(refused.value) == reply
    assert server.handler.messages == []


# SMTP: login and TLS


async def test_login_uses_the_percent_decoded_user_and_password_from_the_url(
    login_server: Any, transport: Any, client_tls: ssl.SSLContext
) -> None:
    server = login_server(PASSWORD)
    credentials = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@"

    await deliver(
        transport(server.url("smtp+starttls", credentials), tls_context=client_tls), "a@x"
    )

    assert len(server.handler.messages) == 1


async def test_a_refused_login_is_transient_and_never_shows_the_password(
    login_server: Any, transport: Any, client_tls: ssl.SSLContext
) -> None:
    server = login_server("another password")
    credentials = f"{quote(USER, safe='')}:{quote(PASSWORD, safe='')}@"
    mail = transport(server.url("smtp+starttls", credentials), tls_context=client_tls)

    with pytest.raises(TransientMailError) as refused:
        await deliver(mail, "anna@rdv.test")

    assert "refused the login: 535" in refused.value.reason
    for shown in (str(refused.value), repr(refused.value), repr(mail)):
        assert PASSWORD not in shown
        assert quote(PASSWORD, safe="") not in shown


async def test_a_server_wanting_a_login_it_did_not_get_is_a_transient_failure(
    login_server: Any, transport: Any, client_tls: ssl.SSLContext
) -> None:
    server = login_server(PASSWORD)

    with pytest.raises(TransientMailError) as refused:
        await deliver(transport(server.url("smtp+starttls"), tls_context=client_tls), "a@rdv.test")

    assert refused.value.code == 530
    assert server.handler.messages == []


async def test_starttls_delivers_once_the_certificate_is_trusted(
    smtp_server: Any, transport: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = smtp_server(tls_context=server_tls, require_starttls=True)
    mail = transport(server.url("smtp+starttls"), tls_context=client_tls)

    for number in range(3):
        await deliver(mail, "a@rdv.test", ident=f"m{number}")

    assert len(server.handler.messages) == 3
    assert len(server.handler.connections) == 1


async def test_an_untrusted_certificate_is_refused_by_default(
    smtp_server: Any, transport: Any, server_tls: ssl.SSLContext
) -> None:
    server = smtp_server(tls_context=server_tls, require_starttls=True)

    with pytest.raises(TransientMailError, match="CERTIFICATE_VERIFY_FAILED"):
        await deliver(transport(server.url("smtp+starttls")), "a@rdv.test")

    assert server.handler.messages == []


async def test_smtps_delivers_over_implicit_tls(
    smtp_server: Any, transport: Any, server_tls: ssl.SSLContext, client_tls: ssl.SSLContext
) -> None:
    server = smtp_server(ssl_context=server_tls)

    await deliver(transport(server.url("smtps"), tls_context=client_tls), "a@rdv.test")

    assert len(server.handler.messages) == 1


# SMTP: an unavailable server


async def test_a_refused_connection_is_transient(transport: Any) -> None:
    port = free_port()

    with pytest.raises(TransientMailError) as failed:
        await deliver(transport(f"smtp://127.0.0.1:{port}"), "a@rdv.test")

    assert f"127.0.0.1:{port}" in failed.value.reason
    assert failed.value.code is None


async def test_a_server_that_never_greets_times_out_as_transient(transport: Any) -> None:
    silent: list[asyncio.StreamWriter] = []

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    listener = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    try:
        with pytest.raises(TransientMailError, match=r"did not answer within 0\.3 s"):
            await deliver(transport(f"smtp://127.0.0.1:{port}", timeout=0.3), "a@rdv.test")
    finally:
        for writer in silent:
            writer.close()
        listener.close()
        await listener.wait_closed()


async def test_a_stalled_reply_to_data_times_out_and_that_connection_is_dropped(
    smtp_server: Any, transport: Any
) -> None:
    server = smtp_server()
    mail = transport(server.url(), timeout=0.3)
    server.handler.data_delay = 1.0

    with pytest.raises(TransientMailError, match="did not answer"):
        await deliver(mail, "a@rdv.test", ident="m1")
    server.handler.data_delay = 0.0
    await deliver(mail, "b@rdv.test", ident="m2")

    assert len(server.handler.connections) == 2
    assert server.handler.messages[-1].recipients == ["b@rdv.test"]


async def test_a_server_that_stops_and_comes_back_gets_the_next_message(
    smtp_server: Any, transport: Any
) -> None:
    server = smtp_server()
    mail = transport(server.url())
    await deliver(mail, "a@rdv.test", ident="m1")

    server.stop()
    with pytest.raises(TransientMailError):
        await deliver(mail, "b@rdv.test", ident="m2")
    server.start()
    await deliver(mail, "b@rdv.test", ident="m2")

    assert [m.recipients for m in server.handler.messages] == [["a@rdv.test"], ["b@rdv.test"]]
    assert len(server.handler.connections) == 2


# file://


async def test_a_relative_file_url_writes_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mail = transport_for(parse_mail_url("file://var/outbox"))
    message = invite("a@rdv.test")

    await deliver(mail, "a@rdv.test", ident="m1", message=message)

    assert (tmp_path / "var" / "outbox" / "m1.eml").read_bytes() == message


async def test_an_absolute_file_url_creates_the_missing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "deep" / "outbox"
    mail = transport_for(parse_mail_url(f"file://{folder}"))

    await deliver(mail, "a@rdv.test", ident="m1")

    assert listing(folder) == ["m1.eml"]


async def test_sending_the_same_ident_again_replaces_the_file(tmp_path: Path) -> None:
    mail = FileTransport(tmp_path)

    await deliver(mail, "a@rdv.test", ident="m1", message=b"first\r\n")
    await deliver(mail, "a@rdv.test", ident="m1", message=b"second\r\n")

    assert listing(tmp_path) == ["m1.eml"]
    assert (tmp_path / "m1.eml").read_bytes() == b"second\r\n"


async def test_file_names_are_sanitised_stay_in_the_folder_and_do_not_collide(
    tmp_path: Path,
) -> None:
    mail = FileTransport(tmp_path / "outbox")
    idents = ["<20210408.b2b-01@rdv.test>", "../../escape", "a/b", "a:b", ".hidden", "été", ""]

    for ident in idents:
        await deliver(mail, "a@rdv.test", ident=ident, message=b"x\r\n")

    names = listing(tmp_path / "outbox")
    assert len(names) == len(idents)
    for name in names:
        assert re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*\.eml", name)
    assert listing(tmp_path) == ["outbox"]
    assert mail.path_for("20210408.b2b-01_rdv.test").name == "20210408.b2b-01_rdv.test.eml"


async def test_a_reader_never_sees_a_half_written_message(tmp_path: Path) -> None:
    mail = FileTransport(tmp_path)
    versions = [b"A" * 4_000_000 + b"\r\n", b"B" * 3_000_000 + b"\r\n"]
    await deliver(mail, "a@rdv.test", ident="m1", message=versions[0])
    seen: set[bytes] = set()
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.add((tmp_path / "m1.eml").read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for number in range(20):
            await deliver(mail, "a@rdv.test", ident="m1", message=versions[number % 2])
    finally:
        done.set()
        reader.join()

    assert seen <= set(versions)
    assert listing(tmp_path) == ["m1.eml"], "no temporary file is left behind"


async def test_a_folder_that_cannot_be_written_is_a_transient_failure(tmp_path: Path) -> None:
    (tmp_path / "outbox").write_text("a file where the folder should be")
    mail = FileTransport(tmp_path / "outbox")

    with pytest.raises(TransientMailError, match="cannot write"):
        await deliver(mail, "a@rdv.test")


# RDV_MAIL_URL


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("smtp://mail.example", MailTarget("smtp", "mail.example", 25)),
        ("smtp+starttls://mail.example", MailTarget("smtp+starttls", "mail.example", 587)),
        ("SMTPS://Mail.Example:2465/", MailTarget("smtps", "mail.example", 2465)),
        (
            "smtp+starttls://rdv%40mail.example:p%40ss%3Aw@mail.example:25",
            MailTarget("smtp+starttls", "mail.example", 25, "rdv@mail.example", "p@ss:w"),
        ),
        ("smtp://relay@[::1]:2525", MailTarget("smtp", "::1", 2525, "relay")),
        ("file://var/outbox", MailTarget("file", path=Path("var/outbox"))),
        ("file:var/outbox", MailTarget("file", path=Path("var/outbox"))),
        ("file:///srv/rdv/mail%20out", MailTarget("file", path=Path("/srv/rdv/mail out"))),
        ("file:///srv/rdv/mail#1", MailTarget("file", path=Path("/srv/rdv/mail#1"))),
    ],
)
def test_mail_urls_parse_into_targets(url: str, target: MailTarget) -> None:
    assert parse_mail_url(url) == target


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("ftp://mail.example", "unknown scheme 'ftp'"),
        ("mail.example:25", "unknown scheme"),
        ("smtp://", "needs a host"),
        ("smtp://user:s3cret@:25", "needs a host"),
        ("smtp://mail.example:0", "port"),
        ("smtp://mail.example:99999", "port"),
        ("smtp://user:s3cret@mail.example:twenty-five", "port"),
        ("smtp://user:s3cr/et@mail.example", "port"),
        ("smtp://user:s3cret@[mail.example", "cannot be parsed"),
        ("smtp://:s3cret@mail.example", "without a user name"),
        ("smtp://mail.example/inbox", "takes only"),
        ("smtp://mail.example?timeout=3", "takes only"),
        ("file://", "needs a folder"),
    ],
)
def test_a_bad_mail_url_is_refused_naming_the_faulty_part_but_never_the_password(
    url: str, named: str
) -> None:
    with pytest.raises(ValueError, match="mail URL") as refused:
        parse_mail_url(url)

    assert named in str(refused.value)
    assert "s3cr" not in "".join(traceback.format_exception(refused.value))


def test_a_target_never_shows_its_password() -> None:
    target = parse_mail_url("smtps://rdv:s3cret@mail.example")

    assert target.password == "s3cret"
    assert "s3cret" not in repr(target)
    assert str(target) == "smtps://rdv:***@mail.example:465"
    assert "s3cret" not in repr(transport_for(target))
