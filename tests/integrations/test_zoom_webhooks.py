"""Zoom webhooks: signed as Zoom signs them (the documented algorithm and vectors computed from
it), the URL-validation challenge answered, tampered bodies and stale timestamps refused, meeting
ids that drift between numbers and text naming one room, and registrants mapped back to their
seats through the door and the inbox."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import select, update
from support.service import ManualClock, small_program
from support.webhook_signing import zoom_challenge, zoom_headers

from integrations.base import Recording, Room
from integrations.events import Kind, RoomRef, WebhookMalformed, WebhookRejected, Who
from integrations.zoom import ZoomProvider
from integrations.zoom_client import ZoomClient
from integrations.zoom_events import signature, verify
from orchestrator.db import models as m
from orchestrator.db.attendance import ProviderEventRow

# Computed from the documented algorithm, not published by Zoom:
# https://github.com/zoom/webhook-sample/blob/HEAD/index.js
VECTOR_SECRET = "zoom_secret_token"
VECTOR_T = 1700000000
VECTOR_BODY = (
    b'{"event":"meeting.participant_joined","event_ts":1700000000000,"payload":{"account_id":'
    b'"acc","object":{"id":"85712345678","uuid":"abc==","participant":{"user_id":"16778240",'
    b'"user_name":"Ann","participant_uuid":"P1","join_time":"2023-11-14T22:13:20Z","email":'
    b'"ann@example.com"}}}}'
)
VECTOR_SIGNATURE = "v0=7a289017e95dd8a58badd117d6d9310c6c26e2101b06072f7be8484146da5dc3"
VECTOR_PLAIN = "qgg8vlvZRS6UYooatFL8Aw"
VECTOR_ENCRYPTED = "bd48235863f4a6323ccc4963c594908b7c97f88b4a6a95278f4f093690b12726"
NOW = datetime.fromtimestamp(VECTOR_T, UTC)
SECRET = "zoom-webhook-secret-0123456789"
MEETING = "85712345678"


def dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def deliver(
    document: Any, *, now: datetime = NOW, signed_at: datetime = NOW, secret: str = VECTOR_SECRET
) -> Any:
    body = document if isinstance(document, bytes) else dumps(document)
    headers = zoom_headers(body, secret, int(signed_at.timestamp()))
    return verify(headers=headers, body=body, secret=secret, now=now)


def participant(event: str, meeting_id: Any = MEETING, **person: Any) -> dict[str, Any]:
    who = {"user_id": "16778240", "user_name": "Ann", "participant_uuid": "P1"} | person
    return {
        "event": event,
        "event_ts": 1700000000000,
        "payload": {
            "account_id": "acc",
            "object": {"id": meeting_id, "uuid": "abc==", "participant": who},
        },
    }


def test_the_documented_vector_is_accepted_and_read() -> None:
    headers = {"x-zm-request-timestamp": str(VECTOR_T), "x-zm-signature": VECTOR_SIGNATURE}
    assert signature(VECTOR_SECRET, str(VECTOR_T), VECTOR_BODY) == VECTOR_SIGNATURE

    (event,) = verify(headers=headers, body=VECTOR_BODY, secret=VECTOR_SECRET, now=NOW).events

    assert (event.provider, event.kind, event.at) == ("zoom", Kind.JOINED, NOW)
    assert event.room == RoomRef(key=MEETING)
    assert event.who == Who(connection="16778240", name="Ann", email="ann@example.com")


def test_the_url_validation_challenge_is_answered_as_documented() -> None:
    challenge = {
        "event": "endpoint.url_validation",
        "payload": {"plainToken": VECTOR_PLAIN},
        "event_ts": 1700000000000,
    }
    delivery = deliver(challenge)
    assert delivery.events == ()
    assert delivery.reply == {"plainToken": VECTOR_PLAIN, "encryptedToken": VECTOR_ENCRYPTED}
    assert zoom_challenge(VECTOR_PLAIN, VECTOR_SECRET) == VECTOR_ENCRYPTED
    with pytest.raises(WebhookRejected):  # unsigned, it is answered with nothing
        verify(headers={}, body=dumps(challenge), secret=VECTOR_SECRET, now=NOW)


def test_one_changed_byte_or_a_wrong_secret_or_timestamp_is_refused() -> None:
    headers = {"x-zm-request-timestamp": str(VECTOR_T), "x-zm-signature": VECTOR_SIGNATURE}
    for index in range(len(VECTOR_BODY)):
        changed = VECTOR_BODY[:index] + bytes([VECTOR_BODY[index] ^ 1]) + VECTOR_BODY[index + 1 :]
        with pytest.raises(WebhookRejected):
            verify(headers=headers, body=changed, secret=VECTOR_SECRET, now=NOW)
    refusals = [
        ({**headers, "x-zm-request-timestamp": str(VECTOR_T + 1)}, VECTOR_SECRET),
        (headers, "another_secret_token"),
        ({"x-zm-signature": VECTOR_SIGNATURE}, VECTOR_SECRET),
        ({"x-zm-request-timestamp": str(VECTOR_T)}, VECTOR_SECRET),
        ({**headers, "x-zm-signature": VECTOR_SIGNATURE.upper()}, VECTOR_SECRET),
        ({**headers, "x-zm-request-timestamp": "1700000000.0"}, VECTOR_SECRET),
        (headers, ""),  # no secret configured: nothing is accepted unchecked
    ]
    for given, secret in refusals:
        with pytest.raises(WebhookRejected):
            verify(headers=given, body=VECTOR_BODY, secret=secret, now=NOW)


def test_retries_within_ninety_minutes_pass_and_older_or_future_stamps_do_not() -> None:
    event = participant("meeting.participant_joined", join_time="2023-11-14T22:13:20Z")
    minute = timedelta(minutes=1)
    assert deliver(event, now=NOW + 85 * minute).events  # Zoom's last retry, stamped as at first
    assert deliver(event, now=NOW - 4 * minute).events  # our clock a little behind
    for now in (NOW + 91 * minute, NOW - 6 * minute):
        with pytest.raises(WebhookRejected, match="window"):
            deliver(event, now=now)


def test_meeting_ids_as_numbers_or_text_name_the_same_room() -> None:
    rooms = {
        deliver(participant("meeting.participant_joined", given)).events[0].room
        for given in ("85712345678", 85712345678, " 857 1234 5678", 85712345678.0)
    }
    recording = {"event": "recording.completed", "event_ts": 1700000000000}
    recording["payload"] = {"object": {"id": 85712345678, "uuid": "abc==", "share_url": "u"}}
    rooms.add(deliver(recording).events[0].room)
    assert rooms == {RoomRef(key=MEETING)}
    for wrong in (True, "85712345678a", None, -1):
        with pytest.raises(WebhookMalformed):
            deliver(participant("meeting.participant_joined", wrong))


def test_a_registrant_is_named_by_registrant_id_and_email_on_join_and_leave() -> None:
    person = {"registrant_id": "reg-ana", "email": "ana@water.example", "user_name": "Ana"}
    (joined,) = deliver(
        participant("meeting.participant_joined", join_time="2023-11-14T22:13:20Z", **person)
    ).events
    (left,) = deliver(
        participant("meeting.participant_left", leave_time="2023-11-14T22:40:00Z", **person)
    ).events
    assert joined.who == left.who == Who("16778240", "reg-ana", None, "Ana", "ana@water.example")
    assert (joined.kind, left.kind) == (Kind.JOINED, Kind.LEFT)
    assert left.at == datetime(2023, 11, 14, 22, 40, tzinfo=UTC)


def test_meeting_started_and_ended_time_the_room_and_ended_closes_it() -> None:
    ended = {
        "event": "meeting.ended",
        "event_ts": 1700003600000,
        "payload": {
            "object": {
                "id": MEETING,
                "uuid": "abc==",
                "start_time": "2023-11-14T22:00:00Z",
                "end_time": "2023-11-14T23:00:05Z",
            }
        },
    }
    (event,) = deliver(ended).events
    assert (event.kind, event.at, event.who) == (
        Kind.ROOM_ENDED,
        datetime(2023, 11, 14, 23, 0, 5, tzinfo=UTC),
        None,
    )
    ended["event"] = "meeting.started"
    assert deliver(ended).events[0].kind is Kind.ROOM_STARTED


async def test_recording_completed_announces_the_share_page_and_keeps_no_download_token() -> None:
    body = {
        "event": "recording.completed",
        "event_ts": 1700007200000,
        "download_token": "secret-download-token",
        "payload": {
            "object": {
                "id": 85712345678,
                "uuid": "abc==",
                "duration": 25,
                "share_url": "https://zoom.example/rec/share/XyZ",
                "recording_play_passcode": "p/w+1",
                "recording_files": [{"download_url": "https://zoom.example/rec/download/1"}],
            }
        },
    }
    (event,) = deliver(body).events
    assert event.kind is Kind.RECORDING_READY
    share = "https://zoom.example/rec/share/XyZ?pwd=p%2Fw%2B1"
    assert event.details == {"share_url": share, "duration": "25", "uuid": "abc=="}
    provider = ZoomProvider(cast(ZoomClient, None), ("host@rdv.example",))
    found = await provider.recording(Room("k", {"room": MEETING}), event.details, at=NOW)
    assert found == Recording(url=share, duration_seconds=25 * 60)  # the share page lasts


def test_a_redelivery_keeps_its_dedupe_key_and_a_rejoin_gets_its_own() -> None:
    joined = participant("meeting.participant_joined", join_time="2023-11-14T22:13:20Z")
    first = deliver(joined).events[0]
    again = deliver(json.dumps(joined, indent=2).encode(), signed_at=NOW + timedelta(minutes=5))
    assert again.events[0].dedupe_key == first.dedupe_key  # re-encoded, re-stamped: same event
    rejoined = participant(
        "meeting.participant_joined", user_id="16779264", join_time="2023-11-14T22:20:00Z"
    )
    left = participant("meeting.participant_left", leave_time="2023-11-14T22:19:00Z")
    keys = {deliver(item).events[0].dedupe_key for item in (joined, rejoined, left)}
    assert len(keys) == 3


def test_other_events_are_acknowledged_and_garbage_never_crashes() -> None:
    (other,) = deliver({"event": "meeting.sharing_started", "payload": {"object": {}}}).events
    assert other.kind is Kind.OTHER
    rng = random.Random(8)
    shapes: list[Any] = [
        b"", b"null", b"[]", b'{"event":', b"\xff\xfe", b'{"payload":[]}',
        {"event": "meeting.participant_joined", "payload": {"object": {"id": MEETING}}},
        {"event": "meeting.participant_left", "payload": {"object": {"participant": {}}}},
        {"event": "meeting.ended", "payload": {"object": {"id": MEETING, "end_time": "soon"}}},
        participant("meeting.participant_joined", join_time="9999-99-99"),
        participant("meeting.participant_joined", join_time="1970-01-01T00:00:00Z"),
    ]  # fmt: skip
    shapes += [bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 60))) for _ in range(200)]
    for shape in shapes:
        with contextlib.suppress(WebhookRejected, WebhookMalformed):
            deliver(shape)
    headers = {"x-zm-request-timestamp": "\x00" * 3, "x-zm-signature": "v0=\udcff"}
    with pytest.raises(WebhookRejected):
        verify(headers=headers, body=VECTOR_BODY, secret=SECRET, now=NOW)


# -- through the door ---------------------------------------------------------------------------
async def zoom_service(make_api: Callable[..., Any], clock: ManualClock, db: Any) -> Any:
    """small_program on Zoom, its m1 room made as the lifecycle makes it, Ana registered."""
    api = await make_api(
        zoom_account_id="acc",
        zoom_client_id="client",
        zoom_client_secret="client-secret-0123456789",
        zoom_webhook_secret=SECRET,
        zoom_hosts=("host1@rdv.example", "host2@rdv.example", "host3@rdv.example"),
    )
    program = small_program()
    program["event"]["provider"] = "zoom"
    assert (await api.put_program(program)).status == 201
    async with db() as s, s.begin():
        ana = await s.scalar(
            select(m.Attendee.id)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
            .where(m.Person.key == "ana", m.Session.key == "m1")
        )
        m1 = select(m.Session.id).where(m.Session.key == "m1").scalar_subquery()
        await s.execute(
            update(m.Room)
            .where(m.Room.session_id == m1)
            .values(
                state="ready",
                provisioned_with="zoom",
                external_id=MEETING,
                provider_data={
                    "room": MEETING,
                    "host": "host1@rdv.example",
                    "seat_ids": {"reg-ana": f"rdv-a{ana}"},
                },
            )
        )
    return api, ana


async def post(api: Any, document: Any, at: datetime, secret: str = SECRET) -> Any:
    body = dumps(document)
    headers = zoom_headers(body, secret, int(at.timestamp()))
    return await api.client.post("/webhooks/zoom", data=body, headers=headers)


async def test_the_door_answers_the_challenge_and_maps_a_registrant_to_her_seat(
    make_api: Callable[..., Any], clock: ManualClock, db: Any
) -> None:
    api, ana = await zoom_service(make_api, clock, db)
    challenge = {"event": "endpoint.url_validation", "payload": {"plainToken": VECTOR_PLAIN}}
    answer = await post(api, challenge, clock.now())
    assert answer.status == 200
    assert await answer.json() == {
        "plainToken": VECTOR_PLAIN,
        "encryptedToken": zoom_challenge(VECTOR_PLAIN, SECRET),
    }

    at = datetime(2021, 4, 8, 8, 29, tzinfo=UTC)
    clock.set(at + timedelta(seconds=3))
    # Logged in to Zoom with another address: the registrant id still says who she is.
    ana_joined = participant(
        "meeting.participant_joined",
        join_time="2021-04-08T08:29:00Z",
        registrant_id="reg-ana",
        email="ana.lopez@home.example",
        user_name="Ana L.",
    )
    chloe_joined = participant(  # no registration of hers is known: her email says who she is
        "meeting.participant_joined",
        user_id="16779264",
        participant_uuid="P2",
        join_time="2021-04-08T08:30:00Z",
        email="chloe@acme.example",
        user_name="Chloé",
    )
    for document in (ana_joined, chloe_joined):
        response = await post(api, document, clock.now())
        assert response.status == 200
        assert await response.json() == {"accepted": 1, "duplicates": 0}
    tampered = dumps(ana_joined).replace(b"08:29:00", b"08:20:00")
    headers = zoom_headers(dumps(ana_joined), SECRET, int(clock.now().timestamp()))
    refused = await api.client.post("/webhooks/zoom", data=tampered, headers=headers)
    assert refused.status == 401
    stale = await post(api, ana_joined, clock.now() - timedelta(hours=2))
    assert stale.status == 401

    async with db() as s:
        rows = (
            await s.execute(
                select(ProviderEventRow.attendee_id, ProviderEventRow.participant_email)
                .where(ProviderEventRow.kind == "joined")
                .order_by(ProviderEventRow.at)
            )
        ).all()
    assert rows == [(ana, "ana.lopez@home.example"), (None, "chloe@acme.example")]
    clock.set(datetime(2021, 4, 8, 12, 0, tzinfo=UTC))
    response = await api.client.get(
        "/api/v1/events/meet-the-buyers/attendance?session=m1",
        headers=api.headers("meet-the-buyers"),
    )
    lines = {row["person"]: row for row in (await response.json())["attendance"]}
    assert (lines["ana"]["status"], lines["chloe"]["status"]) == ("attended", "attended")
    assert lines["ana"]["sources"] == ["zoom"]
