"""A real Janus (Debian package `janus`) on a free port with a config folder of its own; a
participant that joins a VideoRoom over the HTTP API the way our join page does; and the join
page's own script run in node with janus.js, a stub DOM and a browser that refuses the camera.

`janus_factory` starts a Janus of one test's own, optionally with the sample event handler
posting to a backend (the service under test) and the admin API (to stop that handler);
`janus_people` joins and leaves its rooms like browsers.

Used as a plugin: `pytest_plugins = ["janus_server"]`. Without the binaries the fixtures skip.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from integrations.base import ProviderError
from integrations.janus import PLUGIN, JanusClient

from .mailsink import free_port
from .tools import missing, reason, which

MISSING = reason("janus")
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")
PAGE_JS = Path(__file__).resolve().parents[2] / "orchestrator" / "static" / "janus-room.js"
START_TIMEOUT = 15.0

# Only the HTTP transport and the VideoRoom plugin: everything else is switched off, which also
# keeps start-up near 0.05 s. Plugin and transport names are those of Debian's janus 1.1.
OTHER_PLUGINS = (
    "audiobridge duktape echotest lua nosip recordplay sip streaming textroom videocall voicemail"
)
OTHER_TRANSPORTS = "mqtt nanomsg pfunix rabbitmq websockets"
OTHER_EVENT_HANDLERS = "gelfevh mqttevh nanomsgevh rabbitmqevh wsevh"
SAMPLE_EVENT_HANDLER = "janus.eventhandler.sampleevh"
ADMIN_SECRET = "janus-test-admin-secret"


def _libraries(names: str) -> str:
    return ",".join(f"libjanus_{name}.so" for name in names.split())


def _text(value: str) -> str:
    """A quoted jcfg string."""
    return json.dumps(value)


@dataclass(frozen=True)
class EventHandler:
    """The sample event handler: POSTs the events of `events` (a mask such as
    "plugins" or "all") to `backend`, with HTTP Basic credentials when `user` is given, grouped
    in JSON arrays when `grouping`; a failed POST is retried `max_retransmissions` times with an
    exponential backoff from `backoff_ms`, then the event is lost."""

    backend: str
    user: str | None = None
    password: str | None = None
    events: str = "plugins"
    grouping: bool = True
    max_retransmissions: int = 5
    backoff_ms: int = 100

    def config(self) -> str:
        lines = [
            "enabled = true",
            f"events = {_text(self.events)}",
            f"grouping = {str(self.grouping).lower()}",
            'json = "compact"',
            f"backend = {_text(self.backend)}",
            f"max_retransmissions = {self.max_retransmissions}",
            f"retransmissions_backoff = {self.backoff_ms}",
        ]
        if self.user is not None:
            lines += [
                f"backend_user = {_text(self.user)}",
                f"backend_pwd = {_text(self.password or '')}",
            ]
        return "general: {\n" + "".join(f"  {line}\n" for line in lines) + "}\n"


def janus_binary() -> str | None:
    return which("janus")


def write_config(
    folder: Path,
    port: int,
    *,
    event_handler: EventHandler | None = None,
    admin_port: int | None = None,
) -> Path:
    """janus.jcfg and the configs it needs; no STUN; the admin API only on `admin_port` (with
    ADMIN_SECRET); no event handler but the sample one when `event_handler` is given.
    Written rather than copied from /etc/janus, so a local edit there cannot change the tests."""
    folder.mkdir(parents=True, exist_ok=True)
    secret = f"  admin_secret = {_text(ADMIN_SECRET)}\n" if admin_port else ""
    events = (
        f'events: {{\n  broadcast = true\n  disable = "{_libraries(OTHER_EVENT_HANDLERS)}"\n}}\n'
        if event_handler
        else "events: {\n  broadcast = false\n}\n"
    )
    (folder / "janus.jcfg").write_text(
        "general: {\n  debug_level = 3\n  debug_colors = false\n  session_timeout = 60\n"
        f"{secret}}}\n"
        'nat: {\n  ice_ignore_list = "vmnet"\n}\n'
        f'plugins: {{\n  disable = "{_libraries(OTHER_PLUGINS)}"\n}}\n'
        f'transports: {{\n  disable = "{_libraries(OTHER_TRANSPORTS)}"\n}}\n'
        'loggers: {\n  disable = "libjanus_jsonlog.so"\n}\n'
        f"{events}"
    )
    admin = (
        f'  admin_http = true\n  admin_port = {admin_port}\n  admin_ip = "127.0.0.1"\n'
        '  admin_base_path = "/admin"\n'
        if admin_port
        else "  admin_http = false\n"
    )
    (folder / "janus.transport.http.jcfg").write_text(
        'general: {\n  json = "compact"\n  base_path = "/janus"\n  http = true\n'
        f'  port = {port}\n  ip = "127.0.0.1"\n  https = false\n}}\n'
        f"admin: {{\n{admin}  admin_https = false\n}}\n"
    )
    if event_handler:
        (folder / f"{SAMPLE_EVENT_HANDLER}.jcfg").write_text(event_handler.config())
    # Our own, so the demo rooms of /etc/janus do not appear.
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return folder / "janus.jcfg"


@dataclass
class JanusServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    started_in: float
    admin_url: str | None = None

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def admin(self, body: dict[str, Any]) -> dict[str, Any]:
        """One admin API request (the server must have been started with `admin=True`)."""
        assert self.admin_url, "this Janus was started without the admin API"
        transaction = secrets.token_hex(6)
        payload = {**body, "transaction": transaction, "admin_secret": ADMIN_SECRET}
        request = urllib.request.Request(  # noqa: S310 (a local http URL of our own)
            self.admin_url,
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            answer: dict[str, Any] = json.loads(response.read())
        assert answer.get("janus") == "success", answer
        assert answer.get("transaction") == transaction, answer
        return answer

    def tweak_event_handler(self, **changes: Any) -> dict[str, Any]:
        """Changes the running sample event handler (`events="none"` stops its deliveries,
        `events="plugins"` resumes them) through the admin API."""
        answer = self.admin(
            {
                "janus": "query_eventhandler",
                "handler": SAMPLE_EVENT_HANDLER,
                "request": {"request": "tweak", **changes},
            }
        )
        response: dict[str, Any] = answer.get("response", {})
        assert "error" not in response, response
        return response

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/info", timeout=1) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_janus(
    binary: str,
    folder: Path,
    *,
    port: int | None = None,
    event_handler: EventHandler | None = None,
    admin: bool = False,
) -> JanusServer:
    """Starts Janus in the foreground and returns once `GET /janus/info` answers; on `port` when
    given (a caller that must know the URL before Janus runs), else on a free one."""
    port = port or free_port()
    admin_port = free_port() if admin else None
    config = write_config(folder, port, event_handler=event_handler, admin_port=admin_port)
    log = folder / "janus.log"
    began = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, "-C", str(config), "-F", str(folder), "--disable-colors"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = JanusServer(
        f"http://127.0.0.1:{port}/janus",
        process,
        log,
        0.0,
        f"http://127.0.0.1:{admin_port}/admin" if admin_port else None,
    )
    while not _answers(server.url):
        if process.poll() is not None or time.monotonic() - began > START_TIMEOUT:
            server.stop()
            raise RuntimeError(f"Janus did not start:\n{server.log_tail()}")
        time.sleep(0.05)
    server.started_in = time.monotonic() - began
    return server


@pytest.fixture(scope="session")
def janus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusServer]:
    """One Janus for the whole run; tests keep apart by using their own room keys."""
    binary = janus_binary()
    if binary is None:
        missing("janus")
    server = start_janus(binary, tmp_path_factory.mktemp("janus"))
    yield server
    server.stop()


StartJanus = Callable[..., JanusServer]


@pytest.fixture
async def janus_factory(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[StartJanus]:
    """`janus_factory(port=..., event_handler=EventHandler(...), admin=True)` starts a Janus of
    this test's own (see `start_janus`), stopped when the test ends. Stopped off the event loop:
    on its way out Janus still posts events (the last `leaving`s) to a backend that may be the
    test's own app, which must stay able to answer or Janus hangs until it is killed."""
    binary = janus_binary()
    if binary is None:
        missing("janus")
    started: list[JanusServer] = []

    def start(**options: Any) -> JanusServer:
        started.append(start_janus(binary, tmp_path_factory.mktemp("janus"), **options))
        return started[-1]

    yield start
    for server in started:
        await asyncio.to_thread(server.stop)


