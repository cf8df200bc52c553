"""Presence from events that arrive late, twice, out of order or not at all."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from orchestrator.attendance.presence import Mark, intervals, peak, total
from orchestrator.attendance.rules import Presence, Window, held, presence, status

T0 = datetime(2021, 4, 8, 8, 30, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def window(now: float = 60) -> Window:
    return Window(
        starts_at=T0,
        ends_at=at(30),
        opens_at=at(-10),
        closes_at=at(40),
        late_after=timedelta(minutes=5),
        now=at(now),
    )


def joined(minutes: float, who: str = "ana", connection: str = "c1") -> Mark:
    return Mark(at(minutes), "joined", who, connection)


def left(minutes: float, who: str = "ana", connection: str = "c1") -> Mark:
    return Mark(at(minutes), "left", who, connection)


def test_events_in_any_order_and_twice_give_the_same_presence() -> None:
    marks = [joined(0), left(12), joined(15, connection="c2"), left(30, connection="c2")]
    expected = {"ana": [(at(0), at(12)), (at(15), at(30))]}
    for seed in range(20):
        shuffled = marks * 2
        random.Random(seed).shuffle(shuffled)
        assert intervals(shuffled, until=at(60)) == expected


def test_a_second_tab_keeps_someone_present_until_both_are_gone() -> None:
    marks = [
        joined(0, connection="laptop"),
        joined(5, connection="phone"),
        left(10, connection="laptop"),
        left(20, connection="phone"),
    ]
    assert intervals(marks, until=at(60)) == {"ana": [(at(0), at(20))]}


def test_a_missing_leave_is_closed_by_the_end_of_the_room() -> None:
    marks = [joined(0), Mark(at(31), "room_ended")]
    assert intervals(marks, until=at(60)) == {"ana": [(at(0), at(31))]}
    assert intervals([joined(0)], until=at(40)) == {"ana": [(at(0), at(40))]}


def test_a_poll_finds_someone_whose_join_was_lost_and_closes_a_lost_leave() -> None:
    marks = [
        Mark(at(2), "present", "ben"),
        Mark(at(2), "poll", listed=frozenset({"ben", "ana"})),
        joined(0),
        Mark(at(20), "poll", listed=frozenset({"ben"})),  # Ana's leave was lost
        left(25, who="ben", connection="unknown"),
    ]
    assert intervals(marks, until=at(60)) == {
        "ana": [(at(0), at(20))],
        "ben": [(at(2), at(25))],
    }


def test_statuses_follow_the_rules() -> None:
    def seen(*spans: tuple[float, float]) -> Presence:
        return presence([(at(a), at(b)) for a, b in spans], window(), frozenset())

    assert status(seen((0, 30)), window()) == "attended"
    assert status(seen((-3, 31)), window()) == "attended"
    assert status(seen((6, 30)), window()) == "late"
    assert status(seen((0, 20)), window()) == "left-early"
    assert status(seen((0, 10), (12, 29)), window()) == "attended"
    assert status(seen(), window()) == "no-show"
    assert status(seen(), window(now=3)) == "expected"
    assert status(seen(), window(now=6)) == "late"  # not there yet, past the late mark


def test_a_meeting_is_held_when_both_sides_were_together_five_minutes() -> None:
    company = [(at(0), at(10))]
    assert held([company, [(at(5), at(30))]]) == (True, 5.0)
    assert held([company, [(at(6), at(30))]]) == (False, 4.0)
    assert held([company, []]) == (False, 0.0)


def test_the_peak_counts_people_at_the_same_moment() -> None:
    spans = {"a": [(at(0), at(10))], "b": [(at(5), at(20))], "c": [(at(10), at(15))]}
    assert peak(spans) == (2, at(5))
    assert total(spans["b"]) == timedelta(minutes=15)
