"""`rdv demo`: the example event shifted to now and played in about a minute on embedded defaults
(SQLite, mail to `var/outbox/`, public Jitsi rooms), with no account and no network."""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import secrets
import socket
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import aiohttp

from ..serve import stop_on_signals
from ..settings import Settings, load_settings
from .jitsi import DeliveryRefused
from .program import EXAMPLE
from .story import VAR, DemoFailed, tell

DEFAULTS = Settings()


def demo_secret(var: Path = VAR) -> str:
    """The demo's own signing key, made once under var/ and kept private to this user."""
    path = var / "secret_key"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def demo_settings(environ: Mapping[str, str], config: str | None) -> Settings:
    """The environment's settings with the demo day's own rules on top: late after 2 minutes
    (meetings last 10), every room provisioned at once, reminders 5 minutes ahead, rooms on Jitsi
    (no account needed), and secrets made up where none is set."""
    settings = load_settings(environ, config)
    return dataclasses.replace(
        settings,
        late_after=timedelta(minutes=2),
        join_early=timedelta(minutes=10),
        room_lead=timedelta(hours=3),
        reminder_before=timedelta(minutes=5),
        default_provider="jitsi",
        secret_key=settings.secret_key or demo_secret(),
        jitsi_webhook_secret=settings.jitsi_webhook_secret or secrets.token_urlsafe(24),
    )


def listen(settings: Settings) -> tuple[socket.socket, Settings]:
    """The listening socket, bound before the app is built so that links name the right port:
    when the default port is taken, any free one (and the public URL follows, unless set)."""
    try:
        sock = socket.create_server((settings.host, settings.port))
    except OSError as error:
        if error.errno != errno.EADDRINUSE or settings.port != DEFAULTS.port:
            raise
        sock = socket.create_server((settings.host, 0))
    port = sock.getsockname()[1]
    if port != settings.port:
        print(f"rdv demo: port {settings.port} is taken; serving on {port}", file=sys.stderr)
        public = settings.public_url
        if public == DEFAULTS.public_url:
            public = f"http://127.0.0.1:{port}"
        settings = dataclasses.replace(settings, port=port, public_url=public)
    return sock, settings


def run(environ: Mapping[str, str], config: str | None, *, once: bool = False) -> int:
    """Plays the day; with `once`, exits at its end, else serves until Ctrl-C."""
    if not EXAMPLE.exists():
        print(
            f"rdv demo: the example event is missing ({EXAMPLE}); run it from a clone",
            file=sys.stderr,
        )
        return 1
    settings = demo_settings(environ, config)
    sock, settings = listen(settings)
    # The story goes to stdout; the service itself only says what goes wrong.
    logging.getLogger().setLevel(logging.WARNING)
    try:
        return asyncio.run(_main(settings, sock, once))
    except (DemoFailed, DeliveryRefused, aiohttp.ClientError) as error:
        print(f"rdv demo: {error}", file=sys.stderr)
        return 1


async def _main(settings: Settings, sock: socket.socket, once: bool) -> int:
    if not await tell(settings, sock, once=once, stop=stop_on_signals()):
        print("rdv demo: stopped before the end of the day", file=sys.stderr)
    return 0
