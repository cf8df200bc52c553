"""The fake Google's Workspace Events API and Pub/Sub push (tests/support/fake_meet.py), checked
against reference/meet.md over real HTTP, so that tests of the `meet` provider's events can trust
it: a subscription per space and user, renewed, deleted and expiring as Google's; Meet events
wrapped as Pub/Sub pushes them, signed by keys its JWKS publishes, and redelivered until acked."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from support.fake_meet import (
    CREATED,
    ENDED,
    JOINED,
    LEFT,
    LIFECYCLE,
    MEET_EVENTS,
    PUSH_SUBSCRIPTION,
    RECORDED,
    STARTED,
    TOPIC,
    USER,
    FakeMeet,
    create_app,
    envelope,
    google_time,
    user_id,
)
from support.service import ManualClock

SUBSCRIPTION = "type.googleapis.com/google.apps.events.subscriptions.v1.Subscription"
ISSUERS = ["https://accounts.google.com", "accounts.google.com"]


@dataclass
class Google:
    """rdv's side of the calls: one session, the delegated user's token."""

    http: aiohttp.ClientSession
    base: str
    token: str

    async def __call__(
        self, method: str, path: str, body: Any = None, **query: str
    ) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.request(
            method, self.base + path, json=body, params=query, headers=headers
        ) as answer:
            return answer.status, await answer.json()


@dataclass
class Receiver:
    """rdv's webhook as Pub/Sub sees it: it answers the queued statuses, then 204."""

    answers: list[int] = field(default_factory=list)
    taken: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def take(self, request: web.Request) -> web.Response:
        headers = request.headers
        self.taken.append((headers["Authorization"], headers["Content-Type"], await request.json()))
        return web.Response(status=self.answers.pop(0) if self.answers else 204)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime.now(UTC).replace(microsecond=0))  # real: PyJWT checks `exp`


@pytest.fixture
def fake(clock: ManualClock) -> FakeMeet:
    return FakeMeet(now=clock.now)


@pytest.fixture
async def base(fake: FakeMeet, aiohttp_server: Any) -> str:
    server = await aiohttp_server(create_app(fake))
    return str(server.make_url("")).rstrip("/")


@pytest.fixture
async def google(fake: FakeMeet, base: str) -> AsyncIterator[Google]:
    async with aiohttp.ClientSession() as http:
        yield Google(http, base, fake.grant(USER, [CREATED]))


@pytest.fixture
async def receiver(fake: FakeMeet, aiohttp_server: Any) -> Receiver:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/webhooks/meet", receiver.take)
    fake.push_endpoint = str((await aiohttp_server(app)).make_url("/webhooks/meet"))
    return receiver


def asked(space: str, *types: str, **fields: Any) -> dict[str, Any]:
    """A subscription request as reference/meet.md section 3 writes it."""
    body = {"targetResource": f"//meet.googleapis.com/{space}", "eventTypes": list(types)}
    return body | {"notificationEndpoint": {"pubsubTopic": TOPIC}, "ttl": "0s"} | fields


async def subscribe(google: Google, space: str, *types: str, **fields: Any) -> dict[str, Any]:
    status, operation = await google("POST", "/v1/subscriptions", asked(space, *types, **fields))
    assert status == 200, operation
    response: dict[str, Any] = operation["response"]
    return response


def decoded(body: dict[str, Any]) -> Any:
    return json.loads(base64.b64decode(body["message"]["data"]))


# -- subscriptions ---------------------------------------------------------------------------------
async def test_a_subscription_to_a_space_answers_a_done_operation_holding_it(
    fake: FakeMeet, google: Google
) -> None:
    space = fake.add_space()
    status, operation = await google("POST", "/v1/subscriptions", asked(space.name, JOINED, LEFT))
    assert status == 200
    assert operation["done"] is True
    assert operation["name"].startswith("operations/")
    sub = operation["response"]
    assert sub["@type"] == SUBSCRIPTION
    assert sub["name"].startswith("subscriptions/")
    assert sub["targetResource"] == f"//meet.googleapis.com/{space.name}"
    assert (sub["eventTypes"], sub["state"]) == ([JOINED, LEFT], "ACTIVE")
    assert (sub["authority"], sub["notificationEndpoint"]) == (
        user_id(USER),
        {"pubsubTopic": TOPIC},
    )
    lifetime = datetime.fromisoformat(sub["expireTime"]) - datetime.fromisoformat(sub["createTime"])
    assert lifetime == timedelta(days=7)  # "0s": the maximum
    assert "reconciling" not in sub  # false, so left out
    status, got = await google("GET", f"/v1/{sub['name']}")
    assert (status, got) == (200, {k: v for k, v in sub.items() if k != "@type"})


