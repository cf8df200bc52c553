"""The cluster's CRM follows the event through outbound webhooks. Its developer subscribes the
CRM's receiver; from then on every change reaches it signed as the Standard Webhooks
specification says, checked here by that specification's own Python library: a meeting moved or
cancelled, a seat declined by phone, the meetings held or not once their rooms close, a no-show,
what came of a meeting, a company's meeting request. A receiver that is down gets its deliveries
later, each under the same `webhook-id`; one down for a day is marked failing, and the organiser
resends what it missed once it is back. A receiver inside rdv's own network is refused."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from sqlalchemy import func, select
from support.deliveries import JITSI_SECRET, headers, occupant, provisioned, seat
from support.matchmaking import OPEN_DAY, post, requests_open
from support.receiver import Receiver
from support.service import TEST_SECRET, Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.api.schemas.subscriptions import EventType
from orchestrator.db import models as m
from orchestrator.db.outbound import OutboundDelivery, OutboundMessage, OutboundSubscription, emit
from orchestrator.db.outcomes import MeetingOutcome
from orchestrator.mail.outcome_questions import OutcomeQuestions
from orchestrator.outbound.sender import Sent, WebhookSender
from orchestrator.participants.erasure import forget
from webhooks.addresses import refusal
from webhooks.outbound import EVENT_TYPES

SLUG = "meet-the-buyers"
HOOKS = f"/api/v1/events/{SLUG}/webhooks"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def crm(aiohttp_server: Any, receiver: Receiver) -> str:
    """The receiver's address, on loopback (so the apps below allow private receivers)."""
    server = await aiohttp_server(receiver.app())
    return str(server.make_url("/hooks/rdv"))


@pytest.fixture
async def api(make_api: Callable[..., Any]) -> Api:
    api: Api = await make_api(
        jitsi_webhook_secret=JITSI_SECRET,
        public_url="http://rdv.test",
        webhook_allow_private=True,
    )
    await api.import_ok(small_program())
    return api


def sender(api: Api) -> WebhookSender:
    app = api.client.app
    assert app is not None
    return app[appkeys.WEBHOOKS_OUT]


async def subscribe(api: Api, receiver: Receiver, url: str, **asked: Any) -> dict[str, Any]:
    made = await api.client.post(HOOKS, headers=api.headers(SLUG), json={"url": url, **asked})
    assert made.status == 201, await made.text()
    body: dict[str, Any] = await made.json()
    assert body["secret"].startswith("whsec_")
    receiver.secret = body["secret"]
    return body


async def listed(api: Api) -> list[dict[str, Any]]:
    answer = await api.client.get(HOOKS, headers=api.headers(SLUG))
    assert answer.status == 200
    subscriptions: list[dict[str, Any]] = (await answer.json())["subscriptions"]
    assert all("secret" not in item for item in subscriptions)  # shown once, when made
    return subscriptions


async def messages(db: Any) -> int:
    async with db() as session:
        return int(await session.scalar(select(func.count()).select_from(OutboundMessage)) or 0)


