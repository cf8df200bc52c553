"""A fake BigBlueButton API server that answers as bbb-web does, for tests of our client and of
the room lifecycle.

It follows bbb-web's ApiController and its validators (2.6–3.0): the checksum is recomputed over
the raw query string minus `checksum=…`, its algorithm chosen by its length; refusals are HTTP 200
`<returncode>FAILED</returncode>` XML, except on `join`, which redirects the browser to the logout
URL with `?errors=[{"key":…,"message":…}]`. `create` is idempotent per meetingID (SUCCESS with
`duplicateWarning`); joins are role-based and tied to the meeting by `createTime`.

In-process:  `server = await aiohttp_server(create_app(SECRET))`; state in `server.app[STATE]`.
Standalone:  `python tests/support/fake_bbb.py --port 8090 --secret S [--create-delay 0.1]
  [--state-file F]`
  prints `fake BigBlueButton listening on http://127.0.0.1:8090/bigbluebutton/api` when ready
  (`--port 0` picks a free port), writes `FakeBBB.snapshot()` as JSON to F after every request,
  and takes `POST /_fake/fail?statuses=500,429:2[&call=create]` (429 with `Retry-After: 2`)
  and `GET /_fake/state`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import http
import json
import os
import secrets
import signal
import string
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from aiohttp import web

API = "/bigbluebutton/api"
BY_LENGTH = {40: "sha1", 64: "sha256", 96: "sha384", 128: "sha512"}
CHECKSUM_MISSING = "You must provide the checksum"
CHECKSUM_WRONG = "Checksums do not match"  # bbb-web ≤ 2.3 said "You did not pass the checksum…"
NOT_FOUND = "A meeting with that ID does not exist"
DUPLICATE = "This conference was already in existence and may currently be in progress."
NOT_UNIQUE = "A meeting already exists with that meeting ID.  Please use a different meeting ID."
ENDED = (
    "A request to end the meeting was sent.  Please wait a few seconds, and then use the "
    "getMeetingInfo or isMeetingRunning API calls to verify that it was ended."
)
ROLES = {"moderator": "MODERATOR", "viewer": "VIEWER"}
ALPHANUMERIC = string.ascii_lowercase + string.digits


class Reject(Exception):
    """A refusal with bbb-web's messageKey and message."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(key)
        self.key, self.message = key, message


@dataclass
class Attendee:
    user_id: str
    internal_user_id: str
    full_name: str
    role: str


@dataclass
class Meeting:
    meeting_id: str
    name: str
    create_time: int
    attendee_pw: str
    moderator_pw: str
    params: dict[str, str]
    attendees: list[Attendee] = field(default_factory=list)

    @property
    def internal_id(self) -> str:
        return f"{hashlib.sha1(self.meeting_id.encode()).hexdigest()}-{self.create_time}"  # noqa: S324

    @property
    def metadata(self) -> dict[str, str]:
        # bbb-web lowercases meta names: meta_endCallbackUrl comes back as <endcallbackurl>.
        return {k[5:].lower(): v for k, v in self.params.items() if k.startswith("meta_")}


@dataclass(frozen=True)
class Failure:
    status: int
    retry_after: str | None = None


