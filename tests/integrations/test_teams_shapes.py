"""The fake Graph's answers, read by Microsoft's own Python models (msgraph-sdk, parsed with
kiota's JSON parse node, no HTTP stack: reference/teams.md, section 10) as an independent check
of their shapes. Our client makes every call over real HTTP; a trace on its session keeps the raw
answers, which the SDK then parses. Each field our code relies on must come through typed, and
the keys the SDK does not model (its `additional_data`) are only the ones explained here.

Not checked with the SDK, because it has no fitting model: the notification envelope (there is
no changeNotificationCollection model) and the decrypted call event as a whole (`CallEvent`
reads `callEventType` and `participants`, Graph sends `eventType` and `participants@delta`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, TypeVar

import aiohttp
import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from support.fake_teams import (
    CLIENT_ID,
    CLIENT_SECRET,
    GRAPH_PUBLISHER,
    ORGANISERS,
    POLICY_MESSAGE,
    TENANT,
    FakeTeams,
    attendance_record,
    call_event,
    create_app,
    roster_entry,
    self_signed_certificate,
)
from yarl import URL

from integrations.base import ProviderUnavailable
from integrations.teams import CLOSED_LOBBY, OPEN_LOBBY
from integrations.teams_certificate import NotificationKey, decrypt
from integrations.teams_client import AccessPolicyMissing, TeamsClient

pytest.importorskip("msgraph")
pytest.importorskip("kiota_serialization_json")

from kiota_abstractions.serialization import Parsable, ParsableFactory
from kiota_serialization_json.json_parse_node_factory import JsonParseNodeFactory
from msgraph.generated.models.attendance_record_collection_response import (
    AttendanceRecordCollectionResponse,
)
from msgraph.generated.models.call_event import CallEvent
from msgraph.generated.models.lobby_bypass_scope import LobbyBypassScope
from msgraph.generated.models.meeting_attendance_report_collection_response import (
    MeetingAttendanceReportCollectionResponse,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.online_meeting import OnlineMeeting
from msgraph.generated.models.online_meeting_presenters import (
    OnlineMeetingPresenters,
)
from msgraph.generated.models.participant import Participant
from msgraph.generated.models.subscription import Subscription

START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
END = START + timedelta(minutes=30)
ORGANISER = ORGANISERS[0]
CERTIFICATE_ID = "rdv-shapes-certificate"
CLIENT_STATE = "room-state-of-the-shape-tests"
P = TypeVar("P", bound=Parsable)

# Keys of the fake's answers that the SDK's (v1.0) models lack, where they sit and why the fake
# is right to send them. Any other key landing in `additional_data` is a shape to look at.
MEETING_EXTRAS = {
    # all three are in Graph's documented v1.0 meeting answers (createOrGet, POST onlineMeetings)
    ".": {"autoAdmittedUsers"},
    ".participants": {"producers", "contributors"},
    # the SDK reads identitySet.user as the base identity: id and displayName only
    ".participants.organizer.identity.user": {"tenantId", "identityProvider"},
}
RECORD_EXTRAS = {".value[].identity": {"tenantId"}}  # base identity (reference/teams.md 10)
SUBSCRIPTION_EXTRAS = {".": {"notificationContentType"}}  # a beta property; the SDK is v1.0
PARTICIPANT_EXTRAS = {".info.identity.user": {"tenantId"}}  # reference/teams.md 10
ERROR_EXTRAS = {".error.inner_error": {"code", "message", "status"}}  # Graph's 429 sample (6)


@dataclass
class Answer:
    """One answer the fake gave our client, as it came over the wire."""

    method: str
    url: URL
    status: int
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Answers:
    """Every answer our client's session received (a trace on the session: no call changes)."""

    seen: list[Answer] = field(default_factory=list)

    def trace(self) -> aiohttp.TraceConfig:
        config = aiohttp.TraceConfig()

        async def ended(
            _session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            response = params.response
            context.answer = Answer(
                params.method, params.url, response.status, dict(response.headers)
            )
            self.seen.append(context.answer)

        async def body(
            _session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceResponseChunkReceivedParams,
        ) -> None:
            context.answer.body += params.chunk

        config.on_request_end.append(ended)
        config.on_response_chunk_received.append(body)
        return config

    def to(self, method: str, path_end: str) -> list[Answer]:
        return [a for a in self.seen if a.method == method and a.url.path.endswith(path_end)]


@dataclass
class Receiver:
    """Our side of the subscription: answers Graph's handshake, keeps what is delivered."""

    url: str
    bodies: list[dict[str, Any]]


@dataclass
class Subscribed:
    meeting_join_url: str
    answer: Answer
    key: NotificationKey
    receiver: Receiver


def parse(body: bytes, model: ParsableFactory[P]) -> P:
    """The SDK's reading of a JSON answer (reference/teams.md 10)."""
    node = JsonParseNodeFactory().get_root_parse_node("application/json", body)
    return node.get_object_value(model)


def strays(model: object, path: str = "") -> dict[str, set[str]]:
    """The keys the SDK did not recognise, by where they sit (`[]` for list items); OData
    annotations (`@odata.context`, `…@odata.nextLink`) are not fields, so they are left out."""
    found: dict[str, set[str]] = {}
    extra = {key for key in getattr(model, "additional_data", None) or {} if "@" not in key}
    if extra:
        found[path or "."] = extra
    for name, value in vars(model).items():
        many = isinstance(value, list)
        for item in value if many else [value]:
            if hasattr(item, "get_field_deserializers"):  # a kiota model
                for place, keys in strays(item, f"{path}.{name}{'[]' if many else ''}").items():
                    found.setdefault(place, set()).update(keys)
    return found


def assert_only_known_strays(model: object, known: dict[str, set[str]]) -> None:
    for place, keys in strays(model).items():
        assert keys <= known.get(place, set()), f"the SDK does not model {keys} at {place}"


@pytest.fixture
def fake(request: pytest.FixtureRequest) -> FakeTeams:
    return FakeTeams(**getattr(request, "param", {}))


@pytest.fixture
def answers() -> Answers:
    return Answers()


@pytest.fixture
async def client(
    fake: FakeTeams, answers: Answers, aiohttp_server: Callable[..., Any]
) -> AsyncIterator[TeamsClient]:
    server = await aiohttp_server(create_app(fake))
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession(trace_configs=[answers.trace()]) as session:
        yield TeamsClient(
            session,
            tenant_id=TENANT,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            graph_url=url,
            login_url=url,
        )


@pytest.fixture
async def receiver(aiohttp_server: Callable[..., Any]) -> Receiver:
    bodies: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        if token is not None:  # the handshake: the decoded token back, as plain text (7.3)
            return web.Response(text=token, content_type="text/plain")
        bodies.append(await request.json())
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/webhooks/teams/room", hook)
    server: TestServer = await aiohttp_server(app)
    return Receiver(str(server.make_url("/webhooks/teams/room")), bodies)


@pytest.fixture
async def subscribed(client: TeamsClient, answers: Answers, receiver: Receiver) -> Subscribed:
    _, join_url = await meeting_of(client)
    certificate, private_pem = self_signed_certificate()
    private = load_pem_private_key(private_pem, None)
    assert isinstance(private, RSAPrivateKey)
    key = NotificationKey(CERTIFICATE_ID, private, certificate)
    await client.subscribe(
        join_url,
        notification_url=receiver.url,
        client_state=CLIENT_STATE,
        expires_at=datetime.now(UTC).replace(microsecond=0) + timedelta(hours=3),
        certificate=key.certificate,
        certificate_id=key.id,
        organiser=ORGANISER,
    )
    (answer,) = answers.to("POST", "/beta/subscriptions")
    return Subscribed(join_url, answer, key, receiver)


async def meeting_of(client: TeamsClient) -> tuple[str, str]:
    """The room's meeting (made, or found): its id and join URL."""
    meeting, _ = await client.create_or_get(
        ORGANISER, external_id="shapes-1", subject="Acme × Water", starts_at=START, ends_at=END
    )
    return meeting.id, meeting.join_url


# -- online meetings -----------------------------------------------------------------------------
async def test_create_or_get_answers_201_then_200_with_one_meeting_the_sdk_reads_typed(
    client: TeamsClient, answers: Answers
) -> None:
    """Our room keeps one meeting because createOrGet is idempotent per externalId; the fields we
    use (join URL, external id, times, presenters) must be where Graph's model reads them."""
    for _ in range(2):
        await meeting_of(client)
    first, again = answers.to("POST", "/onlineMeetings/createOrGet")
    assert (first.status, again.status) == (201, 200)
    made, found = parse(first.body, OnlineMeeting), parse(again.body, OnlineMeeting)
    for meeting in (made, found):
        assert meeting.join_web_url
        assert meeting.join_web_url.startswith("https://teams.microsoft.com/l/meetup-join/")
        assert meeting.external_id == "shapes-1"
        assert meeting.start_date_time == START
        assert meeting.end_date_time == END
        assert meeting.allowed_presenters is OnlineMeetingPresenters.Everyone
        assert meeting.participants
        assert meeting.participants.organizer
        assert_only_known_strays(meeting, MEETING_EXTRAS)
    assert (found.id, found.join_web_url, found.external_id) == (
        made.id,
        made.join_web_url,
        made.external_id,
    )


@pytest.mark.parametrize(
    ("changes", "scope", "dial_in"),
    [
        (OPEN_LOBBY, LobbyBypassScope.Everyone, True),
        (CLOSED_LOBBY, LobbyBypassScope.Organizer, False),
    ],
    ids=["open", "closed"],
)
async def test_the_lobby_our_patch_sets_comes_back_as_the_sdks_enum(
    client: TeamsClient,
    answers: Answers,
    changes: dict[str, Any],
    scope: LobbyBypassScope,
    dial_in: bool,
) -> None:
    """The PATCH that opens the lobby to everyone (nobody is there to admit guests) and the one
    that closes it must come back as the enum members Graph's model knows, not as strings."""
    meeting_id, _ = await meeting_of(client)
    await client.update_meeting(ORGANISER, meeting_id, changes)
    (answer,) = answers.to("PATCH", f"/onlineMeetings/{meeting_id}")
    assert answer.status == 200
    meeting = parse(answer.body, OnlineMeeting)
    assert meeting.lobby_bypass_settings is not None
    assert meeting.lobby_bypass_settings.scope is scope
    assert meeting.lobby_bypass_settings.is_dial_in_bypass_enabled is dial_in
    assert meeting.allowed_presenters is OnlineMeetingPresenters.Everyone
    assert_only_known_strays(meeting, MEETING_EXTRAS)


# -- attendance reports --------------------------------------------------------------------------
async def test_attendance_reports_and_records_read_typed_with_a_guests_empty_email(
    client: TeamsClient, fake: FakeTeams, answers: Answers
) -> None:
    """The report after the meeting is the attendance record: its times, each person's spans and
    durations, and a guest's email, which Graph sends as "" (not absent), must read as such."""
    meeting_id, _ = await meeting_of(client)
    ana = attendance_record(
        "Ana Lopez",
        [(START, START + timedelta(minutes=12)), (START + timedelta(minutes=14), END)],
        email="ana@water.example",
        user_id=ORGANISERS[1],
        role="Presenter",
    )
    guest = attendance_record("Chloé Martin", [(START + timedelta(minutes=2), END)], email="")
    fake.end_meeting(meeting_id, [ana, guest], started=START, ended=END)
    attended = await client.attendance(ORGANISER, meeting_id)

    (listed,) = answers.to("GET", "/attendanceReports")
    reports = parse(listed.body, MeetingAttendanceReportCollectionResponse)
    assert reports.value is not None
    (report,) = reports.value
    assert report.id
    assert (report.meeting_start_date_time, report.meeting_end_date_time) == (START, END)
    assert report.total_participant_count == 2
    assert report.attendance_records == []  # empty in the list, as documented
    assert_only_known_strays(reports, {})

    (answer,) = answers.to("GET", f"/attendanceReports/{report.id}/attendanceRecords")
    records = parse(answer.body, AttendanceRecordCollectionResponse)
    assert_only_known_strays(records, RECORD_EXTRAS)
    assert records.value is not None
    assert records.odata_next_link is None
    by_name = {r.identity.display_name: r for r in records.value if r.identity}
    assert by_name["Chloé Martin"].email_address == ""
    assert by_name["Ana Lopez"].email_address == "ana@water.example"
    assert by_name["Ana Lopez"].role == "Presenter"
    assert by_name["Ana Lopez"].total_attendance_in_seconds == 28 * 60
    spans = by_name["Ana Lopez"].attendance_intervals or []
    assert [(s.join_date_time, s.leave_date_time, s.duration_in_seconds) for s in spans] == [
        (START, START + timedelta(minutes=12), 12 * 60),
        (START + timedelta(minutes=14), END, 16 * 60),
    ]
    # what our client made of the same answer
    assert {(a.name, a.email) for a in attended} == {
        (n, r.email_address) for n, r in by_name.items()
    }


@pytest.mark.parametrize("fake", [{"page_size": 1}], indirect=True, ids=["page_size=1"])
async def test_reports_and_records_page_through_the_sdks_odata_next_link(
    client: TeamsClient, fake: FakeTeams, answers: Answers
) -> None:
    """Graph pages collections; the link our client follows must be the one the SDK reads as
    `odata_next_link`, and the last page must have none."""
    meeting_id, _ = await meeting_of(client)
    fake.end_meeting(
        meeting_id,
        [
            attendance_record(name, [(START, END)], email=email)
            for name, email in [("Ana Lopez", "ana@water.example"), ("Guest", "")]
        ],
    )
    fake.end_meeting(meeting_id, [attendance_record("Ben Okafor", [(END, END)], email="")])
    attended = await client.attendance(ORGANISER, meeting_id)
    assert sorted(a.name for a in attended) == ["Ana Lopez", "Ben Okafor", "Guest"]

    report_pages = [
        parse(a.body, MeetingAttendanceReportCollectionResponse)
        for a in answers.to("GET", "/attendanceReports")
    ]
    record_pages = [
        parse(a.body, AttendanceRecordCollectionResponse)
        for a in answers.to("GET", "/attendanceRecords")
    ]
    assert [len(page.value or []) for page in report_pages + record_pages] == [1] * 5
    assert [page.odata_next_link is not None for page in report_pages] == [True, False]
    assert [page.odata_next_link is not None for page in record_pages] == [True, False, False]
    followed = [a.url for a in answers.seen if "$skiptoken" in a.url.query]
    links = [URL(p.odata_next_link) for p in report_pages + record_pages if p.odata_next_link]
    assert followed == links
    for page in record_pages:
        assert_only_known_strays(page, RECORD_EXTRAS)


# -- change notifications ------------------------------------------------------------------------
async def test_the_subscription_answer_reads_as_the_sdks_subscription(
    subscribed: Subscribed,
) -> None:
    """Renewal and key rotation depend on the subscription's expiry, URLs, state and certificate
    id coming back in the documented fields."""
    assert subscribed.answer.status == 201
    sub = parse(subscribed.answer.body, Subscription)
    assert sub.id
    assert sub.client_state == CLIENT_STATE
    assert isinstance(sub.expiration_date_time, datetime)
    assert sub.expiration_date_time.tzinfo is not None
    assert timedelta(hours=2) < sub.expiration_date_time - datetime.now(UTC) <= timedelta(hours=3)
    assert sub.notification_url == subscribed.receiver.url
    assert sub.lifecycle_notification_url == subscribed.receiver.url
    assert sub.include_resource_data is True
    assert sub.encryption_certificate_id == CERTIFICATE_ID
    assert sub.encryption_certificate == subscribed.key.certificate
    assert sub.change_type == "updated"
    assert sub.resource
    assert sub.resource.endswith("')/meetingCallEvents")
    assert_only_known_strays(sub, SUBSCRIPTION_EXTRAS)


async def test_a_delivered_roster_update_decrypts_to_participants_the_sdk_reads(
    subscribed: Subscribed, fake: FakeTeams
) -> None:
    """Live attendance reads each participant leg of `participants@delta`: its id, whether it is
    in the lobby, and for a leave the removal reason; the SDK's Participant must read them."""
    sub_id = parse(subscribed.answer.body, Subscription).id
    assert sub_id
    joined = roster_entry(ORGANISERS[1], "Ana Lopez")
    waiting = roster_entry(ORGANISERS[2], "Ben Okafor", in_lobby=True)
    left = roster_entry(ORGANISERS[1], "Ana Lopez", left=True)
    event = call_event("rosterUpdated", START, subscribed.meeting_join_url, [joined, waiting, left])
    assert await fake.notify(sub_id, [event]) == 202
    (delivery,) = subscribed.receiver.bodies
    (item,) = delivery["value"]
    assert item["encryptedContent"]["encryptionCertificateId"] == subscribed.key.id
    content = decrypt(item["encryptedContent"], subscribed.key)

    root = JsonParseNodeFactory().get_root_parse_node("application/json", content)
    delta = root.get_child_node("participants@delta")
    assert delta is not None
    people = delta.get_collection_of_object_values(Participant)
    assert people is not None
    for person in people:
        assert_only_known_strays(person, PARTICIPANT_EXTRAS)
    assert [p.id for p in people] == [joined["id"], waiting["id"], left["id"]]
    assert [p.is_in_lobby for p in people] == [False, True, False]
    assert [p.removed_state.reason if p.removed_state else None for p in people] == [
        None,
        None,
        "Participant has left the meeting call.",
    ]
    names = [
        p.info.identity.user.display_name
        for p in people
        if p.info and p.info.identity and p.info.identity.user
    ]
    assert names == ["Ana Lopez", "Ben Okafor", "Ana Lopez"]
    # Why the event as a whole is not read with the SDK: its CallEvent misses both keys.
    whole = parse(content, CallEvent)
    assert whole.call_event_type is None
    assert whole.participants is None
    assert {"eventType", "participants@delta"} <= set(whole.additional_data)
    assert json.loads(content)["eventType"] == "rosterUpdated"


async def test_the_validation_token_holds_with_pyjwt_against_the_published_keys(
    subscribed: Subscribed, fake: FakeTeams, client: TeamsClient
) -> None:
    """Rich notifications are trusted only if their validation token is Graph's, for our app,
    from our tenant (reference/teams.md 7.6): PyJWT alone must accept it with the JWKS."""
    sub_id = parse(subscribed.answer.body, Subscription).id
    assert sub_id
    started = call_event("callStarted", START, subscribed.meeting_join_url)
    assert await fake.notify(sub_id, [started]) == 202
    (delivery,) = subscribed.receiver.bodies
    (token,) = delivery["validationTokens"]
    published = jwt.PyJWKSet.from_json((await client.signing_keys()).decode())
    signer = published[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token,
        signer.key,
        algorithms=["RS256"],
        audience=CLIENT_ID,
        issuer=f"https://sts.windows.net/{TENANT}/",
        options={"require": ["exp", "aud", "iss"]},
    )
    assert claims["appid"] == GRAPH_PUBLISHER


# -- errors ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("refusal", "raised", "status", "code", "message"),
    [
        ("policy", AccessPolicyMissing, 403, "Forbidden", POLICY_MESSAGE),
        ("throttle", ProviderUnavailable, 429, "TooManyRequests", "Please retry again later."),
    ],
    ids=["access-policy", "throttled"],
)
async def test_graph_refusals_read_as_the_sdks_odata_error(
    client: TeamsClient,
    fake: FakeTeams,
    answers: Answers,
    refusal: str,
    raised: type[Exception],
    status: int,
    code: str,
    message: str,
) -> None:
    """The operator's message for a missing access policy and the wait after a 429 come from
    Graph's error body; it must read as Graph's ODataError, code and message typed."""
    if refusal == "policy":
        fake.granted.discard(ORGANISER)
    else:
        fake.throttle(1)
    with pytest.raises(raised):
        await meeting_of(client)
    (answer,) = answers.to("POST", "/onlineMeetings/createOrGet")
    assert answer.status == status
    error = parse(answer.body, ODataError).error
    assert error is not None
    assert (error.code, error.message) == (code, message)
    assert error.inner_error is not None
    assert error.inner_error.request_id == answer.headers["request-id"]
    assert isinstance(error.inner_error.date, datetime)
    assert_only_known_strays(parse(answer.body, ODataError), ERROR_EXTRAS)
