"""`/api/v1/openapi.json` is generated from the operations the handlers declare and the models
they answer with: it describes every `/api/v1` route and nothing else, and it changes when a
model changes."""

from __future__ import annotations

import dataclasses
from typing import Any, get_args

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.exc import StatementError
from support.fuzzing import api_routes
from support.service import Api, small_program

from orchestrator.api import rooms
from orchestrator.api.openapi import document
from orchestrator.api.operations import Answer
from orchestrator.api.schemas import common, events, mail, replays
from orchestrator.api.schemas.common import Model
from orchestrator.api.schemas.rooms import RoomStatus
from orchestrator.db import models as m
from orchestrator.db.mail import MAIL_STATES
from orchestrator.db.replays import REPLAY_KINDS
from orchestrator.db.states import AttendanceStatus, RoomState
from orchestrator.program.validate import LOCALES

REF = "#/components/schemas/"


class FloorRoomStatus(RoomStatus):
    """The room status of a test that gives rooms a floor."""

    floor: str


class FloorRooms(Model):
    rooms: list[FloorRoomStatus]


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


async def test_every_api_route_is_described_and_every_description_is_a_route(
    app: web.Application, client: TestClient[Any, Any]
) -> None:
    served = await (await client.get("/api/v1/openapi.json")).json()
    assert served == document()
    assert api_routes(app) == _documented(served)


async def test_every_operation_documents_its_errors_and_refers_to_known_schemas() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            if operation.get("security") != []:
                assert {"401", "403"} <= responses.keys(), (method, path)
            if "requestBody" in operation:
                assert {"400", "413"} <= responses.keys(), (method, path)
            text = str(operation)
            for name in schemas:
                text = text.replace(f"#/components/schemas/{name}'", "")
            assert "#/components/schemas/" not in text, (method, path)


def test_a_room_model_that_gains_a_field_is_described_with_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An engineer adds the floor to the room status the rooms route answers with: the
    description says so without anyone editing it."""
    route = ("GET", "/api/v1/events/{slug}/rooms")
    before = document()
    operation = rooms.api.declared[route]
    changed = {**operation.responses, 200: Answer(FloorRooms, "the rooms, with their floor")}
    monkeypatch.setitem(
        rooms.api.declared, route, dataclasses.replace(operation, responses=changed)
    )
    after = document()

    answer = after["paths"][route[1]]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"] == {"$ref": f"{REF}FloorRooms"}
    described = after["components"]["schemas"]["FloorRoomStatus"]
    assert described["properties"]["floor"] == {"type": "string"}
    assert "floor" in described["required"]
    assert "floor" not in str(before)
    assert described["properties"]["state"] == {"$ref": f"{REF}RoomState"}


def test_room_states_and_attendance_statuses_are_described_as_their_enums() -> None:
    schemas = document()["components"]["schemas"]

    assert sorted(schemas["RoomState"]["enum"]) == sorted(state.value for state in RoomState)
    assert sorted(schemas["AttendanceStatus"]["enum"]) == sorted(
        status.value for status in AttendanceStatus
    )
    for model, field in (("RoomStatus", "state"), ("Room", "state")):
        assert schemas[model]["properties"][field] == {"$ref": f"{REF}RoomState"}
    assert schemas["AttendanceRow"]["properties"]["status"] == {"$ref": f"{REF}AttendanceStatus"}


def test_the_vocabularies_described_are_the_ones_stored() -> None:
    assert get_args(common.SessionKind) == m.SESSION_KINDS
    assert get_args(common.OrganisationKind) == m.ORGANISATION_KINDS
    assert get_args(common.Role) == m.ATTENDEE_ROLES
    assert get_args(events.Locale) == LOCALES
    assert get_args(mail.MailStatus) == MAIL_STATES
    assert get_args(replays.ReplayKind) == REPLAY_KINDS


async def test_a_room_state_is_stored_as_its_text_and_a_misspelt_one_is_refused(
    api: Api, db: Any
) -> None:
    """The column keeps the member's text, so rows written before the enum still read."""
    await api.import_ok(small_program())
    async with db() as session, session.begin():
        await session.execute(text("UPDATE rooms SET state = 'live'"))
    async with db() as session:
        states = list(await session.scalars(select(m.Room.state)))
    assert states
    assert all(state is RoomState.LIVE for state in states)

    async with db() as session, session.begin():
        with pytest.raises(StatementError, match="redy"):
            await session.execute(update(m.Room).values(state="redy"))