@dataclass
class FakeBBB:
    """The server's memory, and the counters tests read."""

    secret: str
    algorithms: frozenset[str] = frozenset(BY_LENGTH.values())
    create_delay: float = 0.0
    # BBB before 2.6 refused a repeated create without passwords with idNotUnique.
    legacy_duplicates: bool = False
    state_file: Path | None = None
    meetings: dict[str, Meeting] = field(default_factory=dict)
    ended: list[str] = field(default_factory=list)
    joins: list[dict[str, str]] = field(default_factory=list)
    calls: Counter[str] = field(default_factory=Counter)
    created: Counter[str] = field(default_factory=Counter)
    failures: defaultdict[str, deque[Failure]] = field(default_factory=lambda: defaultdict(deque))
    sessions: dict[str, Attendee] = field(default_factory=dict)
    last_create_time: int = 0
    recordings: list[dict[str, str]] = field(default_factory=list)

    def publish(self, meeting_id: str, record_id: str, url: str, minutes: int = 60) -> None:
        """A recording the server has processed and published."""
        self.recordings.append(
            {
                "meetingID": meeting_id,
                "recordID": record_id,
                "url": url,
                "length": str(minutes),
                "published": "true",
            }
        )

    @property
    def create_calls(self) -> int:
        return self.calls["create"]

    @property
    def meetings_created(self) -> int:
        """Distinct meetings ever created (a meeting ended and created again counts twice)."""
        return sum(self.created.values())

    def fail(self, *statuses: int | tuple[int, float], call: str = "create") -> None:
        """Answer the next `call` requests with these statuses; `(429, 2)` adds Retry-After."""
        for item in statuses:
            status, wait = item if isinstance(item, tuple) else (item, None)
            self.failures[call].append(Failure(status, None if wait is None else f"{wait:g}"))

    def verify(self, call: str, raw_query: str, given: str) -> None:
        """bbb-web's GetChecksumValidator: strip `checksum=…` from the raw query, hash it."""
        if not given:
            raise Reject("checksumError", CHECKSUM_MISSING)
        query = raw_query.replace("&checksum=" + given, "")
        query = query.replace("checksum=" + given + "&", "").replace("checksum=" + given, "")
        algorithm = BY_LENGTH.get(len(given))
        if algorithm in self.algorithms:
            expected = hashlib.new(algorithm, (call + query + self.secret).encode()).hexdigest()
            if hmac.compare_digest(expected, given.lower()):
                return
        raise Reject("checksumError", CHECKSUM_WRONG)

    def snapshot(self) -> dict[str, Any]:
        return {
            "create_calls": self.create_calls,
            "meetings_created": self.meetings_created,
            "created": dict(self.created),
            "calls": dict(self.calls),
            "meetings": {
                key: {
                    "name": m.name,
                    "internalMeetingID": m.internal_id,
                    "createTime": m.create_time,
                    "params": m.params,
                    "metadata": m.metadata,
                    "attendees": [vars(a) for a in m.attendees],
                }
                for key, m in self.meetings.items()
            },
            "ended": self.ended,
            "joins": self.joins,
            "pending_failures": {c: [f.status for f in q] for c, q in self.failures.items() if q},
        }

    def save(self) -> None:
        """Writes the snapshot atomically, so a reader in another process never sees half."""
        if self.state_file is None:
            return
        partial = self.state_file.with_name(self.state_file.name + ".tmp")
        partial.write_text(json.dumps(self.snapshot(), indent=1), encoding="utf-8")
        os.replace(partial, self.state_file)


STATE = web.AppKey("fake_bbb", FakeBBB)
Params = dict[str, str]
Handler = Callable[[FakeBBB, Params, web.Request], Awaitable[web.Response]]


def xml(fields: Mapping[str, Any]) -> web.Response:
    root = ET.Element("response")
    _fill(root, fields)
    return web.Response(body=ET.tostring(root, encoding="utf-8"), content_type="text/xml")


def _fill(parent: ET.Element, fields: Mapping[str, Any]) -> None:
    for tag, value in fields.items():
        node = ET.SubElement(parent, tag)
        if isinstance(value, Mapping):
            _fill(node, value)
        elif isinstance(value, list):  # <attendees><attendee>…</attendee></attendees>
            for item in value:
                _fill(ET.SubElement(node, tag[:-1]), item)
        else:
            node.text = str(value).lower() if isinstance(value, bool) else str(value)


def failed(key: str, message: str) -> web.Response:
    return xml({"returncode": "FAILED", "messageKey": key, "message": message})


def origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def conference(meeting: Meeting, key: str = "", message: str = "") -> web.Response:
    """What create answers, new or duplicate (bbb-web's respondWithConference)."""
    return xml(
        {
            "returncode": "SUCCESS",
            "meetingID": meeting.meeting_id,
            "internalMeetingID": meeting.internal_id,
            "parentMeetingID": "bbb-none",
            "attendeePW": meeting.attendee_pw,
            "moderatorPW": meeting.moderator_pw,
            "createTime": meeting.create_time,
            "voiceBridge": meeting.params.get("voiceBridge", "70000"),
            "dialNumber": "613-555-1234",
            "createDate": time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime()),
            "hasUserJoined": bool(meeting.attendees),
            "duration": meeting.params.get("duration", "0"),
            "hasBeenForciblyEnded": False,
            "messageKey": key,
            "message": message,
        }
    )