async def test_a_second_subscription_to_the_space_already_exists_whatever_its_types(
    fake: FakeMeet, google: Google
) -> None:
    space = fake.add_space()
    first = await subscribe(google, space.name, JOINED)
    status, refused = await google("POST", "/v1/subscriptions", asked(space.name, ENDED))
    assert status == 409
    assert refused["error"]["status"] == "ALREADY_EXISTS"
    assert first["name"] not in json.dumps(refused)  # the reference's open question 1
    assert list(fake.subscriptions) == [first["name"]]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"eventTypes": ["google.workspace.meet.participant.v2.updated"]}, 400, "INVALID_ARGUMENT"),
        ({"eventTypes": []}, 400, "INVALID_ARGUMENT"),
        ({"payloadOptions": {"includeResource": True}}, 400, "INVALID_ARGUMENT"),
        ({"ttl": f"{7 * 86400 + 1}s"}, 400, "INVALID_ARGUMENT"),
        ({"notificationEndpoint": {"pubsubTopic": "meet-events"}}, 400, "INVALID_ARGUMENT"),
        (
            {"notificationEndpoint": {"pubsubTopic": "projects/someone-else/topics/meet-events"}},
            *(400, "INVALID_ARGUMENT"),
        ),
        (
            {"notificationEndpoint": {"pubsubTopic": f"{TOPIC.rpartition('/')[0]}/other"}},
            *(403, "PERMISSION_DENIED"),
        ),
        ({"targetResource": "//meet.googleapis.com/spaces/gone"}, 404, "NOT_FOUND"),
    ],
    ids=[
        "unknown-type",
        "no-type",
        "include-resource",
        "ttl-over-7-days",
        "bad-topic",
        "other-project",
        "unpublishable-topic",
        "no-space",
    ],
)
async def test_a_subscription_google_would_refuse_is_refused(
    fake: FakeMeet, google: Google, changes: dict[str, Any], status: int, code: str
) -> None:
    space = fake.add_space()
    answer, refused = await google("POST", "/v1/subscriptions", asked(space.name, JOINED) | changes)
    assert (answer, refused["error"]["code"], refused["error"]["status"]) == (status, status, code)
    assert fake.subscriptions == {}


async def test_a_pending_operation_is_done_on_its_next_get(fake: FakeMeet, google: Google) -> None:
    fake.pending_operations = True
    space = fake.add_space()
    status, operation = await google("POST", "/v1/subscriptions", asked(space.name, JOINED))
    assert status == 200
    assert "done" not in operation  # false: left out, like the response
    assert "response" not in operation
    status, polled = await google("GET", f"/v1/{operation['name']}")
    assert (status, polled["done"]) == (200, True)
    assert polled["response"]["@type"] == SUBSCRIPTION
    assert polled["response"]["state"] == "ACTIVE"
    assert "reconciling" not in polled["response"]