async def test_the_crm_receives_every_change_of_the_day_signed_as_the_standard_says(
    api: Api, db: Any, clock: ManualClock, receiver: Receiver, crm: str
) -> None:
    assert await messages(db) == 0  # the import came before anyone listened: nothing stored
    await subscribe(api, receiver, crm)

    moved = await api.patch(SLUG, "m3", {"start": "2021-04-08T11:30", "end": "2021-04-08T12:00"})
    assert moved.status == 200
    assert (await api.delete(SLUG, "plenary")).status == 200
    phoned = await api.client.put(
        f"/api/v1/events/{SLUG}/sessions/m2/attendees/eve/answer",
        headers=api.headers(SLUG),
        json={"answer": "declined", "reason": "Un client à voir ce jour-là"},
    )
    assert phoned.status == 200
    # The day: Chloé and Ana meet for 22 minutes; Ben waits alone for Eve.
    clock.set(M1_START + timedelta(minutes=1))
    for session, people in (("m1", ("chloe", "ana")), ("m2", ("ben",))):
        room = await provisioned(api, db, session)
        for person in people:
            _, seat_id, _ = await seat(db, person, session)
            for kind, at in (("joined", M1_START), ("left", M1_START + timedelta(minutes=22))):
                body = occupant(kind, room, seat_id, person.title(), at)
                assert (await api.client.post("/webhooks/jitsi", headers=headers(), data=body)).ok
    clock.set(M1_START + timedelta(minutes=65))  # both rooms closed
    app = api.client.app
    assert app is not None
    await OutcomeQuestions(
        app[appkeys.DB], clock.now, app[appkeys.SETTINGS], app[appkeys.WRITER]
    ).queue_due()
    async with db() as session:
        token = await session.scalar(
            select(MeetingOutcome.token)
            .join(m.Person, m.Person.id == MeetingOutcome.person_id)
            .where(m.Person.key == "chloe")
        )
    clicked = await api.client.post(
        f"/o/{token}", data={"answer": "cooperation-possible"}, allow_redirects=False
    )
    assert clicked.status == 303

    assert await sender(api).deliver_due() == Sent(claimed=7, delivered=7)
    assert receiver.forged == 0
    assert Counter(receiver.types()) == {  # m3 closes later: it is not checked yet
        "session.changed": 1,
        "session.cancelled": 1,
        "seat.answered": 1,
        "meeting.held": 1,
        "meeting.not-held": 1,
        "attendee.no-show": 1,
        "outcome.recorded": 1,
    }
    assert len(set(receiver.ids())) == 7

    (move,) = receiver.of("session.changed")
    assert move["event"] == SLUG
    assert move["change"] == "changed"
    assert move["fields"] == ["start", "end"]
    assert move["session"]["start"] == "2021-04-08T09:30:00Z"  # 11:30 in Paris, in UTC
    assert move["session"]["attendees"] == [
        {"person": "ben", "organisation": "roads", "role": "attendee"},
        {"person": "dan", "organisation": "acme", "role": "attendee"},
    ]
    (cancelled,) = receiver.of("session.cancelled")
    assert (cancelled["session"]["key"], cancelled["session"]["kind"]) == ("plenary", "plenary")
    (phone,) = receiver.of("seat.answered")
    assert phone == {
        "event": SLUG,
        "session": "m2",
        "person": "eve",
        "organisation": "globex",
        "answer": "declined",
        "source": "organiser",
        "reason": "Un client à voir ce jour-là",
    }
    (held,) = receiver.of("meeting.held")
    assert held["session"]["key"] == "m1"
    assert held["together_minutes"] == 22.0
    assert {line["person"]: (line["status"], line["minutes"]) for line in held["attendees"]} == {
        "chloe": ("left-early", 22.0),  # of thirty minutes
        "ana": ("left-early", 22.0),
    }
    (not_held,) = receiver.of("meeting.not-held")
    assert (not_held["session"]["key"], not_held["reason"]) == ("m2", "one-side-came")
    (no_show,) = receiver.of("attendee.no-show")
    assert no_show == {
        "event": SLUG,
        "session": "m2",
        "person": "eve",
        "organisation": "globex",
        "answer": "declined",  # she had said so: a no-show with notice
    }
    (outcome,) = receiver.of("outcome.recorded")
    assert outcome["person"] == "chloe"
    assert (outcome["stage"], outcome["answer"]) == ("after", "cooperation-possible")
    # No name and no email in what was sent: people are named by their keys.
    everything = b"".join(item.body for item in receiver.accepted)
    assert b"@" not in everything
    assert "Chloé".encode() not in everything

    assert await sender(api).deliver_due() == Sent()  # each once
    (subscription,) = await listed(api)
    assert subscription["state"] == "active"
    assert {item["status"] for item in subscription["recent"]} == {"delivered"}