async def create(state: FakeBBB, params: Params, request: web.Request) -> web.Response:
    if state.create_delay:
        await asyncio.sleep(state.create_delay)
    meeting_id, name = params.get("meetingID", ""), params.get("name", "")
    if not meeting_id:
        raise Reject("missingParamMeetingID", "You must provide a meeting ID")
    if not 2 <= len(meeting_id) <= 256:
        raise Reject("validationError", "Meeting ID must be between 2 and 256 characters")
    if "," in meeting_id:
        raise Reject("validationError", "Meeting ID cannot contain ','")
    if not name:
        raise Reject("validationError", "You must provide a meeting name")
    # 2.4–2.7 document 2–64; newer servers allow 256. The fake keeps the stricter rule.
    if not 2 <= units(name) <= 64:
        raise Reject("validationError", "Meeting name must be between 2 and 64 characters")
    attendee_pw, moderator_pw = params.get("attendeePW"), params.get("moderatorPW")
    existing = state.meetings.get(meeting_id)
    if existing is not None:
        same = (attendee_pw, moderator_pw) == (existing.attendee_pw, existing.moderator_pw)
        unprotected = not attendee_pw and not moderator_pw and not state.legacy_duplicates
        if same or unprotected:
            return conference(existing, "duplicateWarning", DUPLICATE)
        raise Reject("idNotUnique", NOT_UNIQUE)
    create_time = state.last_create_time = max(int(time.time() * 1000), state.last_create_time + 1)
    meeting = Meeting(
        meeting_id=meeting_id,
        name=name,
        create_time=create_time,
        attendee_pw=attendee_pw or _random(string.ascii_letters, 8),
        moderator_pw=moderator_pw or _random(string.ascii_letters, 8),
        params={"voiceBridge": f"7{_random(string.digits, 4)}", **params},
    )
    meeting.params.pop("checksum", None)
    state.meetings[meeting_id] = meeting
    state.created[meeting_id] += 1
    return conference(meeting)


async def join(state: FakeBBB, params: Params, request: web.Request) -> web.Response:
    meeting = state.meetings.get(params.get("meetingID", ""))
    if meeting is None:
        raise Reject("invalidMeetingIdentifier", NOT_FOUND)
    full_name = params.get("fullName", "").strip()
    if not full_name:
        raise Reject("missingParamFullName", "You must provide your name")
    create_time = params.get("createTime")
    if create_time is not None and create_time != str(meeting.create_time):
        raise Reject(
            "mismatchCreateTimeParam",
            "The createTime parameter submitted mismatches with the current meeting.",
        )
    role, password = ROLES.get(params.get("role", "").lower()), params.get("password")
    if role is None and password:
        passwords = {meeting.moderator_pw: "MODERATOR", meeting.attendee_pw: "VIEWER"}
        role = passwords.get(password)
        if role is None:  # bbb-web answers these two in XML, even for a browser
            return failed("Params required", "You must enter a valid password")
    if role is None:
        return failed(
            "Params required",
            "You must either send the valid role of the user, or the password, sould the "
            "meeting has one.",
        )
    internal = "w_" + _random(ALPHANUMERIC, 12)
    attendee = Attendee(params.get("userID") or internal, internal, full_name, role)
    meeting.attendees.append(attendee)
    token = _random(ALPHANUMERIC, 16)
    state.sessions[token] = attendee
    state.joins.append(
        {"meetingID": meeting.meeting_id, "createTime": create_time or "", **vars(attendee)}
    )
    client = f"{origin(request)}/html5client/join?sessionToken={token}"
    if (params.get("redirect") or "true").lower() == "true":
        return web.Response(status=302, headers={"Location": client})
    return xml(
        {
            "returncode": "SUCCESS",
            "messageKey": "successfullyJoined",
            "message": "You have joined successfully.",
            "meeting_id": meeting.internal_id,
            "user_id": internal,
            "auth_token": _random(ALPHANUMERIC, 12),
            "session_token": token,
            "guestStatus": "ALLOW",
            "url": client,
        }
    )


