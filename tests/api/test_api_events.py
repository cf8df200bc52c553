"""The events API: import over HTTP, read the event, move and cancel sessions, refuse bad bodies."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from support.service import Api, small_program

SLUG = "meet-the-buyers"


@pytest.fixture
async def event(api: Api) -> dict[str, Any]:
    await api.import_ok(small_program())
    return await api.get_event(SLUG)


async def test_importing_over_http_creates_the_event_with_rooms(api: Api) -> None:
    response = await api.put_program(small_program())
    assert response.status == 201
    event = await api.get_event(SLUG)
    assert event["title"] == "Meet the buyers"
    assert event["people_count"] == 6
    plenary = event["sessions"][0]
    assert plenary["key"] == "plenary"
    assert plenary["local_start"] == "2021-04-08T09:00:00+02:00"
    assert plenary["start"] == "2021-04-08T07:00:00Z"
    assert len(plenary["attendees"]) == 6
    assert {a["key"]: a["role"] for a in plenary["attendees"]}["org"] == "speaker"
    assert plenary["room"] == {"provider": "jitsi", "state": "scheduled", "error": None}


async def test_a_program_whose_slug_differs_from_the_address_is_refused(api: Api) -> None:
    response = await api.put_program(small_program("other-event"), slug=SLUG)
    body = await response.json()
    assert response.status == 422
    assert body["error"]["details"] == [
        {
            "place": "event.slug",
            "message": 'slug "other-event" does not match the address ("meet-the-buyers")',
        }
    ]


async def test_a_program_with_problems_lists_them_all_and_imports_nothing(
    api: Api, client: TestClient[Any, Any]
) -> None:
    program = small_program()
    program["people"][0]["email"] = "not-an-email"
    program["sessions"][1]["attendees"] = ["chloe", "nobody"]
    response = await api.put_program(program)
    body = await response.json()
    assert response.status == 422
    assert body["error"]["code"] == "invalid_program"
    assert [d["place"] for d in body["error"]["details"]] == [
        "people[0].email",
        "sessions[1].attendees[1]",
    ]
    missing = await client.get(f"/api/v1/events/{SLUG}", headers=api.headers(SLUG))
    assert missing.status == 404


async def test_moving_a_meeting_with_a_local_time(api: Api, event: dict[str, Any]) -> None:
    response = await api.patch(SLUG, "m3", {"start": "2021-04-08T11:30", "end": "2021-04-08T12:00"})
    body = await response.json()
    assert response.status == 200, body
    assert body["changes"]["sessions"]["changed"][0]["fields"] == ["start", "end"]
    after = await api.get_event(SLUG)
    m3 = next(s for s in after["sessions"] if s["key"] == "m3")
    assert m3["local_start"] == "2021-04-08T11:30:00+02:00"


async def test_a_patch_that_double_books_someone_is_refused_naming_them(
    api: Api, event: dict[str, Any]
) -> None:
    response = await api.patch(SLUG, "m3", {"start": "2021-04-08T10:30", "end": "2021-04-08T11:00"})
    body = await response.json()
    assert response.status == 422
    assert body["error"]["details"] == [
        {
            "place": "attendees",
            "message": 'Ben Okafor (ben) would be in "m2" and "m3" at the same time',
        }
    ]


async def test_a_patch_with_end_before_start_names_the_field(
    api: Api, event: dict[str, Any]
) -> None:
    response = await api.patch(SLUG, "m1", {"end": "2021-04-08T10:00"})
    body = await response.json()
    assert response.status == 422
    assert body["error"]["details"] == [
        {"place": "end", "message": 'session "m1" does not end after it starts'}
    ]


async def test_a_patch_of_a_field_that_cannot_change_is_refused(
    api: Api, event: dict[str, Any]
) -> None:
    response = await api.patch(SLUG, "m1", {"kind": "plenary"})
    body = await response.json()
    assert response.status == 422
    assert body["error"]["details"][0]["place"] == "kind"
    assert (
        "changeable: start, end, title, attendees, provider"
        in (body["error"]["details"][0]["message"])
    )


async def test_swapping_attendees_by_patch(api: Api, event: dict[str, Any]) -> None:
    response = await api.patch(SLUG, "m1", {"attendees": ["dan", "ana"]})
    changes = (await response.json())["changes"]
    assert changes["sessions"]["changed"] == [
        {
            "key": "m1",
            "fields": ["attendees"],
            "attendees_added": ["dan"],
            "attendees_removed": ["chloe"],
            "roles_changed": [],
        }
    ]


async def test_cancelling_a_session_then_cancelling_it_again(
    api: Api, event: dict[str, Any]
) -> None:
    first = await api.delete(SLUG, "m2")
    assert first.status == 200
    assert (await first.json())["changes"]["sessions"]["cancelled"] == ["m2"]
    second = await api.delete(SLUG, "m2")
    assert second.status == 200
    assert (await second.json())["changes"]["empty"] is True
    patch = await api.patch(SLUG, "m2", {"title": "Back?"})
    assert patch.status == 404
    assert (await patch.json())["error"]["message"] == 'no live session "m2" in "meet-the-buyers"'


async def test_unknown_sessions_and_events_are_404(api: Api, event: dict[str, Any]) -> None:
    assert (await api.patch(SLUG, "nope", {"title": "x"})).status == 404
    assert (await api.delete(SLUG, "nope")).status == 404
    response = await api.client.get("/api/v1/events/nope", headers=api.headers("nope"))
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid JSON at line 1, column 2"),
        (b"", "invalid JSON at line 1, column 1"),
        (b"\xff\xfe{}", "not UTF-8"),
    ],
)
async def test_a_program_that_is_not_json_is_a_bad_request(
    api: Api, body: bytes, message: str
) -> None:
    response = await api.client.put(
        f"/api/v1/events/{SLUG}/program", data=body, headers=api.headers(SLUG)
    )
    answer = await response.json()
    assert response.status == 400
    assert message in answer["error"]["message"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{oops", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b"", "empty"),
        (b"{}", "nothing to change"),
    ],
)
async def test_a_patch_body_that_is_not_an_object_is_a_bad_request(
    api: Api, event: dict[str, Any], body: bytes, message: str
) -> None:
    response = await api.client.patch(
        f"/api/v1/events/{SLUG}/sessions/m1", data=body, headers=api.headers(SLUG)
    )
    assert response.status == 400
    assert message in (await response.json())["error"]["message"]


async def test_an_oversized_patch_gets_413(api: Api, event: dict[str, Any]) -> None:
    body = io.BytesIO(json.dumps({"title": "x" * (2 * 1024 * 1024)}).encode())
    response = await api.client.patch(
        f"/api/v1/events/{SLUG}/sessions/m1", data=body, headers=api.headers(SLUG)
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "body_too_large"


async def test_an_oversized_chunked_program_gets_413(api: Api) -> None:
    async def chunks() -> Any:
        for _ in range(33):
            yield b" " * (1024 * 1024)

    response = await api.client.put(
        f"/api/v1/events/{SLUG}/program", data=chunks(), headers=api.headers(SLUG)
    )
    assert response.status == 413


async def test_unknown_api_routes_and_methods_answer_in_the_error_format(api: Api) -> None:
    missing = await api.client.get("/api/v1/nothing-here")
    assert missing.status == 404
    assert (await missing.json())["error"]["code"] == "not_found"
    wrong = await api.client.post(f"/api/v1/events/{SLUG}", headers=api.headers(SLUG))
    assert wrong.status == 405
    assert (await wrong.json())["error"]["code"] == "method_not_allowed"


async def test_health_and_readiness(client: TestClient[Any, Any]) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["database"] == "ok"
