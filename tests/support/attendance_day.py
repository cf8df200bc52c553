"""The ground truth of a meeting day, and that day as each provider would have delivered it.

`meeting_day(seed)` makes a day of 200 one-to-one meetings in ten slots between companies and
buyers (directorates); nobody is booked twice at once, and some organisations have two or more
people, so that a colleague can stand in. For every person expected in a meeting it decides a
story: a no-show, on time, late (first join more than 5 minutes after the start), left early
(gone for good more than 5 minutes before the end), a drop and a rejoin, two tabs, or a colleague
who joins instead (a substitute, joining as a guest under their own name and email); a few
meetings also get a guest nobody invited. Each story fixes the status the log must show, and the
day checks that against the rules as the README states them (Attendance; `status_of`), and
that no meeting sits within a minute of the 5-minute "held" line. `perfect_attendance(program)`
is the other truth: everyone of a program there, on time, for all of it.

Then, per provider wire format (`WIRES`): `sightings` is what the provider saw (a join and a leave
per connection, and its rooms starting and ending the way that provider starts and ends them),
`lose_leaves` drops 5 % of the leaves, `render` turns the rest into HTTP deliveries signed as the
provider signs them (bbb-webhooks forms with a checksum, Jitsi event_sync JSON with a bearer secret,
JaaS JSON with `X-Jaas-Signature`, Janus event-handler arrays with Basic auth, LiveKit protojson
with a JWT over the body's hash), and `chaos` says when they arrive: shuffled within 2-minute
windows, 20 % of them twice, a few old ones replayed much later. `expectations` is what the log can
know after that: the truth, except that a lost leave is closed by the room's end (destroyed, ended,
or the scheduled end plus the grace) or, on Janus, by the participant's next leave.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import unicodedata
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import product
from typing import Any
from zoneinfo import ZoneInfo

from google.protobuf.json_format import MessageToDict
from livekit.protocol import models as livekit_models

from .fake_teams import attendance_record, encrypt_for, graph_time
from .fake_zoom import registrant_number
from .webhook_signing import (
    basic_auth,
    bbb_form,
    bbb_query,
    bearer,
    livekit_token,
    sign_jaas,
    zoom_headers,
)

# The rules as the README states them (Attendance), written down here again so the truth does
# not lean on the code.
LATE_AFTER = timedelta(minutes=5)  # RDV_LATE_AFTER
LEFT_EARLY = timedelta(minutes=5)
HELD_TOGETHER = timedelta(minutes=5)
JOIN_EARLY = timedelta(minutes=10)  # RDV_JOIN_EARLY: links open, and presence counts, from then
CLOSE_GRACE = timedelta(minutes=10)  # rooms close, and presence stops counting, this after the end
ROOM_LEAD = timedelta(minutes=30)  # RDV_ROOM_LEAD: rooms are provisioned this before the start

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
DAY_START = datetime(2021, 5, 20, 7, 0, tzinfo=UTC)  # 09:00 in Paris
SLOT_EVERY = timedelta(minutes=30)
MEETING_LENGTH = timedelta(minutes=25)
ROOM_LINGER = timedelta(seconds=2)  # Prosody destroys an empty Jitsi room this soon after
SLUG = "chaos-day"

WIRES = ("bigbluebutton", "jitsi", "jaas", "janus", "zoom", "livekit", "teams", "meet")
PROVIDER = {
    "bigbluebutton": "bigbluebutton",
    "jitsi": "jitsi",
    "jaas": "jitsi",
    "janus": "janus",
    "zoom": "zoom",
    "livekit": "livekit",
    "teams": "teams",
    "meet": "meet",
}
# Providers whose own record of each meeting, read after it, is the attendance (Teams reports,
# Meet conference records).
REPORTING = ("teams", "meet")

# What each story must show in the log.
STATUS = {
    "on-time": "attended",
    "late": "late",
    "left-early": "left-early",
    "late-and-left-early": "late",  # late is judged first
    "rejoin": "attended",
    "two-tabs": "attended",
    "no-show": "no-show",
    "replaced": "no-show",  # the invited person, whose colleague came instead
    "substitute": "attended",
    "guest": "attended",
}
STORIES = (
    ("on-time", 38),
    ("late", 11),
    ("left-early", 9),
    ("late-and-left-early", 3),
    ("rejoin", 11),
    ("two-tabs", 9),
    ("no-show", 9),
    ("substitute", 10),
)
GUEST_SHARE = 0.05

Span = tuple[datetime, datetime]

COMPANIES = (
    "Aquasentis", "Acme Sensors", "Globex", "Initech", "Hydrolink", "Voirie Plus", "Solarix",
    "Bâtiself", "Numerica", "Ecomobil", "Lumenis", "Terraform Lab", "Datavéo", "Clim'Air",
    "Robotik", "Verdure & Co", "Signalis", "Optimia", "Transvia", "Géosphère", "Recyclo",
    "Kinéo", "Filament", "Statika",
)  # fmt: skip
DIRECTORATES = (
    "Eau et Déchets", "Voirie", "Bâtiments", "Numérique", "Mobilités", "Achats",
)  # fmt: skip
FIRST = (
    "Ana", "Ben", "Chloé", "Dan", "Eve", "Farid", "Gaëlle", "Hugo", "Inès", "Jules", "Karim",
    "Léa", "Marc", "Nina", "Omar", "Paula", "Quentin", "Rosa", "Sami", "Théo", "Ursula",
    "Victor", "Wendy", "Yann", "Zoé", "Aline", "Bruno", "Céline", "Damien", "Elsa",
)  # fmt: skip
LAST = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert",
)  # fmt: skip
GUESTS = ("Interprète", "Stagiaire", "Consultant", "Observatrice", "Assistant")


# -- the truth ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Organisation:
    key: str
    name: str
    kind: str


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    email: str
    organisation: Organisation | None

    @property
    def kind(self) -> str | None:
        return self.organisation.kind if self.organisation else None


@dataclass(frozen=True)
class Line:
    """A line the attendance log must show: an expected person (`role` "expected", who joins
    through their own seat), a colleague standing in ("substitute") or a "guest". `tabs` holds
    one (joined, left) per connection; two tabs overlap, a rejoin does not."""

    session: str
    role: str
    story: str
    name: str
    email: str | None
    person: Person | None = None
    tabs: tuple[Span, ...] = ()
    substitute_for: Person | None = None

    @property
    def label(self) -> str:
        """How the log names the line: the person's key, or a guest's name."""
        return self.person.key if self.person else self.name

    @property
    def ident(self) -> tuple[str, str, str]:
        return (self.session, self.role, self.label)

    @property
    def kind(self) -> str | None:
        return self.person.kind if self.person else None

    @property
    def spans(self) -> list[Span]:
        return merge(self.tabs)

    @property
    def status(self) -> str:
        return STATUS[self.story]


@dataclass(frozen=True)
class Session:
    key: str
    kind: str
    title: str
    starts_at: datetime
    ends_at: datetime
    attendees: tuple[Person, ...]
    lines: tuple[Line, ...]

    @property
    def opens_at(self) -> datetime:
        return self.starts_at - JOIN_EARLY

    @property
    def closes_at(self) -> datetime:
        return self.ends_at + CLOSE_GRACE

    @property
    def held(self) -> bool:
        return held({line.ident: line.spans for line in self.lines}, self)


@dataclass(frozen=True)
class Day:
    slug: str
    title: str
    zone: ZoneInfo
    organisations: tuple[Organisation, ...]
    people: tuple[Person, ...]
    sessions: tuple[Session, ...]

    @property
    def meetings(self) -> list[Session]:
        return [session for session in self.sessions if session.kind == "meeting"]

    def lines(self) -> Iterator[Line]:
        for session in self.sessions:
            yield from session.lines

    def program(self, provider: str | None = None) -> dict[str, Any]:
        """The program to import, with `event.provider` set when given."""

        def local(moment: datetime) -> str:
            return moment.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M")

        event: dict[str, Any] = {
            "slug": self.slug,
            "title": self.title,
            "timezone": self.zone.key,
            "locale": "en",
            "organiser": {"name": "Cluster", "email": "rdv@cluster.example"},
        }
        if provider:
            event["provider"] = provider
        return {
            "event": event,
            "organisations": [
                {"key": o.key, "name": o.name, "kind": o.kind} for o in self.organisations
            ],
            "people": [
                {
                    "key": p.key,
                    "name": p.name,
                    "email": p.email,
                    **({"organisation": p.organisation.key} if p.organisation else {}),
                }
                for p in self.people
            ],
            "sessions": [
                {
                    "key": s.key,
                    "kind": s.kind,
                    "title": s.title,
                    "start": local(s.starts_at),
                    "end": local(s.ends_at),
                    "attendees": [p.key for p in s.attendees],
                }
                for s in self.sessions
            ],
        }


def merge(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def clip(spans: Iterable[Span], low: datetime, high: datetime) -> list[Span]:
    return [(max(a, low), min(b, high)) for a, b in spans if min(b, high) > max(a, low)]


def total(spans: Iterable[Span]) -> timedelta:
    return sum((end - start for start, end in spans), timedelta(0))


def together(first: Sequence[Span], second: Sequence[Span]) -> timedelta:
    return total(
        (max(a, c), min(b, d))
        for a, b in merge(first)
        for c, d in merge(second)
        if min(b, d) > max(a, c)
    )


def status_of(spans: Sequence[Span], session: Session) -> str:
    """The README's attendance statuses, for a session that is over."""
    seen = clip(merge(spans), session.opens_at, session.closes_at)
    if not seen:
        return "no-show"
    if seen[0][0] > session.starts_at + LATE_AFTER:
        return "late"
    if seen[-1][1] < session.ends_at - LEFT_EARLY:
        return "left-early"
    return "attended"