async def test_a_list_needs_a_filter_naming_an_event_type_and_comes_in_pages(
    fake: FakeMeet, google: Google
) -> None:
    spaces = [fake.add_space() for _ in range(3)]
    for space in spaces:
        await subscribe(google, space.name, JOINED, LEFT)
    target = f'target_resource="//meet.googleapis.com/{spaces[1].name}"'
    for refused in ({}, {"filter": target}, {"filter": f'event_types="{JOINED}" OR {target}'}):
        status, body = await google("GET", "/v1/subscriptions", **refused)
        assert (status, body["error"]["status"]) == (400, "INVALID_ARGUMENT")
    status, page = await google(
        "GET", "/v1/subscriptions", filter=f'event_types:"{JOINED}"', pageSize="2"
    )
    assert (status, len(page["subscriptions"])) == (200, 2)
    _, rest = await google(
        "GET",
        "/v1/subscriptions",
        filter=f'event_types:"{JOINED}"',
        pageSize="2",
        pageToken=page["nextPageToken"],
    )
    assert len(rest["subscriptions"]) == 1
    assert "nextPageToken" not in rest
    _, one = await google("GET", "/v1/subscriptions", filter=f'event_types:"{LEFT}" AND {target}')
    assert [s["targetResource"] for s in one["subscriptions"]] == [target.split('"')[1]]
    _, none = await google("GET", "/v1/subscriptions", filter=f'event_types:"{ENDED}"')
    assert none == {}


async def test_renewal_moves_the_expiry_and_a_deleted_subscription_is_gone(
    fake: FakeMeet, google: Google, clock: ManualClock
) -> None:
    sub = await subscribe(google, fake.add_space().name, JOINED, ttl="3600s")
    assert datetime.fromisoformat(sub["expireTime"]) == clock.now() + timedelta(hours=1)
    clock.advance(timedelta(minutes=30))
    status, renewed = await google("PATCH", f"/v1/{sub['name']}", {"ttl": "0s"}, updateMask="ttl")
    assert status == 200
    assert datetime.fromisoformat(renewed["response"]["expireTime"]) == clock.now() + timedelta(
        days=7
    )
    assert renewed["response"]["etag"] != sub["etag"]
    wanted = clock.now() + timedelta(days=2)
    _, moved = await google(
        "PATCH", f"/v1/{sub['name']}", {"expireTime": google_time(wanted)}, updateMask="expire_time"
    )
    assert datetime.fromisoformat(moved["response"]["expireTime"]) == wanted

    status, deleted = await google("DELETE", f"/v1/{sub['name']}")
    assert (status, deleted["done"]) == (200, True)
    assert deleted["response"] == {"@type": "type.googleapis.com/google.protobuf.Empty"}
    assert (await google("GET", f"/v1/{sub['name']}"))[0] == 404
    assert (await google("DELETE", f"/v1/{sub['name']}"))[0] == 404
    assert (await google("DELETE", f"/v1/{sub['name']}", allowMissing="true"))[0] == 200


async def test_past_its_expiry_a_subscription_is_gone_and_says_so(
    fake: FakeMeet, google: Google, clock: ManualClock
) -> None:
    space = fake.add_space()
    sub = await subscribe(google, space.name, JOINED, ttl="60s")
    clock.advance(timedelta(seconds=61))
    status, missing = await google("GET", f"/v1/{sub['name']}")
    assert (status, missing["error"]["status"]) == (404, "NOT_FOUND")
    assert (await google("GET", "/v1/subscriptions", filter=f'event_types:"{JOINED}"'))[1] == {}
    fake.join(space.name, "Ana Lopez")  # nobody is told
    (expired,) = fake.outbox
    attributes = expired.attributes
    assert attributes["ce-type"] == LIFECYCLE + "expired"
    source = f"//workspaceevents.googleapis.com/{sub['name']}"
    assert attributes["ce-source"] == attributes["ce-subject"] == source
    assert expired.data["subscription"]["name"] == sub["name"]
    assert attributes["ce-time"] == sub["expireTime"]


async def test_a_suspended_subscription_says_why_and_hears_nothing_until_reactivated(
    fake: FakeMeet, google: Google
) -> None:
    space = fake.add_space()
    sub = await subscribe(google, space.name, JOINED)
    assert (await google("POST", f"/v1/{sub['name']}:reactivate", {}))[0] == 400  # not suspended
    fake.suspend(sub["name"])
    (suspended,) = fake.outbox
    assert suspended.attributes["ce-type"] == LIFECYCLE + "suspended"
    assert suspended.attributes["ce-subject"] == suspended.attributes["ce-source"]
    assert suspended.data["subscription"]["suspensionReason"] == "ENDPOINT_PERMISSION_DENIED"
    fake.join(space.name, "Ana Lopez")
    assert len(fake.outbox) == 1
    status, reactivated = await google("POST", f"/v1/{sub['name']}:reactivate", {})
    assert (status, reactivated["response"]["state"]) == (200, "ACTIVE")
    assert "suspensionReason" not in reactivated["response"]
    session = fake.join(space.name, "Ben Okafor")
    assert fake.outbox[-1].data == {"participantSession": {"name": session}}


