"""Teams attendance, told as the day goes: the service subscribes to each meeting's call events
(Graph's handshake comes to our door), people join and leave in any order with notifications
encrypted for our certificate, one leave never arrives, and the attendance report after the
meeting sets the record straight. Then what an attacker or a bad day brings: another room's
notifications, a stale or foreign validation token, a certificate we do not hold, Graph removing
a subscription, and a session longer than a subscription may live.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select
from support.fake_teams import (
    CLIENT_ID,
    CLIENT_SECRET,
    ORGANISERS,
    TENANT,
    FakeTeams,
    attendance_record,
    call_event,
    create_app,
    roster_entry,
    self_signed_certificate,
)
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

from integrations.base import NotConfigured
from integrations.teams_certificate import load_notification_key
from integrations.teams_events import client_state
from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.db.attendance import WebhookDelivery
from orchestrator.db.outcomes import OutcomeCheck
from orchestrator.settings import Settings


@pytest.fixture
def fake(clock: ManualClock) -> FakeTeams:
    return FakeTeams(now=clock.now)


@pytest.fixture
async def teams_url(fake: FakeTeams, aiohttp_server: Any) -> str:
    server = await aiohttp_server(create_app(fake))
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
def certificate(tmp_path: Path) -> Path:
    """RDV_TEAMS_CERTIFICATE as an operator makes it with openssl: a key and its certificate."""
    der, key = self_signed_certificate()
    body = base64.encodebytes(base64.b64decode(der)).decode()
    path = tmp_path / "teams.pem"
    path.write_bytes(
        key + f"-----BEGIN CERTIFICATE-----\n{body}-----END CERTIFICATE-----\n".encode()
    )
    return path


@pytest.fixture
def start_service(
    aiohttp_client: Any,
    make_settings: Callable[..., Settings],
    clock: ManualClock,
    token: Callable[..., str],
    teams_url: str,
    certificate: Path,
) -> Callable[..., Any]:
    """The service on a port of its own, so that Graph (the fake) can reach its door; started
    again, it is at the same address."""
    port = free_port()

    async def start(**overrides: Any) -> Api:
        settings = make_settings(
            teams_tenant_id=TENANT,
            teams_client_id=CLIENT_ID,
            teams_client_secret=CLIENT_SECRET,
            teams_organisers=ORGANISERS,
            teams_certificate=str(certificate),
            graph_url=teams_url,
            teams_login_url=teams_url,
            public_url=f"http://127.0.0.1:{port}",
            **overrides,
        )
        return await service_at(
            port, settings, aiohttp_client=aiohttp_client, clock=clock, token=token
        )

    return start


async def rooms(db: Any) -> dict[str, m.Room]:
    async with db() as s:
        found = await s.execute(select(m.Session.key, m.Room).join(m.Room))
        return {key: room for key, room in found.all()}


def user(name: str) -> str:
    """An Entra object id per person (people of other tenants join under their own account)."""
    return {"Ana Lopez": "7d0e5c1a-1111-4f00-9a00-00000000a0a0"}.get(
        name, f"{abs(hash(name)) % 10**8:08d}-2222-4f00-9a00-000000000000"
    )


def leg(name: str, tab: int = 0) -> str:
    return f"leg-{name.split()[0].lower()}-{tab}"


def roster(when: float, name: str, *, left: bool = False, tab: int = 0) -> tuple[float, Any]:
    return when, roster_entry(user(name), name, left=left, participant_id=leg(name, tab))


async def tell(
    fake: FakeTeams, meeting: dict[str, Any], happenings: list[tuple[float, Any]]
) -> list[int | None]:
    """Graph notifies each happening of the meeting (a roster change, or the call starting or
    ending), one delivery each, in the order given."""
    sub = fake.subscription_for(meeting["id"])
    assert sub is not None
    statuses = []
    for when, what in happenings:
        if isinstance(what, str):
            event = call_event(what, at(when), meeting["joinWebUrl"])  # type: ignore[arg-type]
        else:
            event = call_event("rosterUpdated", at(when), meeting["joinWebUrl"], [what])
        statuses.append(await fake.notify(sub["id"], [event]))
    return statuses


def meeting_of(fake: FakeTeams, room: m.Room) -> dict[str, Any]:
    return fake.meetings[room.provider_data["meeting"]]


# -- the day -------------------------------------------------------------------------------------
async def test_a_day_on_teams_subscribes_once_follows_the_roster_and_the_report_has_the_last_word(
    start_service: Callable[..., Any], fake: FakeTeams, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("teams"))
    await provision(api, clock, START - timedelta(minutes=30))

    # Each meeting is subscribed to once, after Graph checked both URLs with its handshake.
    found = await rooms(db)
    m1, m2 = meeting_of(fake, found["m1"]), meeting_of(fake, found["m2"])
    subscriptions = {
        key: fake.subscription_for(meeting["id"]) for key, meeting in (("m1", m1), ("m2", m2))
    }
    for key, sub in subscriptions.items():
        assert sub is not None
        room_key = found[key].room_key
        assert sub["notificationUrl"].endswith(f"/webhooks/teams/{room_key}")
        assert sub["lifecycleNotificationUrl"] == sub["notificationUrl"]
        assert sub["includeResourceData"] is True
        assert fake.validations.count(sub["notificationUrl"]) == 2  # both URLs: the same one
        assert len(sub["clientState"]) <= 128
        assert found[key].provider_data["subscription"] == sub["id"]
    made = len(fake.subscriptions)

    # A restart: the rooms and subscriptions are the ones already made.
    await api.client.close()
    api = await start_service()
    await provision(api, clock, START - timedelta(minutes=20))
    assert len(fake.subscriptions) == made == 2
    assert len(fake.meetings) == 2  # m1 and m2 (m3 opens half an hour before its start)

    # m1: Ana on time; Chloé late, a drop and a rejoin, and her last leave never arrives.
    # m2: Eve comes; Ben never does. Deliveries come in any order, some twice.
    m1_story = [
        (0, "callStarted"),
        roster(1, "Ana Lopez"),
        roster(8, "Chloé Martin"),
        roster(12, "Chloé Martin", left=True),
        roster(13, "Chloé Martin", tab=1),
        roster(28, "Ana Lopez", left=True),
    ]  # Chloé's leave at 24 is lost
    m2_story = [(0, "callStarted"), roster(3, "Eve Durand"), roster(26, "Eve Durand", left=True)]
    rng = random.Random(8)
    shuffled = m1_story + m1_story[2:4]
    rng.shuffle(shuffled)
    clock.set(at(29))
    assert set(await tell(fake, m1, shuffled)) == {200}
    assert set(await tell(fake, m2, m2_story[::-1])) == {200}

    live = await attendance(api)
    assert live[("m1", "Ana Lopez")]["status"] == "attended"
    assert live[("m1", "Chloé Martin")]["status"] == "late"
    assert live[("m2", "Eve Durand")]["status"] == "attended"
    assert live[("m2", "Ben Okafor")]["status"] == "late"  # not there, the meeting still on
    assert live[("m1", "Chloé Martin")]["minutes_present"] > 15  # still "in": her leave was lost

    # The rooms close: the lobby shuts, the subscriptions end, the reports are awaited.
    await provision(api, clock, END + GRACE)
    assert fake.subscription_for(m1["id"]) is None
    assert fake.meetings[m1["id"]]["lobbyBypassSettings"]["scope"] == "organizer"
    assert (await rooms(db))["m1"].provider_data["report"] == "pending"
    await outcome_checks(api)
    assert await checked(db) == set()  # not judged before the provider's record is in

    # Graph makes the reports some minutes after each call ends: "not yet", then read.
    fake.report_delay = timedelta(minutes=5)
    fake.end_meeting(
        m1["id"],
        [
            attendance_record("Ana Lopez", [(at(1), at(28))], email="ana@water.example"),
            attendance_record("Chloé Martin", [(at(8), at(12)), (at(13), at(24))], email=""),
        ],
    )
    fake.end_meeting(m2["id"], [attendance_record("Eve Durand", [(at(3), at(26))], email="")])
    reports = app_of(api)[appkeys.REPORTS]
    assert await reports.read() == 0
    clock.set(END + GRACE + timedelta(minutes=6))
    assert await reports.read() == 2
    assert await reports.read() == 0  # read once

    final = await attendance(api)
    assert final[("m1", "Chloé Martin")]["status"] == "late"
    assert final[("m1", "Chloé Martin")]["minutes_present"] == pytest.approx(15, abs=0.1)
    assert final[("m1", "Ana Lopez")]["minutes_present"] == pytest.approx(27, abs=0.1)
    assert final[("m2", "Ben Okafor")]["status"] == "no-show"
    assert final[("m2", "Eve Durand")]["status"] == "attended"
    assert [key for key, _ in final if key not in ("plenary", "m1", "m2", "m3")] == []
    assert {name for key, name in final if key == "m1"} == {"Ana Lopez", "Chloé Martin"}

    await outcome_checks(api)
    assert await checked(db) == {("m1", True), ("m2", False)}


async def outcome_checks(api: Api) -> None:
    from orchestrator.mail.outcome_questions import OutcomeQuestions

    app = app_of(api)
    await OutcomeQuestions(
        app[appkeys.DB], app[appkeys.CLOCK].now, app[appkeys.SETTINGS], app[appkeys.WRITER]
    ).queue_after()


async def checked(db: Any) -> set[tuple[str, bool]]:
    async with db() as s:
        found = await s.execute(
            select(m.Session.key, OutcomeCheck.held).join(
                OutcomeCheck, OutcomeCheck.session_id == m.Session.id
            )
        )
        return {(key, held) for key, held in found.all()}


# -- what cannot get in ----------------------------------------------------------------------------
async def test_a_notification_is_believed_only_at_its_own_rooms_address_and_with_graphs_tokens(
    start_service: Callable[..., Any], fake: FakeTeams, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("teams"))
    await provision(api, clock, START - timedelta(minutes=30))
    found = await rooms(db)
    m1, m2 = meeting_of(fake, found["m1"]), meeting_of(fake, found["m2"])
    sub1, sub2 = fake.subscription_for(m1["id"]), fake.subscription_for(m2["id"])
    assert sub1 is not None
    assert sub2 is not None
    event = call_event(
        "rosterUpdated", at(1), m1["joinWebUrl"], [roster_entry(user("Ana Lopez"), "Ana Lopez")]
    )

    # m1's notification replayed to m2's address: its clientState is not m2's.
    clock.set(at(2))
    body = {"value": [_item(fake, sub1, event)], "validationTokens": [fake.validation_token()]}
    assert (await _post(api, sub2, body)).status == 401

    # A delivery whose validation token Graph did not issue, or issued for another app.
    body = {
        "value": [_item(fake, sub1, event)],
        "validationTokens": [_token(fake, aud="other-app")],
    }
    assert (await _post(api, sub1, body)).status == 401
    forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body["validationTokens"] = [_token(fake, key=forged, kid="not-published")]
    refused = await _post(api, sub1, body)
    assert refused.status == 503  # an unknown key: fetched again, the delivery to be retried
    body["validationTokens"] = [_token(fake, iat=int((at(2) - timedelta(hours=6)).timestamp()))]
    assert (await _post(api, sub1, body)).status == 401  # expired 5 hours ago: no retry of Graph's

    # Content encrypted for a certificate we do not hold.
    other, _ = self_signed_certificate()
    stranger = dict(sub1, encryptionCertificate=other, encryptionCertificateId="theirs")
    body = {"value": [_item(fake, stranger, event)], "validationTokens": [fake.validation_token()]}
    assert (await _post(api, sub1, body)).status == 401

    assert (await attendance(api))[("m1", "Ana Lopez")]["first_join"] is None  # none believed
    # The genuine delivery goes in.
    assert await fake.notify(sub1["id"], [event]) == 200
    assert (await attendance(api))[("m1", "Ana Lopez")]["first_join"] is not None


def _item(fake: FakeTeams, sub: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    from support.fake_teams import encrypt_for

    return {
        "subscriptionId": sub["id"],
        "clientState": sub["clientState"],
        "changeType": "updated",
        "tenantId": TENANT,
        "resource": sub["resource"],
        "subscriptionExpirationDateTime": sub["expirationDateTime"],
        "resourceData": {"@odata.type": "#microsoft.graph.callevent", "id": event["id"]},
        "encryptedContent": encrypt_for(
            sub["encryptionCertificate"], sub["encryptionCertificateId"], event
        ),
    }


def _token(fake: FakeTeams, *, key: Any = None, kid: str | None = None, **claims: Any) -> str:
    """A validation token like Graph's, with some claims changed (or signed by another key)."""
    genuine = fake.validation_token()
    values = jwt.decode(genuine, options={"verify_signature": False}) | claims
    if "iat" in claims:
        values["nbf"], values["exp"] = claims["iat"], claims["iat"] + 3600
    signer, published = fake._signing()[:2]
    return jwt.encode(values, key or signer, algorithm="RS256", headers={"kid": kid or published})


