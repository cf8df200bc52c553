"""The audit log: an organiser reads who imported, moved and cancelled what, when and from where;
the follow-up team reads it too; an erased person's key leaves it."""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from support.service import TEST_SECRET, Api, ManualClock, session_of, small_program

from orchestrator.participants.erasure import forget
from orchestrator.tokens import mint_api_token

SLUG = "meet-the-buyers"


def as_claire(clock: ManualClock) -> dict[str, str]:
    token = mint_api_token(
        TEST_SECRET,
        role="organiser",
        event=SLUG,
        ttl=timedelta(hours=8),
        now=clock.now(),
        subject="Claire (cluster staff)",
    )
    return {"Authorization": f"Bearer {token}"}


async def audit(api: Api, role: str = "organiser", **query: str) -> dict[str, Any]:
    response = await api.client.get(
        f"/api/v1/events/{SLUG}/audit", headers=api.headers(SLUG, role), params=query
    )
    assert response.status == 200, await response.text()
    found: dict[str, Any] = await response.json()
    return found


async def test_imports_moves_and_cancellations_are_listed_with_who_when_and_what(
    api: Api, clock: ManualClock
) -> None:
    claire = as_claire(clock)
    program = small_program()
    response = await api.client.put(f"/api/v1/events/{SLUG}/program", json=program, headers=claire)
    assert response.status == 201
    clock.advance(timedelta(minutes=1))
    moved = await api.client.patch(
        f"/api/v1/events/{SLUG}/sessions/m3",
        json={"start": "2021-04-08T11:30", "end": "2021-04-08T12:00"},
        headers=claire,
    )
    assert moved.status == 200
    assert (await api.delete(SLUG, "m2")).status == 200  # with a token made for nobody named

    entries = (await audit(api))["entries"]

    assert [(e["action"], e["subject"], e["source"]) for e in entries] == [
        ("session.cancel", "m2", "api"),
        ("session.move", "m3", "api"),
        ("program.import", "", "api"),
    ]
    cancel, move, imported = entries
    assert cancel["actor"] == "organiser@meet-the-buyers"  # `rdv token` without --as
    assert cancel["details"]["sessions"]["cancelled"] == {"count": 1, "keys": ["m2"]}
    assert move["actor"] == imported["actor"] == "Claire (cluster staff)"
    assert move["details"]["moves"] == [
        {
            "key": "m3",
            "before": {"start": "2021-04-08T09:00:00Z", "end": "2021-04-08T09:30:00Z"},
            "after": {"start": "2021-04-08T09:30:00Z", "end": "2021-04-08T10:00:00Z"},
        }
    ]
    assert imported["details"]["event_created"] is True
    assert imported["details"]["sessions"]["created"]["count"] == 4
    assert imported["details"]["people"]["added"]["keys"] == [
        "ana", "ben", "chloe", "dan", "eve", "org"
    ]  # fmt: skip
    assert imported["at"] < move["at"]


async def test_the_follow_up_team_reads_the_log_page_by_page(api: Api) -> None:
    program = small_program()
    await api.import_ok(program)
    for minute in range(3):
        session_of(program, "m1")["title"] = f"Acme × Water, take {minute}"
        await api.import_ok(program)

    first = await audit(api, "followup")
    assert len(first["entries"]) == 4
    assert first["next"] is None
    older = await audit(api, "followup", before=str(first["entries"][1]["id"]))
    assert [e["id"] for e in older["entries"]] == [e["id"] for e in first["entries"][2:]]


async def test_an_erasure_is_logged_and_the_erased_key_leaves_every_entry(
    api: Api, db: Any, clock: ManualClock
) -> None:
    await api.import_ok(small_program())
    async with db() as session, session.begin():
        done = await forget(
            session, slug=SLUG, email="chloe@acme.example", now=clock.now(), secret=TEST_SECRET
        )
    assert done is not None

    entries = (await audit(api))["entries"]

    assert "chloe" not in str(entries)
    assert entries[0]["details"]["people"]["added"]["keys"] == [
        "ana", "ben", done.placeholder, "dan", "eve", "org"
    ]  # fmt: skip


async def test_commands_are_logged_with_the_user_who_ran_them(
    api: Api, database_url: str, tmp_path: Path
) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RDV_")},
        "RDV_DATABASE_URL": database_url,
        "RDV_SECRET_KEY": TEST_SECRET,
        "RDV_MAIL_URL": f"file://{tmp_path / 'outbox'}",
    }
    path = tmp_path / "program.json"
    path.write_text(json.dumps(small_program()))

    def rdv(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "orchestrator", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert (await asyncio.to_thread(rdv, "import", str(path))).returncode == 0
    erased = await asyncio.to_thread(rdv, "forget", "ben@roads.example", "--event", SLUG)
    assert erased.returncode == 0, erased.stderr

    entries = (await audit(api))["entries"]

    user = f"{getpass.getuser()} (command line)"
    assert [(e["actor"], e["source"], e["action"]) for e in entries] == [
        (user, "cli", "person.erase"),
        (user, "cli", "program.import"),
    ]
    assert entries[0]["subject"].startswith("erased-")
    assert "ben" not in str(entries)


async def test_a_published_replay_is_in_the_log(api: Api, clock: ManualClock) -> None:
    await api.import_ok(small_program())
    clock.advance(timedelta(days=8))  # the plenary is over
    published = await api.client.post(
        f"/api/v1/events/{SLUG}/sessions/plenary/replays",
        json={"url": "https://www.youtube.com/watch?v=dQw4w9WgXcQ"},
        headers=as_claire(clock),
    )
    assert published.status == 201

    newest = (await audit(api))["entries"][0]

    assert (newest["action"], newest["subject"], newest["actor"]) == (
        "replay.add",
        "plenary",
        "Claire (cluster staff)",
    )
    assert newest["details"]["url"] == "https://www.youtube.com/watch?v=dQw4w9WgXcQ"
