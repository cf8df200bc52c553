"""Clicks on personal links at a slot's start: everyone clicking at once is let in and each click
is in the attendance log; a click whose seat was removed meanwhile is not, and fails nobody else."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from sqlalchemy import delete, select
from support.service import Api, ManualClock, small_program

from orchestrator import appkeys
from orchestrator.db import models as m
from orchestrator.participants.visits import find_visit

M1_START = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


async def seats(db: Any) -> dict[str, str]:
    """Token by `person/session` for every seat of the program."""
    async with db() as s:
        rows = await s.execute(
            select(m.Person.key, m.Session.key, m.Attendee.token)
            .join(m.Person, m.Person.id == m.Attendee.person_id)
            .join(m.Session, m.Session.id == m.Attendee.session_id)
        )
    return {f"{person}/{session}": token for person, session, token in rows}


async def test_everyone_clicking_at_once_is_let_in_and_logged(
    api: Api, app: web.Application, clock: ManualClock, db: Any, client: TestClient[Any, Any]
) -> None:
    await api.import_ok(small_program())
    clock.set(M1_START - timedelta(minutes=30))
    await app[appkeys.LIFECYCLE].reconcile()
    clock.set(M1_START - timedelta(minutes=5))
    tokens = {seat: token for seat, token in (await seats(db)).items() if seat.endswith("/m1")}
    assert len(tokens) >= 2

    answers = await asyncio.gather(
        *(client.get(f"/j/{token}", allow_redirects=False) for token in tokens.values())
    )

    assert [answer.status for answer in answers] == [302] * len(tokens)
    async with db() as s:
        logged = (
            await s.scalars(
                select(m.Attendee.token)
                .join(m.LinkClick, m.LinkClick.attendee_id == m.Attendee.id)
                .where(m.LinkClick.outcome == "joined")
            )
        ).all()
    assert sorted(logged) == sorted(tokens.values())


async def test_a_click_whose_seat_went_meanwhile_fails_nobody_else(
    api: Api, app: web.Application, clock: ManualClock, db: Any
) -> None:
    await api.import_ok(small_program())
    tokens = await seats(db)
    async with db() as s:
        visits = [await find_visit(s, token) for token in tokens.values()]
    gone, *kept = [visit for visit in visits if visit is not None]
    async with db() as s, s.begin():  # removed after its link was looked up
        await s.execute(delete(m.Attendee).where(m.Attendee.id == gone.attendee.id))

    now = M1_START - timedelta(minutes=5)
    clicks = app[appkeys.CLICKS]
    await asyncio.gather(*(clicks.record(visit, "joined", now) for visit in [gone, *kept]))

    async with db() as s:
        logged = (await s.scalars(select(m.LinkClick.attendee_id))).all()
    assert sorted(logged) == sorted(visit.attendee.id for visit in kept)
