"""The one typed settings object, read once from the environment and an optional TOML file."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from . import inbound_url

PREFIX = "RDV_"
PROVIDERS = ("jitsi", "bigbluebutton", "janus", "livekit", "zoom", "teams", "meet")
CHECKSUMS = ("sha1", "sha256", "sha384", "sha512")
LIVEKIT_MEET_CUSTOM = "https://meet.livekit.io/custom"
PLACEHOLDER_SECRETS = frozenset(
    {"change-me", "changeme", "secret", "password", "xxx", "todo", "replace-me", "example"}
)
MIN_SECRET_LENGTH = 16
LONGEST_SESSION = timedelta(days=1)  # RDV_MAX_SESSION_LENGTH

# What a provider needs before sessions may use it (RDV_ names, in the order the README lists them).
PROVIDER_REQUIREMENTS: dict[str, tuple[str, ...]] = {
    "jitsi": (),
    "bigbluebutton": ("bbb_url", "bbb_secret"),
    "janus": ("janus_url",),
    "livekit": ("livekit_url", "livekit_api_key", "livekit_api_secret"),
    "zoom": ("zoom_account_id", "zoom_client_id", "zoom_client_secret", "zoom_hosts"),
    "teams": ("teams_tenant_id", "teams_client_id", "teams_client_secret", "teams_organisers"),
    "meet": ("meet_credentials", "meet_user"),
}


@dataclass(frozen=True, slots=True)
class Marks:
    """A session's moments that the clock alone reaches: its links let people in `join_early`
    before the start, an absent person counts as late `late_after` after it, and its room
    closes `close_grace` after the end."""

    join_early: timedelta
    late_after: timedelta
    close_grace: timedelta


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


_DURATION = re.compile(r"(\d+)\s*(ms|d|h|m|s)")
_UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(value: str | int | float, name: str = "duration") -> timedelta:
    """Parse `30m`, `1h30m`, `60s`, `30d`, `0` or a number of seconds."""
    if isinstance(value, bool):
        raise SettingsError(f"{name}: expected a duration like 30m, got {value!r}")
    if isinstance(value, int | float):
        if value < 0:
            raise SettingsError(f"{name}: a duration cannot be negative")
        return timedelta(seconds=value)
    text = value.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return timedelta(seconds=float(text))
    pos, seconds = 0, 0.0
    for match in _DURATION.finditer(text):
        if text[pos : match.start()].strip():
            break
        seconds += int(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos == 0 or text[pos:].strip():
        raise SettingsError(f"{name}: expected a duration like 30m, 1h30m or 60s, got {value!r}")
    return timedelta(seconds=seconds)


_REPLY_ADDRESS = re.compile(r"[A-Za-z0-9._-]{1,40}@[A-Za-z0-9.-]{1,200}\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class Settings:
    """Every `RDV_*` setting the README lists (Configuration); secrets are left out of the repr."""

    database_url: str = "sqlite+aiosqlite:///var/rdv.sqlite3"
    secret_key: str | None = field(default=None, repr=False)
    public_url: str = "http://127.0.0.1:8080"
    host: str = "127.0.0.1"
    port: int = 8080
    mail_url: str = field(default="file://var/outbox", repr=False)
    mail_from: str = "rdv@localhost"
    # Calendar replies: the mailbox invites name as the organiser's address (each seat's own
    # sub-address of it), and where rdv reads that mailbox.
    reply_address: str | None = None
    inbound_mail_url: str | None = field(default=None, repr=False)
    default_provider: str = "jitsi"
    jitsi_domain: str = "meet.jit.si"
    jitsi_app_id: str | None = None
    jitsi_app_secret: str | None = field(default=None, repr=False)
    jitsi_webhook_secret: str | None = field(default=None, repr=False)
    bbb_url: str | None = None
    bbb_secret: str | None = field(default=None, repr=False)
    bbb_checksum: str = "sha256"
    janus_url: str | None = None
    janus_webhook_user: str | None = None
    janus_webhook_password: str | None = field(default=None, repr=False)
    janus_js_url: str | None = None
    livekit_url: str | None = None
    livekit_api_key: str | None = None
    livekit_api_secret: str | None = field(default=None, repr=False)
    livekit_join_page: str = LIVEKIT_MEET_CUSTOM
    livekit_recording_hosts: tuple[str, ...] = ()
    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: str | None = field(default=None, repr=False)
    zoom_webhook_secret: str | None = field(default=None, repr=False)
    zoom_hosts: tuple[str, ...] = ()
    zoom_api_url: str = "https://api.zoom.us/v2"
    zoom_oauth_url: str = "https://zoom.us"
    teams_tenant_id: str | None = None
    teams_client_id: str | None = None
    teams_client_secret: str | None = field(default=None, repr=False)
    teams_organisers: tuple[str, ...] = ()
    graph_url: str = "https://graph.microsoft.com"
    teams_login_url: str = "https://login.microsoftonline.com"
    # A PEM file with the RSA key Graph encrypts the call roster's notifications for (and its
    # certificate, if it has one): without it, Teams attendance comes from the reports only.
    teams_certificate: str | None = None
    # The service account's JSON key file (a path: the key stays in its file) and the user of
    # the Workspace domain it acts for.
    meet_credentials: str | None = None
    meet_user: str | None = None
    meet_api_url: str = "https://meet.googleapis.com"
    # Meet's events: the Pub/Sub topic Workspace Events publish them on, and the audience of
    # the OIDC tokens its push subscription sends them to us with.
    meet_topic: str | None = None
    meet_audience: str | None = None
    meet_push_account: str | None = None  # the service account the push signs its tokens as
    meet_events_url: str = "https://workspaceevents.googleapis.com"
    meet_certs_url: str = "https://www.googleapis.com/oauth2/v3/certs"
    room_lead: timedelta = timedelta(minutes=30)
    join_early: timedelta = timedelta(minutes=10)
    late_after: timedelta = timedelta(minutes=5)
    close_grace: timedelta = timedelta(minutes=10)
    max_session_length: timedelta = LONGEST_SESSION
    reminder_before: timedelta = timedelta(minutes=15)
    followup_after: timedelta = timedelta(days=180)  # the second "what came of it?"
    poll_interval: timedelta = timedelta(seconds=60)
    archive_dir: Path | None = None
    raw_retention: timedelta = timedelta(days=30)
    # Outbound webhook receivers on loopback, private or link-local addresses (and plain http):
    # refused unless the operator allows them (a receiver on the same network, tests).
    webhook_allow_private: bool = False

    def __post_init__(self) -> None:
        if self.default_provider not in PROVIDERS:
            raise SettingsError(
                f"RDV_DEFAULT_PROVIDER: unknown provider {self.default_provider!r} "
                f"(known: {', '.join(PROVIDERS)})"
            )
        if self.bbb_checksum not in CHECKSUMS:
            raise SettingsError(
                f"RDV_BBB_CHECKSUM: {self.bbb_checksum!r} is not one of {', '.join(CHECKSUMS)}"
            )
        if not 0 < self.port < 65536:
            raise SettingsError(f"RDV_PORT: {self.port} is not a TCP port")
        if not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("RDV_PUBLIC_URL: must start with http:// or https://")
        if self.poll_interval <= timedelta(0):
            raise SettingsError("RDV_POLL_INTERVAL: must be positive")
        if self.max_session_length <= timedelta(0):
            raise SettingsError("RDV_MAX_SESSION_LENGTH: must be positive")
        if self.reply_address is not None and not _REPLY_ADDRESS.fullmatch(self.reply_address):
            raise SettingsError(
                "RDV_REPLY_ADDRESS: expected a mailbox like replies@rdv.example (no '+': rdv "
                f"adds each seat's own part), got {self.reply_address!r}"
            )
        if self.inbound_mail_url is not None:
            if not self.inbound_mail_url.startswith(("imap://", "imaps://", "lmtp://")):
                raise SettingsError(
                    "RDV_INBOUND_MAIL_URL: expected imap://user:password@host:port/FOLDER, "
                    "imaps://…, or lmtp://HOST:PORT for rdv to take delivery itself"
                )
            try:
                inbound_url.parse(self.inbound_mail_url)
            except ValueError as error:
                raise SettingsError(str(error)) from None
            if self.reply_address is None:
                raise SettingsError(
                    "RDV_INBOUND_MAIL_URL needs RDV_REPLY_ADDRESS: the address invites name, "
                    "whose replies arrive in that mailbox"
                )
        if bool(self.jitsi_app_id) != bool(self.jitsi_app_secret):
            raise SettingsError(
                "RDV_JITSI_APP_ID and RDV_JITSI_APP_SECRET go together: set both for token-auth "
                "rooms, or neither for public rooms"
            )
        missing = self.missing_for(self.default_provider)
        if missing:
            raise SettingsError(
                f"RDV_DEFAULT_PROVIDER: {self.default_provider} needs {', '.join(missing)}"
            )

    @property
    def marks(self) -> Marks:
        return Marks(self.join_early, self.late_after, self.close_grace)

    @property
    def base_url(self) -> str:
        return self.public_url.rstrip("/")

    def missing_for(self, provider: str) -> list[str]:
        """The RDV_ variables a provider still needs; empty when it is configured."""
        return [
            PREFIX + name.upper()
            for name in PROVIDER_REQUIREMENTS[provider]
            if not getattr(self, name)
        ]

    def configured_providers(self) -> frozenset[str]:
        return frozenset(name for name in PROVIDERS if not self.missing_for(name))

    def require_secret_key(self) -> str:
        """The signing key, or a one-line reason why there is none usable."""
        key = self.secret_key
        if not key:
            raise SettingsError(
                "RDV_SECRET_KEY is not set: it signs API tokens, personal links and cookies; "
                "create one with `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        if key.strip().lower() in PLACEHOLDER_SECRETS or len(key) < MIN_SECRET_LENGTH:
            raise SettingsError(
                f"RDV_SECRET_KEY looks like a placeholder: use at least {MIN_SECRET_LENGTH} "
                "random characters"
            )
        return key


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _convert(name: str, raw: Any) -> Any:
    """Turn one raw value (environment string or TOML value) into the field's type."""
    label = PREFIX + name.upper()
    default = _FIELDS[name].default
    if isinstance(default, timedelta):
        return parse_duration(raw, label)
    if name == "port":
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise SettingsError(f"{label}: expected a port number, got {raw!r}") from None
    if name in {"zoom_hosts", "livekit_recording_hosts", "teams_organisers"}:
        items = raw if isinstance(raw, list) else str(raw).split(",")
        return tuple(str(item).strip() for item in items if str(item).strip())
    if isinstance(default, bool):
        text = str(raw).strip().lower() if not isinstance(raw, bool) else str(raw).lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise SettingsError(f"{label}: expected true or false, got {raw!r}")
    if name == "archive_dir":
        return Path(str(raw)) if str(raw).strip() else None
    if not isinstance(raw, str):
        raise SettingsError(f"{label}: expected a string, got {raw!r}")
    value = raw.strip()
    if name in {"bbb_checksum", "default_provider"}:
        value = value.lower()
    return value or (None if default is None else default)


def load_settings(
    environ: Mapping[str, str], config_file: str | Path | None = None, **overrides: Any
) -> Settings:
    """Settings from a TOML file (lower-case names without prefix), then the environment on top."""
    values: dict[str, Any] = {}
    path = config_file or environ.get(PREFIX + "CONFIG")
    if path:
        try:
            document = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path}: not found") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise SettingsError(f"config file {path}: {error}") from None
        for key, raw in document.items():
            if key not in _FIELDS:
                raise SettingsError(f"config file {path}: unknown setting {key!r}")
            values[key] = _convert(key, raw)
    for env_name, raw in environ.items():
        if not env_name.startswith(PREFIX) or env_name == PREFIX + "CONFIG":
            continue
        key = env_name[len(PREFIX) :].lower()
        if key in _FIELDS:
            values[key] = _convert(key, raw)
    values.update(overrides)
    return Settings(**values)