@pytest.fixture
async def janus_client(janus_server: JanusServer) -> AsyncIterator[JanusClient]:
    async with aiohttp.ClientSession() as session:
        yield JanusClient(session, janus_server.url, timeout=5)


@dataclass
class JanusParticipant:
    """A browser's side of the Janus API: one session and one VideoRoom handle."""

    client: JanusClient
    session_path: str
    handle_path: str
    closed: bool = False

    async def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """Sends an asynchronous plugin request (join, leave) and waits for its event."""
        ack = await self.client.post(self.handle_path, {"janus": "message", "body": body})
        assert ack["janus"] == "ack", ack
        url = f"{self.client.base_url}{self.session_path}?maxev=1"
        for _ in range(10):
            async with self.client.session.get(url, timeout=aiohttp.ClientTimeout(10)) as reply:
                event = await reply.json(content_type=None)
            if event.get("transaction") == ack["transaction"]:
                data: dict[str, Any] = event["plugindata"]["data"]
                return data
        raise AssertionError(f"no answer to {body['request']}")

    async def leave(self) -> dict[str, Any]:
        """Leaves the room (the page's Leave button) and closes the Janus session."""
        answer = await self.request({"request": "leave"})
        await self.client.post(self.session_path, {"janus": "destroy"})
        self.closed = True
        return answer


