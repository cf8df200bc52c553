"""An organiser's program file, mangled every way a spreadsheet, an editor or a hurried script
can mangle it: it is imported or refused whole, never half; a refusal names the place of each
problem in the error format; nothing ever ends in a 500 or a traceback."""

from __future__ import annotations

import asyncio
import copy
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.fuzzing import assert_error_format, assert_problem, fuzz_settings, on_loop, snapshot
from support.service import EXAMPLE_DIR, Api, ManualClock, small_program
from support.stderr import problems as without_progress

from orchestrator.commands import import_file
from orchestrator.db.engine import create_engine, session_factory
from orchestrator.program.problems import Problem, ProgramError
from orchestrator.program.raw import RawProgram
from orchestrator.program.service import import_program
from orchestrator.settings import Settings

# Values that have broken importers before, by the field they go in: impossible and doubled
# local times, offsets and zones that do not exist, paths posing as zones, keys of the wrong
# shape, emails and providers validation must recognise; and anywhere, control and bidirectional
# characters, lone surrogates, blanks and overlong text.
TIMES = [
    "2021-03-28T02:30",
    "2021-10-31T02:30",
    "2021-02-30T10:00",
    "2021-04-08T24:00",
    "2021-04-08T10:30+25:00",
    "2021-04-08T10:30:00.123456789",
    "0001-01-01T00:00",
    "9999-12-31T23:59+14:00",
    "1970-01-01T00:00+14:00",
    "2200-12-31T23:59-12:00",
    "2021-04-08",
    "10:30",
    "2021-04-08T10:30Z",
    "2021-04-08T11:00",
]
ZONES = [
    "Europe",  # a folder of the zone database, not a zone
    "Europe/",
    "Europe/Pariss",
    "../../etc/passwd",
    "/etc/localtime",
    "posixrules",
    "zone.tab",
    "UTC",
    "Asia/Kathmandu",
]
GENERAL = [
    "",
    " ",
    "*",
    "x" * 300,
    "Nul\x00byte",
    "Bidi\u202eevil",
    "Lone\ud800surrogate",
    "Tab\tin",
    "ana",
    "ben",
    "water",
]
TRICKY = {
    "start": TIMES,
    "end": TIMES,
    "timezone": ZONES,
    "key": ["a b", "-dash", "ébé", "chloe", "m1", "x" * 81],
    "email": ["ANA@WATER.EXAMPLE", "a@b", "a@@b.example", "chloe@acme.example"],
    "provider": ["jitsi", "zoom", "bigbluebutton", "livekit", "janus", "skype", "JITSI"],
    "locale": ["fr", "en", "de", "FR"],
    "kind": ["meeting", "plenary", "buyer", "company", "organiser"],
    "stream_url": ["https://www.youtube.com/watch?v=abcdefghijk", "http://x.example/", "https://"],
    "streamed": [True, "true", "no", "maybe", 1],
    "attendees": ["*", ["ana"], ["ana", "ana"], ["ana", "nobody"], [], [1, None]],
    "speakers": ["*", ["org"], ["nobody"]],
    "organisation": ["water", "nowhere", ""],
    "slug": ["meet-the-buyers", "Meet", "other-event", "a" * 65],
    "title": ["Plénière", "\u202e", "x" * 201],
    "windows": [[], [["2021-04-08T12:00", "2021-04-08T10:00"]], [["2021-04-08T10:30"]], "x"],
    "slot_minutes": [0, -5, 1, 10**9, 2.5, True, "20", float("inf")],
    "gap_minutes": [0, -1, 10**9, 0.5, None],
    "max_parallel": [0, -1, 10**12, 1.5],
    "max_per_person": [0, 1, -3, 10**12],
    "priority": [0, 4, 3, True, 2.0, "3"],
    "from": ["chloe", "water", "nobody", "ana", 7],
    "to": ["ben", "roads", "chloe", ""],
}
FIELDS = [
    "key",
    "name",
    "email",
    "organisation",
    "kind",
    "title",
    "start",
    "end",
    "attendees",
    "speakers",
    "provider",
    "stream_url",
    "streamed",
    "locale",
    "timezone",
    "slug",
    "colour",
]
EDITS = ["tricky", "tricky", "replace", "drop", "duplicate", "add"]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(GENERAL + TIMES + ZONES)
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, the root excluded."""
    found: list[tuple[Any, ...]] = []
    if isinstance(node, dict | list):
        for step, child in node.items() if isinstance(node, dict) else enumerate(node):
            found.append((*prefix, step))
            found.extend(paths(child, (*prefix, step)))
    return found


def parent_of(document: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        document = document[step]
    return document


def mutate(data: st.DataObject, document: dict[str, Any]) -> dict[str, Any]:
    """Up to three edits: a value replaced by a tricky string or by anything at all (wrong types),
    a field dropped or added, a list item duplicated (duplicate keys and emails)."""
    document = copy.deepcopy(document)
    for _ in range(data.draw(st.integers(0, 3), label="edits")):
        places = paths(document)
        if not places:
            break
        action = data.draw(st.sampled_from(EDITS), label="edit")
        if action == "tricky":
            field = data.draw(st.sampled_from(sorted(TRICKY)), label="field")
            places = [place for place in places if place[-1] == field] or places
        path = data.draw(st.sampled_from(places), label="place")
        parent = parent_of(document, path)
        if action == "tricky":
            values = TRICKY.get(path[-1], [])
            parent[path[-1]] = copy.deepcopy(
                data.draw(st.sampled_from(values + GENERAL), label="value")
            )
        elif action == "replace":
            parent[path[-1]] = data.draw(VALUES, label="value")
        elif action == "drop":
            del parent[path[-1]]
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(path[-1], copy.deepcopy(parent[path[-1]]))
        elif isinstance(parent, dict):
            name = data.draw(st.sampled_from(FIELDS), label="field")
            parent[name] = data.draw(VALUES, label="value")
    return document


def garble(data: st.DataObject, text: str) -> bytes:
    """The bytes of a file, sometimes damaged: truncated, saved in another encoding, with stray
    bytes, or with a field repeated in the same object."""
    damage = data.draw(
        st.sampled_from(["none", "none", "truncate", "encoding", "bytes", "repeat"]), label="damage"
    )
    encoded = text.encode("utf-8", "surrogatepass")
    if damage == "truncate":
        return encoded[: data.draw(st.integers(0, max(len(encoded) - 1, 0)), label="cut")]
    if damage == "encoding":
        codec = data.draw(st.sampled_from(["utf-16", "utf-32", "latin-1", "cp1252"]), label="codec")
        return text.encode(codec, "replace")
    if damage == "bytes":
        at = data.draw(st.integers(0, len(encoded)), label="at")
        junk = data.draw(st.binary(min_size=1, max_size=4), label="junk")
        return encoded[:at] + junk + encoded[at:]
    if damage == "repeat" and text.startswith("{"):
        return b'{"sessions": [], ' + encoded[1:]
    return encoded


def dumps(document: Any, data: st.DataObject) -> str:
    return json.dumps(document, ensure_ascii=data.draw(st.booleans(), label="ascii"))


def changed_program() -> dict[str, Any]:
    """The small event as its organiser edits it after a first import: a meeting moved, a new
    person in it, so that an edit which survives the fuzzing is a real update."""
    program = small_program()
    program["people"].append(
        {"key": "fay", "name": "Fay Wong", "email": "fay@globex.example", "organisation": "globex"}
    )
    meeting = program["sessions"][3]
    meeting.update(start="2021-04-08T11:30", end="2021-04-08T12:00")
    meeting["attendees"].append("fay")
    return program


def program_with_requests() -> dict[str, Any]:
    """The edited event with meeting requests for the scheduler, as the README describes them
    (Meeting requests and automatic scheduling)."""
    program = changed_program()
    program["schedule"] = {
        "windows": [
            ["2021-04-08T10:30", "2021-04-08T12:30"],
            ["2021-04-08T14:00", "2021-04-08T17:00"],
        ],
        "slot_minutes": 20,
        "gap_minutes": 5,
        "max_parallel": 20,
        "max_per_person": 6,
    }
    program["availability"] = {"ben": [["2021-04-08T11:00", "2021-04-08T12:00"]]}
    program["requests"] = [
        {"from": "chloe", "to": "ben", "priority": 3},
        {"from": "globex", "to": "water", "priority": 1, "key": "b2b-07"},
    ]
    return program


BASES = {"edited": changed_program, "with requests": program_with_requests}


async def seed(settings: Settings, program: dict[str, Any], clock: ManualClock) -> None:
    engine = create_engine(settings.database_url)
    try:
        await import_program(
            session_factory(engine), settings, RawProgram(program), now=clock.now()
        )
    finally:
        await engine.dispose()


class Ledger:
    """What the database held after the last import that went through."""

    def __init__(self, settings: Settings) -> None:
        self.engine = create_engine(settings.database_url)
        self.db = session_factory(self.engine)
        self.held: Any = None
        self.accepted = 0
        self.refused = 0

    async def start(self) -> None:
        self.held = await snapshot(self.db)

    async def attempt(self, importing: Awaitable[object]) -> list[Problem]:
        """Runs an import; returns the problems it was refused for (none when it went through)."""
        problems: list[Problem] = []
        try:
            await importing
        except ProgramError as error:
            problems = error.problems
        for problem in problems:
            assert_problem(problem.as_dict())
        await self.after(refused=bool(problems))
        return problems

    async def after(self, refused: bool) -> None:
        now = await snapshot(self.db)
        if refused:
            self.refused += 1
            assert now == self.held, "a refused import changed the database"
        else:
            self.accepted += 1
            self.held = now


async def test_a_mangled_json_program_is_imported_whole_or_refused_with_places_by_rdv_import(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    await seed(settings, small_program(), clock)
    ledger = Ledger(settings)
    await ledger.start()
    run = on_loop(asyncio.get_running_loop())
    target = tmp_path / "program.json"

    @fuzz_settings(max_examples=70)
    @given(data=st.data())
    def import_mangled(data: st.DataObject) -> None:
        base = BASES[data.draw(st.sampled_from(sorted(BASES)), label="base")]()
        target.write_bytes(garble(data, dumps(mutate(data, base), data)))
        run(ledger.attempt(import_file(settings, target)))

    try:
        await asyncio.to_thread(import_mangled)
    finally:
        await ledger.engine.dispose()
    assert ledger.refused > ledger.accepted > 0


@fuzz_settings(max_examples=3)  # a process each: the in-process tests above do the volume
@given(data=st.data())
def test_rdv_import_of_a_mangled_file_exits_2_with_one_line_per_problem_never_a_traceback(
    data: st.DataObject, database_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "program.json"
    base = BASES[data.draw(st.sampled_from(sorted(BASES)), label="base")]()
    target.write_bytes(garble(data, dumps(mutate(data, base), data)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDV_")}
    result = subprocess.run(
        [sys.executable, "-m", "orchestrator", "import", str(target)],
        env={**env, "RDV_DATABASE_URL": database_url},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 2), result.stderr
    if result.returncode == 2:
        *problems, summary = without_progress(result.stderr)
        assert summary.startswith("rdv import: "), result.stderr
        assert summary.endswith("in the program; nothing was imported"), result.stderr
        assert problems, result.stderr
        assert all(": " in line for line in problems), result.stderr


CSV_DAMAGE = ["cell", "cell", "cell", "drop-column", "repeat-column", "new-column", "row", "cells"]


def mangle_csv(data: st.DataObject, text: str) -> str:
    """A CSV file as a spreadsheet mishandles it: a cell changed, a column lost, repeated or
    unknown, a row repeated or cut short, a stray quote."""
    rows = list(csv.reader(io.StringIO(text)))
    action = data.draw(st.sampled_from(CSV_DAMAGE), label="csv edit")
    width = len(rows[0])
    column = data.draw(st.integers(0, width - 1), label="column")
    line = data.draw(st.integers(0, len(rows) - 1), label="line")
    if action == "cell":
        rows[line][column] = data.draw(
            st.sampled_from(TIMES + ZONES + GENERAL) | st.text(max_size=10)
        )
    elif action == "drop-column":
        rows = [row[:column] + row[column + 1 :] for row in rows]
    elif action == "repeat-column":
        rows = [[*row, row[column]] for row in rows]
    elif action == "new-column":
        rows = [[*row, "colour" if index == 0 else "blue"] for index, row in enumerate(rows)]
    elif action == "row":
        rows.insert(line, list(rows[line]))
    else:
        rows[line] = rows[line][: data.draw(st.integers(0, width + 2), label="cells")] + [""] * (
            data.draw(st.integers(0, 2), label="extra")
        )
    out = io.StringIO()
    csv.writer(out, lineterminator=data.draw(st.sampled_from(["\n", "\r\n"]))).writerows(rows)
    result = out.getvalue()
    if data.draw(st.booleans(), label="stray quote"):
        at = data.draw(st.integers(0, len(result)), label="quote at")
        result = result[:at] + '"' + result[at:]
    return result


async def test_a_mangled_program_folder_is_imported_whole_or_refused_with_places_by_rdv_import(
    settings: Settings, clock: ManualClock, tmp_path: Path
) -> None:
    await seed(settings, json.loads((EXAMPLE_DIR / "program.json").read_text("utf-8")), clock)
    ledger = Ledger(settings)
    await ledger.start()
    run = on_loop(asyncio.get_running_loop())
    folder = tmp_path / "lyon"
    files = {name: (EXAMPLE_DIR / name).read_text("utf-8") for name in FOLDER_FILES}

    @fuzz_settings(max_examples=80)
    @given(data=st.data())
    def import_mangled(data: st.DataObject) -> None:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        name = data.draw(st.sampled_from(FOLDER_FILES), label="file")
        for other, text in files.items():
            if other != name:
                (folder / other).write_text(text, encoding="utf-8")
        if name == "event.json":
            mangled = dumps(mutate(data, json.loads(files[name])), data)
        elif data.draw(st.booleans(), label="missing"):
            return _import_missing(run, ledger, settings, folder, name)
        else:
            mangled = mangle_csv(data, files[name])
        (folder / name).write_bytes(garble(data, mangled))
        run(ledger.attempt(import_file(settings, folder)))

    try:
        await asyncio.to_thread(import_mangled)
    finally:
        await ledger.engine.dispose()
    assert ledger.refused > 0


FOLDER_FILES = ("event.json", "people.csv", "sessions.csv")


def _import_missing(
    run: Callable[[Any], Any], ledger: Ledger, settings: Settings, folder: Path, name: str
) -> None:
    with pytest.raises(ProgramError) as refused:
        run(import_file(settings, folder))
    assert [problem.place for problem in refused.value.problems] == [name]
    run(ledger.after(refused=True))


async def test_a_mangled_program_put_over_the_api_is_imported_whole_or_refused_in_the_error_format(
    api: Api, settings: Settings, clock: ManualClock
) -> None:
    await seed(settings, small_program(), clock)
    ledger = Ledger(settings)
    await ledger.start()
    run = on_loop(asyncio.get_running_loop())
    slug = small_program()["event"]["slug"]
    headers = api.headers(slug)

    async def put(body: bytes, content_type: str) -> tuple[int, Any]:
        response = await api.client.put(
            f"/api/v1/events/{slug}/program",
            data=body,
            headers={**headers, "Content-Type": content_type},
        )
        return response.status, await response.json(content_type=None)

    @fuzz_settings(max_examples=60)
    @given(data=st.data())
    def put_mangled(data: st.DataObject) -> None:
        base = BASES[data.draw(st.sampled_from(sorted(BASES)), label="base")]()
        body = garble(data, dumps(mutate(data, base), data))
        kind = data.draw(
            st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"])
        )
        status, answer = run(put(body, kind))
        assert status in (200, 400, 422), (status, answer)
        if status == 200:
            assert set(answer) == {"changes"}, answer
            run(ledger.after(refused=False))
            return
        assert_error_format(answer, status)
        if status == 422:
            assert answer["error"]["code"] == "invalid_program", answer
        run(ledger.after(refused=True))

    try:
        await asyncio.to_thread(put_mangled)
    finally:
        await ledger.engine.dispose()
    assert ledger.refused > ledger.accepted > 0


# -- what the fuzzing found ------------------------------------------------------------------


async def test_a_program_whose_time_zone_is_a_folder_of_the_zone_database_is_refused_with_its_place(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    program = small_program()
    program["event"]["timezone"] = "Europe"
    problem = 'unknown time zone "Europe" (use an IANA name like Europe/Paris)'
    response = await api.put_program(program)
    assert response.status == 422
    body = await response.json()
    assert body["error"]["details"] == [{"place": "event.timezone", "message": problem}]
    path = tmp_path / "program.json"
    path.write_text(json.dumps(program), encoding="utf-8")
    with pytest.raises(ProgramError) as refused:
        await import_file(settings, path)
    assert [str(found) for found in refused.value.problems] == [f"event.timezone: {problem}"]
