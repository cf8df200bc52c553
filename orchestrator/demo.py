"""`rdv demo`: the example event on embedded defaults, with no account and no network."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

from .clock import SystemClock
from .jobs import import_file
from .serve import serve
from .settings import load_settings
from .tokens import mint_api_token

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lyon-2021" / "program.json"
VAR = Path("var")


def demo_secret(var: Path = VAR) -> str:
    """The demo's own signing key, made once under var/ and kept private to this user."""
    path = var / "secret_key"
    if not path.exists():
        var.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


def run(environ: Mapping[str, str], config: str | None) -> int:
    settings = load_settings(environ, config)
    if not settings.secret_key:
        settings = load_settings(environ, config, secret_key=demo_secret())
    if not EXAMPLE.exists():
        print(
            f"rdv demo: the example event is missing ({EXAMPLE}); run it from a clone",
            file=sys.stderr,
        )
        return 1
    for line in asyncio.run(import_file(settings, EXAMPLE)).summary():
        print(line)
    slug = "rdv-commande-publique-2021"
    token = mint_api_token(
        settings.require_secret_key(),
        role="organiser",
        event=slug,
        ttl=timedelta(hours=8),
        now=SystemClock().now(),
    )
    print(f"\nThe event is served at {settings.base_url}/api/v1/events/{slug}")
    print(f"Try: curl -H 'Authorization: Bearer {token}' {settings.base_url}/api/v1/events/{slug}")
    print("Stop with Ctrl-C.\n")
    serve(settings)
    return 0
