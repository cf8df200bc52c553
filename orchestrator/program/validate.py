"""Turns a raw program document into a `Program`, or reports every problem at once, with places."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from ..db import models as m
from ..settings import LONGEST_SESSION, PROVIDERS
from . import fields, prefill
from . import requests as meeting_requests
from .model import EventSpec, OrganisationSpec, PersonSpec, Program, SessionSpec
from .problems import Collector, Place
from .raw import RawProgram

LOCALES = ("en", "fr")
SESSION_KINDS = m.SESSION_KINDS
ORGANISATION_KINDS = ("company", "buyer", "organiser")
ALLOWED = {
    "program": (
        "event",
        "organisations",
        "people",
        "sessions",
        "schedule",
        "availability",
        "requests",
        "needs",
    ),
    "event": ("slug", "title", "timezone", "locale", "organiser", "provider"),
    "organiser": ("name", "email"),
    "organisation": ("key", "name", "kind", *prefill.PROFILE_FIELDS),
    "person": ("key", "name", "email", "organisation", "locale"),
    "session": (
        "key",
        "kind",
        "title",
        "start",
        "end",
        "attendees",
        "speakers",
        "provider",
        "stream_url",
        "streamed",
    ),
}

ProviderCheck = Callable[[str], str | None]
"""Returns why a known provider cannot be used here (not configured), or None."""


def validate(
    raw: RawProgram,
    *,
    check_provider: ProviderCheck,
    slug: str | None = None,
    longest: timedelta = LONGEST_SESSION,
) -> Program:
    """The validated program; raises ProgramError listing every problem found. A session lasts
    at most `longest` (`RDV_MAX_SESSION_LENGTH`): one that runs for years would hold a room, and
    a host of the shared Zoom pool, for as long."""
    return _Validator(raw, check_provider, longest).run(slug)


class _Validator:
    def __init__(self, raw: RawProgram, check_provider: ProviderCheck, longest: timedelta) -> None:
        self.raw = raw
        self.check_provider = check_provider
        self.longest = longest
        self.problems = Collector()

    def run(self, slug: str | None) -> Program:
        document = self.object(self.raw.data, Place(""), "program", "the program")
        if document is None:
            self.problems.raise_if_any()
            raise AssertionError("unreachable")
        event, tz = self.event(document.get("event"), slug)
        organisations, org_keys = self.organisations(
            self.section(document, "organisations", required=False)
        )
        people, person_keys = self.people(self.section(document, "people"), org_keys)
        sessions = self.sessions(self.section(document, "sessions"), tz, person_keys)
        self.overlaps(sessions, {person.key: person.name for person in people})
        requests = meeting_requests.check(
            self.raw,
            document,
            tz,
            people=person_keys,
            organisations=org_keys,
            problems=self.problems,
        )
        needs = prefill.needs(
            document.get("needs"),
            self.raw.section_place("needs"),
            self.problems,
            {key: spec.kind for key, spec in organisations.items()},
            lambda index: self.raw.place("needs", index),
        )
        self.problems.raise_if_any()
        assert event is not None
        return Program(
            event,
            tuple(organisations.values()),
            tuple(people),
            tuple(sessions),
            requests,
            needs,
        )

    # -- structure ---------------------------------------------------------------------------
    def object(self, value: Any, place: Place, kind: str, what: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.problems.add(place, f"{what} must be an object, not {fields.type_name(value)}")
            return None
        allowed = ALLOWED[kind]
        for name in value:
            if name not in allowed:
                self.problems.add(
                    place / name if str(place) else name,
                    f'unknown field "{name}" (allowed: {", ".join(allowed)})',
                )
        return value

    def section(self, document: dict[str, Any], name: str, *, required: bool = True) -> list[Any]:
        value = document.get(name)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            message = f"missing {name}" if value is None else f"{name} must be a list"
            self.problems.add(name, message)
            return []
        return value

    def items(
        self, values: list[Any], section: str, kind: str
    ) -> list[tuple[Place, dict[str, Any]]]:
        result = []
        for index, value in enumerate(values):
            place = self.raw.place(section, index)
            item = self.object(value, place, kind, f"{section} entry")
            if item is not None:
                result.append((place, item))
        return result

    def unique(self, seen: dict[str, Place], value: str | None, place: Place, what: str) -> bool:
        if value is None:
            return False
        folded = value.casefold() if what == "email" else value
        if folded in seen:
            self.problems.add(place, f'duplicate {what} "{value}" (also at {seen[folded]})')
            return False
        seen[folded] = place
        return True

    def provider(self, value: Any, place: Place) -> str | None:
        if value is None:
            return None
        name = fields.text(value, place, self.problems, what="provider", max_length=32)
        if name is None:
            return None
        if name not in PROVIDERS:
            self.problems.add(place, f'unknown provider "{name}" (known: {", ".join(PROVIDERS)})')
            return None
        reason = self.check_provider(name)
        if reason:
            self.problems.add(place, reason)
            return None
        return name

    # -- sections ----------------------------------------------------------------------------
    def event(self, value: Any, slug: str | None) -> tuple[EventSpec | None, ZoneInfo | None]:
        place = self.raw.event_place
        event = self.object(value, place, "event", "event")
        if event is None:
            return None, None
        given = event.get("slug", slug)
        event_slug = fields.text(given, place / "slug", self.problems, what="slug", max_length=64)
        if event_slug is not None and not fields.SLUG.fullmatch(event_slug):
            self.problems.add(
                place / "slug",
                f'slug "{event_slug}" may hold only lower-case letters, digits and "-"',
            )
        elif slug is not None and event_slug is not None and event_slug != slug:
            self.problems.add(
                place / "slug", f'slug "{event_slug}" does not match the address ("{slug}")'
            )
        title = fields.text(event.get("title"), place / "title", self.problems, what="title")
        tz = fields.zone(event.get("timezone"), place / "timezone", self.problems)
        locale = event.get("locale", "en")
        if locale not in LOCALES:
            self.problems.add(place / "locale", f"locale must be one of {', '.join(LOCALES)}")
        organiser = self.object(
            event.get("organiser"), place / "organiser", "organiser", "event organiser"
        )
        name = mail = None
        if organiser is not None:
            name = fields.text(
                organiser.get("name"), place / "organiser" / "name", self.problems, what="name"
            )
            mail = fields.email(
                organiser.get("email"), place / "organiser" / "email", self.problems
            )
        provider = self.provider(event.get("provider"), place / "provider")
        if (
            event_slug is None
            or title is None
            or tz is None
            or name is None
            or mail is None
            or locale not in LOCALES
        ):
            return None, tz
        return EventSpec(event_slug, title, tz.key, locale, name, mail, provider), tz

    def organisations(
        self, values: list[Any]
    ) -> tuple[dict[str, OrganisationSpec], dict[str, Place]]:
        """The valid organisations, and every key given (so a slip in one organisation does not
        make each of its people "unknown" too)."""
        result: dict[str, OrganisationSpec] = {}
        seen: dict[str, Place] = {}
        for place, item in self.items(values, "organisations", "organisation"):
            key = fields.key(item.get("key"), place / "key", self.problems)
            name = fields.text(item.get("name"), place / "name", self.problems, what="name")
            kind = item.get("kind")
            if kind not in ORGANISATION_KINDS:
                self.problems.add(
                    place / "kind",
                    f"kind must be one of {', '.join(ORGANISATION_KINDS)}, not {kind!r}",
                )
            profile = prefill.profile(item, place, self.problems)
            fresh = self.unique(seen, key, place / "key", "organisation key")
            if fresh and name and key and kind in ORGANISATION_KINDS:
                result[key] = OrganisationSpec(key, name, kind, profile)
        return result, seen

    def people(
        self, values: list[Any], organisations: dict[str, Place]
    ) -> tuple[list[PersonSpec], dict[str, Place]]:
        result = []
        keys: dict[str, Place] = {}
        emails: dict[str, Place] = {}
        for place, item in self.items(values, "people", "person"):
            key = fields.key(item.get("key"), place / "key", self.problems)
            name = fields.text(item.get("name"), place / "name", self.problems, what="name")
            mail = fields.email(item.get("email"), place / "email", self.problems)
            organisation = item.get("organisation")
            if organisation is not None and not isinstance(organisation, str):
                self.problems.add(
                    place / "organisation",
                    f"expected an organisation key, not {fields.type_name(organisation)}",
                )
                organisation = None
            elif organisation is not None and organisation not in organisations:
                self.problems.add(place / "organisation", f'unknown organisation "{organisation}"')
            locale = item.get("locale")
            if locale is not None and locale not in LOCALES:
                self.problems.add(place / "locale", f"locale must be one of {', '.join(LOCALES)}")
            fresh_key = self.unique(keys, key, place / "key", "person key")
            fresh_mail = self.unique(emails, mail, place / "email", "email")
            if fresh_key and fresh_mail and key and name and mail:
                result.append(PersonSpec(key, name, mail, organisation, locale))
        return result, keys

    def sessions(
        self, values: list[Any], tz: ZoneInfo | None, people: dict[str, Place]
    ) -> list[SessionSpec]:
        known = set(people)
        everyone = tuple(people)
        result = []
        seen: dict[str, Place] = {}
        for place, item in self.items(values, "sessions", "session"):
            key = fields.key(item.get("key"), place / "key", self.problems)
            kind = item.get("kind")
            if kind not in SESSION_KINDS:
                self.problems.add(
                    place / "kind", f"kind must be one of {', '.join(SESSION_KINDS)}, not {kind!r}"
                )
            title = fields.text(item.get("title"), place / "title", self.problems, what="title")
            label = f'session "{key}" ' if key else ""
            start = fields.instant(
                item.get("start"), place / "start", self.problems, tz, what=label + "start"
            )
            end = fields.instant(
                item.get("end"), place / "end", self.problems, tz, what=label + "end"
            )
            if start and end and end <= start:
                self.problems.add(place / "end", f'session "{key}" does not end after it starts')
            elif start and end and end - start > self.longest:
                self.problems.add(
                    place / "end",
                    f'session "{key}" lasts {fields.span(end - start)}; a session may last at '
                    f"most {fields.span(self.longest)} (RDV_MAX_SESSION_LENGTH)",
                )
            reported = len(self.problems.problems)
            attendees = self.attendee_list(
                item.get("attendees"), place / "attendees", known, everyone
            )
            speakers = self.attendee_list(item.get("speakers", []), place / "speakers", known, None)
            attendees += tuple(speaker for speaker in speakers if speaker not in attendees)
            clean = len(self.problems.problems) == reported
            if kind in m.ONE_TO_ONE and clean and len(attendees) < 2:
                self.problems.add(place / "attendees", f"a {kind} needs at least two attendees")
            provider = self.provider(item.get("provider"), place / "provider")
            stream_url = None
            if item.get("stream_url") is not None:
                stream_url = fields.https_url(
                    item["stream_url"], place / "stream_url", self.problems, what="stream_url"
                )
                if kind != "plenary":
                    self.problems.add(place / "stream_url", "only a plenary can have a stream_url")
            streamed = self.flag(item.get("streamed", False), place / "streamed")
            if streamed and stream_url is None:
                self.problems.add(place / "streamed", "a streamed plenary needs a stream_url")
            fresh = self.unique(seen, key, place / "key", "session key")
            if fresh and kind in SESSION_KINDS and title and start and end and end > start:
                assert key
                result.append(
                    SessionSpec(
                        key,
                        kind,
                        title,
                        start,
                        end,
                        attendees,
                        speakers,
                        provider,
                        stream_url,
                        streamed,
                    )
                )
        return result

    def flag(self, value: Any, place: Place) -> bool:
        """true/false in JSON; `true`, `false`, `yes`, `no` or empty in a CSV cell."""
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "yes", "false", "no", ""):
            return value.strip().lower() in ("true", "yes")
        self.problems.add(place, f"expected true or false, not {fields.type_name(value)}")
        return False

    def attendee_list(
        self, value: Any, place: Place, known: set[str], everyone: tuple[str, ...] | None
    ) -> tuple[str, ...]:
        if value == "*" and everyone is not None:
            return everyone
        if not isinstance(value, list):
            hint = ' or "*" for everyone' if everyone is not None else ""
            self.problems.add(place, f"expected a list of person keys{hint}")
            return ()
        result: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str):
                self.problems.add(
                    place / index, f"expected a person key, not {fields.type_name(item)}"
                )
            elif item not in known:
                self.problems.add(place / index, f'unknown person "{item}"')
            elif item in result:
                self.problems.add(place / index, f'person "{item}" is listed twice')
            else:
                result.append(item)
        return tuple(result)

    def overlaps(self, sessions: list[SessionSpec], names: dict[str, str]) -> None:
        """Nobody may be expected in two sessions at once."""
        agenda: dict[str, list[tuple[datetime, datetime, int]]] = defaultdict(list)
        for index, session in enumerate(sessions):
            for person in session.attendees:
                agenda[person].append((session.starts_at, session.ends_at, index))
        for person, slots in agenda.items():
            slots.sort()
            latest = slots[0]
            for slot in slots[1:]:
                if slot[0] < latest[1]:
                    first, second = sessions[latest[2]], sessions[slot[2]]
                    self.problems.add(
                        self.session_place(second, sessions),
                        f'{names.get(person, person)} ({person}) would be in "{first.key}" and '
                        f'"{second.key}" at the same time',
                    )
                if slot[1] > latest[1]:
                    latest = slot

    def session_place(self, session: SessionSpec, sessions: list[SessionSpec]) -> Place:
        values = self.raw.data.get("sessions", []) if isinstance(self.raw.data, dict) else []
        for index, item in enumerate(values):
            if isinstance(item, dict) and item.get("key") == session.key:
                return self.raw.place("sessions", index) / "attendees"
        return Place("sessions") / sessions.index(session)
