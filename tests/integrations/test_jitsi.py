"""Jitsi links: public rooms nobody can guess, or a token per seat that Prosody's verifier accepts
for that room only, with the person's role and window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

import jwt
import pytest

from integrations.base import JoinRequest, Role, RoomRequest, Seat
from integrations.jitsi import JitsiProvider

NOW = datetime(2021, 4, 8, 8, 25, tzinfo=UTC)
SECRET = "jitsi-app-secret-for-tests-0123456789"


def request(key: str = "rdv-2021-b2b-01-4f3a9c0d2e1b7a6f5c4d") -> RoomRequest:
    return RoomRequest(
        room_key=key, title="Acme × Water", starts_at=NOW, ends_at=NOW + timedelta(minutes=30)
    )


def join(room: object, role: Role = Role.PARTICIPANT, seat: str = "rdv-a7") -> JoinRequest:
    return JoinRequest(
        room=room,  # type: ignore[arg-type]
        seat=Seat(seat_id=seat, number=7, token="t"),
        display_name="Chloé Martin",
        email="chloe@acme.example",
        role=role,
        not_before=NOW - timedelta(minutes=10),
        expires_at=NOW + timedelta(minutes=40),
    )


def decode(url: str, *, audience: str = "jitsi") -> dict[str, object]:
    token = parse_qs(urlsplit(url).query)["jwt"][0]
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims: dict[str, object] = jwt.decode(
        token,
        SECRET,
        algorithms=["HS256"],
        audience=audience,
        issuer="rdv-app",
        options={"require": ["exp", "nbf", "iss", "aud", "room", "sub"]},
        leeway=timedelta(days=10000),  # our NOW is in 2021; the rules are checked below
    )
    return claims


async def test_public_rooms_need_no_call_and_use_our_unguessable_name() -> None:
    provider = JitsiProvider("meet.jit.si")
    room = await provider.create_room(request())
    url = await provider.join_url(join(room), now=NOW)
    assert url.startswith("https://meet.jit.si/rdv-2021-b2b-01-4f3a9c0d2e1b7a6f5c4d#")
    assert "jwt=" not in url
    assert unquote(urlsplit(url).fragment) == 'userInfo.displayName="Chloé Martin"'


async def test_a_token_carries_the_claims_prosody_requires() -> None:
    provider = JitsiProvider("meet.example.org", app_id="rdv-app", app_secret=SECRET)
    room = await provider.create_room(request("RDV-Mixed-Case-Key"))
    url = await provider.join_url(join(room), now=NOW)
    assert url.startswith("https://meet.example.org/rdv-mixed-case-key?jwt=")
    claims = decode(url)
    assert claims["room"] == "rdv-mixed-case-key"
    assert claims["sub"] == "meet.example.org"
    assert claims["nbf"] == int((NOW - timedelta(seconds=10)).timestamp())
    assert claims["exp"] == int((NOW + timedelta(minutes=40)).timestamp())
    assert claims["context"] == {
        "user": {
            "id": "rdv-a7",
            "name": "Chloé Martin",
            "email": "chloe@acme.example",
            "moderator": "false",
            "affiliation": "member",
        }
    }


async def test_buyers_and_organisers_join_as_moderators() -> None:
    provider = JitsiProvider("meet.example.org", app_id="rdv-app", app_secret=SECRET)
    room = await provider.create_room(request())
    claims = decode(await provider.join_url(join(room, Role.MODERATOR), now=NOW))
    user = claims["context"]["user"]  # type: ignore[index]
    assert (user["moderator"], user["affiliation"]) == ("true", "owner")


async def test_a_tenant_path_goes_into_the_url_and_the_subject() -> None:
    provider = JitsiProvider("https://meet.example.org/Lyon/", app_id="rdv-app", app_secret=SECRET)
    room = await provider.create_room(request())
    url = await provider.join_url(join(room), now=NOW)
    assert url.startswith("https://meet.example.org/lyon/rdv-2021-b2b-01-")
    assert decode(url)["sub"] == "lyon"


async def test_a_seat_token_names_one_room_and_is_worthless_for_another() -> None:
    provider = JitsiProvider("meet.example.org", app_id="rdv-app", app_secret=SECRET)
    first = await provider.create_room(request("room-one-aaaaaaaa"))
    second = await provider.create_room(request("room-two-bbbbbbbb"))
    claims = decode(await provider.join_url(join(first), now=NOW))
    # Prosody admits a token only where room == lower(room claim).
    assert claims["room"] == "room-one-aaaaaaaa"
    assert claims["room"] != second.data["room"]


async def test_a_forged_or_expired_token_does_not_verify() -> None:
    provider = JitsiProvider("meet.example.org", app_id="rdv-app", app_secret=SECRET)
    room = await provider.create_room(request())
    token = parse_qs(urlsplit(await provider.join_url(join(room), now=NOW)).query)["jwt"][0]
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(
            token, "another-secret-another-secret-0000", algorithms=["HS256"], audience="jitsi"
        )
    with pytest.raises(jwt.ExpiredSignatureError):
        jwt.decode(token, SECRET, algorithms=["HS256"], audience="jitsi")


def test_half_a_token_configuration_is_refused() -> None:
    with pytest.raises(Exception, match="needs both"):
        JitsiProvider("meet.example.org", app_id="rdv-app")
