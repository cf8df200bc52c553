"""A fake Google OAuth 2.0 token endpoint (service-account JWT bearer grant with domain-wide
delegation) and the Meet REST API v2 calls the `meet` provider makes, answering as
reference/meet.md records Google, for tests of our client and adapter.

The token endpoint (`POST /token`, the key file's `token_uri`) checks what Google checks: the
grant type; an RS256 assertion from the fake's service account (`iss` = `client_email`, else
"account not found"), signed by its key (`kid` = `private_key_id`); `aud` = the token URI or
Google's; `exp - iat` at most an hour and not expired; `sub` a user of the domain (400
`invalid_grant` otherwise); every requested scope delegated to the client in the admin console
(401 `unauthorized_client` otherwise). Meet (`/v2`) wants a Bearer token the fake issued that has
not expired by `now` (401 UNAUTHENTICATED) and a scope the method's discovery entry lists (403
PERMISSION_DENIED, insufficient scopes); then a queued `throttle` answers 429 RESOURCE_EXHAUSTED,
with Retry-After only when given. Each POST /v2/spaces makes a new space (there is no request
id); GET also takes the meeting code; PATCH honours updateMask in either spelling, and without
one resets the config fields the body leaves out; endActiveConference without a conference
answers 400 FAILED_PRECONDITION or 404, as `no_conference` says, since which is not known.
`start_conference`, `join`, `leave` and `end_conference` make conference records (newest first,
filtered on `space.name`, `space.meeting_code`, `start_time`, `end_time`), participants and
sessions (newest join first, paged with `nextPageToken`), gone 30 days after the end. Google's
JSON leaves out empty lists, so an empty page is `{}`.

Stricter than Google: the assertion must carry `kid`; filters take only quoted values joined by
AND; PATCH and endActiveConference take the space id, not the meeting code. Looser: a space
made outside the app is not refused under `meetings.space.created`. Ours, not Google's: the
wording of the audience refusal, of 403s (another user's space; a token without `sub`, which
Google issues but which has no Meet) and of refused filters, masks and page tokens; anonymous or
phone users who rejoin under one name being one participant. Not served yet: one participant or
session by name, recordings, transcripts.

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
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

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
class Record:
    name: str
    space: str
    start: datetime
    end: datetime | None = None
    participants: dict[str, Participant] = field(default_factory=dict)

    def json(self) -> dict[str, Any]:
        body = {"name": self.name, "startTime": google_time(self.start), "space": self.space}
        if self.end:
            body |= {"endTime": google_time(self.end)}
            body |= {"expireTime": google_time(self.end + RETENTION)}
        return body


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

    @property
    def private_key_id(self) -> str:
        public = self.key.public_key()
        der = public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha1(der, usedforsecurity=False).hexdigest()

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
        return session.name

    def leave(self, session_name: str, at: datetime | None = None) -> None:
        participant_name = session_name.rpartition("/participantSessions/")[0]
        record = self.records[participant_name.partition("/participants/")[0]]
        record.participants[participant_name].sessions[session_name].end = at or self.now()

    def end_conference(self, space_name: str, at: datetime | None = None) -> str:
        """The conference ends: open sessions close; the record expires RETENTION later."""
        space = self.spaces[space_name]
        if space.active is None:
            raise ValueError(f"{space_name} runs no conference")
        record, at = self.records[space.active], at or self.now()
        for participant in record.participants.values():
            for session in participant.sessions.values():
                session.end = session.end or at
        record.end, space.active = at, None
        return record.name

    def live_records(self) -> list[Record]:
        return [r for r in self.records.values() if r.end is None or r.end + RETENTION > self.now()]


STATE = web.AppKey("fake_meet", FakeMeet)
GRANT = web.RequestKey("grant", Grant)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
READ = (CREATED, READONLY)
RPCS = {  # route name: (RPC, the scopes its discovery entry lists)
    "create_space": ("SpacesService.CreateSpace", (CREATED,)),
    "get_space": ("SpacesService.GetSpace", READ),
    "update_space": ("SpacesService.UpdateSpace", (CREATED,)),
    "end_conference": ("SpacesService.EndActiveConference", (CREATED,)),
    "list_records": ("ConferenceRecordsService.ListConferenceRecords", READ),
    "get_record": ("ConferenceRecordsService.GetConferenceRecord", READ),
    "list_participants": ("ConferenceRecordsService.ListParticipants", READ),
    "list_sessions": ("ConferenceRecordsService.ListParticipantSessions", READ),
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


def _check_call(request: web.Request) -> None:
    """A Meet call: a live Bearer token, a scope its method accepts, the throttle."""
    state = request.app[STATE]
    state.calls.append((request.method, request.path_qs))
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented:
        info = _info("CREDENTIALS_MISSING")
        raise _google(
            401, "UNAUTHENTICATED", MISSING_CREDENTIALS, info, **{"WWW-Authenticate": REALM}
        )
    grant = state.tokens.get(presented)
    if grant is None or grant.expires <= state.now():
        realm = f'{REALM}, error="invalid_token"'
        raise _google(401, "UNAUTHENTICATED", INVALID_CREDENTIALS, **{"WWW-Authenticate": realm})
    if (route := request.match_info.route.name) in RPCS:
        rpc, accepted = RPCS[route]
        if not grant.scopes & set(accepted):
            info = _info("ACCESS_TOKEN_SCOPE_INSUFFICIENT", method=f"google.apps.meet.v2.{rpc}")
            realm = f'{REALM}, error="insufficient_scope", scope="{" ".join(accepted)}"'
            message = "Request had insufficient authentication scopes."
            raise _google(403, "PERMISSION_DENIED", message, info, **{"WWW-Authenticate": realm})
    if grant.user is None:  # a service account without a user has no Meet of its own
        raise _google(403, "PERMISSION_DENIED", DENIED)
    if state.throttled:
        wait = state.throttled.pop(0)
        message = (
            "Quota exceeded for quota metric 'Requests' and limit 'Requests per minute per user' "
            f"of service 'meet.googleapis.com' for consumer 'project_number:{PROJECT_NUMBER}'."
        )
        info = _info("RATE_LIMIT_EXCEEDED", consumer=f"projects/{PROJECT_NUMBER}")
        headers = {} if wait is None else {"Retry-After": wait}
        raise _google(429, "RESOURCE_EXHAUSTED", message, info, **headers)
    request[GRANT] = grant


@web.middleware
async def _gate(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.path.startswith("/v2/"):
            _check_call(request)
        return await handler(request)
    except Refusal as refusal:
        return refusal.response


# Spaces


def _camel(path: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m[1].upper(), path)


async def _config(request: web.Request) -> dict[str, Any]:
    """The config of the Space in the body: names in either spelling, enums checked."""
    try:
        body = json.loads(await request.text() or "{}")
    except ValueError:
        raise _invalid("Invalid JSON payload received. Unexpected token.", "space") from None
    config = body.get("config", {}) if isinstance(body, dict) else None
    if not isinstance(config, dict):
        raise _invalid("Invalid JSON payload received. Expected an object.", "space")
    for where, names, known in (
        ("space", body, SPACE_FIELDS),
        ("space.config", config, CONFIG_FIELDS),
    ):
        for name in names:
            if _camel(name) not in known:
                unknown = f"Unknown name \"{name}\" at '{where}': Cannot find field."
                raise _invalid(f"Invalid JSON payload received. {unknown}", where)
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


def _space(request: web.Request, *, by_code: bool = False) -> Space:
    spaces, ident = request.app[STATE].spaces, request.match_info["space"]
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
    kept = [item for item in items if _passes(item, terms)]
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


def create_app(state: FakeMeet) -> web.Application:
    app = web.Application(middlewares=[_gate])
    app[STATE] = state
    app.router.add_post("/token", token)
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
    app.router.add_get(f"{participant}/participantSessions", list_sessions, name="list_sessions")
    return app