# -- events and their push -------------------------------------------------------------------------
async def test_a_conference_publishes_its_events_as_pubsub_pushes_them(
    fake: FakeMeet, google: Google, clock: ManualClock
) -> None:
    space, quiet = fake.add_space(), fake.add_space()
    sub = await subscribe(google, space.name, *MEET_EVENTS[:4])
    fake.join(quiet.name, "Nobody Listens")
    at = clock.now() + timedelta(seconds=5, microseconds=123456)
    ana = fake.join(space.name, "Ana Lopez", at=at)
    fake.leave(ana, at=at + timedelta(minutes=1))
    ben = fake.join(space.name, "Ben Okafor", at=at + timedelta(minutes=2))
    record = fake.end_conference(space.name, at=at + timedelta(minutes=3))
    assert [(m.attributes["ce-type"], m.data) for m in fake.outbox] == [
        (STARTED, {"conferenceRecord": {"name": record}}),
        (JOINED, {"participantSession": {"name": ana}}),
        (LEFT, {"participantSession": {"name": ana}}),
        (JOINED, {"participantSession": {"name": ben}}),
        (LEFT, {"participantSession": {"name": ben}}),  # the end closes the open session
        (ENDED, {"conferenceRecord": {"name": record}}),
    ]
    joined = fake.outbox[1].body
    assert joined["subscription"] == PUSH_SUBSCRIPTION
    message = joined["message"]
    assert message["attributes"] == {
        "ce-datacontenttype": "application/json",
        "ce-id": message["attributes"]["ce-id"],
        "ce-source": f"//workspaceevents.googleapis.com/{sub['name']}",
        "ce-specversion": "1.0",
        "ce-subject": f"//meet.googleapis.com/{space.name}",
        "ce-time": google_time(at),
        "ce-type": JOINED,
    }
    assert message["messageId"] == message["message_id"]
    assert message["publishTime"] == message["publish_time"]
    assert decoded(joined) == {"participantSession": {"name": ana}}
    assert len({m.body["message"]["messageId"] for m in fake.outbox}) == 6
    assert len({m.attributes["ce-id"] for m in fake.outbox}) == 6


async def test_the_envelope_is_what_google_events_parses_as_a_published_message() -> None:
    pubsub = pytest.importorskip("google.events.cloud.pubsub_v1")
    sub = {
        "name": "subscriptions/c2VjcmV0LXN1Yg",
        "targetResource": "//meet.googleapis.com/spaces/x",
    }
    at = datetime(2026, 12, 7, 10, 2, 11, 123456, tzinfo=UTC)
    data = {"recording": {"name": "conferenceRecords/abc-123/recordings/rec-1"}}
    body = envelope(sub, RECORDED, data, at, message_id="2070443601311540")
    assert body == envelope(sub, RECORDED, data, at, message_id="2070443601311540")
    parsed = pubsub.MessagePublishedData.from_json(json.dumps(body))
    assert parsed.subscription == PUSH_SUBSCRIPTION
    assert parsed.message.message_id == "2070443601311540"
    assert parsed.message.ordering_key == "//workspaceevents.googleapis.com/" + sub["name"]
    assert json.loads(parsed.message.data) == data
    assert dict(parsed.message.attributes)["ce-type"] == RECORDED
    assert parsed.message.publish_time == at