async def test_a_request_sent_and_accepted_reaches_a_receiver_that_asked_only_for_requests(
    make_api: Callable[..., Any], clock: ManualClock, db: Any, receiver: Receiver, crm: str
) -> None:
    api: Api = await make_api(public_url="http://rdv.test", webhook_allow_private=True)
    await api.import_ok(requests_open())
    clock.set(OPEN_DAY)
    await subscribe(api, receiver, crm, events=["request.changed"])
    async with db() as session:
        tokens = dict((await session.execute(select(m.Person.key, m.Person.feed_token))).all())
    said = await post(
        api, f"/me/{tokens['chloe']}/requests/ask", to="water", message="Nos capteurs de chlore"
    )
    assert "Your request is sent" in said
    await post(api, f"/me/{tokens['ana']}/requests/1/answer", answer="accepted")
    await api.patch(SLUG, "m1", {"title": "Not for this receiver"})
    await sender(api).deliver_due()

    assert receiver.types() == ["request.changed", "request.changed"]
    sent, accepted = receiver.of("request.changed")
    assert (sent["state"], accepted["state"]) == ("pending", "accepted")
    assert sent["company"] == "acme"
    assert sent["from"] == "chloe"
    assert sent["directorate"] == "water"
    assert sent["message"] == "Nos capteurs de chlore"
    assert accepted["to"] == "ana"  # the buyer who accepted is the one who comes


async def test_a_receiver_down_for_a_while_gets_each_change_once_under_its_first_id(
    api: Api, clock: ManualClock, receiver: Receiver, crm: str
) -> None:
    await subscribe(api, receiver, crm)
    receiver.failing = 503
    await api.patch(SLUG, "m1", {"title": "Acme × Water (salle 2)"})
    await api.patch(SLUG, "m2", {"title": "Globex × Roads (salle 3)"})

    assert await sender(api).deliver_due() == Sent(claimed=2, retrying=2)
    (subscription,) = await listed(api)
    waiting = subscription["recent"]
    assert [item["status"] for item in waiting] == ["pending", "pending"]
    assert {item["last_error"] for item in waiting} == {"the receiver answered 503"}
    clock.advance(timedelta(seconds=10))
    assert await sender(api).deliver_due() == Sent()  # not due yet: the backoff holds
    clock.advance(timedelta(minutes=2))
    assert await sender(api).deliver_due() == Sent(claimed=2, retrying=2)
    assert receiver.refused == 4

    receiver.failing = None
    clock.advance(timedelta(minutes=5))
    assert await sender(api).deliver_due() == Sent(claimed=2, delivered=2)
    assert sorted(receiver.ids()) == sorted(item["webhook_id"] for item in waiting)
    assert sorted(d["session"]["title"] for d in receiver.of("session.changed")) == [
        "Acme × Water (salle 2)",
        "Globex × Roads (salle 3)",
    ]
    clock.advance(timedelta(hours=2))
    assert await sender(api).deliver_due() == Sent()
    assert len(receiver.accepted) == 2


async def test_a_receiver_down_for_a_day_is_marked_failing_and_the_organiser_resends(
    api: Api, clock: ManualClock, receiver: Receiver, crm: str
) -> None:
    await subscribe(api, receiver, crm)
    receiver.failing = 500
    await api.patch(SLUG, "m1", {"title": "Acme × Water (salle 2)"})
    for _ in range(60):
        done = await sender(api).deliver_due()
        if done.failed:
            break
        clock.advance(timedelta(hours=1))
    else:
        pytest.fail("the delivery was retried for more than 60 hours")
    (subscription,) = await listed(api)
    assert subscription["state"] == "failing"
    assert subscription["failing_since"] is not None
    (lost,) = subscription["recent"]
    assert lost["status"] == "failed"
    assert lost["last_error"] == "gave up after 24 h: the receiver answered 500"
    assert 10 <= lost["attempts"] <= 40
    assert receiver.accepted == []

    receiver.failing = None
    again = await api.client.post(
        f"{HOOKS}/deliveries/{lost['id']}/resend", headers=api.headers(SLUG)
    )
    assert again.status == 200
    assert (await again.json())["webhook_id"] == lost["webhook_id"]
    assert await sender(api).deliver_due() == Sent(claimed=1, delivered=1)
    assert receiver.ids() == [lost["webhook_id"]]
    (subscription,) = await listed(api)
    assert subscription["state"] == "active"
    follow = await api.client.get(HOOKS, headers=api.headers(SLUG, "followup"))
    assert follow.status == 403  # addresses may hold a receiver's credentials


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://crm.example/hooks", "must start with https://"),
        ("https://127.0.0.1/hooks", "names a loopback address"),
        ("https://localhost:8443/hooks", "names a loopback address"),
        ("https://[::1]/hooks", "names a loopback address"),
        ("https://10.20.30.40/hooks", "names a private address"),
        ("https://169.254.169.254/latest", "names a link-local address"),
        ("https://crm:s3cret@crm.example/hooks", "must not hold a user name or password"),
        ("https:///hooks", "names no host"),
        ("https://127.0.0.1./hooks", "names a loopback address"),
        ("https://[2002:7f00:1::]/hooks", "names a loopback address"),  # 6to4 of 127.0.0.1
        ("https://2130706433/hooks", "the host is not a valid address"),
        ("https://0x7f.1/hooks", "the host is not a valid address"),
        ("https://a..b/hooks", "the host is not a valid name"),
        ("", "give the receiver's address"),
    ],
)
async def test_a_receiver_inside_rdvs_network_or_without_https_is_refused(
    make_api: Callable[..., Any], db: Any, url: str, why: str
) -> None:
    api: Api = await make_api()
    await api.import_ok(small_program())
    refused = await api.client.post(HOOKS, headers=api.headers(SLUG), json={"url": url})
    assert refused.status == 422
    assert why in (await refused.json())["error"]["message"]
    async with db() as session:
        assert await session.scalar(select(func.count()).select_from(OutboundSubscription)) == 0


