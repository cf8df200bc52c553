"""Checks the `schedule`, `availability` and `requests` sections of a program, every problem at
once and each with its place, as the rest of the import does."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from . import fields
from .model import Interval, Request, Requests, Rules
from .problems import Collector, Place
from .raw import RawProgram

SECTIONS = ("schedule", "availability", "requests")
SCHEDULE_FIELDS = (
    "windows",
    "slot_minutes",
    "gap_minutes",
    "max_parallel",
    "max_per_person",
    "refill",
    "requests_open",
    "requests_close",
    "max_requests_per_person",
)
REFILLS = ("auto",)  # and left out: re-filled on demand, `rdv schedule SLUG --refill`
REQUEST_FIELDS = ("from", "to", "priority", "key")
LIMITS = {
    "slot_minutes": (5, 24 * 60),
    "gap_minutes": (0, 24 * 60),
    "max_parallel": (1, 1_000_000),
    "max_per_person": (1, 10_000),
    "max_requests_per_person": (1, 1_000),
}
PRIORITIES = (1, 2, 3)


def session_key(source: str, target: str) -> str:
    """The key a request's meeting gets when the request names none: readable when it fits."""
    readable = f"{source}.{target}"
    if len(readable) <= 80:
        return readable
    return "request-" + hashlib.sha256(f"{source}\n{target}".encode()).hexdigest()[:16]


def check(
    raw: RawProgram,
    document: Mapping[str, Any],
    tz: ZoneInfo | None,
    *,
    people: Mapping[str, Any],
    organisations: Mapping[str, Any],
    problems: Collector,
) -> Requests | None:
    """The validated sections, None when the program has none of them (or they have problems,
    which are added to `problems`). `people` and `organisations` hold every key given."""
    return _Check(raw, tz, people, organisations, problems).run(document)


