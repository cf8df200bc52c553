"""The published keys the Teams and Meet verifiers check tokens against: fetched ahead, not
hammered while their endpoint is down, and only the kind the verifiers can use; and a
delivery's time at the edge of the calendar is refused like any unreadable time."""

from __future__ import annotations

import json

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from integrations.base import ProviderUnavailable
from integrations.jwks import KeySet
from integrations.rfc3339 import utc_time


class Endpoint:
    """A key endpoint that is down, or that publishes `keys`; counts its requests."""

    def __init__(self, keys: list[dict[str, str]] | None = None) -> None:
        self.keys, self.calls = keys, 0

    async def __call__(self) -> bytes:
        self.calls += 1
        if self.keys is None:
            raise ProviderUnavailable("the key endpoint is down")
        return json.dumps({"keys": self.keys}).encode()


def jwk(key: object, kid: str) -> dict[str, str]:
    found: dict[str, str] = json.loads(
        jwt.algorithms.get_default_algorithms()[
            "RS256" if isinstance(key, rsa.RSAPublicKey) else "ES256"
        ].to_jwk(key)
    )
    return found | {"kid": kid, "use": "sig"}


async def test_a_pass_over_fifty_rooms_asks_a_failing_endpoint_once() -> None:
    endpoint, now = Endpoint(), [1000.0]
    keys = KeySet(endpoint, clock=lambda: now[0])
    for _ in range(50):  # the pass of subscriptions asks for each open room
        await keys.ready()
    assert endpoint.calls == 1
    now[0] += 61
    await keys.ready()
    assert endpoint.calls == 2


async def test_only_rsa_signing_keys_are_kept() -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    ec_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    keys = KeySet(Endpoint([jwk(rsa_key, "rsa-1"), jwk(ec_key, "ec-1")]))
    assert await keys.refresh()
    assert keys.key("rsa-1") is not None
    assert keys.key("ec-1") is None  # RS256 only: an EC key would fail inside the check


def test_a_time_at_the_edge_of_the_calendar_is_no_time() -> None:
    assert utc_time("0001-01-01T00:00:00+05:00") is None
    assert utc_time("9999-12-31T23:59:59-05:00") is None
    assert utc_time("2026-12-07T10:02:11.123456789Z") is not None
