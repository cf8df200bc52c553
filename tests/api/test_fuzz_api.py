"""The API as its own OpenAPI description promises it, checked by schemathesis with everything a
client could send: on the seed event, an organiser and a followup person get no 500, only the
statuses the description lists, and answers that match its schemas, on every `/api/v1` route."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from support.fuzzing import api_routes, assert_error_format, fuzz_settings
from support.service import EXAMPLE_SLUG, Api, ManualClock, example_program

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.program.raw import RawProgram
from orchestrator.program.service import import_program
from orchestrator.signin import create_link

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Sessions of the seed event the generated requests aim at, besides keys that do not exist.
SESSION_KEYS = ["b2b-01", "b2b-17"]
# Reads only an organiser's token may make: a receiver's address may hold its credentials.
ORGANISERS = {"GET /api/v1/events/{slug}/webhooks"}
# Near misses of a session key that generated strings seldom hit: a NUL (PostgreSQL refuses one
# even in a comparison), padding, case, length.
NEAR_MISSES = ["b2b-01\x00", "\x00", "b2b-01 ", "B2B-01", "k" * 300, "pleniere"]


def cases(operation: Any) -> st.SearchStrategy[Any]:
    """Requests for one operation: mostly data that fits its description, addressed to the seed
    event and its sessions; also data that does not fit, and slugs and keys of nothing."""
    positive, negative = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
    aims: list[dict[str, str]] = [{"slug": EXAMPLE_SLUG}]
    if "{key}" in operation.path:
        aims = [{"slug": EXAMPLE_SLUG, "key": key} for key in SESSION_KEYS] + aims
    strategies = [
        operation.as_strategy(generation_mode=positive, path_parameters=aim) for aim in aims
    ]
    strategies += [operation.as_strategy(generation_mode=negative, path_parameters=aims[0])]
    strategies += [operation.as_strategy(generation_mode=positive)]
    names = st.none() | st.none() | st.sampled_from(NEAR_MISSES)
    return st.tuples(st.one_of(strategies), names).map(_near_miss)


def _near_miss(generated: tuple[Any, str | None]) -> Any:
    """The case, its session key (in the path, or the attendance filter) swapped for a near
    miss when one was drawn."""
    case, name = generated
    if name is not None and "key" in (case.path_parameters or {}):
        case.path_parameters = {**case.path_parameters, "key": name}
    elif name is not None and any(p.name == "session" for p in case.operation.query):
        case.query = {**(case.query or {}), "session": name}
    return case


@pytest.mark.parametrize(("role", "per_operation"), [("organiser", 18), ("followup", 10)])
async def test_every_answer_of_the_api_is_one_its_description_promises(
    app: Any,
    client: TestClient[Any, Any],
    token: Any,
    clock: ManualClock,
    role: str,
    per_operation: int,
) -> None:
    await import_program(
        app[appkeys.DB], app[appkeys.SETTINGS], RawProgram(example_program()), now=clock.now()
    )
    base = str(client.make_url("")).rstrip("/")
    served = await (await client.get("/api/v1/openapi.json")).json()
    # From the served document, not its URL: from a URL, schemathesis leaves out the operation
    # that serves the document, and that one must keep its promises too.
    schema = schemathesis.openapi.from_dict(served)
    bearer = f"Bearer {token(EXAMPLE_SLUG, role)}"
    statuses: Counter[tuple[str, int]] = Counter()
    session = requests.Session()

    def fuzz(operation: Any) -> None:
        @fuzz_settings(max_examples=per_operation)
        @given(case=cases(operation))
        def call(case: Any) -> None:
            case.headers = {**(case.headers or {}), "Authorization": bearer}
            response = case.call(base_url=base, session=session, timeout=60)
            statuses[(operation.label, response.status_code)] += 1
            case.validate_response(response, checks=CHECKS, headers=case.headers)

        call()

    operations = [result.ok() for result in schema.get_all_operations()]
    try:
        for operation in operations:
            await asyncio.to_thread(fuzz, operation)
    finally:
        session.close()
    exercised = {label for (label, _) in statuses}
    assert exercised == {f"{method} {path}" for method, path in api_routes(app)}, statuses
    answered = {label for (label, status) in statuses if status < 300}
    readable = {
        operation.label
        for operation in operations
        if operation.method == "get" and (role == "organiser" or operation.label not in ORGANISERS)
    }
    assert readable <= answered, statuses
    if role == "followup":
        writes = {(label, status) for (label, status) in statuses if not label.startswith("GET")}
        assert {status for (_, status) in writes} == {403}, writes


# -- what the fuzzing found ------------------------------------------------------------------


@pytest.fixture
async def seeded(api: Api, app: Any, clock: ManualClock) -> Api:
    await import_program(
        app[appkeys.DB], app[appkeys.SETTINGS], RawProgram(example_program()), now=clock.now()
    )
    return api


async def test_an_attendance_filter_holding_a_nul_finds_nothing_instead_of_a_500(
    seeded: Api,
) -> None:
    response = await seeded.client.get(
        f"/api/v1/events/{EXAMPLE_SLUG}/attendance",
        params={"session": "b2b-01\x00"},
        headers=seeded.headers(EXAMPLE_SLUG),
    )
    assert response.status == 200
    assert (await response.json())["attendance"] == []


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "", {"title": "Moved"}),
        ("DELETE", "", None),
        ("POST", "/replays", {"url": "https://www.youtube.com/watch?v=q3Vd8KxLr2M"}),
    ],
)
async def test_a_session_key_holding_a_nul_is_not_found_instead_of_a_500(
    seeded: Api, method: str, path: str, body: dict[str, str] | None
) -> None:
    response = await seeded.client.request(
        method,
        f"/api/v1/events/{EXAMPLE_SLUG}/sessions/b2b-01%00{path}",
        json=body,
        headers=seeded.headers(EXAMPLE_SLUG),
    )
    assert response.status == 404
    assert_error_format(await response.json(), 404)


async def test_a_session_calendar_asked_for_with_a_nul_in_its_key_is_not_found(
    seeded: Api, db: Any
) -> None:
    async with db() as session:
        feed = await session.scalar(select(m.Person.feed_token).where(m.Person.key == "cgirard"))
    found = await seeded.client.get(f"/me/{feed}/b2b-01.ics")
    assert found.status == 200
    assert (await seeded.client.get(f"/me/{feed}/b2b-01%00.ics")).status == 404


async def test_a_replay_title_with_a_control_character_is_refused_not_stored(
    seeded: Api,
) -> None:
    response = await seeded.client.post(
        f"/api/v1/events/{EXAMPLE_SLUG}/sessions/pleniere/replays",
        json={"url": "https://vimeo.com/123456", "title": "Replay\x00"},
        headers=seeded.headers(EXAMPLE_SLUG),
    )
    assert response.status == 422
    assert_error_format(await response.json(), 422)
    listed = await seeded.client.get(
        f"/api/v1/events/{EXAMPLE_SLUG}/replays", headers=seeded.headers(EXAMPLE_SLUG)
    )
    assert (await listed.json())["replays"] == []


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1/replay.mp4",
        "https://video.example:99999/replay.mp4",
        "https://v.example/\ud800",
    ],
)
async def test_a_malformed_replay_link_is_refused_with_a_reason_not_a_500(
    seeded: Api, url: str
) -> None:
    response = await seeded.client.post(
        f"/api/v1/events/{EXAMPLE_SLUG}/sessions/pleniere/replays",
        json={"url": url},
        headers=seeded.headers(EXAMPLE_SLUG),
    )
    assert response.status == 422
    assert_error_format(await response.json(), 422)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/schedule", b'{"\\ud800": true}'),
        ("/sessions/b2b-01/replays", b'{"url": "https://v.example/r", "\\udfff": 1}'),
    ],
)
async def test_a_field_name_holding_a_lone_surrogate_is_refused_naming_it_not_a_500(
    seeded: Api, path: str, body: bytes
) -> None:
    response = await seeded.client.post(
        f"/api/v1/events/{EXAMPLE_SLUG}{path}", data=body, headers=seeded.headers(EXAMPLE_SLUG)
    )
    assert response.status == 400
    answer = await response.json()
    assert_error_format(answer, 400)
    assert answer["error"]["message"].startswith("unknown field")


@pytest.mark.parametrize(
    "link",
    [
        "/j/%00",
        "/room/a%00b",
        "/calendar/%00.ics",
        "/me/%00",
        "/me/%00/b2b-01.ics",
        "/me/%00/requests",
    ],
)
async def test_a_guessed_personal_link_holding_a_nul_is_not_found_instead_of_a_500(
    seeded: Api, link: str
) -> None:
    response = await seeded.client.get(link, allow_redirects=False)
    assert response.status == 404


async def test_an_organiser_joining_a_room_whose_key_holds_a_nul_is_told_not_found(
    make_api: Any, clock: ManualClock, db: Any
) -> None:
    api = await make_api(public_url="http://rdv.test")  # the test client keeps no Secure cookie
    await import_program(
        api.client.app[appkeys.DB],
        api.client.app[appkeys.SETTINGS],
        RawProgram(example_program()),
        now=clock.now(),
    )
    async with db() as session, session.begin():
        link = await create_link(
            session,
            slug=EXAMPLE_SLUG,
            role="organiser",
            now=clock.now(),
            base_url="http://rdv.test",
        )
    signed_in = await api.client.post(link.removeprefix("http://rdv.test"), allow_redirects=False)
    assert signed_in.status in (302, 303)
    response = await api.client.get(
        f"/dashboard/{EXAMPLE_SLUG}/rooms/b2b-01%00/join", allow_redirects=False
    )
    assert response.status == 404


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/b2b-01/handover", {"colleague": "x\x00"}),
        ("/b2b-01/handover", {"name": "Agn\x00s", "email": "agnes@aquasentis.example"}),
        ("/requests/ask", {"to": "eau\x00", "message": "Bonjour"}),
    ],
)
async def test_a_participant_form_holding_a_nul_is_refused_or_cleaned_not_a_500(
    seeded: Api, db: Any, path: str, form: dict[str, str]
) -> None:
    async with db() as session:
        feed = await session.scalar(select(m.Person.feed_token).where(m.Person.key == "cgirard"))
    response = await seeded.client.post(f"/me/{feed}{path}", data=form, allow_redirects=False)
    assert response.status == 303  # back to the page, which says why (or what it did)


async def test_an_answer_for_a_person_key_holding_a_nul_is_not_found(seeded: Api) -> None:
    response = await seeded.client.put(
        f"/api/v1/events/{EXAMPLE_SLUG}/sessions/b2b-01/attendees/cg%00/answer",
        json={"answer": "declined"},
        headers=seeded.headers(EXAMPLE_SLUG),
    )
    assert response.status == 404
    assert_error_format(await response.json(), 404)