class _Check:
    def __init__(
        self,
        raw: RawProgram,
        tz: ZoneInfo | None,
        people: Mapping[str, Any],
        organisations: Mapping[str, Any],
        problems: Collector,
    ) -> None:
        self.raw, self.tz, self.problems = raw, tz, problems
        self.people, self.organisations = people, organisations

    def run(self, document: Mapping[str, Any]) -> Requests | None:
        if all(document.get(name) is None for name in SECTIONS):
            return None
        reported = len(self.problems.problems)
        rules = self.schedule(document.get("schedule"))
        availability = self.availability(document.get("availability"))
        requests = self.requests(document.get("requests"))
        if rules is None or len(self.problems.problems) > reported:
            return None
        return Requests(rules, availability, requests)

    def place(self, name: str) -> Place:
        return self.raw.section_place(name)

    # -- schedule ------------------------------------------------------------------------------
    def schedule(self, value: Any) -> Rules | None:
        place = self.place("schedule")
        if value is None:
            self.problems.add(place, "missing schedule: requests need windows and slot_minutes")
            return None
        if not self.known_fields(value, place, SCHEDULE_FIELDS, "schedule"):
            return None
        numbers = {
            name: self.integer(value.get(name), place / name, name)
            for name in (
                "slot_minutes",
                "gap_minutes",
                "max_parallel",
                "max_per_person",
                "max_requests_per_person",
            )
        }
        opens, closes = (
            fields.instant(value[name], place / name, self.problems, self.tz, what=name)
            if value.get(name) is not None
            else None
            for name in ("requests_open", "requests_close")
        )
        given = [value.get(name) is not None for name in ("requests_open", "requests_close")]
        if given[0] != given[1]:
            self.problems.add(
                place / ("requests_open" if given[1] else "requests_close"),
                "participants' requests need both requests_open and requests_close",
            )
        elif opens is not None and closes is not None and closes <= opens:
            self.problems.add(place / "requests_close", "requests_close is not after requests_open")
        slot = numbers["slot_minutes"]
        if value.get("slot_minutes") is None:
            self.problems.add(place / "slot_minutes", "missing slot_minutes")
        if value.get("windows") is None:
            self.problems.add(place / "windows", "missing windows")
            return None
        refill = value.get("refill")
        if refill is not None and refill not in REFILLS:
            self.problems.add(
                place / "refill",
                f'refill must be "auto" (a declined meeting is re-filled at once) or left out '
                f"(re-filled by rdv schedule --refill), not {refill!r}",
            )
        windows = self.intervals(value["windows"], place / "windows", "window")
        if windows is None or slot is None:
            return None
        if not windows:
            self.problems.add(place / "windows", "give at least one window")
        ordered = sorted(enumerate(windows), key=lambda item: item[1])
        for (_, (_, end)), (later, (next_start, _)) in itertools.pairwise(ordered):
            if next_start < end:
                self.problems.add(place / "windows" / later, "overlaps another window")
        for index, (start, end) in enumerate(windows):
            if (end - start).total_seconds() < slot * 60:
                self.problems.add(
                    place / "windows" / index, f"shorter than one slot of {slot} minutes"
                )
        return Rules(
            tuple(sorted(windows)),
            slot,
            numbers["gap_minutes"] or 0,
            numbers["max_parallel"],
            numbers["max_per_person"],
            refill=refill if refill in REFILLS else None,
            requests_open=opens,
            requests_close=closes,
            max_requests_per_person=numbers["max_requests_per_person"],
        )

    def integer(self, value: Any, place: Place, name: str) -> int | None:
        if value is None:
            return None
        low, high = LIMITS[name]
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole:
            self.problems.add(
                place, f"{name} must be a whole number, not {fields.type_name(value)}"
            )
            return None
        if not low <= value <= high:
            self.problems.add(place, f"{name} must be between {low} and {high}, not {value}")
            return None
        return int(value)

    def intervals(self, value: Any, place: Place, what: str) -> list[Interval] | None:
        if not isinstance(value, list):
            self.problems.add(
                place, f"expected a list of [start, end] pairs, not {fields.type_name(value)}"
            )
            return None
        result: list[Interval] = []
        for index, item in enumerate(value):
            here = place / index
            if not isinstance(item, list) or len(item) != 2:
                self.problems.add(here, f"a {what} is a [start, end] pair")
                continue
            start = fields.instant(item[0], here / 0, self.problems, self.tz, what=f"{what} start")
            end = fields.instant(item[1], here / 1, self.problems, self.tz, what=f"{what} end")
            if start is not None and end is not None:
                if end <= start:
                    self.problems.add(here, f"the {what} does not end after it starts")
                else:
                    result.append((start, end))
        return result

    # -- availability --------------------------------------------------------------------------
    def availability(self, value: Any) -> dict[str, tuple[Interval, ...]]:
        place = self.place("availability")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problems.add(
                place, f"expected an object of person keys, not {fields.type_name(value)}"
            )
            return {}
        result: dict[str, tuple[Interval, ...]] = {}
        for key, spans in value.items():
            if key not in self.people:
                self.problems.add(place / key, f'unknown person "{key}"')
                continue
            checked = self.intervals(spans, place / key, "time")
            if checked is not None:
                result[key] = tuple(sorted(checked))
        return result

    # -- requests ------------------------------------------------------------------------------
    def requests(self, value: Any) -> tuple[Request, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.problems.add(self.place("requests"), "requests must be a list")
            return ()
        result: list[Request] = []
        keys: dict[str, Place] = {}
        pairs: dict[frozenset[str], Place] = {}
        for index, item in enumerate(value):
            place = self.raw.place("requests", index)
            if not self.known_fields(item, place, REQUEST_FIELDS, "request"):
                continue
            source = self.party(item.get("from"), place / "from", "from")
            target = self.party(item.get("to"), place / "to", "to")
            priority = item.get("priority", 1)
            if isinstance(priority, bool) or priority not in PRIORITIES:
                self.problems.add(place / "priority", "priority must be 1, 2 or 3 (3 = must meet)")
            given = item.get("key")
            key = fields.key(given, place / "key", self.problems) if given is not None else None
            if source is None or target is None:
                continue
            if source[1] != target[1]:
                self.problems.add(
                    place, "a request names two people or two organisations, not one of each"
                )
                continue
            if source[0] == target[0]:
                self.problems.add(place / "to", f'"{target[0]}" cannot meet itself')
                continue
            pair = frozenset((source[0], target[0]))
            if pair in pairs:
                self.problems.add(place, f"the same pair is requested at {pairs[pair]}")
                continue
            pairs[pair] = place
            meeting = key or session_key(source[0], target[0])
            if meeting in keys:
                self.problems.add(
                    place / "key" if key else place,
                    f'duplicate meeting key "{meeting}" (also at {keys[meeting]})'
                    + ("" if key else "; give this request a key"),
                )
                continue
            keys[meeting] = place
            if priority in PRIORITIES and not isinstance(priority, bool) and (key or not given):
                result.append(
                    Request(index, source[0], target[0], source[1], priority, meeting, bool(key))
                )
        return tuple(result)

    def party(self, value: Any, place: Place, what: str) -> tuple[str, bool] | None:
        """The key and whether it names an organisation."""
        key = fields.key(value, place, self.problems, what=what)
        if key is None:
            return None
        person, organisation = key in self.people, key in self.organisations
        if person and organisation:
            self.problems.add(place, f'"{key}" names both a person and an organisation')
            return None
        if not person and not organisation:
            self.problems.add(place, f'unknown person or organisation "{key}"')
            return None
        return key, organisation

    def known_fields(self, value: Any, place: Place, allowed: tuple[str, ...], what: str) -> bool:
        if not isinstance(value, dict):
            self.problems.add(place, f"a {what} must be an object, not {fields.type_name(value)}")
            return False
        for name in value:
            if name not in allowed:
                self.problems.add(
                    place / name, f'unknown field "{name}" (allowed: {", ".join(allowed)})'
                )
        return True
