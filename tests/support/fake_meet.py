"""A fake Google for the `meet` provider, answering as reference/meet.md records Google: the OAuth
2.0 token endpoint (service-account JWT bearer grant with domain-wide delegation), the Meet REST
API v2 calls, the Workspace Events API v1 subscriptions, and Pub/Sub pushing their events with an
OIDC token, for tests of our client, adapter and webhook.

The token endpoint (`POST /token`, the key file's `token_uri`) checks what Google checks: the
grant type; an RS256 assertion from the fake's service account (`iss` = `client_email`, else
"account not found"), signed by its key (`kid` = `private_key_id`); `aud` = the token URI or
Google's; `exp - iat` at most an hour and not expired; `sub` a user of the domain (400
`invalid_grant` otherwise); every requested scope delegated to the client in the admin console
(401 `unauthorized_client` otherwise). Meet (`/v2`) and Workspace Events (`/v1`) want a Bearer
token the fake issued that has not expired by `now` (401 UNAUTHENTICATED) and a scope the method's
discovery entry lists (403 PERMISSION_DENIED, insufficient scopes); then a queued `throttle`
answers 429 RESOURCE_EXHAUSTED, with Retry-After only when given. Each POST /v2/spaces makes a new
space (there is no request id); GET also takes the meeting code; PATCH honours updateMask in either
spelling, and without one resets the config fields the body leaves out; endActiveConference
without a conference answers 400 FAILED_PRECONDITION or 404, as `no_conference` says, since which
is not known. `start_conference`, `join`, `leave`, `end_conference` and `add_recording` make
conference records (newest first, filtered on `space.name`, `space.meeting_code`, `start_time`,
`end_time`), participants and sessions (newest join first), recordings (oldest first, in state
FILE_GENERATED with their Drive file), all paged with `nextPageToken` and gone 30 days after the
end. Google's JSON leaves out empty lists and false or unset values, so an empty page is `{}`, a
pending Operation has no `done` and a Subscription no `reconciling` unless it is true.

Subscriptions (`POST /v1/subscriptions`) target one space the token's user owns, list only the six
Meet event types, no `includeResource` (Chat only), and `state.topic`; `ttl` unset or "0s" is the
7-day maximum, more is a 400; a second one for the same user and space is 409 ALREADY_EXISTS,
whatever its event types, with a message that does not name the first. Create, PATCH (renewal:
`ttl`, `expire_time`, `event_types`), DELETE (404 unless `allowMissing`) and `:reactivate` answer
an Operation, done at once or, with `pending_operations`, on its next GET. A subscription past its
`expireTime` is gone and sends `expired`; `suspend` and `remind_expiry` send the other lifecycle
events (`ce-source` = `ce-subject` = the subscription). Meet events reach `outbox` as Pub/Sub push
bodies (`envelope`); `push` POSTs one to `push_endpoint` with `oidc_token`, whose keys
`/oauth2/v3/certs` publishes, and keeps it, same ids, unless answered 102/200/201/202/204 within
the 10 s ack deadline.

Stricter than Google: the assertion must carry `kid`; filters take only quoted values joined by
AND (no OR or parentheses in subscription filters); PATCH and endActiveConference take the space
id, not the meeting code. Looser: a space made outside the app is refused neither under
`meetings.space.created` nor as a subscription's target (third-party word, [UNVERIFIED], says
only spaces made through the API can be); events reach a subscription live now, whatever their
`at`. Ours, not Google's: the wording of the audience refusal, of 403s (another user's space or
subscription; a token without `sub`, which Google issues but which has no Meet), of 409s and of
refused filters, masks, page tokens, expirations, topics and event types; the 403 for a topic
Meet cannot publish to and the 400 FAILED_PRECONDITION for reactivating an ACTIVE subscription;
anonymous or phone users who rejoin under one name being one participant; Pub/Sub's ids.
[UNVERIFIED], chosen for this fake (reference/meet.md 8.3 warns against routing on it alone, so
rdv also keeps the subscription of each event): `ce-subject` of Meet events is the target
space; `orderingKey` is always set, to the subscription; ending a conference sends `left` for
each open session, then `ended`; lifecycle data is `{"subscription": <the Subscription in the API's
camelCase>}` (Google's one example shows `suspension_reason`), and `expired` shows the state it
had. Not served yet: transcripts (their event type is accepted, never sent), user targets
(`//cloudidentity.googleapis.com/users/...`, 400), expiration reminders unasked.

In-process: `server = await aiohttp_server(create_app(FakeMeet()))`; state in `app[STATE]`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import operator
import re
import secrets
import string
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import aiohttp
import jwt
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT = "rdv-meet-test"
PROJECT_NUMBER = "418203567891"
DOMAIN = "rdv-test.example"
USER = f"rooms@{DOMAIN}"  # RDV_MEET_USER
OTHER_USERS = (f"second-host@{DOMAIN}", f"ops@{DOMAIN}")
CLIENT_EMAIL = f"rdv-meet@{PROJECT}.iam.gserviceaccount.com"
CLIENT_ID = "104729384756102938475"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CREATED = "https://www.googleapis.com/auth/meetings.space.created"
READONLY = "https://www.googleapis.com/auth/meetings.space.readonly"
SCOPES = (CREATED,)  # what rdv requests, and what the fake's admin delegates by default
RETENTION = timedelta(days=30)  # "deleted 30 days after the conference ends"
SHORT_LIVED = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values and use a clock with skew to account for clock differences "
    "between systems."
)
UNAUTHORIZED_CLIENT = (
    "Client is unauthorized to retrieve access tokens using this method, or client not "
    "authorized for any of the scopes requested."
)
EXPECTED = (
    "Expected OAuth 2 access token, login cookie or other valid authentication credential. "
    "See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
INVALID_CREDENTIALS = f"Request had invalid authentication credentials. {EXPECTED}"
MISSING_CREDENTIALS = f"Request is missing required authentication credential. {EXPECTED}"
REALM = 'Bearer realm="https://accounts.google.com/"'
NOT_FOUND = "Requested entity was not found."
DENIED = "The caller does not have permission"
ACCESS_TYPES = ("ACCESS_TYPE_UNSPECIFIED", "OPEN", "TRUSTED", "RESTRICTED")
ENTRY_POINTS = ("ENTRY_POINT_ACCESS_UNSPECIFIED", "ALL", "CREATOR_APP_ONLY")
SPACE_FIELDS = ("name", "meetingUri", "meetingCode", "config", "activeConference")
# The fields after entryPointAccess are google-apps-meet 0.5.2's: accepted, never applied.
CONFIG_FIELDS = (
    *("accessType", "entryPointAccess", "moderation", "moderationRestrictions"),
    *("attendanceReportGenerationType", "artifactConfig"),
)
OPS: dict[str, Callable[[Any, Any], bool]] = {"=": operator.eq, "!=": operator.ne}
OPS |= {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt}
TERM = re.compile(r'([a-z_.]+)\s*(?:(!=|>=|<=|=|>|<)\s*"([^"]*)"|\s+IS\s+(NOT\s+)?NULL)')
# Workspace Events and Pub/Sub
MEET_EVENTS = tuple(
    f"google.workspace.meet.{kind}"
    for kind in (
        *("conference.v2.started", "conference.v2.ended"),
        *("participant.v2.joined", "participant.v2.left"),
        *("recording.v2.fileGenerated", "transcript.v2.fileGenerated"),
    )
)
STARTED, ENDED, JOINED, LEFT, RECORDED = MEET_EVENTS[:5]
LIFECYCLE = "google.workspace.events.subscription.v1."  # + suspended, expirationReminder, expired
EVENTS_SOURCE = "//workspaceevents.googleapis.com/"
MEET_SPACES = "//meet.googleapis.com/spaces/"
EVENTS_TYPES = "type.googleapis.com/google.apps.events.subscriptions.v1"
EMPTY = "type.googleapis.com/google.protobuf.Empty"
MAX_TTL = timedelta(days=7)  # without resource data in the payload, which Meet cannot include
SUSPENSION_REASONS = (
    *("USER_SCOPE_REVOKED", "RESOURCE_DELETED", "USER_AUTHORIZATION_FAILURE"),
    *("ENDPOINT_PERMISSION_DENIED", "ENDPOINT_NOT_FOUND", "ENDPOINT_RESOURCE_EXHAUSTED", "OTHER"),
)
SUBSCRIPTION_FIELDS = (
    *("name", "uid", "targetResource", "eventTypes", "payloadOptions", "notificationEndpoint"),
    *("state", "suspensionReason", "authority", "createTime", "updateTime", "reconciling"),
    *("etag", "expireTime", "ttl"),
)
TOPIC_NAME = re.compile(
    r"projects/([a-z][a-z0-9-]{4,28}[a-z0-9])/topics/([A-Za-z][\w.~+%-]{2,254})"
)
FILTER_TERM = re.compile(r'(event_types\s*:|target_resource\s*=)\s*"([^"]*)"')
TOPIC = f"projects/{PROJECT}/topics/meet-events"
PUSH_SUBSCRIPTION = f"projects/{PROJECT}/subscriptions/meet-events-push"
PUSH_ACCOUNT = f"meet-events-push@{PROJECT}.iam.gserviceaccount.com"  # --push-auth-service-account
AUDIENCE = f"https://{DOMAIN}/webhooks/meet"  # RDV_MEET_AUDIENCE
MEET_PUBLISHER = "meet-api-event-push@system.gserviceaccount.com"
GOOGLE_ISSUER = "https://accounts.google.com"
ACKED = frozenset({102, 200, 201, 202, 204})  # Pub/Sub's success codes; any other is a nack


def user_id(email: str) -> str:
    """The `users/{id}` a signed-in participant shows: a directory id, never the email."""
    return f"users/1{int(hashlib.sha256(email.casefold().encode()).hexdigest(), 16) % 10**20:020d}"


def google_time(moment: datetime) -> str:
    """A Timestamp as Google's JSON writes it: UTC, Z, and 0, 3 or 6 fractional digits."""
    moment = moment.astimezone(UTC)
    micros, text = moment.microsecond, moment.strftime("%Y-%m-%dT%H:%M:%S")
    if micros:
        text += f".{micros // 1000:03d}" if micros % 1000 == 0 else f".{micros:06d}"
    return text + "Z"


