"""The provider registry: builds the configured video providers from settings, once, in the app
factory; asking for one that is not configured is a clear error (imports check it first)."""

from __future__ import annotations

from collections.abc import Callable

import aiohttp

from integrations.base import NotConfigured, VideoProvider
from integrations.jitsi import JitsiProvider

from .metrics import Measured, Metrics
from .settings import PROVIDERS, Settings
from .tokens import derive_key

Factory = Callable[[Settings, aiohttp.ClientSession], VideoProvider]


def _jitsi(settings: Settings, _session: aiohttp.ClientSession) -> VideoProvider:
    return JitsiProvider(
        settings.jitsi_domain,
        app_id=settings.jitsi_app_id,
        app_secret=settings.jitsi_app_secret,
        webhook_secret=settings.jitsi_webhook_secret,
    )


def _bigbluebutton(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    from integrations import bigbluebutton

    return bigbluebutton.from_settings(settings, session)


def _janus(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    from integrations import janus

    key = derive_key(settings.require_secret_key(), "janus")
    return janus.from_settings(settings, session, key)


def _zoom(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    from integrations import zoom

    return zoom.from_settings(settings, session)


def _livekit(settings: Settings, session: aiohttp.ClientSession) -> VideoProvider:
    from integrations import livekit

    return livekit.from_settings(settings, session)


FACTORIES: dict[str, Factory] = {
    "jitsi": _jitsi,
    "bigbluebutton": _bigbluebutton,
    "janus": _janus,
    "livekit": _livekit,
    "zoom": _zoom,
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