async def _post(api: Api, sub: dict[str, Any], body: dict[str, Any]) -> Any:
    path = "/" + sub["notificationUrl"].split("/", 3)[3]
    return await api.client.post(
        path, data=json.dumps(body), headers={"Content-Type": "application/json"}
    )


# -- subscriptions over time -----------------------------------------------------------------------
async def test_a_subscription_graph_removes_is_made_again_and_a_long_session_is_renewed_in_time(
    start_service: Callable[..., Any], fake: FakeTeams, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service(max_session_length=timedelta(days=4))
    three_days = program_on("teams", end="2021-04-11T10:30")  # m1: a three-day stand
    await api.import_ok(three_days)
    await provision(api, clock, START - timedelta(minutes=30))
    m1 = meeting_of(fake, (await rooms(db))["m1"])
    made = fake.subscription_for(m1["id"])
    assert made is not None
    first = dict(made)  # as it was: Graph's record changes on renewal
    expires = datetime.fromisoformat(first["expirationDateTime"].replace("Z", "+00:00"))
    assert expires <= clock.now() + timedelta(minutes=4230)  # Graph's longest

    # Well before its end nothing is asked; within the last hour it is renewed.
    await provision(api, clock, expires - timedelta(hours=2))
    assert fake.subscription_for(m1["id"])["expirationDateTime"] == first["expirationDateTime"]  # type: ignore[index]
    await provision(api, clock, expires - timedelta(minutes=40))
    renewed = fake.subscription_for(m1["id"])
    assert renewed is not None
    assert renewed["id"] == first["id"]
    assert renewed["expirationDateTime"] > first["expirationDateTime"]

    # Graph removes it (its lifecycle notification comes to the same address): made again.
    assert await fake.notify_lifecycle(first["id"], "subscriptionRemoved") == 200
    assert fake.subscription_for(m1["id"]) is None
    await app_of(api)[appkeys.FOLLOWER].follow()
    again = fake.subscription_for(m1["id"])
    assert again is not None
    assert again["id"] != first["id"]
    assert (await rooms(db))["m1"].provider_data["subscription"] == again["id"]
    await app_of(api)[appkeys.FOLLOWER].follow()
    assert fake.subscription_for(m1["id"])["id"] == again["id"]  # type: ignore[index]


async def test_a_subscription_made_but_not_recorded_is_found_again_rather_than_refused(
    start_service: Callable[..., Any], fake: FakeTeams, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("teams"))
    await provision(api, clock, START - timedelta(minutes=30))
    room = (await rooms(db))["m1"]
    kept = dict(room.provider_data)
    kept.pop("subscription")  # as if the pass had crashed before writing it down
    async with db() as s, s.begin():
        await s.execute(
            m.Room.__table__.update().where(m.Room.id == room.id).values(provider_data=kept)
        )
    await app_of(api)[appkeys.FOLLOWER].follow()
    meeting = meeting_of(fake, room)
    sub = fake.subscription_for(meeting["id"])
    assert sub is not None
    assert (await rooms(db))["m1"].provider_data["subscription"] == sub["id"]
    assert len(fake.subscriptions) == 2  # m1 and m2: still one each


# -- the certificate -------------------------------------------------------------------------------
def test_the_certificate_file_is_a_key_with_or_without_its_certificate_and_is_explained_when_wrong(
    tmp_path: Path, certificate: Path
) -> None:
    with_certificate = load_notification_key(certificate)
    alone = tmp_path / "key.pem"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    alone.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    made = load_notification_key(alone)
    again = load_notification_key(alone)
    assert (made.id, made.certificate) == (again.id, again.certificate)  # the same every time
    assert made.id != with_certificate.id
    assert len(made.id) <= 128

    small = tmp_path / "small.pem"
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 (refused)
    small.write_bytes(
        weak.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    for path, words in (
        (tmp_path / "missing.pem", "cannot read"),
        (small, "2048 to 4096"),
        (tmp_path / "teams.txt", "no unencrypted PEM private key"),
    ):
        if path.suffix == ".txt":
            path.write_text("not a key")
        with pytest.raises(NotConfigured) as refused:
            load_notification_key(path)
        assert "RDV_TEAMS_CERTIFICATE" in str(refused.value)
        assert words in str(refused.value)


def test_each_rooms_client_state_is_its_own() -> None:
    secret = b"k" * 32
    assert client_state(secret, "m1-abc") != client_state(secret, "m2-abc")
    assert client_state(secret, "m1-abc") == client_state(secret, "m1-abc")
    assert client_state(b"j" * 32, "m1-abc") != client_state(secret, "m1-abc")


# -- what an outsider or a bad day brings ---------------------------------------------------------
async def test_the_handshake_echoes_its_token_and_keeps_nothing(
    start_service: Callable[..., Any], db: Any
) -> None:
    """Graph's handshake carries no credential: anyone may send one, so it is answered and
    nothing of it is kept; and only at a room's address."""
    api: Api = await start_service()
    answer = await api.client.post(
        "/webhooks/teams/m1-0a1b2c?validationToken=%3Cb%3Ehi%3C%2Fb%3E", data=b"x" * 900_000
    )
    assert answer.status == 200
    assert answer.content_type == "text/plain"
    assert await answer.text() == "<b>hi</b>"
    refused = await api.client.post("/webhooks/teams/Not A Room?validationToken=x")
    assert refused.status == 401
    too_long = await api.client.post(f"/webhooks/teams/m1-0a1b2c?validationToken={'x' * 2000}")
    assert too_long.status == 400
    async with db() as s:
        assert await s.scalar(select(func.count()).select_from(WebhookDelivery)) == 0


async def test_the_outcome_waits_for_the_report_even_when_its_pass_comes_before_the_close(
    start_service: Callable[..., Any], fake: FakeTeams, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("teams"))
    await provision(api, clock, START - timedelta(minutes=30))
    m1 = meeting_of(fake, (await rooms(db))["m1"])
    clock.set(at(29))
    await tell(fake, m1, [(0, "callStarted"), roster(1, "Ana Lopez")])  # Chloé's joins lost
    clock.set(END + GRACE)  # the outcome pass's moment, before the lifecycle closes the room
    await outcome_checks(api)
    assert await checked(db) == set()
    await provision(api, clock, END + GRACE)
    fake.end_meeting(
        m1["id"],
        [
            attendance_record("Ana Lopez", [(at(1), at(28))], email="ana@water.example"),
            attendance_record("Chloé Martin", [(at(2), at(27))], email="chloe@acme.example"),
        ],
    )
    assert await app_of(api)[appkeys.REPORTS].read() == 1
    await outcome_checks(api)
    assert ("m1", True) in await checked(db)  # held, as the report says


async def test_a_report_that_never_comes_is_given_up_even_after_days_without_a_pass(
    start_service: Callable[..., Any], fake: FakeTeams, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("teams"))
    await provision(api, clock, START - timedelta(minutes=30))
    await provision(api, clock, END + GRACE)
    assert (await rooms(db))["m1"].provider_data["report"] == "pending"
    clock.set(END + timedelta(days=3))  # the service was down over a weekend
    assert await app_of(api)[appkeys.REPORTS].read() == 0
    assert (await rooms(db))["m1"].provider_data["report"] == "none"
    await outcome_checks(api)
    assert ("m1", False) in await checked(db)  # judged from what the notifications said


async def test_a_call_that_ran_twice_has_two_reports_and_both_count(
    start_service: Callable[..., Any], fake: FakeTeams, clock: ManualClock, db: Any
) -> None:
    api: Api = await start_service()
    await api.import_ok(program_on("teams"))
    await provision(api, clock, START - timedelta(minutes=30))
    m1 = meeting_of(fake, (await rooms(db))["m1"])
    ana = attendance_record
    fake.end_meeting(m1["id"], [ana("Ana Lopez", [(at(1), at(9))], user_id=user("Ana Lopez"))])
    fake.end_meeting(m1["id"], [ana("Ana Lopez", [(at(12), at(28))], user_id=user("Ana Lopez"))])
    await provision(api, clock, END + GRACE)
    assert await app_of(api)[appkeys.REPORTS].read() == 1
    clock.set(END + timedelta(hours=1))
    row = (await attendance(api))[("m1", "Ana Lopez")]
    assert row["minutes_present"] == pytest.approx(8 + 16, abs=0.1)
