"""Re-importing a program updates the event by key and says exactly what changed."""

from __future__ import annotations

from typing import Any

from support.service import Api, session_of, small_program


async def test_first_import_creates_everything(api: Api) -> None:
    changes = await api.import_ok(small_program())
    assert changes["event_created"] is True
    assert changes["sessions"]["created"] == ["plenary", "m1", "m2", "m3"]
    assert changes["people"]["added"] == ["ana", "ben", "chloe", "dan", "eve", "org"]
    assert changes["empty"] is False


async def test_unchanged_reimport_gives_an_empty_change_set(api: Api) -> None:
    program = small_program()
    await api.import_ok(program)
    changes = await api.import_ok(program)
    assert changes["empty"] is True
    assert changes["sessions"] == {"created": [], "changed": [], "cancelled": [], "over": []}


async def test_moving_a_meeting_changes_only_that_meeting_and_raises_its_sequence(api: Api) -> None:
    program = small_program()
    await api.import_ok(program)
    before = {s["key"]: s for s in (await api.get_event("meet-the-buyers"))["sessions"]}
    meeting = session_of(program, "m3")
    meeting["start"], meeting["end"] = "2021-04-08T11:30", "2021-04-08T12:00"

    changes = await api.import_ok(program)

    assert changes["sessions"]["changed"] == [
        {
            "key": "m3",
            "fields": ["start", "end"],
            "attendees_added": [],
            "attendees_removed": [],
            "roles_changed": [],
        }
    ]
    after = {s["key"]: s for s in (await api.get_event("meet-the-buyers"))["sessions"]}
    assert after["m3"]["local_start"] == "2021-04-08T11:30:00+02:00"
    assert after["m3"]["start"] == "2021-04-08T09:30:00Z"
    assert after["m3"]["sequence"] == before["m3"]["sequence"] + 1
    assert all(after[k]["sequence"] == before[k]["sequence"] for k in ("plenary", "m1", "m2"))


async def test_swapping_an_attendee_lists_who_came_and_who_went(api: Api) -> None:
    program = small_program()
    await api.import_ok(program)
    session_of(program, "m1")["attendees"] = ["dan", "ana"]  # Dan replaces Chloé for Acme

    changes = await api.import_ok(program)

    assert changes["sessions"]["changed"] == [
        {
            "key": "m1",
            "fields": ["attendees"],
            "attendees_added": ["dan"],
            "attendees_removed": ["chloe"],
            "roles_changed": [],
        }
    ]
    event = await api.get_event("meet-the-buyers")
    m1 = next(s for s in event["sessions"] if s["key"] == "m1")
    assert [a["key"] for a in m1["attendees"]] == ["ana", "dan"]


async def test_a_session_left_out_of_the_program_is_cancelled_not_deleted(api: Api) -> None:
    program = small_program()
    await api.import_ok(program)
    program["sessions"] = [s for s in program["sessions"] if s["key"] != "m2"]

    changes = await api.import_ok(program)

    assert changes["sessions"]["cancelled"] == ["m2"]
    event = await api.get_event("meet-the-buyers")
    m2 = next(s for s in event["sessions"] if s["key"] == "m2")
    assert m2["status"] == "cancelled"
    assert m2["room"]["state"] == "cancelled"
    assert m2["sequence"] == 1
    assert (await api.import_ok(program))["empty"] is True


async def test_a_cancelled_session_put_back_is_created_again_with_a_higher_sequence(
    api: Api,
) -> None:
    program = small_program()
    await api.import_ok(program)
    without = small_program()
    without["sessions"] = [s for s in without["sessions"] if s["key"] != "m2"]
    await api.import_ok(without)

    changes = await api.import_ok(program)

    assert changes["sessions"]["created"] == ["m2"]
    m2 = next(s for s in (await api.get_event("meet-the-buyers"))["sessions"] if s["key"] == "m2")
    assert (m2["status"], m2["room"]["state"], m2["sequence"]) == ("scheduled", "scheduled", 2)


async def test_a_person_removed_from_the_program_leaves_every_session(api: Api) -> None:
    program = small_program()
    await api.import_ok(program)
    program["people"] = [p for p in program["people"] if p["key"] != "eve"]
    session_of(program, "m2")["attendees"] = ["ben", "dan"]
    session_of(program, "m2")["start"], session_of(program, "m2")["end"] = (
        "2021-04-08T12:00",
        "2021-04-08T12:30",
    )

    changes = await api.import_ok(program)

    assert changes["people"]["removed"] == ["eve"]
    changed = {c["key"]: c for c in changes["sessions"]["changed"]}
    assert changed["plenary"]["attendees_removed"] == ["eve"]
    assert changed["m2"]["attendees_removed"] == ["eve"]
    assert changed["m2"]["attendees_added"] == ["dan"]
    assert changed["m2"]["fields"] == ["start", "end", "attendees"]


async def test_renaming_a_person_updates_the_sessions_whose_invites_show_the_name(
    api: Api,
) -> None:
    program = small_program()
    await api.import_ok(program)
    next(p for p in program["people"] if p["key"] == "ana")["name"] = "Ana López-García"

    changes = await api.import_ok(program)

    assert changes["people"]["changed"] == ["ana"]
    assert {c["key"]: c["fields"] for c in changes["sessions"]["changed"]} == {
        "plenary": ["attendee_details"],
        "m1": ["attendee_details"],
    }


async def test_a_new_speaker_is_a_change_of_the_plenary(api: Api) -> None:
    program = small_program()
    await api.import_ok(program)
    session_of(program, "plenary")["speakers"] = ["org", "ana"]

    changes = await api.import_ok(program)

    assert [(c["key"], c["fields"]) for c in changes["sessions"]["changed"]] == [
        ("plenary", ["speakers"])
    ]


async def test_changing_the_event_title_touches_every_live_invite(api: Api) -> None:
    program = small_program()
    await api.import_ok(program)
    program["event"]["title"] = "Meet the buyers 2021"

    changes = await api.import_ok(program)

    assert changes["event_changed"] == ["title"]
    assert sorted(c["key"] for c in changes["sessions"]["changed"]) == ["m1", "m2", "m3", "plenary"]


async def test_naming_the_default_provider_explicitly_moves_no_room(api: Api) -> None:
    program = small_program()
    await api.import_ok(program)
    program["event"]["provider"] = "jitsi"  # what the default already gave every session

    changes = await api.import_ok(program)

    assert changes["event_changed"] == ["provider"]
    assert changes["sessions"]["changed"] == []


BBB = {"bbb_url": "https://bbb.example/bigbluebutton/api", "bbb_secret": "s" * 40}


async def test_moving_the_event_to_another_provider_moves_sessions_that_name_none(
    make_api: Any,
) -> None:
    api = await make_api(**BBB)
    program = small_program()
    session_of(program, "m1")["provider"] = "jitsi"
    await api.import_ok(program)
    program["event"]["provider"] = "bigbluebutton"

    changes: dict[str, Any] = await api.import_ok(program)

    assert changes["event_changed"] == ["provider"]
    assert sorted(c["key"] for c in changes["sessions"]["changed"]) == ["m2", "m3", "plenary"]
    rooms = {
        s["key"]: s["room"]["provider"]
        for s in (await api.get_event(program["event"]["slug"]))["sessions"]
    }
    assert rooms == {
        "plenary": "bigbluebutton",
        "m1": "jitsi",
        "m2": "bigbluebutton",
        "m3": "bigbluebutton",
    }