async def end(state: FakeBBB, params: Params, request: web.Request) -> web.Response:
    meeting = state.meetings.pop(params.get("meetingID", ""), None)
    if meeting is None:
        raise Reject("notFound", NOT_FOUND)
    state.ended.append(meeting.meeting_id)
    return xml({"returncode": "SUCCESS", "messageKey": "sentEndMeetingRequest", "message": ENDED})


async def get_meeting_info(state: FakeBBB, params: Params, request: web.Request) -> web.Response:
    meeting = state.meetings.get(params.get("meetingID", ""))
    if meeting is None:
        raise Reject("notFound", NOT_FOUND)
    moderators = sum(a.role == "MODERATOR" for a in meeting.attendees)
    return xml(
        {
            "returncode": "SUCCESS",
            "meetingName": meeting.name,
            "meetingID": meeting.meeting_id,
            "internalMeetingID": meeting.internal_id,
            "createTime": meeting.create_time,
            "running": bool(meeting.attendees),
            "duration": meeting.params.get("duration", "0"),
            "hasUserJoined": bool(meeting.attendees),
            "recording": meeting.params.get("record", "false") == "true",
            "hasBeenForciblyEnded": False,
            "participantCount": len(meeting.attendees),
            "moderatorCount": moderators,
            "attendees": [
                {"userID": a.user_id, "fullName": a.full_name, "role": a.role, "isPresenter": False}
                for a in meeting.attendees
            ],
            "metadata": meeting.metadata,
            "isBreakout": False,
        }
    )


async def is_meeting_running(state: FakeBBB, params: Params, request: web.Request) -> web.Response:
    meeting = state.meetings.get(params.get("meetingID", ""))
    return xml({"returncode": "SUCCESS", "running": bool(meeting and meeting.attendees)})


async def get_recordings(state: FakeBBB, params: Params, request: web.Request) -> web.Response:
    """Published recordings of a meeting, as bbb-web lists them (one playback format each)."""
    wanted = params.get("recordID")
    found = [
        r
        for r in state.recordings
        if r["meetingID"] == params.get("meetingID") and (not wanted or r["recordID"] == wanted)
    ]
    root = ET.Element("response")
    ET.SubElement(root, "returncode").text = "SUCCESS"
    recordings = ET.SubElement(root, "recordings")
    for record in found:
        node = ET.SubElement(recordings, "recording")
        for name in ("recordID", "meetingID", "published"):
            ET.SubElement(node, name).text = record[name]
        formats = ET.SubElement(ET.SubElement(node, "playback"), "format")
        ET.SubElement(formats, "type").text = "presentation"
        ET.SubElement(formats, "url").text = record["url"]
        ET.SubElement(formats, "length").text = record["length"]
    if not found:
        ET.SubElement(root, "messageKey").text = "noRecordings"
    return web.Response(body=ET.tostring(root, encoding="utf-8"), content_type="text/xml")


CALLS: dict[str, Handler] = {
    "create": create,
    "join": join,
    "end": end,
    "getMeetingInfo": get_meeting_info,
    "isMeetingRunning": is_meeting_running,
    "getRecordings": get_recordings,
}


async def api(request: web.Request) -> web.Response:
    state = request.app[STATE]
    call = request.match_info["call"]
    if call not in CALLS:
        raise web.HTTPNotFound()
    state.calls[call] += 1
    try:
        if state.failures[call]:
            failure = state.failures[call].popleft()
            headers = {"Retry-After": failure.retry_after} if failure.retry_after else {}
            reason = http.HTTPStatus(failure.status).phrase
            return web.Response(status=failure.status, text=reason, headers=headers)
        raw = request.rel_url.raw_query_string
        params = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        try:
            state.verify(call, raw, params.get("checksum", ""))
            return await CALLS[call](state, params, request)
        except Reject as refusal:
            if call != "join":
                return failed(refusal.key, refusal.message)
            errors = json.dumps([{"key": refusal.key, "message": refusal.message}])
            logout = params.get("logoutURL") or f"{origin(request)}/"
            separator = "&" if "?" in logout else "?"
            location = f"{logout}{separator}{urlencode({'errors': errors})}"
            return web.Response(status=302, headers={"Location": location})
    finally:
        state.save()