def together_of(
    spans: Mapping[tuple[str, str, str], Sequence[Span]], session: Session
) -> timedelta:
    """How long the company side and the buyer side were in the room at once."""
    kinds = {line.ident: line.kind for line in session.lines}
    sides = [
        [span for ident, found in spans.items() if kinds[ident] == side for span in found]
        for side in ("company", "buyer")
    ]
    window = (session.opens_at, session.closes_at)
    return together(clip(sides[0], *window), clip(sides[1], *window))


def held(spans: Mapping[tuple[str, str, str], Sequence[Span]], session: Session) -> bool:
    """A meeting is held when both sides were in the room together for 5 minutes or more."""
    return together_of(spans, session) >= HELD_TOGETHER


def _cast(rng: random.Random) -> tuple[list[Organisation], list[Person]]:
    """24 companies (ten of them with two people) and 6 directorates of five buyers each."""
    names = iter(rng.sample([f"{first} {last}" for first, last in product(FIRST, LAST)], 64))
    organisations: list[Organisation] = []
    people: list[Person] = []
    for number, name in enumerate(COMPANIES, 1):
        organisation = Organisation(f"co{number:02d}", name, "company")
        organisations.append(organisation)
        for seat in range(1, 3 if number <= 10 else 2):
            key = f"{organisation.key}-{seat}"
            people.append(
                Person(key, next(names), f"{key}@{organisation.key}.example", organisation)
            )
    for number, name in enumerate(DIRECTORATES, 1):
        organisation = Organisation(f"dir{number}", name, "buyer")
        organisations.append(organisation)
        for seat in range(1, 6):
            key = f"{organisation.key}-{seat}"
            people.append(
                Person(key, next(names), f"{key}@{organisation.key}.example", organisation)
            )
    return organisations, people


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _moment(rng: random.Random, base: datetime, low: float, high: float) -> datetime:
    """A whole second between `low` and `high` minutes after `base`."""
    return base + timedelta(seconds=rng.randint(round(low * 60), round(high * 60)))


def _tabs(rng: random.Random, story: str, start: datetime, end: datetime) -> tuple[Span, ...]:
    joined = _moment(rng, start, -8, 4)  # on time: up to a minute short of the late mark
    left = _moment(rng, end, -3, 4)  # stays: leaves at most 3 minutes before the end
    if story in ("on-time", "substitute", "guest"):
        return ((joined, left),)
    if story == "late":
        return ((_moment(rng, start, 6.5, 12), left),)
    if story == "left-early":
        return ((joined, _moment(rng, end, -14, -6.5)),)
    if story == "late-and-left-early":
        return ((_moment(rng, start, 6.5, 10), _moment(rng, end, -12, -6.5)),)
    if story == "rejoin":
        dropped = _moment(rng, joined, 3, 10)
        return ((joined, dropped), (_moment(rng, dropped, 1, 4), left))
    if story == "two-tabs":
        second = _moment(rng, joined, 1, 6)
        return ((joined, _moment(rng, second, 1, 6)), (second, left))
    assert story in ("no-show", "replaced")
    return ()