def _random(alphabet: str, n: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


@functools.cache
def _shared_key() -> rsa.RSAPrivateKey:
    """One key per test run: making a 2048-bit key is too slow to repeat for every fake."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _push_key(n: int) -> rsa.RSAPrivateKey:
    """Google's n-th push-signing key of the run, shared by the fakes for the same reason."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _kid(key: rsa.RSAPrivateKey) -> str:
    """A key id as Google writes them: 40 hex digits."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha1(der, usedforsecurity=False).hexdigest()


def _b64_int(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _account_id(email: str) -> str:
    """The 21-digit unique id of a service account, its tokens' `sub` and `azp`."""
    return f"1{int(hashlib.sha256(email.encode()).hexdigest(), 16) % 10**20:020d}"


def _etag() -> str:
    return f'"{secrets.token_urlsafe(12)}"'


def _any(subscription: Mapping[str, Any]) -> dict[str, Any]:
    """A Subscription as a google.protobuf.Any in JSON: its fields beside `@type`."""
    return {"@type": f"{EVENTS_TYPES}.Subscription", **subscription}


def envelope(
    subscription: Mapping[str, Any],
    event_type: str,
    data: Mapping[str, Any],
    at: datetime,
    *,
    message_id: str | None = None,
    push_subscription: str = PUSH_SUBSCRIPTION,
) -> dict[str, Any]:
    """The body Pub/Sub pushes for one Workspace event (reference/meet.md 4.1): binary-mode `ce-*`
    attributes, the event data as base64 JSON, both spellings of the id and time. `ce-id` follows
    from the message id, so a given `message_id` makes the same body."""
    source = EVENTS_SOURCE + subscription["name"]
    lifecycle = event_type.startswith(LIFECYCLE)
    message_id = message_id or str(secrets.randbelow(9 * 10**15) + 10**15)
    seed = f"{source} {event_type} {message_id}".encode()
    ce_id = base64.urlsafe_b64encode(hashlib.sha256(seed).digest()[:15]).decode()
    sent = google_time(at)
    attributes = {
        "ce-datacontenttype": "application/json",
        "ce-id": ce_id,
        "ce-source": source,
        "ce-specversion": "1.0",
        "ce-subject": source if lifecycle else subscription["targetResource"],
        "ce-time": sent,
        "ce-type": event_type,
    }
    raw = json.dumps(data, separators=(",", ":")).encode()
    message = {"attributes": attributes, "data": base64.b64encode(raw).decode()}
    message |= {"messageId": message_id, "message_id": message_id, "orderingKey": source}
    message |= {"publishTime": sent, "publish_time": sent}
    return {"message": message, "subscription": push_subscription}


@dataclass
class Grant:
    user: str | None  # None: the service account itself, asked for without `sub`
    scopes: frozenset[str]
    expires: datetime


@dataclass
class Space:
    name: str
    meeting_code: str
    owner: str
    access_type: str
    entry_point_access: str = "ALL"
    active: str | None = None  # the conference record running now

    def json(self) -> dict[str, Any]:
        config = {"accessType": self.access_type, "entryPointAccess": self.entry_point_access}
        body: dict[str, Any] = {"name": self.name}
        body |= {"meetingUri": f"https://meet.google.com/{self.meeting_code}"}
        body |= {"meetingCode": self.meeting_code, "config": config}
        return body | (
            {"activeConference": {"conferenceRecord": self.active}} if self.active else {}
        )


@dataclass
class Session:
    name: str
    start: datetime
    end: datetime | None = None

    def json(self) -> dict[str, Any]:
        body = {"name": self.name, "startTime": google_time(self.start)}
        return body | ({"endTime": google_time(self.end)} if self.end else {})


@dataclass
class Participant:
    name: str
    kind: str  # signedinUser, anonymousUser or phoneUser
    display_name: str
    user: str | None = None
    sessions: dict[str, Session] = field(default_factory=dict)

    @property
    def earliest(self) -> datetime:
        return min(s.start for s in self.sessions.values())

    @property
    def latest(self) -> datetime | None:
        """The last leave, unset while a session is open."""
        ends = [s.end for s in self.sessions.values()]
        return None if None in ends else max(e for e in ends if e is not None)

    def json(self) -> dict[str, Any]:
        who = {"displayName": self.display_name} | ({"user": self.user} if self.user else {})
        body = {"name": self.name, self.kind: who, "earliestStartTime": google_time(self.earliest)}
        return body | ({"latestEndTime": google_time(self.latest)} if self.latest else {})


@dataclass
class Recording:
    name: str
    start: datetime
    end: datetime
    file: str  # the Drive file id

    def json(self) -> dict[str, Any]:
        drive = {
            "file": self.file,
            "exportUri": f"https://drive.google.com/file/d/{self.file}/view",
        }
        times = {"startTime": google_time(self.start), "endTime": google_time(self.end)}
        return {"name": self.name, "state": "FILE_GENERATED", **times, "driveDestination": drive}


@dataclass
class Record:
    name: str
    space: str
    start: datetime
    end: datetime | None = None
    participants: dict[str, Participant] = field(default_factory=dict)
    recordings: dict[str, Recording] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        body = {"name": self.name, "startTime": google_time(self.start), "space": self.space}
        if self.end:
            body |= {"endTime": google_time(self.end)}
            body |= {"expireTime": google_time(self.end + RETENTION)}
        return body


@dataclass
class Subscription:
    name: str
    user: str  # the impersonated user who authorised it: its authority
    target: str
    event_types: list[str]
    topic: str
    created: datetime
    expires: datetime
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))
    updated: datetime | None = None
    state: Literal["ACTIVE", "SUSPENDED"] = "ACTIVE"
    suspension_reason: str | None = None
    reconciling: bool = False  # while an Operation about it is pending
    etag: str = field(default_factory=_etag)

    def touch(self, at: datetime) -> None:
        self.updated, self.etag = at, _etag()

    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"name": self.name, "uid": self.uid, "targetResource": self.target}
        body |= {"eventTypes": list(self.event_types)}
        body |= {"notificationEndpoint": {"pubsubTopic": self.topic}, "state": self.state}
        if self.suspension_reason:
            body["suspensionReason"] = self.suspension_reason
        body |= {"authority": user_id(self.user), "createTime": google_time(self.created)}
        body |= {"updateTime": google_time(self.updated or self.created)}
        body |= {"expireTime": google_time(self.expires)}
        return body | ({"reconciling": True} if self.reconciling else {}) | {"etag": self.etag}