async def test_a_push_carries_a_token_that_the_published_keys_verify(
    fake: FakeMeet, base: str, google: Google, receiver: Receiver
) -> None:
    space = fake.add_space()
    await subscribe(google, space.name, JOINED)
    fake.join(space.name, "Ana Lopez")
    old_kid = jwt.get_unverified_header(fake.oidc_token())["kid"]
    assert await fake.push() == 204
    new_kid = fake.rotate_push_key()
    fake.join(space.name, "Ben Okafor")
    assert await fake.push_all() == [204]
    assert fake.outbox == []
    async with google.http.get(f"{base}/oauth2/v3/certs") as answer:
        assert "max-age=" in answer.headers["Cache-Control"]
        keys = jwt.PyJWKSet.from_dict(await answer.json())
    assert {key.key_id for key in keys.keys} == {old_kid, new_kid}  # the old one stays
    kids = []
    for authorization, content_type, body in receiver.taken:
        token = authorization.removeprefix("Bearer ")
        kids.append(jwt.get_unverified_header(token)["kid"])
        claims = jwt.decode(
            token, keys[kids[-1]].key, algorithms=["RS256"], audience=fake.audience, issuer=ISSUERS
        )
        assert (claims["email"], claims["email_verified"]) == (fake.push_account, True)
        assert claims["exp"] - claims["iat"] == 3600
        assert content_type == "application/json"
        assert body["message"]["attributes"]["ce-type"] == JOINED
    assert kids == [old_kid, new_kid]
    elsewhere = fake.oidc_token(audience="https://elsewhere.example/")
    with pytest.raises(jwt.InvalidAudienceError):
        jwt.decode(elsewhere, keys[new_kid].key, algorithms=["RS256"], audience=fake.audience)
    unverified = jwt.decode(
        fake.oidc_token(email_verified=None), options={"verify_signature": False}
    )
    assert "email_verified" not in unverified


async def test_a_refused_push_stays_and_comes_again_with_the_same_ids(
    fake: FakeMeet, google: Google, receiver: Receiver
) -> None:
    space = fake.add_space()
    await subscribe(google, space.name, JOINED)
    fake.join(space.name, "Ana Lopez")
    receiver.answers = [503]
    assert await fake.push() == 503
    assert len(fake.outbox) == 1
    assert await fake.push() == 204
    assert fake.outbox == []
    first, again = (body["message"] for _, _, body in receiver.taken)
    assert (first["messageId"], first["attributes"]["ce-id"]) == (
        again["messageId"],
        again["attributes"]["ce-id"],
    )
    assert [p.status for p in fake.pushes] == [503, 204]
    fake.join(space.name, "Ben Okafor")
    fake.push_endpoint = "http://127.0.0.1:9/webhooks/meet"  # nobody answers
    assert await fake.push() is None
    assert len(fake.outbox) == 1


# -- what rdv reads after an event -----------------------------------------------------------------
async def test_the_session_participant_and_recordings_an_event_names_can_be_read(
    fake: FakeMeet, google: Google, clock: ManualClock
) -> None:
    space = fake.add_space()
    await subscribe(google, space.name, RECORDED)
    session = fake.join(space.name, "Ana Lopez", at=clock.now())
    status, got = await google("GET", f"/v2/{session}")
    assert (status, got) == (200, {"name": session, "startTime": google_time(clock.now())})
    participant = session.rpartition("/participantSessions/")[0]
    status, who = await google("GET", f"/v2/{participant}")
    assert (status, who["anonymousUser"]) == (200, {"displayName": "Ana Lopez"})
    assert (await google("GET", f"/v2/{participant}/participantSessions/nope"))[0] == 404

    record = fake.end_conference(space.name, at=clock.now() + timedelta(hours=1))
    first = fake.add_recording(space.name, at=clock.now() + timedelta(hours=1, minutes=5))
    second = fake.add_recording(
        record, at=clock.now() + timedelta(hours=1, minutes=6), file_id="1x"
    )
    assert [m.data for m in fake.outbox] == [{"recording": {"name": n}} for n in (first, second)]
    status, page = await google("GET", f"/v2/{record}/recordings", pageSize="1")
    assert (status, [r["name"] for r in page["recordings"]]) == (200, [first])  # oldest first
    _, rest = await google("GET", f"/v2/{record}/recordings", pageToken=page["nextPageToken"])
    assert [r["name"] for r in rest["recordings"]] == [second]
    status, recording = await google("GET", f"/v2/{second}")
    assert (status, recording["state"]) == (200, "FILE_GENERATED")
    assert recording["driveDestination"] == {
        "file": "1x",
        "exportUri": "https://drive.google.com/file/d/1x/view",
    }
