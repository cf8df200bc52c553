"""A provider's record of a meeting as events: each span a join and a leave on a connection of
its own, keyed so that no two spans or kinds can share a key, however long the provider's names
(Meet's participant names run long; stored keys are cut at 300 characters)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from integrations.base import Attendance
from orchestrator.attendance.reports import events_of

START = datetime(2026, 12, 7, 10, tzinfo=UTC)


def test_long_names_still_give_every_span_and_kind_a_key_of_its_own() -> None:
    name = "conferenceRecords/" + "r" * 150 + "/participants/" + "p" * 150
    two_tabs = Attendance(
        name,
        "Ana Lopez",
        None,
        (
            (START, START + timedelta(minutes=20)),
            (START + timedelta(minutes=1), START + timedelta(minutes=25)),
        ),
    )
    events = events_of("meet", "m" * 120, [two_tabs])
    keys = [event.dedupe_key for event in events]
    assert len(set(keys)) == 4
    assert all(len(key) <= 300 for key in keys)
    connections = {event.who.connection for event in events if event.who}
    assert len(connections) == 2  # the two tabs, each its own
    assert all(len(connection) <= 300 for connection in connections)
    again = events_of("meet", "m" * 120, [two_tabs])
    assert [event.dedupe_key for event in again] == keys  # read twice, stored once