OperationKind = Literal["Create", "Update", "Delete", "Reactivate"]


@dataclass
class Operation:
    name: str
    kind: OperationKind
    response: dict[str, Any]  # a google.protobuf.Any: the Subscription, or Empty
    subscription: str | None = None
    done: bool = True

    def json(self) -> dict[str, Any]:
        metadata = {"@type": f"{EVENTS_TYPES}.{self.kind}SubscriptionMetadata"}
        body: dict[str, Any] = {"name": self.name, "metadata": metadata}
        return body | ({"done": True, "response": self.response} if self.done else {})


@dataclass
class Message:
    """A Pub/Sub message waiting for its push to be acked."""

    body: dict[str, Any]  # the push body, as `envelope` makes it
    at: datetime  # when the event happened

    @property
    def attributes(self) -> dict[str, str]:
        found: dict[str, str] = self.body["message"]["attributes"]
        return found

    @property
    def data(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(base64.b64decode(self.body["message"]["data"]))
        return found


@dataclass
class Push:
    url: str
    body: dict[str, Any]
    status: int | None  # None: no answer within the ack deadline


@dataclass
class FakeMeet:
    users: tuple[str, ...] = (USER, *OTHER_USERS)  # the Workspace domain
    delegated: set[str] = field(default_factory=lambda: set(SCOPES))  # the admin's DWD grant
    expires_in: int = 3599
    leeway: timedelta = timedelta(seconds=60)  # how far ahead of `now` an `iat` may be
    default_access_type: str = "TRUSTED"  # what ACCESS_TYPE_UNSPECIFIED becomes
    forced_access_type: str | None = None  # an admin policy overriding what is asked (unverified)
    no_conference: Literal["FAILED_PRECONDITION", "NOT_FOUND"] = "FAILED_PRECONDITION"
    page_limit: int | None = None  # "The service might return fewer than this value"
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    key: rsa.RSAPrivateKey = field(default_factory=_shared_key, repr=False)
    token_uri: str | None = None  # set by service_account and key_file
    token_requests: int = 0
    tokens: dict[str, Grant] = field(default_factory=dict)
    spaces: dict[str, Space] = field(default_factory=dict)  # by name; a create is always new
    records: dict[str, Record] = field(default_factory=dict)
    throttled: list[str | None] = field(default_factory=list)  # Retry-After of the next answers
    calls: list[tuple[str, str]] = field(default_factory=list)
    # Workspace Events and the Pub/Sub push subscription on `topic`
    topic: str = TOPIC  # the one topic of the project, Meet allowed to publish to it
    push_subscription: str = PUSH_SUBSCRIPTION
    push_endpoint: str | None = None  # where rdv takes pushes; set by the test
    push_account: str = PUSH_ACCOUNT
    audience: str = AUDIENCE
    ack_deadline: float = 10.0
    # When pushes are signed, if not `now`: a test whose receiver runs on a clock of its own
    # (a day of 2021) while the token endpoint checks the wall clock.
    push_now: Callable[[], datetime] | None = None
    pending_operations: bool = False  # Operations answer not done, and are done on their next GET
    jwks_max_age: int = 21600
    push_keys: list[rsa.RSAPrivateKey] = field(default_factory=lambda: [_push_key(0)], repr=False)
    jwks_requests: int = 0
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    operations: dict[str, Operation] = field(default_factory=dict)
    outbox: list[Message] = field(default_factory=list)  # published, not yet acked
    pushes: list[Push] = field(default_factory=list)  # every attempt
    client: aiohttp.ClientSession | None = field(default=None, init=False, repr=False)

    @property
    def private_key_id(self) -> str:
        return _kid(self.key)

    def service_account(self, base_url: str) -> dict[str, str]:
        """The key file's fields, with token_uri at this fake."""
        pem = self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self.token_uri = f"{base_url.rstrip('/')}/token"
        certs = "https://www.googleapis.com/robot/v1/metadata/x509/"
        return {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": self.private_key_id,
            "private_key": pem.decode(),
            "client_email": CLIENT_EMAIL,
            "client_id": CLIENT_ID,
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": self.token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": certs + CLIENT_EMAIL.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }

    def key_file(self, path: str | Path, base_url: str) -> Path:
        """Write the key file that RDV_MEET_CREDENTIALS names."""
        target = Path(path)
        target.write_text(json.dumps(self.service_account(base_url), indent=2))
        return target

    def grant(self, user: str | None = USER, scopes: Iterable[str] = SCOPES) -> str:
        """An access token as the token endpoint issues it, without the round trip."""
        token = "ya29.c." + secrets.token_urlsafe(96)
        expires = self.now() + timedelta(seconds=self.expires_in)
        self.tokens[token] = Grant(user, frozenset(scopes), expires)
        return token

    def revoke_tokens(self) -> None:
        self.tokens.clear()

    def throttle(self, n: int, retry_after: int | str | None = None) -> None:
        self.throttled.extend([None if retry_after is None else str(retry_after)] * n)

    def add_space(self, owner: str = USER, access_type: str = "OPEN") -> Space:
        """A space as if someone had made it earlier."""
        codes = {s.meeting_code for s in self.spaces.values()}
        letters = string.ascii_lowercase
        code = ""
        while not code or code in codes:
            code = f"{_random(letters, 3)}-{_random(letters, 4)}-{_random(letters, 3)}"
        name = f"spaces/{_random(string.ascii_letters + string.digits, 12)}"
        self.spaces[name] = Space(name, code, owner, access_type)
        return self.spaces[name]

    def forget_space(self, name: str) -> None:
        """The space is gone: its GET answers 404."""
        del self.spaces[name]

    def start_conference(self, space_name: str, at: datetime | None = None) -> str:
        """The room opens: a new conference record, the space's active conference."""
        space = self.spaces[space_name]
        if space.active:
            raise ValueError(f"{space_name} already runs {space.active}")
        record = Record(f"conferenceRecords/{secrets.token_hex(12)}", space.name, at or self.now())
        self.records[record.name], space.active = record, record.name
        self._event(space.name, STARTED, {"conferenceRecord": {"name": record.name}}, record.start)
        return record.name

    def join(
        self,
        space_name: str,
        display_name: str,
        *,
        user: str | None = None,
        phone: bool = False,
        at: datetime | None = None,
    ) -> str:
        """One join, one new session (the first join starts a conference); its name. `user` is
        a signed-in user's `users/{id}` or email; without it the person is anonymous or, with
        `phone`, dialled in."""
        at, user = at or self.now(), user_id(user) if user and "@" in user else user
        record = self.records[
            self.spaces[space_name].active or self.start_conference(space_name, at)
        ]
        kind = "signedinUser" if user else "phoneUser" if phone else "anonymousUser"
        same = (
            p
            for p in record.participants.values()
            if (p.kind, p.user or p.display_name) == (kind, user or display_name)
        )
        participant = next(same, None)
        if participant is None:
            pid = f"{record.name}/participants/{_random(string.digits, 18)}"
            participant = record.participants[pid] = Participant(pid, kind, display_name, user)
        session = Session(f"{participant.name}/participantSessions/{secrets.token_hex(10)}", at)
        participant.sessions[session.name] = session
        self._event(space_name, JOINED, {"participantSession": {"name": session.name}}, at)
        return session.name

    def leave(self, session_name: str, at: datetime | None = None) -> None:
        participant_name = session_name.rpartition("/participantSessions/")[0]
        record = self.records[participant_name.partition("/participants/")[0]]
        session = record.participants[participant_name].sessions[session_name]
        session.end = at or self.now()
        self._event(record.space, LEFT, {"participantSession": {"name": session.name}}, session.end)

    def end_conference(self, space_name: str, at: datetime | None = None) -> str:
        """The conference ends: open sessions close; the record expires RETENTION later."""
        space = self.spaces[space_name]
        if space.active is None:
            raise ValueError(f"{space_name} runs no conference")
        record, at = self.records[space.active], at or self.now()
        for participant in record.participants.values():
            for session in participant.sessions.values():
                if session.end is None:
                    session.end = at
                    self._event(
                        space.name, LEFT, {"participantSession": {"name": session.name}}, at
                    )
        record.end, space.active = at, None
        self._event(space.name, ENDED, {"conferenceRecord": {"name": record.name}}, at)
        return record.name

    def add_recording(
        self, space_or_record: str, *, at: datetime | None = None, file_id: str | None = None
    ) -> str:
        """A recording whose Drive file is ready, of the space's running (else latest) conference
        or of the record named; it runs from the end of the previous one to `at`. Its name."""
        at = at or self.now()
        if space_or_record.startswith("spaces/"):
            space = self.spaces[space_or_record]
            held = [r for r in self.records.values() if r.space == space.name]
            if not held:
                raise ValueError(f"{space_or_record} has had no conference")
            record = (
                self.records[space.active] if space.active else max(held, key=lambda r: r.start)
            )
        else:
            record = self.records[space_or_record]
        start = max([record.start, *(r.end for r in record.recordings.values())])
        name = f"{record.name}/recordings/{_random(string.ascii_letters + string.digits, 16)}"
        file = file_id or "1" + _random(string.ascii_letters + string.digits + "-_", 32)
        record.recordings[name] = Recording(name, start, at, file)
        self._event(record.space, RECORDED, {"recording": {"name": name}}, at)
        return name

    def live_records(self) -> list[Record]:
        return [r for r in self.records.values() if r.end is None or r.end + RETENTION > self.now()]

    # Workspace Events: what the API does on its own

    def sweep(self) -> None:
        """Subscriptions past their expireTime are deleted, each saying so with `expired`."""
        now = self.now()
        for sub in [s for s in self.subscriptions.values() if s.expires <= now]:
            del self.subscriptions[sub.name]
            self._publish(sub, LIFECYCLE + "expired", {"subscription": sub.json()}, sub.expires)

    def suspend(self, subscription_name: str, reason: str = "ENDPOINT_PERMISSION_DENIED") -> None:
        """An error stops the subscription's events until `:reactivate`; it says why."""
        if reason not in SUSPENSION_REASONS:
            raise ValueError(f"Google has no suspension reason {reason!r}")
        self.sweep()
        sub, now = self.subscriptions[subscription_name], self.now()
        sub.state, sub.suspension_reason = "SUSPENDED", reason
        sub.touch(now)
        self._publish(sub, LIFECYCLE + "suspended", {"subscription": sub.json()}, now)

    def remind_expiry(self, subscription_name: str) -> None:
        """What Google sends 12 hours and one hour before the subscription expires."""
        self.sweep()
        sub = self.subscriptions[subscription_name]
        data = {"subscription": sub.json()}
        self._publish(sub, LIFECYCLE + "expirationReminder", data, self.now())

    def operation(self, kind: OperationKind, subscription: Subscription | None) -> Operation:
        """The Operation answering a change: with `pending_operations`, done on its next GET."""
        name = f"operations/{secrets.token_urlsafe(24)}"
        response = {"@type": EMPTY} if subscription is None else _any(subscription.json())
        op = Operation(name, kind, response, None if subscription is None else subscription.name)
        if self.pending_operations:
            op.done = False
            if subscription is not None and subscription.name in self.subscriptions:
                subscription.reconciling = True
        self.operations[name] = op
        return op

    def _event(self, space: str, event_type: str, data: Mapping[str, Any], at: datetime) -> None:
        """A Meet event, published for each live ACTIVE subscription to the space that wants it."""
        self.sweep()
        target = MEET_SPACES + space.removeprefix("spaces/")
        for sub in self.subscriptions.values():
            if (sub.target, sub.state) == (target, "ACTIVE") and event_type in sub.event_types:
                self._publish(sub, event_type, data, at)

    def _publish(
        self, sub: Subscription, event_type: str, data: Mapping[str, Any], at: datetime
    ) -> None:
        body = envelope(sub.json(), event_type, data, at, push_subscription=self.push_subscription)
        self.outbox.append(Message(body, at))

    # Pub/Sub: the push and its token

    def oidc_token(
        self, at: datetime | None = None, *, audience: str | None = None, **overrides: Any
    ) -> str:
        """The token Pub/Sub signs for a push as `push_account`; an override replaces a claim,
        or with None removes it."""
        iat, account = int((at or self.now()).timestamp()), _account_id(self.push_account)
        claims: dict[str, Any] = {"aud": audience or self.audience, "azp": account}
        claims |= {"email": self.push_account, "email_verified": True, "exp": iat + 3600}
        claims |= {"iat": iat, "iss": GOOGLE_ISSUER, "sub": account}
        for claim, value in overrides.items():
            if value is None:
                claims.pop(claim, None)
            else:
                claims[claim] = value
        key = self.push_keys[-1]
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": _kid(key)})

    def rotate_push_key(self) -> str:
        """Google signs with a new key from now on and keeps publishing the old one; its kid."""
        self.push_keys.append(_push_key(len(self.push_keys)))
        return _kid(self.push_keys[-1])

    def jwks(self) -> dict[str, Any]:
        keys = []
        for key in self.push_keys:
            numbers = key.public_key().public_numbers()
            keys.append(
                {"kty": "RSA", "alg": "RS256", "use": "sig", "kid": _kid(key)}
                | {"n": _b64_int(numbers.n), "e": _b64_int(numbers.e)}
            )
        return {"keys": keys}

    async def push(self, message: Message | None = None) -> int | None:
        """Push one message (the oldest by default) to `push_endpoint`: acked and gone on a
        success code, else kept for redelivery. The status; None without one in the deadline."""
        if self.client is None:
            raise RuntimeError("start the fake's app before it pushes")
        if self.push_endpoint is None:
            raise RuntimeError("set push_endpoint to the URL rdv takes pushes at")
        if message is None:
            if not self.outbox:
                raise LookupError("nothing to push")
            message = self.outbox[0]
        signed = self.push_now() if self.push_now else None
        headers = {"Authorization": f"Bearer {self.oidc_token(signed)}"}
        headers |= {"Content-Type": "application/json"}
        status: int | None = None
        try:
            async with self.client.post(
                self.push_endpoint,
                data=json.dumps(message.body),
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=self.ack_deadline),
            ) as answer:
                status = answer.status
        except (TimeoutError, aiohttp.ClientError):
            status = None
        self.pushes.append(Push(self.push_endpoint, message.body, status))
        if status in ACKED:
            self.outbox = [m for m in self.outbox if m is not message]
        return status

    async def push_all(self) -> list[int | None]:
        """Each message of the outbox once, oldest first."""
        return [await self.push(message) for message in list(self.outbox)]