async def stored_subscription(db: Any, clock: ManualClock, url: str) -> int:
    """A subscription written as it stands, past the checks of `subscribe` (one made before
    the operator changed a setting, or whose name resolves elsewhere since), with a change."""
    async with db() as session, session.begin():
        event_id = await session.scalar(select(m.Event.id))
        assert event_id is not None
        subscription = OutboundSubscription(
            event_id=event_id,
            url=url,
            secret="whsec_" + "A" * 32,
            event_types=["session.changed"],
            created_at=clock.now(),
        )
        session.add(subscription)
        await session.flush()
        await emit(session, event_id, [("session.changed", {"event": SLUG})], clock.now())
        return subscription.id


async def test_a_name_that_resolves_inside_the_network_is_refused_when_it_is_called(
    make_api: Callable[..., Any], db: Any, clock: ManualClock, receiver: Receiver, crm: str
) -> None:
    """A name checked at subscription time may resolve elsewhere later (DNS rebinding): each
    connection checks what it resolves to. This machine's own name resolves to itself."""
    host = socket.gethostname()
    found = {info[4][0] for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)}
    if not all(refusal(address) for address in found):
        pytest.skip(f"{host} resolves to a public address here")
    api: Api = await make_api()
    await api.import_ok(small_program())
    port = crm.split(":")[2].split("/")[0]
    await stored_subscription(db, clock, f"https://{host}:{port}/hooks/rdv")
    assert await sender(api).deliver_due() == Sent(claimed=1, failed=1)
    (subscription,) = await listed(api)
    assert subscription["recent"][0]["last_error"].startswith(f"refused: {host} resolves to a")
    assert subscription["state"] == "failing"
    assert receiver.accepted == []
    assert receiver.refused == 0


@pytest.mark.parametrize(
    "address",
    ["http://127.0.0.1:{port}/hooks/rdv", "http://[::ffff:127.0.0.1]:{port}/hooks/rdv"],
)
async def test_a_private_receiver_made_before_the_operator_forbade_them_gets_nothing(
    make_api: Callable[..., Any],
    db: Any,
    clock: ManualClock,
    receiver: Receiver,
    crm: str,
    address: str,
) -> None:
    api: Api = await make_api()  # RDV_WEBHOOK_ALLOW_PRIVATE is off now
    await api.import_ok(small_program())
    port = crm.split(":")[2].split("/")[0]
    await stored_subscription(db, clock, address.format(port=port))
    assert await sender(api).deliver_due() == Sent(claimed=1, failed=1)
    assert receiver.accepted == []
    assert receiver.refused == 0


