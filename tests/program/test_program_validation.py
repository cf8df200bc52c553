"""An organiser's program is checked before anything is imported: every problem is reported at
once, each with the place it sits in the file, in words the organiser can act on."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.service import EXAMPLE_SLUG, example_program, session_of, small_program

from orchestrator.program.load import load_bytes, load_path
from orchestrator.program.model import Program
from orchestrator.program.problems import ProgramError
from orchestrator.program.service import checked
from orchestrator.program.validate import validate
from orchestrator.settings import Settings

BBB = {"bbb_url": "https://bbb.example/bigbluebutton/api", "bbb_secret": "bbb-shared-secret-123"}


def validated(document: Any, **settings: Any) -> Program:
    raw = load_bytes(json.dumps(document).encode("utf-8"))
    return checked(raw, Settings(**settings))


def problems(document: Any, *, slug: str | None = None, **settings: Any) -> list[str]:
    """Every problem validation finds in `document`, as the organiser reads them."""
    raw = load_bytes(json.dumps(document).encode("utf-8"))
    with pytest.raises(ProgramError) as caught:
        checked(raw, Settings(**settings), slug)
    return [str(problem) for problem in caught.value.problems]


def problems_in_bytes(data: bytes) -> list[str]:
    with pytest.raises(ProgramError) as caught:
        validate(load_bytes(data), check_provider=lambda name: None)
    return [str(problem) for problem in caught.value.problems]


def person(program: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(p for p in program["people"] if p["key"] == key)
    return found


# -- what a valid program becomes ---------------------------------------------------------------


def test_the_example_event_validates_with_116_people_and_42_sessions() -> None:
    program = validated(example_program())

    assert program.event.slug == EXAMPLE_SLUG
    assert program.event.timezone == "Europe/Paris"
    assert len(program.people) == 116
    assert len(program.sessions) == 42
    assert sum(session.kind == "meeting" for session in program.sessions) == 41


def test_the_plenary_of_the_example_event_expects_all_116_people() -> None:
    program = validated(example_program())

    plenary = next(session for session in program.sessions if session.kind == "plenary")

    assert len(plenary.attendees) == 116
    assert set(plenary.attendees) == {p.key for p in program.people}


def test_star_attendees_expand_to_every_person_of_the_event() -> None:
    program = validated(small_program())

    plenary = next(session for session in program.sessions if session.key == "plenary")

    assert plenary.attendees == ("ana", "ben", "chloe", "dan", "eve", "org")


def test_speakers_are_counted_among_the_attendees() -> None:
    document = small_program()
    session_of(document, "m1")["speakers"] = ["org"]

    m1 = next(session for session in validated(document).sessions if session.key == "m1")

    assert m1.speakers == ("org",)
    assert m1.attendees == ("chloe", "ana", "org")


def test_a_naive_time_is_local_to_the_event_time_zone() -> None:
    m1 = next(s for s in validated(small_program()).sessions if s.key == "m1")

    assert m1.starts_at == datetime(2021, 4, 8, 8, 30, tzinfo=UTC)  # 10:30 in Paris, summer time
    assert m1.ends_at == datetime(2021, 4, 8, 9, 0, tzinfo=UTC)


def test_a_configured_provider_is_accepted_for_a_session() -> None:
    document = small_program()
    session_of(document, "m1")["provider"] = "bigbluebutton"

    m1 = next(s for s in validated(document, **BBB).sessions if s.key == "m1")

    assert m1.provider == "bigbluebutton"


# -- unknown references -------------------------------------------------------------------------


def test_an_unknown_person_among_the_attendees_is_named_with_its_place() -> None:
    document = small_program()
    session_of(document, "m1")["attendees"] = ["chloe", "xyz"]

    assert problems(document) == ['sessions[1].attendees[1]: unknown person "xyz"']


def test_an_unknown_speaker_is_named_with_its_place() -> None:
    document = small_program()
    session_of(document, "plenary")["speakers"] = ["org", "keynote-guest"]

    assert problems(document) == ['sessions[0].speakers[1]: unknown person "keynote-guest"']


def test_a_person_of_an_unknown_organisation_is_named() -> None:
    document = small_program()
    person(document, "dan")["organisation"] = "acme-corp"

    assert problems(document) == ['people[3].organisation: unknown organisation "acme-corp"']


def test_a_slip_in_an_organisation_is_reported_once_not_again_for_each_of_its_people() -> None:
    document = small_program()
    document["organisations"][2]["kind"] = "startup"  # acme, which chloe and dan belong to

    assert problems(document) == [
        "organisations[2].kind: kind must be one of company, buyer, organiser, not 'startup'"
    ]


def test_a_person_listed_twice_in_one_session_is_named() -> None:
    document = small_program()
    session_of(document, "m1")["attendees"] = ["chloe", "ana", "chloe"]

    assert problems(document) == ['sessions[1].attendees[2]: person "chloe" is listed twice']


# -- duplicates and emails ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("section", "entry", "what", "first"),
    [
        (
            "organisations",
            {"key": "water", "name": "Water again", "kind": "buyer"},
            "organisation",
            0,
        ),
        ("people", {"key": "ana", "name": "Ana Twin", "email": "twin@water.example"}, "person", 0),
        (
            "sessions",
            {
                "key": "m1",
                "kind": "meeting",
                "title": "Acme × Water, again",
                "start": "2021-04-08T14:00",
                "end": "2021-04-08T14:30",
                "attendees": ["chloe", "ana"],
            },
            "session",
            1,
        ),
    ],
    ids=["organisations", "people", "sessions"],
)
def test_a_key_used_twice_in_a_section_points_back_at_its_first_use(
    section: str, entry: dict[str, Any], what: str, first: int
) -> None:
    document = small_program()
    document[section].append(entry)
    index = len(document[section]) - 1

    assert problems(document) == [
        f'{section}[{index}].key: duplicate {what} key "{entry["key"]}" '
        f"(also at {section}[{first}].key)"
    ]


def test_the_same_email_twice_is_refused_whatever_its_case() -> None:
    document = small_program()
    person(document, "ben")["email"] = "ANA@Water.Example"

    assert problems(document) == [
        'people[1].email: duplicate email "ANA@Water.Example" (also at people[0].email)'
    ]


@pytest.mark.parametrize(
    "address",
    ["not-an-email", "ana@", "@water.example", "ana@water", "ana lopez@water.example", "a@b..c"],
)
def test_a_malformed_email_is_named(address: str) -> None:
    document = small_program()
    person(document, "ana")["email"] = address

    assert problems(document) == [f'people[0].email: malformed email "{address}"']


def test_a_malformed_organiser_email_is_named() -> None:
    document = small_program()
    document["event"]["organiser"]["email"] = "rdv.cluster.example"

    assert problems(document) == ['event.organiser.email: malformed email "rdv.cluster.example"']


# -- times --------------------------------------------------------------------------------------


def test_a_session_that_ends_before_it_starts_is_refused() -> None:
    document = small_program()
    session_of(document, "m2")["end"] = "2021-04-08T10:00"

    assert problems(document) == ['sessions[2].end: session "m2" does not end after it starts']


def test_a_session_that_would_last_ten_years_is_refused_naming_the_limit() -> None:
    """One such session would hold a room, and a host of the shared Zoom pool, for ten years."""
    document = small_program()
    session_of(document, "m1")["end"] = "2031-04-08T11:00"

    assert problems(document) == [
        'sessions[1].end: session "m1" lasts 3652 days; a session may last at most 1 day '
        "(RDV_MAX_SESSION_LENGTH)"
    ]


def test_a_session_longer_than_a_day_passes_where_the_service_allows_it() -> None:
    document = small_program()
    session_of(document, "m1")["end"] = "2021-04-09T22:30"  # a day and a half

    [problem] = problems(document)
    assert "lasts 1.5 days; a session may last at most 1 day" in problem
    program = validated(document, max_session_length=timedelta(days=2))
    assert next(s for s in program.sessions if s.key == "m1").ends_at.day == 9


def test_a_session_that_ends_the_moment_it_starts_is_refused() -> None:
    document = small_program()
    session_of(document, "m1")["end"] = session_of(document, "m1")["start"]

    [problem] = problems(document)

    assert problem.startswith('sessions[1].end: session "m1"')


def test_a_time_that_is_not_a_date_is_named() -> None:
    document = small_program()
    session_of(document, "m3")["start"] = "tomorrow at 11"

    assert problems(document) == [
        'sessions[3].start: session "m3" start "tomorrow at 11" is not a date and time like '
        "2021-04-08T10:30"
    ]


def test_a_meeting_at_a_time_that_does_not_exist_names_the_session() -> None:
    document = small_program()
    m1 = session_of(document, "m1")
    m1["start"], m1["end"] = "2021-03-28T02:30", "2021-03-28T03:30"

    assert problems(document) == [
        'sessions[1].start: session "m1" start 2021-03-28T02:30 does not exist in Europe/Paris: '
        "the clocks go forward that night; pick another time or give an offset"
    ]


def test_a_meeting_at_an_ambiguous_time_names_the_session_and_both_offsets() -> None:
    document = small_program()
    m2 = session_of(document, "m2")
    m2["start"], m2["end"] = "2021-10-31T01:30", "2021-10-31T02:30"

    assert problems(document) == [
        'sessions[2].end: session "m2" end 2021-10-31T02:30 is ambiguous in Europe/Paris: '
        "the clocks go back that night and it happens twice; give an offset (+02:00 or +01:00)"
    ]


def test_times_with_an_offset_are_accepted_on_the_nights_the_clocks_change() -> None:
    document = small_program()
    m1, m2 = session_of(document, "m1"), session_of(document, "m2")
    m1["start"], m1["end"] = "2021-03-28T02:30+01:00", "2021-03-28T04:00+02:00"
    m2["start"], m2["end"] = "2021-10-31T02:30+02:00", "2021-10-31T02:30+01:00"

    sessions = {s.key: s for s in validated(document).sessions}

    assert sessions["m1"].starts_at == datetime(2021, 3, 28, 1, 30, tzinfo=UTC)
    assert sessions["m1"].ends_at == datetime(2021, 3, 28, 2, 0, tzinfo=UTC)
    assert sessions["m2"].starts_at == datetime(2021, 10, 31, 0, 30, tzinfo=UTC)
    assert sessions["m2"].ends_at == datetime(2021, 10, 31, 1, 30, tzinfo=UTC)


def test_an_unknown_time_zone_is_refused() -> None:
    document = small_program()
    document["event"]["timezone"] = "Europe/Lyon"

    assert problems(document) == [
        'event.timezone: unknown time zone "Europe/Lyon" (use an IANA name like Europe/Paris)'
    ]


def test_a_time_zone_that_looks_like_a_file_path_is_refused() -> None:
    document = small_program()
    document["event"]["timezone"] = "../../../etc/passwd"

    [problem] = problems(document)

    assert problem.startswith('event.timezone: unknown time zone "../../../etc/passwd"')


# -- overlaps -----------------------------------------------------------------------------------


def test_a_person_in_two_overlapping_sessions_is_named_with_both_sessions() -> None:
    document = small_program()
    m3 = session_of(document, "m3")
    m3["start"], m3["end"] = "2021-04-08T10:45", "2021-04-08T11:15"  # Ben is in m2 until 11:00

    assert problems(document) == [
        'sessions[3].attendees: Ben Okafor (ben) would be in "m2" and "m3" at the same time'
    ]


def test_a_speaker_who_is_elsewhere_at_the_same_time_is_an_overlap_too() -> None:
    document = small_program()
    session_of(document, "m1")["speakers"] = ["eve"]  # Eve is in m2, at the same time

    assert problems(document) == [
        'sessions[2].attendees: Eve Durand (eve) would be in "m1" and "m2" at the same time'
    ]


def test_back_to_back_sessions_for_the_same_person_are_fine() -> None:
    document = small_program()
    # Ben: m2 ends at 11:00, m3 starts at 11:00; everyone: the plenary ends at 10:00.
    session_of(document, "m1")["start"] = "2021-04-08T10:00"

    sessions = {s.key: s for s in validated(document).sessions}

    assert sessions["m2"].ends_at == sessions["m3"].starts_at
    assert sessions["plenary"].ends_at == sessions["m1"].starts_at


# -- providers ----------------------------------------------------------------------------------


def test_an_unknown_provider_is_refused_with_the_known_ones() -> None:
    document = small_program()
    document["event"]["provider"] = "skype"
    session_of(document, "m1")["provider"] = "webex"

    assert problems(document) == [
        'event.provider: unknown provider "skype" '
        "(known: jitsi, bigbluebutton, janus, livekit, zoom, teams, meet)",
        'sessions[1].provider: unknown provider "webex" '
        "(known: jitsi, bigbluebutton, janus, livekit, zoom, teams, meet)",
    ]


def test_zoom_without_its_settings_names_the_variables_to_set() -> None:
    document = small_program()
    session_of(document, "m2")["provider"] = "zoom"

    assert problems(document) == [
        'sessions[2].provider: provider "zoom" is not configured here: set RDV_ZOOM_ACCOUNT_ID, '
        "RDV_ZOOM_CLIENT_ID, RDV_ZOOM_CLIENT_SECRET, RDV_ZOOM_HOSTS"
    ]


def test_a_half_configured_provider_names_only_what_is_missing() -> None:
    document = small_program()
    document["event"]["provider"] = "bigbluebutton"

    assert problems(document, bbb_url=BBB["bbb_url"]) == [
        'event.provider: provider "bigbluebutton" is not configured here: set RDV_BBB_SECRET'
    ]


# -- text, types and fields ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("character", "code"),
    [("\n", "U+000A"), ("\x00", "U+0000"), ("\x1b", "U+001B"), ("\u202e", "U+202E")],
    ids=["newline", "nul", "escape", "right-to-left-override"],
)
def test_control_characters_in_names_and_titles_are_refused(character: str, code: str) -> None:
    document = small_program()
    document["event"]["title"] = f"Meet{character}the buyers"
    document["organisations"][0]["name"] = f"Water{character}Waste"
    person(document, "ana")["name"] = f"Ana{character}Lopez"
    session_of(document, "m1")["title"] = f"Acme{character}Water"

    assert problems(document) == [
        f"event.title: title contains a control character ({code})",
        f"organisations[0].name: name contains a control character ({code})",
        f"people[0].name: name contains a control character ({code})",
        f"sessions[1].title: title contains a control character ({code})",
    ]


def test_a_lone_surrogate_escape_in_a_name_is_refused_before_it_reaches_the_database() -> None:
    # JSON can spell half of a UTF-16 pair ("\ud800"); no database or mail can store it.
    text = json.dumps(small_program()).replace("Ana Lopez", "Ana \\ud800 Lopez")

    reported = problems_in_bytes(text.encode("ascii"))

    assert [problem.split(":")[0] for problem in reported] == ["people[0].name"]


def test_unknown_fields_are_named_with_the_allowed_ones() -> None:
    document = small_program()
    document["venue"] = "Lyon"
    document["event"]["date"] = "2021-04-08"
    document["event"]["organiser"]["phone"] = "+33 4 00 00 00 00"
    document["organisations"][0]["phone"] = "+33 4 00 00 00 01"
    person(document, "ana")["phone"] = "+33 6 00 00 00 00"
    session_of(document, "m1")["room"] = "A"

    assert problems(document) == [
        'venue: unknown field "venue" (allowed: event, organisations, people, sessions, '
        "schedule, availability, requests, needs)",
        'event.date: unknown field "date" '
        "(allowed: slug, title, timezone, locale, organiser, provider)",
        'event.organiser.phone: unknown field "phone" (allowed: name, email)',
        'organisations[0].phone: unknown field "phone" '
        "(allowed: key, name, kind, description, themes, website)",
        'people[0].phone: unknown field "phone" (allowed: key, name, email, organisation, locale)',
        'sessions[1].room: unknown field "room" (allowed: key, kind, title, start, end, '
        "attendees, speakers, provider, stream_url, streamed)",
    ]


def test_a_number_where_text_is_expected_is_named() -> None:
    document = small_program()
    person(document, "ana")["name"] = 42
    session_of(document, "m1")["key"] = 7
    session_of(document, "m2")["start"] = 1617870600

    assert problems(document) == [
        "people[0].name: name must be text, not a number",
        "sessions[1].key: key must be text, not a number",
        'sessions[2].start: session "m2" start must be text, not a number',
    ]


def test_attendees_that_are_not_a_list_are_refused() -> None:
    document = small_program()
    session_of(document, "m1")["attendees"] = "chloe;ana"
    session_of(document, "plenary")["speakers"] = "org"

    assert problems(document) == [
        "sessions[0].speakers: expected a list of person keys",
        'sessions[1].attendees: expected a list of person keys or "*" for everyone',
    ]


def test_an_organisation_given_as_a_list_is_a_wrong_type_not_a_crash() -> None:
    document = small_program()
    person(document, "ana")["organisation"] = ["water"]

    reported = problems(document)

    assert [problem.split(":")[0] for problem in reported] == ["people[0].organisation"]


def test_a_program_that_is_not_an_object_is_refused() -> None:
    assert problems([small_program()]) == ["the program must be an object, not a list"]


def test_missing_or_malformed_sections_are_named() -> None:
    document = small_program()
    del document["people"]
    document["sessions"] = {"m1": session_of(document, "m1")}

    reported = problems(document)

    assert "people: missing people" in reported
    assert "sessions: sessions must be a list" in reported


def test_a_missing_title_is_named() -> None:
    document = small_program()
    del session_of(document, "m3")["title"]
    person(document, "eve")["name"] = "   "

    assert problems(document) == [
        "people[4].name: name is empty",
        "sessions[3].title: missing title",
    ]


@pytest.mark.parametrize("locale", ["de", "FR", "fr_FR", ""])
def test_a_locale_other_than_en_or_fr_is_refused(locale: str) -> None:
    document = small_program()
    document["event"]["locale"] = locale
    person(document, "eve")["locale"] = locale

    assert problems(document) == [
        "event.locale: locale must be one of en, fr",
        "people[4].locale: locale must be one of en, fr",
    ]


@pytest.mark.parametrize("slug", ["Meet-The-Buyers", "meet the buyers", "-meet", "rdv/2021"])
def test_a_slug_that_is_not_lower_case_letters_digits_and_dashes_is_refused(slug: str) -> None:
    document = small_program()
    document["event"]["slug"] = slug

    assert problems(document) == [
        f'event.slug: slug "{slug}" may hold only lower-case letters, digits and "-"'
    ]


def test_a_slug_that_differs_from_the_address_it_is_sent_to_is_refused() -> None:
    assert problems(small_program(), slug="another-event") == [
        'event.slug: slug "meet-the-buyers" does not match the address ("another-event")'
    ]


@pytest.mark.parametrize(
    "key", ["", "-m1", "m 1", "m1/../admin", "rendez-vous-" + "x" * 80], ids=repr
)
def test_a_malformed_session_key_is_refused(key: str) -> None:
    document = small_program()
    session_of(document, "m3")["key"] = key

    [problem] = problems(document)

    assert problem.startswith("sessions[3].key: key ")


def test_an_unknown_kind_of_session_or_organisation_is_refused() -> None:
    document = small_program()
    document["organisations"][4]["kind"] = "sponsor"
    session_of(document, "m1")["kind"] = "workshop"

    assert problems(document) == [
        "organisations[4].kind: kind must be one of company, buyer, organiser, not 'sponsor'",
        "sessions[1].kind: kind must be one of plenary, meeting, follow-up, not 'workshop'",
    ]


@pytest.mark.parametrize("attendees", [["ana"], []], ids=["one", "none"])
def test_a_meeting_with_fewer_than_two_attendees_is_refused(attendees: list[str]) -> None:
    document = small_program()
    session_of(document, "m1")["attendees"] = attendees

    assert problems(document) == ["sessions[1].attendees: a meeting needs at least two attendees"]


def test_a_plenary_stream_url_must_be_https() -> None:
    document = small_program()
    session_of(document, "plenary")["stream_url"] = "http://www.youtube.com/watch?v=abcdefghijk"

    assert problems(document) == [
        "sessions[0].stream_url: stream_url must be an https:// address, "
        'not "http://www.youtube.com/watch?v=abcdefghijk"'
    ]


def test_a_meeting_cannot_have_a_stream_url() -> None:
    document = small_program()
    session_of(document, "m1")["stream_url"] = "https://stream.example/m1"

    assert problems(document) == ["sessions[1].stream_url: only a plenary can have a stream_url"]


# -- the file itself ----------------------------------------------------------------------------


def test_invalid_json_is_placed_by_line_and_column() -> None:
    data = b'{\n  "event": {\n    "slug": "meet-the-buyers",\n    "title": \n  }\n}'

    assert problems_in_bytes(data) == ["program: invalid JSON at line 5, column 3: Expecting value"]


def test_a_field_given_twice_in_one_object_is_refused() -> None:
    text = json.dumps(small_program()).replace(
        '"title": "Meet the buyers"', '"title": "A", "title": "B"'
    )

    assert problems_in_bytes(text.encode("utf-8")) == [
        'program: field "title" appears twice in one object'
    ]


def test_a_program_that_is_not_utf8_is_refused_with_the_offending_byte() -> None:
    data = json.dumps(small_program(), ensure_ascii=False).encode("latin-1")
    offset = data.index(b"\xe9")  # the é of Chloé

    assert problems_in_bytes(data) == [
        f"program: not UTF-8 text (byte 0xe9 at offset {offset}); save it as UTF-8"
    ]


def test_a_program_saved_with_a_utf8_byte_order_mark_is_accepted() -> None:
    data = b"\xef\xbb\xbf" + json.dumps(small_program(), ensure_ascii=False).encode("utf-8")

    program = validate(load_bytes(data), check_provider=lambda name: None)

    assert program.people[2].name == "Chloé Martin"


def test_a_program_file_is_named_in_its_problems(tmp_path: Path) -> None:
    path = tmp_path / "lyon.json"
    path.write_bytes(b'{"event": {"slug": "a"},\n "event": {}}')

    with pytest.raises(ProgramError) as caught:
        load_path(path)

    assert [str(p) for p in caught.value.problems] == [
        'lyon.json: field "event" appears twice in one object'
    ]


def test_a_missing_program_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.json"

    with pytest.raises(ProgramError) as caught:
        load_path(path)

    assert [str(p) for p in caught.value.problems] == [
        f"{path}: cannot read: No such file or directory"
    ]


# -- all at once --------------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    document = small_program()
    document["event"]["timezone"] = "Mars/Olympus"
    document["organisations"].append({"key": "water", "name": "Water again", "kind": "buyer"})
    person(document, "ana")["email"] = "ana-at-water"
    person(document, "dan")["organisation"] = "initech"
    person(document, "eve")["name"] = "Eve\u202eDurand"
    session_of(document, "plenary")["stream_url"] = "ftp://stream.example/live"
    session_of(document, "m1")["attendees"] = ["chloe", "xyz"]
    session_of(document, "m2")["provider"] = "zoom"
    session_of(document, "m3")["kind"] = "workshop"
    session_of(document, "m3")["colour"] = "blue"

    reported = problems(document)

    assert len(reported) == 10
    assert sorted(reported) == sorted(
        [
            'event.timezone: unknown time zone "Mars/Olympus" (use an IANA name like Europe/Paris)',
            'organisations[5].key: duplicate organisation key "water" (also at '
            "organisations[0].key)",
            'people[0].email: malformed email "ana-at-water"',
            'people[3].organisation: unknown organisation "initech"',
            "people[4].name: name contains a control character (U+202E)",
            "sessions[0].stream_url: stream_url must be an https:// address, not "
            '"ftp://stream.example/live"',
            'sessions[1].attendees[1]: unknown person "xyz"',
            'sessions[2].provider: provider "zoom" is not configured here: set '
            "RDV_ZOOM_ACCOUNT_ID, RDV_ZOOM_CLIENT_ID, RDV_ZOOM_CLIENT_SECRET, RDV_ZOOM_HOSTS",
            'sessions[3].colour: unknown field "colour" (allowed: key, kind, title, start, end, '
            "attendees, speakers, provider, stream_url, streamed)",
            "sessions[3].kind: kind must be one of plenary, meeting, follow-up, not 'workshop'",
        ]
    )


def test_the_error_counts_its_problems() -> None:
    document = small_program()
    person(document, "ana")["email"] = "nope"
    person(document, "ben")["email"] = "nope-too"

    with pytest.raises(ProgramError) as caught:
        validated(document)

    assert str(caught.value) == "2 problems in the program"
    assert caught.value.lines(limit=1) == [
        'people[0].email: malformed email "nope"',
        "... and 1 more problems",
    ]