async def open_participant(client: JanusClient) -> JanusParticipant:
    """A new Janus session with a VideoRoom handle, as a browser tab opens one."""
    created = await client.post("", {"janus": "create"})
    session_path = f"/{created['data']['id']}"
    attached = await client.post(session_path, {"janus": "attach", "plugin": PLUGIN})
    return JanusParticipant(client, session_path, f"{session_path}/{attached['data']['id']}")


def join_body(room: int, *, pin: str, token: str, seat_number: int, display: str) -> dict[str, Any]:
    """The `join` request our join page sends: a publisher with the seat's token and number."""
    return {
        "request": "join",
        "ptype": "publisher",
        "room": room,
        "pin": pin,
        "display": display,
        "id": seat_number,
        "token": token,
    }


Join = Callable[..., Awaitable[dict[str, Any]]]


class JanusPeople:
    """Browsers on one Janus: `await people.join(room, pin=..., token=..., seat_number=...)`
    returns the participant (its `answer` is the plugin's reply) and `await participant.leave()`
    leaves; whoever is still in when the test ends has their session closed."""

    def __init__(self, client: JanusClient) -> None:
        self.client = client
        self.participants: list[JanusParticipant] = []

    async def join(
        self, room: int, *, pin: str, token: str, seat_number: int, display: str = "Guest"
    ) -> JanusParticipant:
        participant = await open_participant(self.client)
        self.participants.append(participant)
        answer = await participant.request(
            join_body(room, pin=pin, token=token, seat_number=seat_number, display=display)
        )
        assert answer.get("videoroom") == "joined", answer
        return participant

    async def close(self) -> None:
        for participant in self.participants:
            if participant.closed:
                continue
            # Janus may have stopped first: then there is nothing to close.
            with suppress(ProviderError, aiohttp.ClientError, asyncio.TimeoutError):
                await self.client.post(participant.session_path, {"janus": "destroy"})


@pytest.fixture
async def janus_people() -> AsyncIterator[Callable[[JanusServer], JanusPeople]]:
    """`janus_people(server)`: browsers joining and leaving the rooms of that Janus."""
    crowds: list[JanusPeople] = []
    async with aiohttp.ClientSession() as session:

        def people(server: JanusServer) -> JanusPeople:
            crowds.append(JanusPeople(JanusClient(session, server.url, timeout=5)))
            return crowds[-1]

        yield people
        for crowd in crowds:
            await crowd.close()


@pytest.fixture
async def janus_join(janus_client: JanusClient) -> AsyncIterator[Join]:
    """`await janus_join(room, pin=..., token=..., seat_number=..., display=...)` joins as a
    publisher the way the join page does and returns the plugin's answer (`joined` or an error);
    the participant stays in the room until the test ends."""
    sessions: list[str] = []

    async def join(
        room: int, *, pin: str, token: str, seat_number: int, display: str = "Guest"
    ) -> dict[str, Any]:
        participant = await open_participant(janus_client)
        sessions.append(participant.session_path)
        return await participant.request(
            join_body(room, pin=pin, token=token, seat_number=seat_number, display=display)
        )

    yield join
    for session_path in sessions:
        await janus_client.post(session_path, {"janus": "destroy"})