async def test_an_address_no_resolver_takes_fails_alone_and_the_others_are_delivered(
    api: Api, db: Any, clock: ManualClock, receiver: Receiver, crm: str
) -> None:
    """A receiver's name with an empty label made every pass fail, for every event: now it
    fails alone, once, and the good receiver gets its message once."""
    await subscribe(api, receiver, crm, events=["session.changed"])
    await stored_subscription(db, clock, "https://a..b/hooks")
    await api.patch(SLUG, "m1", {"title": "Acme × Water (salle 2)"})
    done = await sender(api).deliver_due()
    assert (done.delivered, done.failed) == (2, 2)  # the stored change and m1's, to each
    clock.advance(timedelta(hours=2))
    assert await sender(api).deliver_due() == Sent()
    assert len(receiver.accepted) == 2
    assert (
        await api.client.post(HOOKS, headers=api.headers(SLUG), json={"url": "https://a..b/x"})
    ).status == 422


async def test_an_ended_subscription_is_not_retried_by_the_attempt_that_was_in_flight(
    api: Api, db: Any, clock: ManualClock, receiver: Receiver, crm: str
) -> None:
    made = await subscribe(api, receiver, crm)
    receiver.failing = 503
    await api.patch(SLUG, "m1", {"title": "Acme × Water (salle 2)"})

    async def end_it() -> None:  # the organiser ends it while a delivery is in flight
        ended = await api.client.delete(f"{HOOKS}/{made['id']}", headers=api.headers(SLUG))
        assert ended.status == 204

    receiver.meanwhile = end_it
    await sender(api).deliver_due()
    receiver.meanwhile = None
    clock.advance(timedelta(hours=2))
    assert await sender(api).deliver_due() == Sent()
    assert receiver.refused == 1
    async with db() as session:
        (status,) = (await session.execute(select(OutboundDelivery.status))).scalars()
    assert status == "failed"


async def test_unknown_event_types_and_strangers_are_refused(api: Api, crm: str) -> None:
    wrong = await api.client.post(
        HOOKS, headers=api.headers(SLUG), json={"url": crm, "events": ["meeting.happened"]}
    )
    assert wrong.status == 400
    assert "events" in (await wrong.json())["error"]["message"]
    stranger = await api.client.post(
        HOOKS, headers=api.headers(SLUG, "followup"), json={"url": crm}
    )
    assert stranger.status == 403
    nowhere = await api.client.post(
        "/api/v1/events/no-such-event/webhooks",
        headers=api.headers("no-such-event"),
        json={"url": crm},
    )
    assert nowhere.status == 404


async def test_an_ended_subscription_gets_nothing_more_and_a_refused_change_announces_nothing(
    api: Api, db: Any, receiver: Receiver, crm: str
) -> None:
    made = await subscribe(api, receiver, crm)
    await api.patch(SLUG, "m1", {"title": "Acme × Water (salle 2)"})
    broken = await api.patch(SLUG, "m1", {"end": "2021-04-08T08:00"})  # before its start
    assert broken.status == 422
    assert await messages(db) == 1  # the refused change stored nothing

    ended = await api.client.delete(f"{HOOKS}/{made['id']}", headers=api.headers(SLUG))
    assert ended.status == 204
    await api.patch(SLUG, "m2", {"title": "Globex × Roads (salle 3)"})
    assert await messages(db) == 1
    assert await sender(api).deliver_due() == Sent()  # what waited is not sent either
    assert receiver.accepted == []
    assert await listed(api) == []
    again = await api.client.delete(f"{HOOKS}/{made['id']}", headers=api.headers(SLUG))
    assert again.status == 404


async def test_what_was_sent_is_forgotten_after_the_retention_and_what_waits_is_kept(
    api: Api, db: Any, clock: ManualClock, receiver: Receiver, crm: str
) -> None:
    await subscribe(api, receiver, crm)
    await api.patch(SLUG, "m1", {"title": "Acme × Water (salle 2)"})
    await sender(api).deliver_due()
    clock.advance(timedelta(days=29))
    receiver.failing = 503
    await api.patch(SLUG, "m2", {"title": "Globex × Roads (salle 3)"})
    await sender(api).deliver_due()  # waits for its retry
    assert await sender(api).forget_old(timedelta(days=30)) == 0
    clock.advance(timedelta(days=2))
    assert await sender(api).forget_old(timedelta(days=30)) == 1  # the delivered one
    assert await messages(db) == 1
    (subscription,) = await listed(api)
    assert [item["type"] for item in subscription["recent"]] == ["session.changed"]
    assert subscription["waiting"] == 1


