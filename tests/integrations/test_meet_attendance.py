"""Meet attendance, told as the day goes: the service subscribes to each space's events (Workspace
Events, pushed by Pub/Sub with an OIDC token), people join and leave, each join is named by
reading its participant, one leave is never pushed, the open room is polled, and the conference
record after the meeting sets the record straight; a recording becomes the session's replay.
Then what cannot get in: a push without Google's token, for another audience, signed by a key
not published, or from an expired token; and Google suspending or expiring a subscription.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from support.fake_meet import LIFECYCLE, USER, FakeMeet, create_app, envelope
from support.mailsink import free_port
from support.office_day import (
    END,
    GRACE,
    START,
    app_of,
    at,
    attendance,
    program_on,
    provision,
    service_at,
)
from support.service import Api, ManualClock

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.db.replays import Replay
from orchestrator.settings import Settings


@pytest.fixture
def fake(clock: ManualClock) -> FakeMeet:
    # Its tokens follow the wall clock (the service signs its assertions by it); what happens
    # in the spaces is stamped with the day's times, and pushes are signed on the day's clock.
    return FakeMeet(push_now=clock.now)


@pytest.fixture
async def meet_url(fake: FakeMeet, aiohttp_server: Any) -> str:
    server = await aiohttp_server(create_app(fake))
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def start_service(
    aiohttp_client: Any,
    make_settings: Callable[..., Settings],
    clock: ManualClock,
    token: Callable[..., str],
    fake: FakeMeet,
    meet_url: str,
    tmp_path: Path,
) -> Callable[..., Any]:
    """The service on a port of its own, where the fake Pub/Sub pushes; started again, it is at
    the same address."""
    port = free_port()
    key = fake.key_file(tmp_path / "meet.json", meet_url)
    fake.push_endpoint = f"http://127.0.0.1:{port}/webhooks/meet"

    async def start(**overrides: Any) -> Api:
        settings = make_settings(
            meet_credentials=str(key),
            meet_user=USER,
            meet_api_url=meet_url,
            meet_events_url=meet_url,
            meet_certs_url=f"{meet_url}/oauth2/v3/certs",
            meet_topic=fake.topic,
            meet_audience=fake.audience,
            meet_push_account=fake.push_account,
            public_url=f"http://127.0.0.1:{port}",
            **overrides,
        )
        return await service_at(
            port, settings, aiohttp_client=aiohttp_client, clock=clock, token=token
        )

    return start


async def spaces(db: Any) -> dict[str, dict[str, Any]]:
    async with db() as s:
        found = await s.execute(select(m.Session.key, m.Room.provider_data).join(m.Room))
        return {key: data for key, data in found.all()}


async def pushed(fake: FakeMeet, api: Api) -> list[int | None]:
    """Pub/Sub pushes what is published; then the service names who joined."""
    statuses = await fake.push_all()
    await app_of(api)[appkeys.NAMER].drain()
    return statuses


# -- the day -------------------------------------------------------------------------------------
async def test_a_day_on_meet_subscribes_once_names_who_came_and_the_record_has_the_last_word(
    start_service: Callable[..., Any], fake: FakeMeet, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("meet"))
    await provision(api, clock, START - timedelta(minutes=30))

    # One subscription per space, to the events rdv reads, on the operator's topic.
    found = await spaces(db)
    m1, m2 = found["m1"]["space"], found["m2"]["space"]
    targets = {sub.target: sub for sub in fake.subscriptions.values()}
    assert set(targets) == {f"//meet.googleapis.com/{m1}", f"//meet.googleapis.com/{m2}"}
    assert found["m1"]["subscription"] == targets[f"//meet.googleapis.com/{m1}"].name

    # A restart: the same spaces and subscriptions.
    await api.client.close()
    api = await start_service()
    await provision(api, clock, START - timedelta(minutes=20))
    assert len(fake.subscriptions) == 2
    assert len(fake.spaces) == 2

    # m1: Ana on time, Chloé late with a drop and a rejoin; m2: Eve alone, Ben never comes.
    fake.start_conference(m1, at(0))
    ana = fake.join(m1, "Ana Lopez", user="ana@water.example", at=at(1))
    chloe = fake.join(m1, "Chloé Martin", at=at(8))
    fake.leave(chloe, at(12))
    chloe_again = fake.join(m1, "Chloé Martin", at=at(13))
    eve = fake.join(m2, "Eve Durand", at=at(3))
    clock.set(at(14))
    assert set(await pushed(fake, api)) <= {200, 204}
    assert not fake.outbox

    live = await attendance(api)
    assert live[("m1", "Ana Lopez")]["status"] == "attended"
    assert live[("m1", "Chloé Martin")]["status"] == "late"
    assert live[("m1", "Chloé Martin")]["first_join"].startswith("2021-04-08T10:38")
    assert live[("m2", "Eve Durand")]["status"] == "attended"
    assert not [
        key for key in live if key[0] == "m1" and key[1] not in ("Ana Lopez", "Chloé Martin")
    ]

    # The open rooms are polled: who is in now, by name; the poll keeps those it lists (it
    # once split a name at its space and closed the person's presence).
    assert await app_of(api)[appkeys.POLLER].poll() >= 2
    clock.set(at(20))
    polled = await attendance(api)
    assert polled[("m1", "Chloé Martin")]["minutes_present"] == pytest.approx(4 + 7, abs=0.1)
    assert polled[("m1", "Ana Lopez")]["minutes_present"] == pytest.approx(19, abs=0.1)

    # Chloé's last leave is published but never pushed (lost); the others arrive twice.
    fake.leave(chloe_again, at(24))
    lost = fake.outbox.pop()
    fake.leave(ana, at(28))
    fake.leave(eve, at(26))
    clock.set(at(29))
    again = list(fake.outbox)
    assert set(await pushed(fake, api)) <= {200, 204}
    for message in again:
        assert await fake.push(message) in (200, 204)  # a redelivery: acknowledged, nothing new
    assert lost.data["participantSession"]["name"] == chloe_again
    still = await attendance(api)
    assert still[("m1", "Chloé Martin")]["minutes_present"] > 15  # her leave never came

    # The rooms close: the conference ends, the space is restricted, the records are read.
    await provision(api, clock, END + GRACE)
    assert fake.spaces[m1].access_type == "RESTRICTED"
    assert (await spaces(db))["m1"]["report"] == "pending"
    await pushed(fake, api)  # the ended conferences
    assert await app_of(api)[appkeys.REPORTS].read() == 2

    final = await attendance(api)
    assert final[("m1", "Chloé Martin")]["status"] == "late"
    assert final[("m1", "Chloé Martin")]["minutes_present"] == pytest.approx(15, abs=0.1)
    assert final[("m1", "Ana Lopez")]["minutes_present"] == pytest.approx(27, abs=0.1)
    assert final[("m2", "Eve Durand")]["minutes_present"] == pytest.approx(23, abs=0.1)
    assert final[("m2", "Ben Okafor")]["status"] == "no-show"
    assert {name for key, name in final if key == "m1"} == {"Ana Lopez", "Chloé Martin"}


async def test_a_recording_meet_announces_becomes_the_sessions_replay(
    start_service: Callable[..., Any], fake: FakeMeet, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("meet"))
    await provision(api, clock, START - timedelta(minutes=30))
    m1 = (await spaces(db))["m1"]["space"]
    fake.start_conference(m1, at(0))
    fake.join(m1, "Ana Lopez", at=at(1))
    recording = fake.add_recording(m1, at=at(25), file_id="1rdvRecordingOfM1")
    clock.set(at(26))
    assert set(await pushed(fake, api)) <= {200, 204}
    assert await app_of(api)[appkeys.ARCHIVER].run_once() == 1
    async with db() as s:
        replay = (await s.execute(select(Replay))).scalar_one()
    assert replay.url == "https://drive.google.com/file/d/1rdvRecordingOfM1/view"
    assert replay.source.startswith("meet:")
    assert recording.startswith("conferenceRecords/")


# -- what cannot get in ----------------------------------------------------------------------------
async def test_a_push_is_believed_only_with_googles_token_for_our_audience(
    start_service: Callable[..., Any], fake: FakeMeet, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("meet"))
    await provision(api, clock, START - timedelta(minutes=30))
    m1 = (await spaces(db))["m1"]["space"]
    fake.join(m1, "Ana Lopez", at=at(1))
    message = next(msg for msg in fake.outbox if "joined" in msg.attributes["ce-type"])
    clock.set(at(2))
    stamp = int(at(2).timestamp())

    async def post(authorization: str | None) -> int:
        headers = {"Content-Type": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        answer = await api.client.post(
            "/webhooks/meet", data=json.dumps(message.body), headers=headers
        )
        return answer.status

    assert await post(None) == 401
    assert (
        await post(f"Bearer {fake.oidc_token(at(2), audience='https://elsewhere.example')}") == 401
    )
    assert await post(f"Bearer {fake.oidc_token(at(2), email_verified=False)}") == 401
    assert await post(f"Bearer {fake.oidc_token(at(2), iss='https://evil.example')}") == 401
    # Anyone can have Google sign a token for our audience: only the push's account is believed.
    other = "someone@another-project.iam.gserviceaccount.com"
    assert await post(f"Bearer {fake.oidc_token(at(2), email=other)}") == 401
    old = fake.oidc_token(at(-120))  # an hour past its expiry
    assert await post(f"Bearer {old}") == 401
    forged = _signed_elsewhere(fake, stamp)
    assert await post(f"Bearer {forged}") == 503  # a key not published: fetched, retried later
    assert (await attendance(api))[("m1", "Ana Lopez")]["first_join"] is None

    # Google rotates its key: a push signed with the new one is retried until the set is
    # fetched again (a minute at most after the first unknown key), then goes in.
    fake.rotate_push_key()
    assert await post(f"Bearer {fake.oidc_token(at(2))}") == 503
    assert await app_of(api)[appkeys.PROVIDERS].get("meet").signing_keys.refresh()
    assert await post(f"Bearer {fake.oidc_token(at(2))}") == 200
    await app_of(api)[appkeys.NAMER].drain()
    assert (await attendance(api))[("m1", "Ana Lopez")]["first_join"] is not None


def _signed_elsewhere(fake: FakeMeet, stamp: int) -> str:
    import jwt

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {
        "aud": fake.audience,
        "iss": "https://accounts.google.com",
        "email": fake.push_account,
        "email_verified": True,
        "iat": stamp,
        "exp": stamp + 3600,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "not-published"})


# -- subscriptions over time -----------------------------------------------------------------------
async def test_a_suspended_subscription_is_reactivated_and_an_expired_one_made_again(
    start_service: Callable[..., Any], fake: FakeMeet, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("meet"))
    await provision(api, clock, START - timedelta(minutes=30))
    first = (await spaces(db))["m1"]["subscription"]

    fake.suspend(first)
    clock.set(at(-20))
    assert set(await pushed(fake, api)) <= {200, 204}
    await app_of(api)[appkeys.FOLLOWER].follow()
    assert fake.subscriptions[first].state == "ACTIVE"

    fake.subscriptions[first].expires = datetime.now(UTC) - timedelta(seconds=1)
    fake.sweep()  # Google deletes it and says so
    clock.set(at(-15))
    assert set(await pushed(fake, api)) <= {200, 204}
    await app_of(api)[appkeys.FOLLOWER].follow()
    made = (await spaces(db))["m1"]["subscription"]
    assert made != first
    assert made in fake.subscriptions


async def test_a_second_subscription_for_a_space_is_refused_and_the_first_one_kept(
    start_service: Callable[..., Any], fake: FakeMeet, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("meet"))
    await provision(api, clock, START - timedelta(minutes=30))
    room = (await spaces(db))["m1"]
    kept = {key: value for key, value in room.items() if not key.startswith("subscription")}
    async with db() as s, s.begin():
        await s.execute(
            m.Room.__table__.update()
            .where(m.Room.provider_data["space"].as_string() == room["space"])
            .values(provider_data=kept)
        )
    await app_of(api)[appkeys.FOLLOWER].follow()  # ALREADY_EXISTS: the one Google has is found
    assert (await spaces(db))["m1"]["subscription"] == room["subscription"]
    assert len(fake.subscriptions) == 2


async def test_an_alarm_that_names_only_its_subscription_reaches_its_room(
    start_service: Callable[..., Any], fake: FakeMeet, clock: ManualClock, db: Any
) -> None:
    """Google's one documented example of a lifecycle event names the subscription, not its
    space: the room that keeps that subscription renews it at once."""
    api: Api = await start_service()
    await api.import_ok(program_on("meet"))
    await provision(api, clock, START - timedelta(minutes=30))
    name = (await spaces(db))["m1"]["subscription"]
    before = fake.subscriptions[name].expires
    reminder = envelope(
        {"name": name}, LIFECYCLE + "expirationReminder", {"subscription": {"name": name}}, at(-20)
    )
    clock.set(at(-20))
    token = fake.oidc_token(at(-20))
    answer = await api.client.post(
        "/webhooks/meet",
        data=json.dumps(reminder),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert answer.status == 200, await answer.text()
    await app_of(api)[appkeys.FOLLOWER].follow()
    assert (await spaces(db))["m1"].get("alarms_heard")
    assert fake.subscriptions[name].expires != before  # renewed for what the room needs
