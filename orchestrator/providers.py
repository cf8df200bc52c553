"""The provider registry: the one place where video providers are built from settings (the
adapters in `integrations/` take plain arguments and know nothing of the app), once, in the app
factory; asking for one that is not configured is a clear error (imports check it first)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from integrations import janus
from integrations.base import NotConfigured, VideoProvider
from integrations.bigbluebutton import BigBlueButtonClient, BigBlueButtonProvider
from integrations.janus import JanusClient, JanusProvider
from integrations.jitsi import JitsiProvider
from integrations.livekit import LiveKitClient, LiveKitProvider
from integrations.meet import MeetProvider
from integrations.meet_client import MeetClient, load_service_account
from integrations.teams import TeamsClient, TeamsProvider
from integrations.teams_certificate import load_notification_key
from integrations.zoom import ZoomClient, ZoomProvider

from .metrics import Measured, Metrics
from .settings import PREFIX, PROVIDER_REQUIREMENTS, PROVIDERS, Settings
from .tokens import derive_key

Factory = Callable[[Settings, aiohttp.ClientSession], VideoProvider]


def _needed(settings: Settings, name: str) -> str:
    """A setting the provider cannot do without (`unavailable` says which are missing first)."""
    value = getattr(settings, name)
    if not value:
        raise NotConfigured(f"{PREFIX}{name.upper()} is not set")
    return str(value)


def _jitsi(settings: Settings, _session: aiohttp.ClientSession) -> VideoProvider:
    return JitsiProvider(
        settings.jitsi_domain,
        app_id=settings.jitsi_app_id,
        app_secret=settings.jitsi_app_secret,
        webhook_secret=settings.jitsi_webhook_secret,
    )


def _bigbluebutton(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    client = BigBlueButtonClient(
        session,
        _needed(settings, "bbb_url"),
        _needed(settings, "bbb_secret"),
        settings.bbb_checksum,
    )
    return BigBlueButtonProvider(client, lead=settings.room_lead)


def _janus(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    return JanusProvider(
        JanusClient(session, _needed(settings, "janus_url")),
        public_url=settings.base_url,
        secret_key=derive_key(settings.require_secret_key(), "janus"),
        webhook_user=settings.janus_webhook_user,
        webhook_password=settings.janus_webhook_password,
        library_url=settings.janus_js_url or janus.LIBRARY_URL,
    )


def _livekit(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    url, key, secret = (
        _needed(settings, name) for name in ("livekit_url", "livekit_api_key", "livekit_api_secret")
    )
    return LiveKitProvider(
        LiveKitClient(session, url, key, secret),
        join_page=settings.livekit_join_page,
        lead=settings.room_lead,
        recording_hosts=settings.livekit_recording_hosts,
    )


def _zoom(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    client = ZoomClient(
        session,
        account_id=_needed(settings, "zoom_account_id"),
        client_id=_needed(settings, "zoom_client_id"),
        client_secret=_needed(settings, "zoom_client_secret"),
        api_url=settings.zoom_api_url,  # settings, so that tests can point them at a fake
        oauth_url=settings.zoom_oauth_url,
    )
    return ZoomProvider(client, settings.zoom_hosts, webhook_secret=settings.zoom_webhook_secret)


def _teams(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    client = TeamsClient(
        session,
        tenant_id=_needed(settings, "teams_tenant_id"),
        client_id=_needed(settings, "teams_client_id"),
        client_secret=_needed(settings, "teams_client_secret"),
        graph_url=settings.graph_url,  # settings, so that tests can point them at a fake
        login_url=settings.teams_login_url,
    )
    key = settings.teams_certificate
    return TeamsProvider(
        client,
        settings.teams_organisers,
        secret=derive_key(settings.require_secret_key(), "teams"),
        key=load_notification_key(key) if key else None,
    )


def _meet(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    account = load_service_account(_needed(settings, "meet_credentials"))
    client = MeetClient(
        session,
        account,
        user=_needed(settings, "meet_user"),
        api_url=settings.meet_api_url,  # settings, so that tests can point them at a fake
        events_url=settings.meet_events_url,
        certs_url=settings.meet_certs_url,
    )
    return MeetProvider(
        client,
        topic=settings.meet_topic,
        audience=settings.meet_audience,
        push_account=settings.meet_push_account,
    )


# The settings that check a provider's webhooks (BigBlueButton and LiveKit sign theirs with the
# API secret the provider needs anyway).
WEBHOOK_SETTINGS: dict[str, tuple[str, ...]] = {
    "jitsi": ("jitsi_webhook_secret",),
    "janus": ("janus_webhook_user", "janus_webhook_password"),
    "zoom": ("zoom_webhook_secret",),
    "teams": ("teams_certificate",),
    "meet": ("meet_topic", "meet_audience", "meet_push_account"),
}

FACTORIES: dict[str, Factory] = {
    "jitsi": _jitsi,
    "bigbluebutton": _bigbluebutton,
    "janus": _janus,
    "livekit": _livekit,
    "zoom": _zoom,
    "teams": _teams,
    "meet": _meet,
}


def unavailable(settings: Settings, name: str) -> str | None:
    """Why `name` cannot be used with these settings, or None when it can."""
    if name not in PROVIDERS:
        return f'unknown provider "{name}" (known: {", ".join(PROVIDERS)})'
    missing = settings.missing_for(name)
    if missing:
        return f'provider "{name}" is not configured here: set {", ".join(missing)}'
    if name not in FACTORIES:
        return f'provider "{name}" is not available in this version of rdv-orchestrator'
    return None


def _unset(settings: Settings, names: tuple[str, ...]) -> list[str]:
    return [PREFIX + name.upper() for name in names if not getattr(settings, name)]


def no_webhooks(settings: Settings, name: str) -> str:
    """Why `name`'s webhooks are refused here: unknown, not configured, or without the settings
    that check them. Names settings, never their values."""
    reason = unavailable(settings, name)
    if reason:
        return reason
    missing = _unset(settings, WEBHOOK_SETTINGS.get(name, ()))
    if missing:
        return f'provider "{name}" takes no webhooks here: set {", ".join(missing)}'
    return f'provider "{name}" sends no webhooks'


def halfway(settings: Settings) -> dict[str, str]:
    """What each provider set up halfway still lacks, in a sentence, by provider: off for want
    of a setting it needs, or refusing its webhooks for want of one that checks them. A
    provider nobody set up is not in it."""
    found = {}
    for name in PROVIDERS:
        wanted = PROVIDER_REQUIREMENTS[name] + WEBHOOK_SETTINGS.get(name, ())
        missing = _unset(settings, wanted)
        if not missing or len(missing) == len(wanted):
            continue
        needed = settings.missing_for(name)
        hooks = [variable for variable in missing if variable not in needed]
        if not needed:
            found[name] = no_webhooks(settings, name)
            continue
        found[name] = f'provider "{name}" is off: set {", ".join(needed)}' + (
            f" (and {', '.join(hooks)} for its webhooks)" if hooks else ""
        )
    return found


class ProviderRegistry:
    """Providers by name, built lazily from settings and shared by every request."""

    def __init__(
        self,
        settings: Settings,
        session: aiohttp.ClientSession,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.session = session
        self.metrics = metrics
        self._built: dict[str, VideoProvider] = {}

    def get(self, name: str) -> VideoProvider:
        provider = self._built.get(name)
        if provider is None:
            reason = unavailable(self.settings, name)
            if reason:
                raise NotConfigured(reason)
            provider = FACTORIES[name](self.settings, self.session)
            if self.metrics is not None:
                provider = Measured(provider, self.metrics)
            self._built[name] = provider
        return provider

    async def close(self) -> None:
        for provider in self._built.values():
            await provider.close()