def test_the_api_describes_exactly_the_event_types_rdv_sends() -> None:
    assert get_args(EventType) == EVENT_TYPES


async def test_a_seat_handed_to_a_colleague_reaches_the_crm_as_a_changed_session(
    api: Api, db: Any, receiver: Receiver, crm: str
) -> None:
    await subscribe(api, receiver, crm, events=["session.changed"])
    async with db() as session:
        token = await session.scalar(select(m.Person.feed_token).where(m.Person.key == "chloe"))
    handed = await api.client.post(
        f"/me/{token}/m1/handover", data={"colleague": "dan"}, allow_redirects=False
    )
    assert handed.status == 303
    await sender(api).deliver_due()
    (changed,) = receiver.of("session.changed")
    assert changed["fields"] == ["attendees"]
    assert [a["person"] for a in changed["session"]["attendees"]] == ["ana", "dan"]


async def test_a_pass_of_slow_receivers_keeps_its_claim_on_what_it_has_not_sent_yet(
    make_api: Callable[..., Any], db: Any, clock: ManualClock, aiohttp_server: Any
) -> None:
    """Another instance takes over deliveries whose lease lapsed: a pass still working on them
    renews it, so they are not sent twice (and one that died lets them go after the lease)."""
    slow = Receiver()
    original = slow.take

    async def take(request: Any) -> Any:
        await asyncio.sleep(0.3)
        return await original(request)

    slow.take = take  # type: ignore[method-assign]
    server = await aiohttp_server(slow.app())
    api: Api = await make_api(webhook_allow_private=True)
    await api.import_ok(small_program())
    await subscribe(api, slow, str(server.make_url("/hooks/rdv")))
    for key in ("m1", "m2", "m3"):
        await api.patch(SLUG, key, {"title": f"{key} (salle 2)"})
    app = api.client.app
    assert app is not None
    one_at_a_time = WebhookSender(
        app[appkeys.DB],
        clock,
        allow_private=True,
        concurrency=1,
        lease=timedelta(seconds=0.2),
    )
    started = clock.now()
    passing = asyncio.create_task(one_at_a_time.deliver_due())
    await asyncio.sleep(0.05)
    clock.advance(timedelta(minutes=1))  # time goes on while the first receiver answers
    await asyncio.sleep(0.2)
    async with db() as session:
        leases = sorted(
            (await session.execute(select(OutboundDelivery.lease_until))).scalars(),
            key=lambda lease: lease or started,
        )
    assert leases[-1] is not None
    assert leases[-1] > started + timedelta(minutes=1)  # renewed since the claim
    assert await passing == Sent(claimed=3, delivered=3)
    await one_at_a_time.close()
    assert len(slow.accepted) == 3


async def test_an_erased_person_is_in_nothing_left_to_send_or_resend(
    api: Api, db: Any, clock: ManualClock, receiver: Receiver, crm: str
) -> None:
    await subscribe(api, receiver, crm)
    await api.patch(SLUG, "m1", {"title": "Acme × Water (salle 2)"})  # Chloé and Ana
    await sender(api).deliver_due()
    receiver.failing = 503  # what follows waits
    phoned = await api.client.put(
        f"/api/v1/events/{SLUG}/sessions/m2/attendees/eve/answer",
        headers=api.headers(SLUG),
        json={"answer": "declined", "reason": "Eve Durand, rappelez-moi"},
    )
    assert phoned.status == 200
    await api.patch(SLUG, "m3", {"title": "Acme × Roads (salle 4)"})  # Dan and Ben
    async with db() as session, session.begin():
        done = await forget(
            session, slug=SLUG, email="eve@globex.example", now=clock.now(), secret=TEST_SECRET
        )
    assert done is not None
    async with db() as session:
        bodies = list((await session.scalars(select(OutboundMessage.body))).all())
    assert len(bodies) == 2  # m1 (delivered) and m3 (waiting): Eve's answer is gone
    assert not any(b'"eve"' in body or b"Eve" in body for body in bodies)
    receiver.failing = None
    clock.advance(timedelta(hours=1))
    await sender(api).deliver_due()
    assert [item["session"]["key"] for item in receiver.of("session.changed")] == ["m1", "m3"]
    assert receiver.of("seat.answered") == []
