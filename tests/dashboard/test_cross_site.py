"""An organiser signed in to the dashboard visits other sites. Nothing another site sends in their
name changes anything: a form there cannot sign them out, a link there to another event's sign-in
link does not replace their session, and a link there to a room's join creates no room hours
early. Their own pages still do all of it, and a mail scanner that fetches a sign-in link does not
use it up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from support.service import Api, ManualClock, small_program
from support.signin import login_path, sign_in

SLUG = "meet-the-buyers"
OTHER = "other-fair"
M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)
FROM_ELSEWHERE = [
    {"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://evil.rdv.test"},
    {"Origin": "https://evil.example"},  # a browser that sends no Sec-Fetch-Site
    {"Origin": "null"},  # a sandboxed frame's
]
FROM_OUR_PAGES = {"Sec-Fetch-Site": "same-origin", "Origin": "http://rdv.test"}


@pytest.fixture
async def organiser(make_api: Callable[..., Any], clock: ManualClock, db: Any) -> Api:
    """Two events on one service; the organiser of the first is signed in, three hours before
    its first meeting."""
    api: Api = await make_api(
        public_url="http://rdv.test"
    )  # the test client keeps no Secure cookie
    await api.import_ok(small_program())
    await api.import_ok(small_program(OTHER))
    clock.set(M1_START - timedelta(hours=3))
    assert (await sign_in(api.client, db, clock, SLUG, **FROM_OUR_PAGES)).status == 303
    return api


async def signed_in_to(api: Api, slug: str) -> bool:
    return (await api.client.get(f"/dashboard/{slug}")).status == 200


async def room_state(api: Api, key: str) -> str:
    rooms = await api.client.get(f"/api/v1/events/{SLUG}/rooms", headers=api.headers(SLUG))
    state: str = next(r for r in (await rooms.json())["rooms"] if r["session"] == key)["state"]
    return state


@pytest.mark.parametrize("headers", FROM_ELSEWHERE)
async def test_a_form_on_another_site_cannot_sign_the_organiser_out(
    organiser: Api, headers: dict[str, str]
) -> None:
    response = await organiser.client.post("/logout", headers=headers)
    assert response.status == 403
    assert "another site" in await response.text()
    assert await signed_in_to(organiser, SLUG)

    assert (await organiser.client.post("/logout", headers=FROM_OUR_PAGES)).status == 200
    assert not await signed_in_to(organiser, SLUG)


async def test_another_sites_link_to_a_sign_in_link_leaves_the_session_alone(
    organiser: Api, db: Any, clock: ManualClock
) -> None:
    path = await login_path(db, clock, OTHER)
    followed = await organiser.client.get(path, headers={"Sec-Fetch-Site": "cross-site"})
    assert followed.status == 200
    page = await followed.text()
    assert "Sign in to Meet the buyers" in page  # which event the button signs in to
    assert '<form method="post">' in page
    assert await signed_in_to(organiser, SLUG)
    assert not await signed_in_to(organiser, OTHER)

    pressed = await organiser.client.post(path, headers=FROM_ELSEWHERE[0], allow_redirects=False)
    assert pressed.status == 403
    assert await signed_in_to(organiser, SLUG)

    # The link was not used up: its owner, on the service's own page, still signs in with it.
    pressed = await organiser.client.post(path, headers=FROM_OUR_PAGES, allow_redirects=False)
    assert (pressed.status, pressed.headers["Location"]) == (303, f"/dashboard/{OTHER}")
    assert await signed_in_to(organiser, OTHER)


async def test_a_mail_scanner_fetching_a_sign_in_link_does_not_use_it_up(
    organiser: Api, db: Any, clock: ManualClock
) -> None:
    path = await login_path(db, clock, SLUG, role="followup")
    for _ in range(3):  # a scanner, a preview, the person opening it
        assert (await organiser.client.get(path)).status == 200
    pressed = await organiser.client.post(path, allow_redirects=False)
    assert pressed.status == 303
    assert (await organiser.client.get(path)).status == 404  # now it is used


async def test_a_sign_in_link_speaks_the_events_language(
    make_api: Callable[..., Any], db: Any, clock: ManualClock
) -> None:
    api: Api = await make_api(public_url="http://rdv.test")
    program = small_program()
    program["event"]["locale"] = "fr"
    await api.import_ok(program)
    page = await (await api.client.get(await login_path(db, clock, SLUG))).text()
    assert '<html lang="fr">' in page
    assert "Se connecter à Meet the buyers" in page
    assert "Se connecter</button>" in page


async def test_another_sites_link_to_a_rooms_join_creates_no_room_hours_early(
    organiser: Api,
) -> None:
    join = f"/dashboard/{SLUG}/rooms/m1/join"
    followed = await organiser.client.get(
        join, headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False
    )
    assert followed.status == 200
    page = await followed.text()
    assert "This room opens by itself at Thursday, April 8, 2021 10:00" in page
    assert f'<form method="post" action="{join}">' in page
    assert await room_state(organiser, "m1") == "scheduled"

    for headers in FROM_ELSEWHERE:
        posted = await organiser.client.post(join, headers=headers, allow_redirects=False)
        assert posted.status == 403
    assert await room_state(organiser, "m1") == "scheduled"


async def test_the_dashboards_button_opens_a_room_early_and_drops_the_organiser_in(
    organiser: Api,
) -> None:
    page = await (await organiser.client.get(f"/dashboard/{SLUG}")).text()
    join = f"/dashboard/{SLUG}/rooms/m1/join"
    assert f'<form class="join" method="post" action="{join}">' in page
    pressed = await organiser.client.post(join, headers=FROM_OUR_PAGES, allow_redirects=False)
    assert pressed.status == 303
    assert pressed.headers["Location"].startswith("https://meet.jit.si/meet-the-buyers-m1-")
    assert await room_state(organiser, "m1") == "ready"
    # Open now, the room is a plain link away, wherever the link was followed from.
    followed = await organiser.client.get(
        join, headers={"Sec-Fetch-Site": "cross-site"}, allow_redirects=False
    )
    assert followed.status == 302


async def test_within_its_lead_time_a_room_opens_from_a_plain_link(
    organiser: Api, clock: ManualClock
) -> None:
    clock.set(M1_START - timedelta(minutes=29))  # RDV_ROOM_LEAD is 30 minutes
    followed = await organiser.client.get(f"/dashboard/{SLUG}/rooms/m1/join", allow_redirects=False)
    assert followed.status == 302
    assert await room_state(organiser, "m1") == "ready"