# The browser around the join page: just enough DOM and WebRTC for janus.js to reach the point where
# it asks for the camera, which is refused. Prints "status <text>" for every status message and
# "navigate <url>" when the page leaves; a line "leave" on stdin clicks the Leave button.
BROWSER = r"""
const vm = require("vm");
const fs = require("fs");
const readline = require("readline");
const [janusJs, pageJs, dataset] = process.argv.slice(-3);
function element() {
  return {
    dataset: {}, hidden: false, disabled: false, listeners: {}, classList: { toggle() {} },
    addEventListener(type, listener) { this.listeners[type] = listener; },
    append() {}, remove() {}, setAttribute() {}, play: async () => {},
  };
}
const elements = {};
for (const id of ["room", "room-status", "self-video", "feeds", "alone", "leave"]) {
  elements[id] = element();
}
Object.assign(elements.room.dataset, JSON.parse(dataset));
Object.defineProperty(elements["room-status"], "textContent", {
  set(text) { console.log("status " + text); },
});
const refused = Object.assign(new Error("Permission denied"), { name: "NotAllowedError" });
const browser = {
  console, fetch, Promise, setTimeout, clearTimeout, addEventListener() {},
  WebSocket: class {}, MediaStream: class {}, MediaStreamTrack: class {},
  RTCRtpTransceiver: class {}, RTCRtpSender: class { static getCapabilities() { return null; } },
  RTCPeerConnection: class {
    addEventListener() {} getTransceivers() { return []; } getSenders() { return []; }
  },
  navigator: {
    userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    mediaDevices: { getUserMedia: async () => { throw refused; } },
  },
  document: { getElementById: (id) => elements[id], createElement: element },
  location: { assign(url) { console.log("navigate " + url); process.exit(0); } },
};
browser.window = browser.self = browser;
vm.createContext(browser);
for (const path of [janusJs, pageJs]) {
  vm.runInContext(fs.readFileSync(path, "utf8"), browser, { filename: path });
}
readline.createInterface({ input: process.stdin }).on("line", (line) => {
  if (line.trim() === "leave") elements.leave.listeners.click();
});
"""


@dataclass
class JoinPage:
    """The join page's script running against Janus; `statuses` are the texts it showed."""

    process: asyncio.subprocess.Process
    statuses: list[str]

    async def wait_for(self, prefix: str) -> str:
        """The rest of the next line starting with `prefix`, recording statuses on the way."""
        assert self.process.stdout is not None
        while True:
            line = (await asyncio.wait_for(self.process.stdout.readline(), 10)).decode()
            if not line:
                raise AssertionError(f"the page stopped before {prefix!r}: {self.statuses}")
            if line.startswith("status "):
                self.statuses.append(line.removeprefix("status ").strip())
            if line.startswith(prefix):
                return line.removeprefix(prefix).strip()

    async def wait_for_status(self, text: str) -> None:
        while not self.statuses or self.statuses[-1] != text:
            await self.wait_for("status ")

    async def leave(self) -> str:
        """Clicks Leave; returns the URL the page went to."""
        assert self.process.stdin is not None
        self.process.stdin.write(b"leave\n")
        await self.process.stdin.drain()
        return await self.wait_for("navigate ")


OpenPage = Callable[[dict[str, str]], Awaitable[JoinPage]]


@pytest.fixture
def node_with_janus_js() -> str:
    """node, with janus.js to run in it."""
    found = which("node")
    if found is None:
        missing("node")
    if not JANUS_JS.exists():
        missing("janus.js")
    return found


@pytest.fixture
async def join_page(node_with_janus_js: str) -> AsyncIterator[OpenPage]:
    """`await join_page(dataset)` runs janus-room.js with `dataset` as the data- attributes of
    #room (camelCase keys, as `element.dataset` has them)."""
    pages: list[JoinPage] = []

    async def open_page(dataset: dict[str, str]) -> JoinPage:
        process = await asyncio.create_subprocess_exec(
            node_with_janus_js,
            "-e",
            BROWSER,
            str(JANUS_JS),
            str(PAGE_JS),
            json.dumps(dataset),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        pages.append(JoinPage(process, []))
        return pages[-1]

    yield open_page
    for page in pages:
        if page.process.returncode is None:
            page.process.kill()
        await page.process.communicate()