STATE = web.AppKey("fake_meet", FakeMeet)
GRANT = web.RequestKey("grant", Grant)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READ = (CREATED, READONLY)
SPACES, RECORDS = (
    "google.apps.meet.v2.SpacesService.",
    "google.apps.meet.v2.ConferenceRecordsService.",
)
EVENTS = "google.apps.events.subscriptions.v1.SubscriptionsService."
RPCS = {  # route name: (method, the scopes its discovery entry lists)
    "create_space": (f"{SPACES}CreateSpace", (CREATED,)),
    "get_space": (f"{SPACES}GetSpace", READ),
    "update_space": (f"{SPACES}UpdateSpace", (CREATED,)),
    "end_conference": (f"{SPACES}EndActiveConference", (CREATED,)),
    "list_records": (f"{RECORDS}ListConferenceRecords", READ),
    "get_record": (f"{RECORDS}GetConferenceRecord", READ),
    "list_participants": (f"{RECORDS}ListParticipants", READ),
    "get_participant": (f"{RECORDS}GetParticipant", READ),
    "list_sessions": (f"{RECORDS}ListParticipantSessions", READ),
    "get_session": (f"{RECORDS}GetParticipantSession", READ),
    "list_recordings": (f"{RECORDS}ListRecordings", READ),
    "get_recording": (f"{RECORDS}GetRecording", READ),
    # Workspace Events lists Chat's scopes too; of Meet's, either will do.
    "create_subscription": (f"{EVENTS}CreateSubscription", READ),
    "list_subscriptions": (f"{EVENTS}ListSubscriptions", READ),
    "get_subscription": (f"{EVENTS}GetSubscription", READ),
    "update_subscription": (f"{EVENTS}UpdateSubscription", READ),
    "delete_subscription": (f"{EVENTS}DeleteSubscription", READ),
    "reactivate_subscription": (f"{EVENTS}ReactivateSubscription", READ),
    "get_operation": ("google.longrunning.Operations.GetOperation", READ),
}


