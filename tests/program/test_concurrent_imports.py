"""An import plans from what it reads, then writes: another import committed in between (SQLite
reads outside the transaction until its first write) is not overwritten by a stale plan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from conftest import POSTGRES_URL
from sqlalchemy import select
from support.service import small_program

from orchestrator.db import models as m
from orchestrator.participants.erasure import forget
from orchestrator.program import sections
from orchestrator.program.problems import ProgramError
from orchestrator.program.raw import RawProgram
from orchestrator.program.service import import_program
from orchestrator.settings import Settings

NOW = datetime(2021, 4, 1, 9, 0, tzinfo=UTC)  # a week before the example event


def with_person(program: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    program["people"].append({"key": key, "name": name, "email": f"{key}@acme.example"})
    return program


@pytest.mark.skipif(
    bool(POSTGRES_URL), reason="PostgreSQL: the event's row lock makes the other import wait"
)
async def test_an_import_that_committed_while_another_was_planning_is_not_undone(
    make_settings: Callable[..., Settings], db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    now = NOW
    await import_program(db, settings, RawProgram(small_program()), now=now)
    # The organiser's colleague adds Zoé from the web while the organiser imports a file
    # that adds Amir (and does not know Zoé): the colleague's import commits after the
    # organiser's has read and planned everything, just before its first write.
    save = sections.save
    colleague_done: list[bool] = []

    async def colleague_then_save(*args: Any) -> None:
        if not colleague_done:
            colleague_done.append(True)
            program = with_person(small_program(), "zoe", "Zoé Martin")
            await import_program(db, settings, RawProgram(program), now=now)
        await save(*args)

    monkeypatch.setattr(sections, "save", colleague_then_save)
    program = with_person(small_program(), "amir", "Amir Haddad")
    changes = await import_program(db, settings, RawProgram(program), now=now)

    assert colleague_done
    # The file is the whole program: Zoé, added meanwhile, is removed again, as a re-import
    # after the colleague's would have done, and the change set says so.
    assert changes.people.added == ("amir",)
    assert changes.people.removed == ("zoe",)
    async with db() as session:
        people = dict((await session.execute(select(m.Person.key, m.Person.removed_at))).all())
    assert people["amir"] is None
    assert people["zoe"] is not None


@pytest.mark.skipif(
    bool(POSTGRES_URL), reason="PostgreSQL: the event's row lock makes the other import wait"
)
async def test_someone_erased_while_an_import_was_reading_is_not_brought_back(
    make_settings: Callable[..., Settings], db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    await import_program(db, settings, RawProgram(small_program()), now=NOW)
    # Chloé asks to be forgotten while the organiser re-imports the file that still names her:
    # the erasure commits after the import read everything, just before its first write.
    save = sections.save
    erased: list[bool] = []

    async def erasure_then_save(*args: Any) -> None:
        if not erased:
            erased.append(True)
            async with db() as session, session.begin():
                assert await forget(
                    session, slug="meet-the-buyers", email="chloe@acme.example", now=NOW,
                    secret=settings.require_secret_key(),
                )  # fmt: skip
        await save(*args)

    monkeypatch.setattr(sections, "save", erasure_then_save)
    with pytest.raises(ProgramError) as refused:
        await import_program(db, settings, RawProgram(small_program()), now=NOW)

    assert erased
    assert "was erased from this event" in str(refused.value.problems[0])
    async with db() as session:
        emails = (await session.scalars(select(m.Person.email))).all()
    assert "chloe@acme.example" not in emails