async def index(request: web.Request) -> web.Response:
    return xml({"returncode": "SUCCESS", "version": "2.0", "apiVersion": "2.0"})


async def client_page(request: web.Request) -> web.Response:
    attendee = request.app[STATE].sessions.get(request.query.get("sessionToken", ""))
    if attendee is None:
        return web.Response(status=401, text="unknown session")
    return web.Response(text=f"In the meeting as {attendee.full_name} ({attendee.role})")


async def logged_out(request: web.Request) -> web.Response:
    return web.Response(text="You have left the meeting.")


async def admin_fail(request: web.Request) -> web.Response:
    """`?statuses=500,429:2&call=create`: canned answers for the next calls."""
    state = request.app[STATE]
    for item in filter(None, request.query.get("statuses", "").split(",")):
        status, _, wait = item.partition(":")
        state.fail(
            (int(status), float(wait)) if wait else int(status),
            call=request.query.get("call", "create"),
        )
    state.save()
    return web.json_response(state.snapshot()["pending_failures"])


async def admin_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].snapshot())


def _random(alphabet: str, length: int) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(length))


def create_app(
    secret: str,
    *,
    algorithms: frozenset[str] = frozenset(BY_LENGTH.values()),
    create_delay: float = 0.0,
    legacy_duplicates: bool = False,
    state_file: Path | None = None,
) -> web.Application:
    app = web.Application()
    app[STATE] = FakeBBB(
        secret,
        algorithms=algorithms,
        create_delay=create_delay,
        legacy_duplicates=legacy_duplicates,
        state_file=state_file,
    )
    app.router.add_get(API, index)
    app.router.add_route("*", API + "/{call}", api)
    app.router.add_get("/html5client/join", client_page)
    app.router.add_get("/", logged_out)
    app.router.add_post("/_fake/fail", admin_fail)
    app.router.add_get("/_fake/state", admin_state)
    return app


async def serve(app: web.Application, host: str, port: int) -> None:
    """Runs until SIGTERM or SIGINT; prints the API URL once it accepts connections."""
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        app[STATE].save()
        bound = runner.addresses[0][1]
        print(f"fake BigBlueButton listening on http://{host}:{bound}{API}", flush=True)
        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


@contextlib.contextmanager
def in_a_process(secret: str, state_file: Path, create_delay: float) -> Iterator[str]:
    """This fake as a process of its own (for tests where several `rdv serve` share it); yields
    its API URL and stops it on the way out. Its counters are written to `state_file`."""
    command = [sys.executable, __file__, "--port", "0", "--secret", secret]
    command += ["--create-delay", str(create_delay), "--state-file", str(state_file)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    try:
        yield process.stdout.readline().strip().rsplit(" ", 1)[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake BigBlueButton API server for tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="0 picks a free port")
    parser.add_argument("--secret", required=True)
    parser.add_argument("--create-delay", type=float, default=0.0, help="seconds per create")
    parser.add_argument("--state-file", type=Path, help="JSON counters, rewritten per request")
    parser.add_argument("--checksums", default=",".join(BY_LENGTH.values()))
    parser.add_argument("--legacy-duplicates", action="store_true", help="as BBB before 2.6")
    args = parser.parse_args(argv)
    app = create_app(
        args.secret,
        algorithms=frozenset(args.checksums.split(",")),
        create_delay=args.create_delay,
        legacy_duplicates=args.legacy_duplicates,
        state_file=args.state_file,
    )
    asyncio.run(serve(app, args.host, args.port))


if __name__ == "__main__":
    main()
