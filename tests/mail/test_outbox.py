"""The outbox survives restarts: what was sent stays sent, what was being sent when the process
died goes out once the dead sender's lease runs out, what the server accepted is marked sent
before the sender takes more, and a running service sends without help."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from support.mailsink import MailSink
from support.service import Api, ManualClock, example_program, small_program

from calendars.transport import MailTransport, parse_mail_url, transport_for
from orchestrator import appkeys
from orchestrator.app import create_app
from orchestrator.clock import SystemClock
from orchestrator.db.mail import MailMessage
from orchestrator.mail.outbox import CONCURRENCY, Delivery, OutboxSender
from orchestrator.settings import Settings
from orchestrator.tokens import mint_api_token


async def queued_event(
    aiohttp_client: Any, settings: Settings, clock: ManualClock, token: Callable[..., str]
) -> Api:
    app = create_app(settings, clock=clock, migrate=False, background=False)
    api = Api(await aiohttp_client(app), token)
    await api.import_ok(small_program())
    return api


async def test_a_sender_that_dies_mid_delivery_is_replaced_without_losing_or_doubling_mail(
    aiohttp_client: Any,
    make_settings: Callable[..., Settings],
    clock: ManualClock,
    token: Callable[..., str],
    sink: MailSink,
    db: Any,
) -> None:
    settings = make_settings(mail_url=sink.url)
    api = await queued_event(aiohttp_client, settings, clock, token)
    assert api.client.app is not None
    composers = api.client.app[appkeys.COMPOSERS]
    transport = transport_for(parse_mail_url(sink.url))
    try:
        await api.plan_mail()  # what the import recorded becomes twelve messages
        dead = OutboxSender(db, transport, clock, composers, batch=5)
        claimed = await dead._claim(clock.now())  # claims five, then the process is killed
        assert len(claimed) == 5
        survivor = OutboxSender(db, transport, clock, composers)

        assert await survivor.deliver_due() == Delivery(claimed=7, sent=7)
        assert await survivor.deliver_due() == Delivery()  # the five are still leased
        clock.advance(timedelta(minutes=6))
        assert await survivor.deliver_due() == Delivery(claimed=5, sent=5)
        clock.advance(timedelta(days=2))
        assert await OutboxSender(db, transport, clock, composers).deliver_due() == Delivery()
    finally:
        await transport.aclose()
    assert len(sink.received) == 12
    assert len({(m.recipient, m.subject) for m in sink.received}) == 12


class Watched:
    """The real transport, and before each message a look at what a crash would resend: the
    messages the server has accepted that the outbox does not show as sent."""

    def __init__(self, inner: MailTransport, sink: MailSink, db: Any) -> None:
        self.inner, self.sink, self.db = inner, sink, db
        self.unrecorded: list[int] = []

    async def send(self, *, ident: str, sender: str, recipient: str, message: bytes) -> None:
        async with self.db() as session:
            marked = await session.scalar(select(func.count()).where(MailMessage.status == "sent"))
        self.unrecorded.append(len(self.sink.received) - (marked or 0))
        await self.inner.send(ident=ident, sender=sender, recipient=recipient, message=message)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_what_the_server_accepted_is_marked_sent_before_the_sender_takes_much_more(
    make_api: Callable[..., Any], sink: MailSink, db: Any
) -> None:
    api: Api = await make_api(mail_url=sink.url)
    await api.import_ok(example_program())
    transport = Watched(transport_for(parse_mail_url(sink.url)), sink, db)
    try:
        app = api.client.app
        sent = await OutboxSender(
            db, transport, app[appkeys.CLOCK], app[appkeys.COMPOSERS]
        ).deliver_due()
    finally:
        await transport.aclose()

    assert sent == Delivery(claimed=198, sent=198)
    # A kill at any moment would send again only the messages in flight.
    assert max(transport.unrecorded) <= CONCURRENCY


async def test_a_running_service_sends_the_invites_of_an_import_right_away(
    aiohttp_client: Any,
    make_settings: Callable[..., Settings],
    token: Callable[..., str],
    sink: MailSink,
) -> None:
    app = create_app(make_settings(mail_url=sink.url), clock=SystemClock(), migrate=False)
    client = await aiohttp_client(app)
    program = small_program()
    tomorrow = (SystemClock().now() + timedelta(days=1)).date().isoformat()
    for session in program["sessions"]:  # still to come, or nobody would be invited
        session["start"] = session["start"].replace("2021-04-08", tomorrow)
        session["end"] = session["end"].replace("2021-04-08", tomorrow)
    headers = {
        "Authorization": "Bearer "
        + mint_api_token(
            app[appkeys.SETTINGS].require_secret_key(),
            role="organiser",
            event=program["event"]["slug"],
            ttl=timedelta(hours=1),
            now=SystemClock().now(),
        )
    }
    response = await client.put(
        f"/api/v1/events/{program['event']['slug']}/program", json=program, headers=headers
    )
    assert response.status == 201
    for _ in range(200):  # the sender's own pass comes every 5 s: this one was woken
        if len(sink.received) == 12:
            break
        await asyncio.sleep(0.05)
    assert len(sink.received) == 12