class Refusal(Exception):
    """An error answer, raised where it is found and sent by the middleware."""

    def __init__(self, body: dict[str, Any], status: int, **headers: str) -> None:
        super().__init__(status)
        self.response = web.json_response(body, status=status, headers=headers)


def _oauth(status: int, error: str, description: str) -> Refusal:
    return Refusal({"error": error, "error_description": description}, status)


def _google(code: int, status: str, message: str, *details: Any, **headers: str) -> Refusal:
    body = {"code": code, "message": message, "status": status}
    return Refusal(
        {"error": body | ({"details": list(details)} if details else {})}, code, **headers
    )


def _info(reason: str, **metadata: str) -> dict[str, Any]:
    metadata = {"service": "meet.googleapis.com", **metadata}
    kind = "type.googleapis.com/google.rpc.ErrorInfo"
    return {"@type": kind, "reason": reason, "domain": "googleapis.com", "metadata": metadata}


def _invalid(message: str, field_name: str) -> Refusal:
    violation = {"field": field_name, "description": message}
    details = {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}
    return _google(400, "INVALID_ARGUMENT", message, details)


def _assertion(state: FakeMeet, form: Mapping[str, str], here: str) -> dict[str, Any]:
    """The assertion's claims, checked as Google checks them."""
    if form.get("grant_type") != JWT_BEARER:
        raise _oauth(
            400, "unsupported_grant_type", f"Invalid grant_type: {form.get('grant_type', '')}"
        )
    if not form.get("assertion"):
        raise _oauth(400, "invalid_request", "Missing required parameter: assertion")
    bad_signature = _oauth(400, "invalid_grant", "Invalid JWT Signature.")
    try:
        header = jwt.get_unverified_header(form["assertion"])
        unverified = jwt.decode(form["assertion"], options={"verify_signature": False})
    except jwt.PyJWTError:
        raise bad_signature from None
    if unverified.get("iss") != CLIENT_EMAIL:
        raise _oauth(400, "invalid_grant", "Invalid grant: account not found")
    if header.get("alg") != "RS256" or header.get("kid") != state.private_key_id:
        raise bad_signature
    try:  # the claims are checked below, for Google's own answers
        claims: dict[str, Any] = jwt.decode(
            form["assertion"],
            state.key.public_key(),
            algorithms=["RS256"],
            options={
                "verify_aud": False,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.PyJWTError:
        raise bad_signature from None
    if claims.get("aud") not in (GOOGLE_TOKEN_URI, state.token_uri, here):
        raise _oauth(400, "invalid_grant", "Invalid JWT: Failed audience check.")
    iat, exp, now = claims.get("iat"), claims.get("exp"), state.now().timestamp()
    if not (isinstance(iat, int | float) and isinstance(exp, int | float)) or not (
        0 < exp - iat <= 3600 and exp > now and iat <= now + state.leeway.total_seconds()
    ):
        raise _oauth(400, "invalid_grant", SHORT_LIVED)
    return claims


async def token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.token_requests += 1
    form = {k: str(v) for k, v in (await request.post()).items()}
    claims = _assertion(state, form, str(request.url.with_query(None)))
    scopes = str(claims.get("scope", "")).split()
    if not scopes:
        raise _oauth(400, "invalid_scope", "Empty or missing scope not allowed.")
    user = None
    if "sub" in claims:  # domain-wide delegation
        user = next((u for u in state.users if u.casefold() == str(claims["sub"]).casefold()), None)
        if user is None:
            raise _oauth(400, "invalid_grant", "Invalid email or User ID")
        if not set(scopes) <= state.delegated:
            raise _oauth(401, "unauthorized_client", UNAUTHORIZED_CLIENT)
    body = {"access_token": state.grant(user, scopes), "expires_in": state.expires_in}
    return web.json_response(body | {"token_type": "Bearer"}, headers={"Cache-Control": "no-store"})


def _check_call(request: web.Request, service: str) -> None:
    """A Meet or Workspace Events call: a live Bearer token, a scope its method accepts, the
    throttle."""
    state = request.app[STATE]
    state.calls.append((request.method, request.path_qs))
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        info = _info("CREDENTIALS_MISSING", service=service)
        raise _google(
            401, "UNAUTHENTICATED", MISSING_CREDENTIALS, info, **{"WWW-Authenticate": REALM}
        )
    grant = state.tokens.get(presented)
    if grant is None or grant.expires <= state.now():
        realm = f'{REALM}, error="invalid_token"'
        raise _google(401, "UNAUTHENTICATED", INVALID_CREDENTIALS, **{"WWW-Authenticate": realm})
    if (route := request.match_info.route.name) in RPCS:
        method, accepted = RPCS[route]
        if not grant.scopes & set(accepted):
            info = _info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", service=service, method=method)
            realm = f'{REALM}, error="insufficient_scope", scope="{" ".join(accepted)}"'
            message = "Request had insufficient authentication scopes."
            raise _google(403, "PERMISSION_DENIED", message, info, **{"WWW-Authenticate": realm})
    if grant.user is None:  # a service account without a user has no Meet of its own
        raise _google(403, "PERMISSION_DENIED", DENIED)
    if state.throttled:
        wait = state.throttled.pop(0)
        message = (
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user' "
            f"of service '{service}' for consumer 'project_number:{PROJECT_NUMBER}'."
        )
        info = _info("RATE_LIMIT_EXCEEDED", service=service, consumer=f"projects/{PROJECT_NUMBER}")
        headers = {} if wait is None else {"Retry-After": wait}
        raise _google(429, "RESOURCE_EXHAUSTED", message, info, **headers)
    request[GRANT] = grant


@web.middleware
async def _gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.path.startswith("/v2/"):
            _check_call(request, "meet.googleapis.com")
        if request.path.startswith("/v1/"):
            _check_call(request, "workspaceevents.googleapis.com")
            request.app[STATE].sweep()
        return await handler(request)
    except Refusal as refusal:
        return refusal.response


# Spaces


def _camel(path: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m[1].upper(), path)


def _known(names: Iterable[str], where: str, known: Iterable[str]) -> None:
    for name in names:
        if _camel(name) not in known:
            unknown = f"Unknown name \"{name}\" at '{where}': Cannot find field."
            raise _invalid(f"Invalid JSON payload received. {unknown}", where)


async def _object(request: web.Request, where: str) -> dict[str, Any]:
    """The JSON object in the body (none is `{}`)."""
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        raise _invalid("Invalid JSON payload received. Unexpected token.", where) from None
    if not isinstance(body, dict):
        raise _invalid("Invalid JSON payload received. Expected an object.", where)
    return body


async def _config(request: web.Request) -> dict[str, Any]:
    """The config of the Space in the body: names in either spelling, enums checked."""
    body = await _object(request, "space")
    config = body.get("config", {})
    if not isinstance(config, dict):
        raise _invalid("Invalid JSON payload received. Expected an object.", "space")
    _known(body, "space", SPACE_FIELDS)
    _known(config, "space.config", CONFIG_FIELDS)
    config = {_camel(k): v for k, v in config.items()}
    for key, allowed in (("accessType", ACCESS_TYPES), ("entryPointAccess", ENTRY_POINTS)):
        if key in config and config[key] not in allowed:
            snake = re.sub(r"[A-Z]", lambda m: "_" + m[0].lower(), key)
            enum = f"type.googleapis.com/google.apps.meet.v2.SpaceConfig.{key[0].upper()}{key[1:]}"
            message = f"Invalid value at 'space.config.{snake}' ({enum}), {json.dumps(config[key])}"
            raise _invalid(message, f"space.config.{snake}")
    return config


def _apply(state: FakeMeet, space: Space, config: Mapping[str, Any], paths: Iterable[str]) -> None:
    """Set the masked fields; a masked field the body leaves out goes back to its default."""
    for path in paths:
        if path in ("*", "config", "config.accessType"):
            wanted = config.get("accessType", ACCESS_TYPES[0])
            wanted = state.default_access_type if wanted == ACCESS_TYPES[0] else wanted
            space.access_type = state.forced_access_type or wanted
        if path in ("*", "config", "config.entryPointAccess"):
            wanted = config.get("entryPointAccess", ENTRY_POINTS[0])
            space.entry_point_access = "ALL" if wanted == ENTRY_POINTS[0] else wanted


def _space(request: web.Request, *, by_code: bool = False, ident: str | None = None) -> Space:
    spaces, ident = request.app[STATE].spaces, ident or request.match_info["space"]
    space = spaces.get(f"spaces/{ident}")
    if space is None and by_code:
        space = next((s for s in spaces.values() if s.meeting_code == ident), None)
    if space is None:
        raise _google(404, "NOT_FOUND", NOT_FOUND)
    if space.owner != request[GRANT].user:
        raise _google(403, "PERMISSION_DENIED", DENIED)
    return space


async def create_space(request: web.Request) -> web.Response:
    state = request.app[STATE]
    config = await _config(request)
    space = state.add_space(request[GRANT].user or USER)
    _apply(state, space, config, ["*"])
    return web.json_response(space.json())


async def get_space(request: web.Request) -> web.Response:
    return web.json_response(_space(request, by_code=True).json())


async def update_space(request: web.Request) -> web.Response:
    space, config = _space(request), await _config(request)
    mask = request.query.get("updateMask", request.query.get("update_mask", "*"))
    paths = [_camel(p.strip()) for p in mask.split(",") if p.strip()] or ["*"]
    for path in paths:
        if path not in ("*", "config") and path.removeprefix("config.") not in CONFIG_FIELDS:
            raise _invalid(f"Invalid field mask path: {path}", "update_mask")
    _apply(request.app[STATE], space, config, paths)
    return web.json_response(space.json())


async def end_conference(request: web.Request) -> web.Response:
    state, space = request.app[STATE], _space(request)
    if space.active is None and state.no_conference == "NOT_FOUND":
        raise _google(404, "NOT_FOUND", NOT_FOUND)
    if space.active is None:
        raise _google(400, "FAILED_PRECONDITION", "There is no active conference in the space.")
    state.end_conference(space.name)
    return web.json_response({})


# Conference records


Term = tuple[Callable[[Any], Any], Callable[[Any, Any], bool] | None, Any]


def _terms(raw: str, fields: Mapping[str, Callable[[Any], Any]]) -> list[Term]:
    """The documented filter subset: `field op "value"` and `field IS [NOT] NULL`, with AND."""
    terms: list[Term] = []
    for term in filter(None, re.split(r"\s+AND\s+", raw.strip())):
        found = TERM.fullmatch(term.strip())
        if found is None or found[1] not in fields:
            raise _invalid(f"Invalid filter: {term.strip()}", "filter")
        get, op, value = fields[found[1]], found[2], found[3]
        if op is None:  # IS [NOT] NULL: the value says whether the field must be set
            terms.append((get, None, bool(found[4])))
            continue
        if found[1].endswith("time"):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise _invalid(f"Invalid timestamp in filter: {value}", "filter") from None
            value = moment.replace(tzinfo=moment.tzinfo or UTC)
        terms.append((get, OPS[op], value))
    return terms


def _passes(item: Any, terms: list[Term]) -> bool:
    return all(
        (get(item) is not None) == value
        if op is None
        else get(item) is not None and op(get(item), value)
        for get, op, value in terms
    )


def _page(
    request: web.Request,
    key: str,
    items: list[Any],
    fields: Mapping[str, Callable[[Any], Any]],
    limits: tuple[int, int],
) -> web.Response:
    """One page of a list: the filter, pageSize (unset: the default; coerced to the maximum)."""
    terms = _terms(request.query.get("filter", ""), fields)
    return _paged(request, key, [item for item in items if _passes(item, terms)], limits)


def _paged(
    request: web.Request, key: str, kept: list[Any], limits: tuple[int, int]
) -> web.Response:
    raw, (default, most) = request.query.get("pageSize", "0"), limits
    if not re.fullmatch(r"-?\d+", raw) or int(raw) < 0:
        raise _invalid(f"Invalid value at 'page_size' (TYPE_INT32), \"{raw}\"", "page_size")
    size = min(int(raw) or default, most, request.app[STATE].page_limit or most)
    start = 0
    if presented := request.query.get("pageToken"):
        try:
            decoded = base64.urlsafe_b64decode(presented + "=" * (-len(presented) % 4)).decode()
        except ValueError:
            decoded = ""
        if not re.fullmatch(r"o:\d+", decoded):
            raise _invalid("Invalid page token.", "page_token")
        start = int(decoded[2:])
    body: dict[str, Any] = {}
    if page := [item.json() for item in kept[start : start + size]]:
        body[key] = page  # Google's JSON leaves an empty list out
    if start + size < len(kept):
        body["nextPageToken"] = base64.urlsafe_b64encode(f"o:{start + size}".encode()).decode()
    return web.json_response(body)


def _visible(request: web.Request, record: Record) -> bool:
    space = request.app[STATE].spaces.get(record.space)
    return space is not None and space.owner == request[GRANT].user


def _record(request: web.Request) -> Record:
    name = f"conferenceRecords/{request.match_info['record']}"
    found = next((r for r in request.app[STATE].live_records() if r.name == name), None)
    if found is None:
        raise _google(404, "NOT_FOUND", NOT_FOUND)
    if not _visible(request, found):
        raise _google(403, "PERMISSION_DENIED", DENIED)
    return found


def _participant(request: web.Request) -> Participant:
    record = _record(request)
    found = record.participants.get(f"{record.name}/participants/{request.match_info['p']}")
    if found is None:
        raise _google(404, "NOT_FOUND", NOT_FOUND)
    return found


async def list_records(request: web.Request) -> web.Response:
    state = request.app[STATE]
    records = [r for r in state.live_records() if _visible(request, r)]
    code = {s.name: s.meeting_code for s in state.spaces.values()}
    fields = {"space.name": lambda r: r.space, "space.meeting_code": lambda r: code.get(r.space)}
    fields |= {"start_time": lambda r: r.start, "end_time": lambda r: r.end}
    newest = sorted(records, key=lambda r: r.start, reverse=True)
    return _page(request, "conferenceRecords", newest, fields, (25, 100))


async def get_record(request: web.Request) -> web.Response:
    return web.json_response(_record(request).json())


async def list_participants(request: web.Request) -> web.Response:
    record = _record(request)
    fields = {"earliest_start_time": lambda p: p.earliest, "latest_end_time": lambda p: p.latest}
    newest = sorted(record.participants.values(), key=lambda p: p.earliest, reverse=True)
    return _page(request, "participants", newest, fields, (100, 250))


async def list_sessions(request: web.Request) -> web.Response:
    participant = _participant(request)
    fields = {"start_time": lambda s: s.start, "end_time": lambda s: s.end}
    newest = sorted(participant.sessions.values(), key=lambda s: s.start, reverse=True)
    return _page(request, "participantSessions", newest, fields, (100, 250))


async def get_participant(request: web.Request) -> web.Response:
    return web.json_response(_participant(request).json())


async def get_session(request: web.Request) -> web.Response:
    participant = _participant(request)
    found = participant.sessions.get(
        f"{participant.name}/participantSessions/{request.match_info['s']}"
    )
    if found is None:
        raise _google(404, "NOT_FOUND", NOT_FOUND)
    return web.json_response(found.json())


async def list_recordings(request: web.Request) -> web.Response:
    oldest = sorted(_record(request).recordings.values(), key=lambda r: r.start)
    return _page(request, "recordings", oldest, {}, (10, 100))


async def get_recording(request: web.Request) -> web.Response:
    record = _record(request)
    found = record.recordings.get(f"{record.name}/recordings/{request.match_info['r']}")
    if found is None:
        raise _google(404, "NOT_FOUND", NOT_FOUND)
    return web.json_response(found.json())


# Workspace Events subscriptions


def _flag(request: web.Request, name: str) -> bool:
    return request.query.get(name, "").lower() in ("true", "1")


async def _subscription_body(request: web.Request) -> dict[str, Any]:
    body = await _object(request, "subscription")
    _known(body, "subscription", SUBSCRIPTION_FIELDS)
    return {_camel(k): v for k, v in body.items()}


def _event_types(body: Mapping[str, Any]) -> list[str]:
    types = body.get("eventTypes")
    if not isinstance(types, list) or not types:
        raise _invalid("Subscription event types are required.", "subscription.event_types")
    for kind in types:
        if kind not in MEET_EVENTS:
            message = f"Event type {kind} is not supported for the target resource."
            raise _invalid(message, "subscription.event_types")
    return list(dict.fromkeys(types))


def _expiry(body: Mapping[str, Any], now: datetime) -> datetime:
    """`expireTime` or `ttl`, one of them; `ttl` unset or 0 is the maximum."""
    if "ttl" in body and "expireTime" in body:
        raise _invalid("Only one of ttl and expire_time may be set.", "subscription.expiration")
    if "expireTime" in body:
        raw = str(body["expireTime"])
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            enum = "type.googleapis.com/google.protobuf.Timestamp"
            message = f"Invalid value at 'subscription.expire_time' ({enum}), \"{raw}\""
            raise _invalid(message, "subscription.expire_time") from None
        moment = moment.replace(tzinfo=moment.tzinfo or UTC)
        if moment <= now:
            raise _invalid("The expiration time must be in the future.", "subscription.expire_time")
    else:
        raw = str(body.get("ttl", "0s"))
        found = re.fullmatch(r"(\d+)(?:\.(\d{1,9}))?s", raw)
        if found is None:
            enum = "type.googleapis.com/google.protobuf.Duration"
            message = f"Invalid value at 'subscription.ttl' ({enum}), \"{raw}\""
            raise _invalid(message, "subscription.ttl")
        ttl = timedelta(
            seconds=int(found[1]), microseconds=int((found[2] or "0").ljust(6, "0")[:6])
        )
        moment = now + (ttl or MAX_TTL)
    if moment > now + MAX_TTL:
        message = "The expiration exceeds the maximum of 7 days for this subscription."
        raise _invalid(message, "subscription.expiration")
    return moment


def _topic(state: FakeMeet, body: Mapping[str, Any]) -> str:
    """The notification topic: well formed, of this project, one Meet may publish to."""
    endpoint, where = body.get("notificationEndpoint"), "subscription.notification_endpoint"
    topic = endpoint.get("pubsubTopic") if isinstance(endpoint, dict) else None
    found = TOPIC_NAME.fullmatch(topic) if isinstance(topic, str) else None
    if found is None:
        raise _invalid(f"Invalid Pub/Sub topic: {topic}", f"{where}.pubsub_topic")
    if found[1] != PROJECT:
        message = "The Pub/Sub topic must be in the Google Cloud project of the subscription."
        raise _invalid(message, f"{where}.pubsub_topic")
    if found[0] != state.topic:
        message = f"{MEET_PUBLISHER} can't publish to {found[0]}: it does not exist, or lacks "
        raise _google(403, "PERMISSION_DENIED", message + "roles/pubsub.publisher on it.")
    return state.topic


def _subscription(request: web.Request) -> Subscription:
    sub = request.app[STATE].subscriptions.get(f"subscriptions/{request.match_info['sub']}")
    if sub is None:
        raise _google(404, "NOT_FOUND", NOT_FOUND)
    if sub.user != request[GRANT].user:
        raise _google(403, "PERMISSION_DENIED", DENIED)
    return sub


def _same_etag(sub: Subscription, etag: Any) -> None:
    if etag and etag != sub.etag:
        raise _google(409, "ABORTED", "The etag does not match the subscription's.")


async def create_subscription(request: web.Request) -> web.Response:
    state, body, user = request.app[STATE], await _subscription_body(request), request[GRANT].user
    target = body.get("targetResource")
    where = "subscription.target_resource"
    if not isinstance(target, str) or not target:
        raise _invalid("Subscription target resource is required.", where)
    space_id = target.removeprefix(MEET_SPACES)
    if space_id == target or not re.fullmatch(r"[^/]+", space_id):
        raise _invalid(f"Target resource {target} is not a Meet space.", where)
    types = _event_types(body)
    options = body.get("payloadOptions") or {}
    if isinstance(options, dict) and (
        options.get("includeResource") or options.get("include_resource")
    ):
        message = "Payload options that include the resource are only supported for Google Chat."
        raise _invalid(message, "subscription.payload_options.include_resource")
    topic, now = _topic(state, body), state.now()
    expires = _expiry(body, now)
    _space(request, ident=space_id)
    if any(s.user == user and s.target == target for s in state.subscriptions.values()):
        raise _google(409, "ALREADY_EXISTS", "Subscription already exists.")
    name = f"subscriptions/{_random(string.ascii_letters + string.digits, 24)}"
    sub = Subscription(name, user or USER, target, types, topic, now, expires)
    if not _flag(request, "validateOnly"):
        state.subscriptions[name] = sub
    return web.json_response(state.operation("Create", sub).json())


async def list_subscriptions(request: web.Request) -> web.Response:
    raw = request.query.get("filter", "").strip()
    if not raw:
        raise _invalid("A filter is required: at least one event type.", "filter")
    types: list[str] = []
    targets: list[str] = []
    for term in re.split(r"\s+AND\s+", raw):
        found = FILTER_TERM.fullmatch(term.strip())
        if found is None:
            raise _invalid(f"Invalid filter: {term.strip()}", "filter")
        (types if found[1].startswith("event_types") else targets).append(found[2])
    if not types:
        raise _invalid("The filter must name at least one event type.", "filter")
    mine = [
        s
        for s in request.app[STATE].subscriptions.values()
        if s.user == request[GRANT].user
        and all(t in s.event_types for t in types)
        and all(s.target == t for t in targets)
    ]
    return _paged(request, "subscriptions", mine, (50, 100))


async def get_subscription(request: web.Request) -> web.Response:
    return web.json_response(_subscription(request).json())


async def update_subscription(request: web.Request) -> web.Response:
    """Renewal (`ttl`, `expire_time`) and, as the discovery document allows, `event_types`."""
    state, sub, body = request.app[STATE], _subscription(request), await _subscription_body(request)
    mask = request.query.get("updateMask", request.query.get("update_mask", ""))
    paths = [_camel(p.strip()) for p in mask.split(",") if p.strip()]
    paths = paths or [k for k in ("ttl", "expireTime", "eventTypes") if k in body]
    if not paths:
        raise _invalid("An update mask is required.", "update_mask")
    for path in paths:
        if path not in ("ttl", "expireTime", "eventTypes"):
            raise _invalid(f"Invalid field mask path: {path}", "update_mask")
    if {"ttl", "expireTime"} <= set(paths):
        raise _invalid("Only one of ttl and expire_time may be set.", "update_mask")
    _same_etag(sub, body.get("etag"))
    now, changed = state.now(), replace(sub)
    if "eventTypes" in paths:
        changed.event_types = _event_types(body)
    if "ttl" in paths:
        changed.expires = _expiry({"ttl": body.get("ttl", "0s")}, now)
    if "expireTime" in paths:
        if "expireTime" not in body:
            raise _invalid("The expiration time is required.", "subscription.expire_time")
        changed.expires = _expiry({"expireTime": body["expireTime"]}, now)
    changed.touch(now)
    if not _flag(request, "validateOnly"):
        sub.event_types, sub.expires = changed.event_types, changed.expires
        sub.touch(now)
        changed = sub
    return web.json_response(state.operation("Update", changed).json())


async def delete_subscription(request: web.Request) -> web.Response:
    state = request.app[STATE]
    gone = f"subscriptions/{request.match_info['sub']}" not in state.subscriptions
    if not (gone and _flag(request, "allowMissing")):
        sub = _subscription(request)
        _same_etag(sub, request.query.get("etag"))
        if not _flag(request, "validateOnly"):
            del state.subscriptions[sub.name]
    return web.json_response(state.operation("Delete", None).json())


async def reactivate_subscription(request: web.Request) -> web.Response:
    state, sub = request.app[STATE], _subscription(request)
    if sub.state != "SUSPENDED":
        raise _google(400, "FAILED_PRECONDITION", "The subscription is not suspended.")
    sub.state, sub.suspension_reason = "ACTIVE", None
    sub.touch(state.now())
    return web.json_response(state.operation("Reactivate", sub).json())


async def get_operation(request: web.Request) -> web.Response:
    state = request.app[STATE]
    op = state.operations.get(f"operations/{request.match_info['op']}")
    if op is None:
        raise _google(404, "NOT_FOUND", NOT_FOUND)
    if not op.done:  # done now: the answer is the subscription as it stands
        op.done = True
        if sub := state.subscriptions.get(op.subscription or ""):
            sub.reconciling = False
            op.response = _any(sub.json())
    return web.json_response(op.json())


async def certs(request: web.Request) -> web.Response:
    """Google's JWK set: the keys that sign push tokens (`jwks_uri` of accounts.google.com)."""
    state = request.app[STATE]
    state.jwks_requests += 1
    cache = f"public, max-age={state.jwks_max_age}, must-revalidate, no-transform"
    return web.json_response(state.jwks(), headers={"Cache-Control": cache})


async def _outbound(app: web.Application) -> AsyncIterator[None]:
    """The session pushes go out on."""
    state = app[STATE]
    async with aiohttp.ClientSession() as session:
        state.client = session
        yield
        state.client = None


def create_app(state: FakeMeet) -> web.Application:
    app = web.Application(middlewares=[_gate])
    app[STATE] = state
    app.cleanup_ctx.append(_outbound)
    app.router.add_post("/token", token)
    app.router.add_get("/oauth2/v3/certs", certs)
    space = "/v2/spaces/{space:[^/:]+}"
    app.router.add_post("/v2/spaces", create_space, name="create_space")
    app.router.add_get(space, get_space, name="get_space")
    app.router.add_patch(space, update_space, name="update_space")
    app.router.add_post(f"{space}:endActiveConference", end_conference, name="end_conference")
    record = "/v2/conferenceRecords/{record:[^/]+}"
    app.router.add_get("/v2/conferenceRecords", list_records, name="list_records")
    app.router.add_get(record, get_record, name="get_record")
    app.router.add_get(f"{record}/participants", list_participants, name="list_participants")
    participant = f"{record}/participants/{{p:[^/]+}}"
    app.router.add_get(participant, get_participant, name="get_participant")
    app.router.add_get(f"{participant}/participantSessions", list_sessions, name="list_sessions")
    session = f"{participant}/participantSessions/{{s:[^/]+}}"
    app.router.add_get(session, get_session, name="get_session")
    app.router.add_get(f"{record}/recordings", list_recordings, name="list_recordings")
    app.router.add_get(f"{record}/recordings/{{r:[^/]+}}", get_recording, name="get_recording")
    subs, sub = "/v1/subscriptions", "/v1/subscriptions/{sub:[^/:]+}"
    app.router.add_post(subs, create_subscription, name="create_subscription")
    app.router.add_get(subs, list_subscriptions, name="list_subscriptions")
    app.router.add_get(sub, get_subscription, name="get_subscription")
    app.router.add_patch(sub, update_subscription, name="update_subscription")
    app.router.add_delete(sub, delete_subscription, name="delete_subscription")
    app.router.add_post(
        f"{sub}:reactivate", reactivate_subscription, name="reactivate_subscription"
    )
    app.router.add_get("/v1/operations/{op:.+}", get_operation, name="get_operation")
    return app