def _side(
    rng: random.Random, key: str, person: Person, start: datetime, end: datetime, free: list[Person]
) -> list[Line]:
    story = rng.choices([name for name, _ in STORIES], [weight for _, weight in STORIES])[0]
    if story == "substitute" and not free:
        story = "on-time"
    if story == "substitute":
        colleague = rng.choice(free)
        return [
            Line(key, "expected", "replaced", person.name, person.email, person),
            Line(
                key,
                "substitute",
                "substitute",
                colleague.name,
                colleague.email,
                colleague,
                _tabs(rng, "substitute", start, end),
                substitute_for=person,
            ),
        ]
    return [
        Line(
            key, "expected", story, person.name, person.email, person, _tabs(rng, story, start, end)
        )
    ]


def meeting_day(seed: int = 2021, meetings: int = 200, slots: int = 10) -> Day:
    """A day of `meetings` one-to-one meetings of 25 minutes, every 30 minutes from 09:00."""
    rng = random.Random(seed)
    organisations, people = _cast(rng)
    used = {person.name for person in people}
    strangers = [f"{role} {last}" for role, last in product(GUESTS, LAST)]
    rng.shuffle(strangers)
    guest_names = iter(name for name in strangers if name not in used)
    companies = [p for p in people if p.kind == "company"]
    buyers = [p for p in people if p.kind == "buyer"]
    sessions: list[Session] = []
    for slot in range(slots):
        start = DAY_START + slot * SLOT_EVERY
        end = start + MEETING_LENGTH
        pairs = list(
            zip(
                rng.sample(companies, meetings // slots),
                rng.sample(buyers, meetings // slots),
                strict=True,
            )
        )
        busy = {person.key for pair in pairs for person in pair}
        for company, buyer in pairs:
            key = f"m{len(sessions) + 1:03d}"
            guest = next(guest_names) if rng.random() < GUEST_SHARE else None
            for _ in range(100):  # a new draw while the meeting sits on the "held" line
                lines: list[Line] = []
                for person in (company, buyer):
                    free = [
                        p
                        for p in people
                        if p.organisation == person.organisation and p.key not in busy
                    ]
                    lines += _side(rng, key, person, start, end, free)
                if guest:
                    email = f"{_ascii(guest).lower().replace(' ', '.')}@freelance.example"
                    lines.append(
                        Line(
                            key,
                            "guest",
                            "guest",
                            guest,
                            email,
                            None,
                            _tabs(rng, "guest", start, end),
                        )
                    )
                session = Session(
                    key,
                    "meeting",
                    f"{company.organisation.name} × {buyer.organisation.name}",  # type: ignore[union-attr]
                    start,
                    end,
                    (company, buyer),
                    tuple(lines),
                )
                shared = together_of({line.ident: line.spans for line in lines}, session)
                if abs(shared - HELD_TOGETHER) > MINUTE:
                    break
            else:
                raise AssertionError(f"{key} stays on the held line")
            busy |= {line.person.key for line in lines if line.person}
            sessions.append(session)
    day = Day(
        SLUG,
        "Chaos day",
        ZoneInfo("Europe/Paris"),
        tuple(organisations),
        tuple(people),
        tuple(sessions),
    )
    _check(day)
    return day


def _check(day: Day) -> None:
    """The truth is what it says: each story gives its status under the README's rules, nobody is
    expected (or stands in) in two meetings at once, and every story is there."""
    agenda: dict[str, list[Span]] = defaultdict(list)
    for session in day.sessions:
        for line in session.lines:
            assert status_of(line.spans, session) == line.status, line
            if line.person:
                agenda[line.person.key].append((session.starts_at, session.ends_at))
    for key, slots in agenda.items():
        assert len(merge(slots)) == len(slots), f"{key} is in two meetings at once"
    told = {line.story for line in day.lines()}
    assert told >= {name for name, _ in STORIES}, told


def perfect_attendance(program: Mapping[str, Any]) -> Day:
    """Everyone a program expects, in every session they are expected in, on time and to the
    end (joining a minute or two before the start, leaving a minute after the end)."""
    zone = ZoneInfo(program["event"]["timezone"])
    organisations = {
        o["key"]: Organisation(o["key"], o["name"], o["kind"]) for o in program["organisations"]
    }
    people = {
        p["key"]: Person(
            p["key"], p["name"], p["email"], organisations.get(p.get("organisation", ""))
        )
        for p in program["people"]
    }
    sessions = []
    for item in program["sessions"]:
        start = datetime.fromisoformat(item["start"]).replace(tzinfo=zone).astimezone(UTC)
        end = datetime.fromisoformat(item["end"]).replace(tzinfo=zone).astimezone(UTC)
        keys = list(people) if item["attendees"] == "*" else list(item["attendees"])
        keys += [key for key in item.get("speakers", []) if key not in keys]
        attendees = tuple(people[key] for key in keys)
        lines = []
        for number, person in enumerate(attendees):
            tab = (start - 2 * MINUTE + (number % 60) * SECOND, end + MINUTE)
            lines.append(
                Line(item["key"], "expected", "on-time", person.name, person.email, person, (tab,))
            )
        sessions.append(
            Session(item["key"], item["kind"], item["title"], start, end, attendees, tuple(lines))
        )
    return Day(
        program["event"]["slug"],
        program["event"]["title"],
        zone,
        tuple(organisations.values()),
        tuple(people.values()),
        tuple(sessions),
    )


# -- what the provider saw -----------------------------------------------------------------------
@dataclass(frozen=True)
class Sighting:
    """One thing a provider saw, at its own time: a room starting or ending, or one connection of
    a line joining or leaving. `occupants` is how many connections the room held after it."""

    at: datetime
    kind: str  # "room_started", "room_ended", "joined", "left"
    session: str
    line: Line | None = None
    tab: int = 0
    occupants: int = 0


ORDER = {"room_started": 0, "joined": 1, "left": 2, "room_ended": 3}


def connections(line: Line, wire: str) -> tuple[Span, ...]:
    """A line's connections as the provider shows them. Janus refuses a second publisher with
    the same id in a room (436, "AlreadyIn"), so there two tabs are one stretch of presence.
    LiveKit lets an identity in once: a second tab's join disconnects the first
    (`DUPLICATE_IDENTITY`), so there each connection ends where the next one begins."""
    if wire == "janus":
        return tuple(line.spans)
    if wire == "livekit":
        tabs = sorted(line.tabs)
        return tuple(
            (joined, min(left, tabs[n + 1][0]) if n + 1 < len(tabs) else left)
            for n, (joined, left) in enumerate(tabs)
        )
    return line.tabs


def sightings(day: Day, wire: str) -> list[Sighting]:
    """Everything the provider saw, in time order. BigBlueButton and Janus rooms start when we
    provision them and end when we close them (`ROOM_LEAD` before the start, `CLOSE_GRACE`
    after the end); a Jitsi room starts with its first occupant and ends when it empties."""
    found: list[Sighting] = []
    for session in day.sessions:
        people = sorted(
            (
                Sighting(moment, kind, session.key, line, tab)
                for line in session.lines
                for tab, span in enumerate(connections(line, wire))
                for moment, kind in zip(span, ("joined", "left"), strict=True)
            ),
            key=lambda s: (s.at, ORDER[s.kind]),
        )
        rooms: list[Sighting] = []
        if PROVIDER[wire] in ("bigbluebutton", "janus", "livekit"):
            rooms.append(
                Sighting(session.starts_at - ROOM_LEAD + SECOND, "room_started", session.key)
            )
            rooms.append(Sighting(session.closes_at + SECOND, "room_ended", session.key))
        else:
            rooms += _jitsi_room(session.key, people)
        timeline = sorted(people + rooms, key=lambda s: (s.at, ORDER[s.kind]))
        count = 0
        for sighting in timeline:
            count += {"joined": 1, "left": -1}.get(sighting.kind, 0)
            found.append(
                Sighting(
                    sighting.at, sighting.kind, session.key, sighting.line, sighting.tab, count
                )
            )
    return sorted(found, key=lambda s: (s.at, ORDER[s.kind]))


def _jitsi_room(key: str, people: list[Sighting]) -> list[Sighting]:
    rooms: list[Sighting] = []
    count, open_ = 0, False
    for index, sighting in enumerate(people):
        if sighting.kind == "joined":
            if not open_:
                rooms.append(Sighting(sighting.at, "room_started", key))
                open_ = True
            count += 1
            continue
        count -= 1
        if count == 0:
            following = next((s.at for s in people[index + 1 :] if s.kind == "joined"), None)
            if following is None or following > sighting.at + ROOM_LINGER:
                rooms.append(Sighting(sighting.at + ROOM_LINGER, "room_ended", key))
                open_ = False
    return rooms


def lose_leaves(
    seen: Sequence[Sighting], rng: random.Random, share: float = 0.05
) -> tuple[list[Sighting], list[Sighting]]:
    """Drops `share` of the leaves (the provider never delivers them): (kept, lost)."""
    leaves = [index for index, s in enumerate(seen) if s.kind == "left"]
    lost = set(rng.sample(leaves, round(len(leaves) * share)))
    return [s for i, s in enumerate(seen) if i not in lost], [seen[i] for i in sorted(lost)]


@dataclass(frozen=True)
class Expected:
    """What the log must show for a line after the deliveries: the truth, or where one of its
    leaves was lost, the truth with that connection closed by the room's end."""

    line: Line
    status: str
    minutes: float
    first_join: datetime | None
    lost_leave: bool
    spans: tuple[Span, ...]


def expectations(
    day: Day, wire: str, kept: Sequence[Sighting], lost: Sequence[Sighting]
) -> tuple[dict[tuple[str, str, str], Expected], dict[str, bool]]:
    """Each line's expected status and minutes, and each meeting's held, under the room-end
    rule: a connection whose leave was lost stays until the room's first end after that leave
    (a Jitsi room emptying, a BigBlueButton meeting ended, a Janus room destroyed), and at most
    until the scheduled end plus the grace. On Janus a participant id is in a room once at most,
    and its joins and leaves name the same connection (room and id): there the participant's
    next leave that did arrive closes it too, if it comes first."""
    ends: dict[str, list[datetime]] = defaultdict(list)
    leaves: dict[tuple[str, str, str], list[datetime]] = defaultdict(list)
    for sighting in kept:
        if sighting.kind == "room_ended":
            ends[sighting.session].append(sighting.at)
        if sighting.kind == "left" and sighting.line is not None and wire == "janus":
            leaves[sighting.line.ident].append(sighting.at)
    gone = {(s.line.ident, s.tab) for s in lost if s.line is not None}
    lines: dict[tuple[str, str, str], Expected] = {}
    meetings: dict[str, bool] = {}
    for session in day.sessions:
        found: dict[tuple[str, str, str], list[Span]] = {}
        for line in session.lines:
            spans = []
            for tab, (joined, left) in enumerate(connections(line, wire)):
                if (line.ident, tab) in gone:
                    closers = ends[session.key] + leaves[line.ident]
                    left = min([end for end in closers if end >= left] or [session.closes_at])
                spans.append((joined, min(left, session.closes_at)))
            seen = clip(merge(spans), session.opens_at, session.closes_at)
            found[line.ident] = seen
            lines[line.ident] = Expected(
                line,
                status_of(seen, session),
                total(seen).total_seconds() / 60,
                seen[0][0] if seen else None,
                any((line.ident, tab) in gone for tab in range(len(connections(line, wire)))),
                tuple(seen),
            )
        if session.kind == "meeting":
            meetings[session.key] = held(found, session)
    return lines, meetings


# -- what the provider sent ----------------------------------------------------------------------
@dataclass(frozen=True)
class Credentials:
    """The secrets both sides share, and our callback URL as registered at BigBlueButton."""

    jitsi_secret: str = "jitsi-webhook-secret-0123456789abcdef"
    bbb_secret: str = "bbb-shared-secret-0123456789abcdef"
    bbb_callback: str = "https://rdv.test/webhooks/bigbluebutton"
    janus_user: str = "janus-events"
    janus_password: str = "janus-events-password-0123456789"
    jaas_app: str = "vpaas-magic-cookie-0123456789abcdef0123456789abcd"
    livekit_key: str = "APIchaosDay21"
    livekit_secret: str = "livekit-api-secret-0123456789abcdef0123456789"
    zoom_secret: str = "zoom-webhook-secret-token-0123456789"


@dataclass(frozen=True)
class Wiring:
    """How the service names things, read from it once the program is imported: each session's
    room as the provider names it, and each expected person's attendee row."""

    rooms: Mapping[str, str | int]
    seats: Mapping[tuple[str, str], int]
    # Teams: each session's subscription as Graph holds it, and Graph's validation tokens; Meet:
    # the OIDC tokens of Pub/Sub's pushes (then `rooms` are the spaces).
    subscriptions: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    tokens: Callable[[datetime], str] | None = None


@dataclass(frozen=True)
class Delivery:
    """One HTTP request as the provider first sends it; `events` is how many events our inbox
    must take from it. JaaS signs each attempt anew (`sign`), everything else is sent byte for
    byte again."""

    path: str
    body: bytes
    headers: Mapping[str, str]
    sent: datetime
    events: int
    sign: Callable[[bytes, int], Mapping[str, str]] | None = field(default=None, compare=False)

    def headers_at(self, moment: datetime) -> dict[str, str]:
        signed = self.sign(self.body, int(moment.timestamp())) if self.sign else {}
        return {**self.headers, **signed}


def _ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def _us(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(microseconds=1)


def _json(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


class _Ids:
    """Stable random names for connections, rooms' lifetimes and events."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.known: dict[Any, Any] = {}

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def of(self, key: Any, make: Callable[[], Any]) -> Any:
        if key not in self.known:
            self.known[key] = make()
        return self.known[key]


def render(
    day: Day,
    wire: str,
    kept: Sequence[Sighting],
    wiring: Wiring,
    rng: random.Random,
    credentials: Credentials = Credentials(),
) -> list[Delivery]:
    """The deliveries that carry `kept` in `wire`'s format, in the order they are sent."""
    ids = _Ids(rng)
    if wire == "janus":
        return _janus(kept, wiring, ids, credentials)
    make = {
        "bigbluebutton": _bbb,
        "jitsi": _event_sync,
        "jaas": _jaas,
        "zoom": _zoom,
        "livekit": _livekit,
        "teams": _teams,
        "meet": _meet,
    }[wire]
    return [make(s, wiring, ids, credentials) for s in kept]


def _seat(line: Line, wiring: Wiring) -> int | None:
    if line.role != "expected" or line.person is None:
        return None
    return wiring.seats[(line.session, line.person.key)]


def _sent(ids: _Ids, moment: datetime) -> datetime:
    return moment + timedelta(milliseconds=ids.rng.randint(50, 1500))


def _event_sync(s: Sighting, wiring: Wiring, ids: _Ids, c: Credentials) -> Delivery:
    """jitsi-contrib event_sync: one JSON POST per event to `{api_prefix}/events/...`."""
    room = str(wiring.rooms[s.session])
    body: dict[str, Any] = {
        "event_name": {
            "room_started": "muc-room-created",
            "room_ended": "muc-room-destroyed",
            "joined": "muc-occupant-joined",
            "left": "muc-occupant-left",
        }[s.kind],
        "room_name": room,
        "room_jid": f"{room}@conference.meet.example.org",
        "is_breakout": False,
    }
    stamp = int(s.at.timestamp())
    if s.kind == "room_started":
        body["created_at"] = stamp
    elif s.kind == "room_ended":
        body["destroyed_at"] = stamp
    else:
        assert s.line is not None
        line, tab = s.line, s.tab
        seat = _seat(line, wiring)
        joined, left = connections(line, "jitsi")[tab]
        jid = ids.of(
            ("jid", line.ident, tab), lambda: f"{ids.uuid()}@meet.example.org/{ids.uuid()[:8]}"
        )
        user_id = f"rdv-a{seat}" if seat else ids.of(("user", line.ident), ids.uuid)
        occupant = {
            "name": line.name,
            "email": line.email or "",
            "id": user_id,
            "occupant_jid": jid,
            "joined_at": int(joined.timestamp()),
        }
        if s.kind == "left":
            occupant["left_at"] = int(left.timestamp())
        body["active_occupants_count"] = s.occupants
        body["occupant"] = occupant
    path = {
        "room_started": "room/created",
        "room_ended": "room/destroyed",
        "joined": "occupant/joined",
        "left": "occupant/left",
    }[s.kind]
    return Delivery(
        f"/webhooks/jitsi/events/{path}",
        _json(body),
        {"Content-Type": "application/json", "Authorization": bearer(c.jitsi_secret)},
        _sent(ids, s.at),
        1,
    )


def _jaas(s: Sighting, wiring: Wiring, ids: _Ids, c: Credentials) -> Delivery:
    """JaaS: one signed JSON POST per event, its own time in `timestamp` (ms)."""
    room = str(wiring.rooms[s.session])
    conference = f"{room}@conference.{c.jaas_app}.8x8.vc"
    if s.kind == "room_started":
        ids.known[("meeting", s.session)] = ids.uuid()  # a new meeting session each time
    data: dict[str, Any] = {"conference": conference, "isBreakout": False}
    if s.line is not None:
        line = s.line
        seat = _seat(line, wiring)
        participant = ids.of(("participant", line.ident, s.tab), lambda: ids.uuid()[:8])
        user_id = f"rdv-a{seat}" if seat else ids.of(("user", line.ident), ids.uuid)
        if s.kind == "joined":
            data |= {
                "moderator": False,
                "name": line.name,
                "participantId": participant,
                "id": user_id,
                "email": line.email or "",
                "avatar": "",
                "group": "",
                "participantJid": f"{participant}@{c.jaas_app}.8x8.vc/{participant}",
            }
        else:  # as the JaaS e2e tests show it: no email on a leave
            data |= {
                "disconnectReason": "left",
                "group": "",
                "id": user_id,
                "name": line.name,
                "participantId": participant,
            }
    body = {
        "idempotencyKey": ids.uuid(),
        "customerId": c.jaas_app.rpartition("-")[2],
        "appId": c.jaas_app,
        "eventType": {
            "room_started": "ROOM_CREATED",
            "room_ended": "ROOM_DESTROYED",
            "joined": "PARTICIPANT_JOINED",
            "left": "PARTICIPANT_LEFT",
        }[s.kind],
        "sessionId": ids.of(("meeting", s.session), ids.uuid),
        "timestamp": _ms(s.at),
        "fqn": f"{c.jaas_app}/{room}",
        "data": data,
    }
    secret = c.jitsi_secret

    def sign(raw: bytes, moment: int) -> Mapping[str, str]:
        return {"X-Jaas-Signature": sign_jaas(raw, secret, moment)}

    return Delivery(
        "/webhooks/jitsi",
        _json(body),
        {"Content-Type": "application/json"},
        _sent(ids, s.at),
        1,
        sign,
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _zoom(s: Sighting, wiring: Wiring, ids: _Ids, c: Credentials) -> Delivery:
    """Zoom: one signed JSON POST per event (each attempt stamped anew), the meeting id a string
    in participant events and sometimes a number elsewhere, a new `uuid` each time the meeting
    starts. People who came through their seat's registrant link carry its `registrant_id` and
    the email they registered with; substitutes and guests registered themselves."""
    room = str(wiring.rooms[s.session])
    if s.kind == "room_started":
        ids.known[("instance", s.session)] = ids.uuid()
    meeting: dict[str, Any] = {
        "id": int(room) if s.line is None and ids.rng.random() < 0.5 else room,
        "uuid": ids.of(("instance", s.session), ids.uuid),
        "host_id": "h" + room[-6:],
        "topic": s.session,
        "type": 2,
        "timezone": "UTC",
        "duration": 25,
    }
    if s.kind == "room_started":
        meeting["start_time"] = _iso(s.at)
    elif s.kind == "room_ended":
        meeting["end_time"] = _iso(s.at)
    else:
        assert s.line is not None
        line = s.line
        joined, left = connections(line, "zoom")[s.tab]
        person: dict[str, Any] = {
            "user_id": ids.of(
                ("user", line.ident, s.tab), lambda: str(16_777_216 + ids.rng.getrandbits(24))
            ),
            "participant_uuid": ids.of(("participant", line.ident, s.tab), ids.uuid),
            "user_name": line.name,
            "email": line.email or "",
            "registrant_id": registrant_number(room, line.email or ids.uuid())
            if _seat(line, wiring)
            else ids.of(("registrant", line.ident), lambda: ids.uuid()[:22]),
        }
        if s.kind == "joined":
            person["join_time"] = _iso(joined)
        else:
            person |= {"leave_time": _iso(left), "leave_reason": "left the meeting"}
        meeting["participant"] = person
    name = {
        "room_started": "meeting.started",
        "room_ended": "meeting.ended",
        "joined": "meeting.participant_joined",
        "left": "meeting.participant_left",
    }[s.kind]
    body = {
        "event": name,
        "event_ts": _ms(s.at),
        "payload": {"account_id": "rdv-account", "object": meeting},
    }
    secret = c.zoom_secret

    def sign(raw: bytes, moment: int) -> Mapping[str, str]:
        return zoom_headers(raw, secret, moment)

    return Delivery("/webhooks/zoom", _json(body), {}, _sent(ids, s.at), 1, sign)


def _bbb(s: Sighting, wiring: Wiring, ids: _Ids, c: Credentials) -> Delivery:
    """bbb-webhooks v3: a form with the event in a JSON array, `?checksum=` over the callback URL,
    the body and the shared secret. Our seat id comes back as `external-user-id`; someone who
    came without one gets their internal id there too. A leave names nobody."""
    room = str(wiring.rooms[s.session])
    created = ids.of(("created", s.session), lambda: _ms(s.at))
    meeting: dict[str, Any] = {
        "internal-meeting-id": f"{hashlib.sha1(room.encode()).hexdigest()}-{created}",  # noqa: S324
        "external-meeting-id": room,
    }
    attributes: dict[str, Any] = {"meeting": meeting}
    if s.kind == "room_started":
        meeting |= {"name": s.session, "is-breakout": False, "create-time": created}
    if s.line is not None:
        line = s.line
        seat = _seat(line, wiring)
        internal = ids.of(
            ("user", line.ident, s.tab), lambda: "w_" + ids.uuid().replace("-", "")[:12]
        )
        user: dict[str, Any] = {
            "internal-user-id": internal,
            "external-user-id": f"rdv-a{seat}" if seat else internal,
        }
        if s.kind == "joined":
            user |= {"name": line.name, "role": "VIEWER", "presenter": False}
        user["guest"] = seat is None
        attributes["user"] = user
    name = {
        "room_started": "meeting-created",
        "room_ended": "meeting-ended",
        "joined": "user-joined",
        "left": "user-left",
    }[s.kind]
    event = {
        "data": {"type": "event", "id": name, "attributes": attributes, "event": {"ts": _ms(s.at)}}
    }
    sent = _sent(ids, s.at)
    body = bbb_form([event], domain="bbb.example.org", timestamp=_ms(sent))
    query = bbb_query(c.bbb_callback, body, c.bbb_secret)
    return Delivery(
        f"/webhooks/bigbluebutton?{query}",
        body,
        {"Content-Type": "application/x-www-form-urlencoded"},
        sent,
        1,
    )


def _livekit(s: Sighting, wiring: Wiring, ids: _Ids, c: Credentials) -> Delivery:
    """livekit-server: one POST per event, the protojson of a `WebhookEvent` (int64 as strings),
    and in `Authorization` (no `Bearer `) a JWT over the body's SHA-256, valid 5 minutes. The
    server's own retries come within seconds of signing; here each attempt is signed at its own
    time, since the chaos's late repeats stand for redeliveries, which the dedupe must absorb.
    Our seat comes back as the identity; anyone else came with a token and identity of their own.
    """
    created = ids.of(("created", s.session), lambda: s.at)
    room = livekit_models.Room(
        sid=ids.of(("room", s.session), lambda: "RM_" + ids.uuid().replace("-", "")[:12]),
        name=str(wiring.rooms[s.session]),
        empty_timeout=5400,
        departure_timeout=5400,
        creation_time=int(created.timestamp()),
        creation_time_ms=_ms(created),
        num_participants=s.occupants,
    )
    event: dict[str, Any] = {
        "event": {
            "room_started": "room_started",
            "room_ended": "room_finished",
            "joined": "participant_joined",
            "left": "participant_left",
        }[s.kind],
        "room": MessageToDict(room),
    }
    if s.line is not None:
        line = s.line
        seat = _seat(line, wiring)
        joined, left = connections(line, "livekit")[s.tab]
        replaced = left < sorted(line.tabs)[s.tab][1]  # the same identity joined again
        person = livekit_models.ParticipantInfo(
            sid=ids.of(("sid", line.ident, s.tab), lambda: "PA_" + ids.uuid()[:12]),
            identity=f"rdv-a{seat}" if seat else ids.of(("id", line.ident), ids.uuid),
            name=line.name,
            state=livekit_models.ParticipantInfo.ACTIVE
            if s.kind == "joined"
            else livekit_models.ParticipantInfo.DISCONNECTED,
            joined_at=int(joined.timestamp()),
            joined_at_ms=_ms(joined),
            is_publisher=True,
        )
        if s.kind == "left":
            person.disconnect_reason = (
                livekit_models.DUPLICATE_IDENTITY if replaced else livekit_models.CLIENT_INITIATED
            )
        event["participant"] = MessageToDict(person)
    event |= {
        "id": "EV_" + ids.uuid().replace("-", "")[:12],
        "createdAt": str(int(s.at.timestamp())),
    }
    key, secret = c.livekit_key, c.livekit_secret

    def sign(raw: bytes, moment: int) -> Mapping[str, str]:
        return {"Authorization": livekit_token(raw, key, secret, moment)}

    headers = {"Content-Type": "application/webhook+json", "User-Agent": "LiveKit"}
    return Delivery("/webhooks/livekit", _json(event), headers, _sent(ids, s.at), 1, sign)


def _teams(s: Sighting, wiring: Wiring, ids: _Ids, c: Credentials) -> Delivery:
    """Microsoft Graph: one change notification per call event (the call starts with its first
    participant and ends once the last has left), to the room's own address with its
    subscription's clientState, the call event encrypted for the subscription's certificate
    (a new key each time) and a validation token issued when it is sent. A participant is a
    leg per connection; people with an account come as a `user` of their own tenant, guests
    as a `guest`; nobody's email is in it."""
    sub = wiring.subscriptions[s.session]
    event: dict[str, Any] = {
        "@odata.type": "#microsoft.graph.callevent",
        "@odata.id": sub["resource"],
        "id": ids.uuid(),
        "eventType": {"room_started": "callStarted", "room_ended": "callEnded"}.get(
            s.kind, "rosterUpdated"
        ),
        "eventDateTime": graph_time(s.at),
    }
    if s.line is not None:
        line = s.line
        person = {
            "id": ids.of(("account", line.ident), ids.uuid),
            "displayName": line.name,
        }
        if line.role != "guest":
            person["tenantId"] = ids.of(("tenant", line.email), ids.uuid)
        leg: dict[str, Any] = {
            "info": {"identity": {"guest" if line.role == "guest" else "user": person}},
            "isInLobby": False,
            "id": ids.of(("leg", line.ident, s.tab), ids.uuid),
        }
        if s.kind == "left":
            leg["removedState"] = {"reason": "Participant has left the meeting call."}
        event["participants@delta"] = [leg]
    item = {
        "subscriptionId": sub["id"],
        "clientState": sub["clientState"],
        "changeType": "updated",
        "tenantId": "rdv-tenant",
        "resource": sub["resource"],
        "subscriptionExpirationDateTime": sub["expirationDateTime"],
        "resourceData": {
            "@odata.id": sub["resource"],
            "@odata.type": "#microsoft.graph.callevent",
            "id": event["id"],
        },
        "encryptedContent": encrypt_for(
            sub["encryptionCertificate"], sub["encryptionCertificateId"], event
        ),
    }
    sent = _sent(ids, s.at)
    assert wiring.tokens is not None
    body = {"value": [item], "validationTokens": [wiring.tokens(sent)]}
    path = "/" + str(sub["notificationUrl"]).split("/", 3)[3]
    return Delivery(path, _json(body), {"Content-Type": "application/json"}, sent, 1)


MEET_TYPES = {
    "room_started": "google.workspace.meet.conference.v2.started",
    "room_ended": "google.workspace.meet.conference.v2.ended",
    "joined": "google.workspace.meet.participant.v2.joined",
    "left": "google.workspace.meet.participant.v2.left",
}


def meet_names(session: str, instance: int, line: Line | None = None, tab: int = 0) -> str:
    """The names Meet gives: a conference record per time a space's conference runs, a
    participant per person in it, a participant session per connection."""
    record = f"conferenceRecords/{session}-{instance}"
    if line is None:
        return record
    person = hashlib.sha256(repr(line.ident).encode()).hexdigest()[:16]
    return f"{record}/participants/{person}/participantSessions/{tab}"


def meet_conferences(day: Day) -> list[tuple[str, str, Span, list[tuple[Line, int, Span]]]]:
    """What Meet records of the day: each conference (session key, record name, its span) and
    everyone's connections in it, as the conference records and participant sessions show."""
    found = []
    for session in day.sessions:
        seen = [s for s in sightings(day, "meet") if s.session == session.key]
        starts = [s.at for s in seen if s.kind == "room_started"]
        ends = [s.at for s in seen if s.kind == "room_ended"]
        for instance, (began, ended) in enumerate(zip(starts, ends, strict=True)):
            inside = [
                (line, tab, span)
                for line in session.lines
                for tab, span in enumerate(connections(line, "meet"))
                if began <= span[0] <= ended
            ]
            found.append((session.key, meet_names(session.key, instance), (began, ended), inside))
    return found


def _meet(s: Sighting, wiring: Wiring, ids: _Ids, c: Credentials) -> Delivery:
    """Workspace Events through a Pub/Sub push: one CloudEvent per event, in binary mode (its
    `ce-*` attributes, its data in base64 JSON naming the conference record or the participant
    session, never the person), signed anew at each attempt with an OIDC token (Pub/Sub's
    redeliveries carry fresh ones)."""
    space = str(wiring.rooms[s.session])
    if s.kind == "room_started":
        ids.known[("instance", s.session)] = ids.known.get(("instance", s.session), -1) + 1
    instance = ids.known[("instance", s.session)]
    if s.line is None:
        data: dict[str, Any] = {"conferenceRecord": {"name": meet_names(s.session, instance)}}
    else:
        data = {"participantSession": {"name": meet_names(s.session, instance, s.line, s.tab)}}
    message_id = str(16 * 10**15 + ids.rng.getrandbits(48))
    stamp = s.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    source = (
        "//workspaceevents.googleapis.com/subscriptions/"
        + hashlib.sha256(space.encode()).hexdigest()[:20]
    )
    attributes = {
        "ce-datacontenttype": "application/json",
        "ce-id": ids.uuid(),
        "ce-source": source,
        "ce-specversion": "1.0",
        "ce-subject": f"//meet.googleapis.com/{space}",
        "ce-time": stamp,
        "ce-type": MEET_TYPES[s.kind],
    }
    encoded = base64.b64encode(_json(data)).decode()
    sent = _sent(ids, s.at)
    body = {
        "message": {
            "attributes": attributes,
            "data": encoded,
            "messageId": message_id,
            "message_id": message_id,
            "orderingKey": source,
            "publishTime": _iso(sent),
            "publish_time": _iso(sent),
        },
        "subscription": "projects/rdv-meet-test/subscriptions/meet-events-push",
    }
    tokens = wiring.tokens
    assert tokens is not None

    def sign(raw: bytes, moment: int) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {tokens(datetime.fromtimestamp(moment, UTC))}"}

    headers = {"Content-Type": "application/json"}
    return Delivery("/webhooks/meet", _json(body), headers, sent, 1, sign)


def teams_reports(day: Day) -> dict[str, list[dict[str, Any]]]:
    """Each meeting's attendance report as Graph makes it after the call: everyone who came,
    with each connection's span, and an email for those with an account (guests have none)."""
    return {
        session.key: [
            attendance_record(
                line.name,
                connections(line, "teams"),
                email=line.email if line.role != "guest" else "",
            )
            for line in session.lines
            if line.tabs
        ]
        for session in day.sessions
    }


JANUS_BATCH = 12
JANUS_GATHER = timedelta(seconds=10)
PLUGIN = "janus.plugin.videoroom"


def _janus(kept: Sequence[Sighting], wiring: Wiring, ids: _Ids, c: Credentials) -> list[Delivery]:
    """The sample event handler with grouping: JSON arrays of what happened in a few seconds,
    core session and handle events included (we keep only VideoRoom's)."""
    rng = ids.rng
    events: list[tuple[datetime, bool, dict[str, Any]]] = []  # (time, counts, event)

    def janus_id() -> int:
        return rng.getrandbits(52) + 1

    def add(
        moment: datetime, kind: int, session: int | None, handle: int | None, event: dict[str, Any]
    ) -> None:
        item: dict[str, Any] = {"emitter": "janus-test", "type": kind, "timestamp": _us(moment)}
        if session is not None:
            item["session_id"] = session
        if handle is not None:
            item["handle_id"] = handle
        item["event"] = event
        events.append((moment, kind == 64, item))

    for s in kept:
        room = int(wiring.rooms[s.session])
        if s.line is None:  # our lifecycle's own short session creates and destroys rooms
            session, handle = janus_id(), janus_id()
            name = "created" if s.kind == "room_started" else "destroyed"
            add(
                s.at, 64, session, handle, {"plugin": PLUGIN, "data": {"event": name, "room": room}}
            )
            continue
        line = s.line
        seat = _seat(line, wiring)
        number = seat if seat else ids.of(("id", line.ident), lambda: 10**12 + rng.randrange(10**9))
        session, handle = ids.of(("conn", line.ident, s.tab), lambda: (janus_id(), janus_id()))
        if s.kind == "joined":
            add(
                s.at - 2 * SECOND,
                1,
                session,
                None,
                {"name": "created", "transport": {"transport": "janus.transport.http"}},
            )
            add(s.at - SECOND, 2, session, handle, {"name": "attached", "plugin": PLUGIN})
            data = {
                "event": "joined",
                "room": room,
                "id": number,
                "private_id": rng.getrandbits(31),
                "display": line.name,
            }
            add(s.at, 64, session, handle, {"plugin": PLUGIN, "data": data})
        else:  # as Janus 1.1.2 sends it: no session, no handle, no display
            add(
                s.at,
                64,
                None,
                None,
                {"plugin": PLUGIN, "data": {"event": "leaving", "room": room, "id": number}},
            )
            add(s.at + SECOND, 2, session, handle, {"name": "detached", "plugin": PLUGIN})
            add(s.at + 2 * SECOND, 1, session, None, {"name": "destroyed"})
    events.sort(key=lambda e: e[0])
    headers = {
        "Content-Type": "application/json",
        "Authorization": basic_auth(c.janus_user, c.janus_password),
    }
    deliveries: list[Delivery] = []
    batch: list[tuple[datetime, bool, dict[str, Any]]] = []

    def send() -> None:
        body = _json([item for _, _, item in batch])
        deliveries.append(
            Delivery(
                "/webhooks/janus",
                body,
                headers,
                batch[-1][0] + 300 * timedelta(milliseconds=1),
                sum(counts for _, counts, _ in batch),
            )
        )
        batch.clear()

    for event in events:
        if batch and (len(batch) >= JANUS_BATCH or event[0] - batch[0][0] > JANUS_GATHER):
            send()
        batch.append(event)
    if batch:
        send()
    return deliveries


# -- how it arrived ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Attempt:
    """One POST: when it arrives, which delivery, and whether it repeats one already sent."""

    at: datetime
    delivery: int
    repeat: bool


def chaos(
    deliveries: Sequence[Delivery],
    rng: random.Random,
    *,
    window: timedelta = timedelta(minutes=2),
    duplicates: float = 0.2,
    replays: int = 6,
) -> list[Attempt]:
    """Arrival: in a random order within each 2-minute window (at its end), `duplicates` of them
    a second time within minutes (a retry), and `replays` old ones again hours later."""
    origin = DAY_START - 2 * ROOM_LEAD
    windows: dict[int, list[int]] = defaultdict(list)
    for index, delivery in enumerate(deliveries):
        windows[(delivery.sent - origin) // window].append(index)
    firsts: list[Attempt] = []
    for number, members in sorted(windows.items()):
        rng.shuffle(members)
        closes = origin + (number + 1) * window
        firsts += [
            Attempt(closes + step * timedelta(milliseconds=1), index, False)
            for step, index in enumerate(members)
        ]
    repeats = [
        Attempt(first.at + timedelta(milliseconds=rng.randint(100, 240_000)), first.delivery, True)
        for first in rng.sample(firsts, round(len(firsts) * duplicates))
    ]
    repeats += [
        Attempt(first.at + timedelta(seconds=rng.randint(30 * 60, 4 * 3600)), first.delivery, True)
        for first in rng.sample(firsts[: len(firsts) // 2], replays)
    ]
    return sorted(firsts + repeats, key=lambda attempt: attempt.at)
