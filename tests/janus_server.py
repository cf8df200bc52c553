"""A real Janus (Debian package `janus`) on a free port with a config folder of its own; a
participant that joins a VideoRoom over the HTTP API the way our join page does; and the join
page's own script run in node with janus.js, a stub DOM and a browser that refuses the camera.

Used as a plugin: `pytest_plugins = ["janus_server"]`. Without the binaries the fixtures skip.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from mailsink import free_port

from integrations.janus import PLUGIN, JanusClient

MISSING = "janus is not installed (apt-get install janus)"
JANUS_JS = Path("/usr/share/javascript/janus-gateway/janus.js")
PAGE_JS = Path(__file__).resolve().parent.parent / "orchestrator" / "static" / "janus-room.js"
START_TIMEOUT = 15.0

# Only the HTTP transport and the VideoRoom plugin: everything else is switched off, which also
# keeps start-up near 0.05 s. Plugin and transport names are those of Debian's janus 1.1.
OTHER_PLUGINS = (
    "audiobridge duktape echotest lua nosip recordplay sip streaming textroom videocall voicemail"
)
OTHER_TRANSPORTS = "mqtt nanomsg pfunix rabbitmq websockets"


def _libraries(names: str) -> str:
    return ",".join(f"libjanus_{name}.so" for name in names.split())


def janus_binary() -> str | None:
    found = shutil.which("janus")
    if found:
        return found
    return "/usr/bin/janus" if Path("/usr/bin/janus").exists() else None


def write_config(folder: Path, port: int) -> Path:
    """janus.jcfg and the two configs it needs; no STUN, no admin API, no event handlers.
    Written rather than copied from /etc/janus, so a local edit there cannot change the tests."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "janus.jcfg").write_text(
        "general: {\n  debug_level = 3\n  debug_colors = false\n  session_timeout = 60\n}\n"
        'nat: {\n  ice_ignore_list = "vmnet"\n}\n'
        f'plugins: {{\n  disable = "{_libraries(OTHER_PLUGINS)}"\n}}\n'
        f'transports: {{\n  disable = "{_libraries(OTHER_TRANSPORTS)}"\n}}\n'
        'loggers: {\n  disable = "libjanus_jsonlog.so"\n}\n'
        "events: {\n  broadcast = false\n}\n"
    )
    (folder / "janus.transport.http.jcfg").write_text(
        'general: {\n  json = "compact"\n  base_path = "/janus"\n  http = true\n'
        f'  port = {port}\n  ip = "127.0.0.1"\n  https = false\n}}\n'
        "admin: {\n  admin_http = false\n  admin_https = false\n}\n"
    )
    # Our own, so the demo rooms of /etc/janus do not appear.
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    return folder / "janus.jcfg"


@dataclass
class JanusServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    started_in: float

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

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


def start_janus(binary: str, folder: Path) -> JanusServer:
    """Starts Janus in the foreground and returns once `GET /janus/info` answers."""
    port = free_port()
    config = write_config(folder, port)
    log = folder / "janus.log"
    began = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, "-C", str(config), "-F", str(folder), "--disable-colors"],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = JanusServer(f"http://127.0.0.1:{port}/janus", process, log, 0.0)
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
        pytest.skip(MISSING)
    server = start_janus(binary, tmp_path_factory.mktemp("janus"))
    yield server
    server.stop()


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


Join = Callable[..., Awaitable[dict[str, Any]]]


@pytest.fixture
async def janus_join(janus_client: JanusClient) -> AsyncIterator[Join]:
    """`await janus_join(room, pin=..., token=..., seat_number=..., display=...)` joins as a
    publisher the way the join page does and returns the plugin's answer (`joined` or an error);
    the participant stays in the room until the test ends."""
    sessions: list[str] = []

    async def join(
        room: int, *, pin: str, token: str, seat_number: int, display: str = "Guest"
    ) -> dict[str, Any]:
        created = await janus_client.post("", {"janus": "create"})
        session_path = f"/{created['data']['id']}"
        sessions.append(session_path)
        attached = await janus_client.post(session_path, {"janus": "attach", "plugin": PLUGIN})
        participant = JanusParticipant(
            janus_client, session_path, f"{session_path}/{attached['data']['id']}"
        )
        return await participant.request(
            {
                "request": "join",
                "ptype": "publisher",
                "room": room,
                "pin": pin,
                "display": display,
                "id": seat_number,
                "token": token,
            }
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
    found = shutil.which("node")
    if found is None:
        pytest.skip("node is not installed")
    if not JANUS_JS.exists():
        pytest.skip("janus.js is not installed (apt-get install libjs-janus-gateway)")
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
