"""Jitsi Meet: public rooms with unguessable names, or token-auth rooms with a JWT per seat.

Jitsi has no room API: a room exists while people are in it, so creating and closing are local.
Token rules from Prosody's token verifier: `typ` JWT, HS256, `iss` the app id, `aud`, `sub` the
tenant or host, `room` lowercased, `nbf` 10 s back for clock skew, `exp` at the end of the seat's
window, every `context.user` value a string, moderator rights through `context.user.moderator` /
`affiliation` (mod_token_affiliation).

Sources:
- https://github.com/jitsi/lib-jitsi-meet/blob/HEAD/doc/tokens.md
- https://github.com/jitsi/jitsi-meet/blob/HEAD/resources/prosody-plugins/token/util.lib.lua
- https://github.com/jitsi/jitsi-meet/blob/HEAD/resources/prosody-plugins/luajwtjitsi.lib.lua
- https://github.com/jitsi/jitsi-meet/blob/HEAD/resources/prosody-plugins/mod_token_affiliation.lua
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import quote

import jwt

from .base import (
    JoinRequest,
    ProviderRejected,
    Recording,
    Role,
    Room,
    RoomRequest,
    VideoProvider,
)
from .events import Delivery, WebhookRequest
from .jitsi_events import verify_event_sync, verify_jaas

AUDIENCE = "jitsi"
SKEW = timedelta(seconds=10)
# The domains JaaS itself runs on, as 8x8 lists them for firewalls ("Core Operation",
# https://developer.8x8.com/jaas/docs/technical-requirements-whitelists). Only JaaS announces
# recordings (`RECORDING_UPLOADED`); a self-hosted Jitsi sends none.
JAAS_HOSTS = ("8x8.vc", "*.8x8.vc", "8x8.com", "*.8x8.com", "jitsi.net", "*.jitsi.net")


class JitsiProvider(VideoProvider):
    name = "jitsi"

    def __init__(
        self,
        domain: str,
        *,
        app_id: str | None = None,
        app_secret: str | None = None,
        webhook_secret: str | None = None,
    ) -> None:
        domain = domain.strip().strip("/")
        for scheme in ("https://", "http://"):
            domain = domain.removeprefix(scheme)
        self.host, _, tenant = domain.partition("/")
        self.tenant = tenant.strip("/").lower() or None
        if bool(app_id) != bool(app_secret):
            raise ProviderRejected("Jitsi token mode needs both RDV_JITSI_APP_ID and _APP_SECRET")
        self.app_id, self.app_secret = app_id, app_secret
        self.webhook_secret = webhook_secret
        self.can_receive_webhooks = webhook_secret is not None

    @property
    def token_mode(self) -> bool:
        return self.app_secret is not None

    async def create_room(self, request: RoomRequest) -> Room:
        # Our room keys are already `[a-z0-9-]` with an unguessable suffix.
        name = request.room_key.lower()
        return Room(request.room_key, {"room": name}, external_id=name)

    async def close_room(self, room: Room) -> None:
        """Nothing to do: a Jitsi room disappears with its last participant."""

    def room_url(self, room: Room) -> str:
        path = f"{self.tenant}/{room.data['room']}" if self.tenant else str(room.data["room"])
        return f"https://{self.host}/{path}"

    def token(self, join: JoinRequest, *, now: datetime) -> str:
        assert self.app_id is not None
        assert self.app_secret is not None
        moderator = join.role is Role.MODERATOR
        user = {
            "id": join.seat.seat_id,
            "name": join.display_name,
            "email": join.email or "",
            "moderator": "true" if moderator else "false",
            "affiliation": "owner" if moderator else "member",
        }
        claims = {
            "iss": self.app_id,
            "aud": AUDIENCE,
            "sub": self.tenant or self.host,
            "room": str(join.room.data["room"]).lower(),
            "nbf": int((now - SKEW).timestamp()),
            "exp": int(join.expires_at.timestamp()),
            "context": {"user": user},
        }
        return jwt.encode(claims, self.app_secret, algorithm="HS256", headers={"typ": "JWT"})

    can_record = True
    recording_hosts = JAAS_HOSTS

    async def recording(
        self, room: Room, details: Mapping[str, str], *, at: datetime
    ) -> Recording | None:
        """JaaS uploads a recording and sends a link valid for 24 hours
        (https://developer.8x8.com/jaas/docs/jaas-prefs-recording)."""
        url = details.get("url")
        if not url:
            return None
        duration = details.get("duration", "")
        return Recording(
            url=url,
            duration_seconds=int(float(duration))
            if duration.replace(".", "", 1).isdigit()
            else None,
            valid_until=at + timedelta(hours=24),
            download=True,
        )

    def verify_webhook(self, request: WebhookRequest) -> Delivery:
        """JaaS signs its deliveries (`X-Jaas-Signature`); a self-hosted event_sync component
        sends the shared secret as a bearer token. Both use RDV_JITSI_WEBHOOK_SECRET."""
        assert self.webhook_secret is not None
        if any(name.lower() == "x-jaas-signature" for name in request.headers):
            return verify_jaas(
                headers=request.headers,
                body=request.body,
                secret=self.webhook_secret,
                now=request.now,
            )
        return verify_event_sync(
            headers=request.headers, body=request.body, secret=self.webhook_secret, now=request.now
        )

    async def join_url(self, join: JoinRequest, *, now: datetime) -> str:
        url = self.room_url(join.room)
        if self.token_mode:
            url += f"?jwt={self.token(join, now=now)}"
        # The display name pre-fills the pre-join screen; Jitsi reads JSON values in the fragment.
        name = quote(json.dumps(join.display_name, ensure_ascii=False), safe="")
        return f"{url}#userInfo.displayName={name}"
