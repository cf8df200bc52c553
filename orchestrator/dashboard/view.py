"""What the organisers' dashboard shows, computed from the attendance outcomes, the rooms and the
outbox: counters, the plenary, a card per room, and the alerts. One model for the page and the
live stream, so a reload always shows what the stream said."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..attendance.log import attendance
from ..attendance.outcomes import Line, Outcome
from ..attendance.roster import Roster
from ..db import models as m
from ..db.mail import MailMessage
from ..settings import Settings
from ..turns import in_turns


@dataclass(frozen=True, slots=True)
class Seat:
    name: str
    organisation: str | None
    organisation_key: str | None
    kind: str | None
    mark: str  # present, late, absent, left, expected
    substitute_for: str | None = None
    answer: str = "needs-action"  # what the person said ahead (participants/answers.py)
    reason: str | None = None  # why they declined, if they said


@dataclass(frozen=True, slots=True)
class Card:
    key: str
    title: str
    kind: str
    time: str
    state: str
    provider: str
    error: str | None
    seats: tuple[Seat, ...]
    running_since: datetime | None  # the start, while the session runs (the page counts on)
    present: int
    one_sided: bool
    filters: tuple[str, ...]
    session_id: int
    no_shows: int
    declined: bool = False  # a meeting to come that someone said they cannot come to

    @property
    def tally(self) -> dict[str, int]:
        """How many seats are in the room, late and absent (those who left count as absent):
        what a plenary of a hundred people shows instead of every name."""
        counted = {"present": 0, "late": 0, "absent": 0, "expected": 0}
        for seat in self.seats:
            counted["absent" if seat.mark == "left" else seat.mark] += 1
        return counted

    @property
    def problems(self) -> tuple[str, ...]:
        """What makes the room stand out on the dashboard, most serious first."""
        found = []
        if self.state == "failed":
            found.append("failed")
        if self.one_sided:
            found.append("one-sided")
        if any(seat.mark == "late" for seat in self.seats):
            found.append("late")
        if self.declined:
            found.append("declined")
        return tuple(found)


@dataclass(frozen=True, slots=True)
class Alert:
    kind: str  # late, failed, one-sided, declined, mail
    session: str | None
    text_args: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Counters:
    rooms_live: int
    people_in_rooms: int
    late: int
    no_shows: int
    mail_failures: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    slug: str
    title: str
    now: datetime  # when it was computed: the page counts the minutes of running rooms from it
    counters: Counters
    cards: tuple[Card, ...]
    alerts: tuple[Alert, ...]
    directorates: tuple[tuple[str, str], ...]
    companies: tuple[tuple[str, str], ...]

    def slots(self) -> list[tuple[str, list[Card]]]:
        grouped: dict[str, list[Card]] = defaultdict(list)
        for card in self.cards:
            if card.kind in m.ONE_TO_ONE:
                grouped[card.time].append(card)
        return list(grouped.items())

    @property
    def plenaries(self) -> list[Card]:
        return [card for card in self.cards if card.kind == "plenary"]


def _mark(line: Line, now: datetime, running: bool) -> str:
    spans = line.presence.spans
    if spans and spans[-1][1] >= now:
        return "present"
    if spans and running and line.presence.sources == {"link"}:
        return "present"  # sent to the stream by their link: no one sees viewers leave
    if line.status == "late" and not spans:
        return "late"
    if spans:
        return "left"
    return "absent" if line.status == "no-show" else "expected"


def _card(outcome: Outcome, zone: ZoneInfo, now: datetime) -> Card:
    session, room = outcome.session, outcome.room
    running = session.starts_at <= now < session.ends_at
    seats = tuple(
        Seat(
            line.name,
            line.person.organisation if line.person else None,
            line.person.organisation_key if line.person else None,
            line.organisation_kind,
            _mark(line, now, running),
            line.substitute_for.name if line.substitute_for else None,
            line.answer,
            line.answer_reason,
        )
        for line in outcome.lines
    )
    present = [seat for seat in seats if seat.mark == "present"]
    sides = {seat.kind for seat in present}
    one_sided = (
        session.kind in m.ONE_TO_ONE
        and running
        and now > outcome.window.starts_at + outcome.window.late_after
        and len(sides & {"company", "buyer"}) == 1
    )
    return Card(
        key=session.key,
        title=session.title,
        kind=session.kind,
        time=session.starts_at.astimezone(zone).strftime("%H:%M"),
        state=room.state,
        provider=room.provider,
        error=room.error,
        seats=seats,
        running_since=session.starts_at if running else None,
        present=len(present),
        one_sided=one_sided,
        filters=tuple(
            sorted(
                {f"org:{seat.organisation_key}" for seat in seats if seat.organisation_key}
                | {f"state:{room.state}"}
            )
        ),
        session_id=session.id,
        no_shows=sum(1 for line in outcome.lines if line.status == "no-show"),
        declined=session.kind in m.ONE_TO_ONE
        and now < session.ends_at
        and any(seat.answer == "declined" and seat.mark != "present" for seat in seats),
    )


async def build(
    db: AsyncSession,
    event: m.Event,
    settings: Settings,
    now: datetime,
    known: Roster | None = None,
) -> Dashboard:
    """The dashboard now; `known` is the event's roster, when the caller has it."""
    cards = await _cards(db, event, settings, now, known=known)
    organisations = (
        await db.execute(
            select(m.Organisation.key, m.Organisation.name, m.Organisation.kind)
            .where(m.Organisation.event_id == event.id, m.Organisation.removed_at.is_(None))
            .order_by(m.Organisation.name)
        )
    ).all()
    return _dashboard(
        event,
        now,
        cards,
        await _mail_failures(db, event),
        directorates=tuple((key, name) for key, name, kind in organisations if kind == "buyer"),
        companies=tuple((key, name) for key, name, kind in organisations if kind == "company"),
    )


async def refresh(
    db: AsyncSession,
    event: m.Event,
    settings: Settings,
    now: datetime,
    dashboard: Dashboard,
    session_ids: Collection[int],
    known: Roster,
) -> Dashboard | None:
    """`dashboard` with the cards of these sessions computed again, and the counters and alerts
    that follow from them: what a change in a few rooms costs, instead of a whole build. None
    when it cannot stand in for a build: a session it does not show (added since)."""
    shown = {card.session_id for card in dashboard.cards}
    if not set(session_ids) <= shown:
        return None
    fresh = {
        card.session_id: card for card in await _cards(db, event, settings, now, session_ids, known)
    }
    cards = tuple(
        fresh.get(card.session_id, card)
        for card in dashboard.cards
        if card.session_id in fresh or card.session_id not in session_ids  # cancelled: gone
    )
    return _dashboard(
        event,
        now,
        cards,
        await _mail_failures(db, event),
        directorates=dashboard.directorates,
        companies=dashboard.companies,
    )


async def _cards(
    db: AsyncSession,
    event: m.Event,
    settings: Settings,
    now: datetime,
    session_ids: Collection[int] | None = None,
    known: Roster | None = None,
) -> list[Card]:
    """The cards of the event's sessions (of `session_ids` only, when given), in time order."""
    zone = ZoneInfo(event.timezone)
    outcomes = await attendance(
        db,
        event,
        now=now,
        marks=settings.marks,
        session_ids=session_ids,
        known=known,
    )
    return [_card(outcome, zone, now) async for outcome in in_turns(outcomes)]


async def _mail_failures(db: AsyncSession, event: m.Event) -> int:
    return (
        await db.scalar(
            select(func.count()).where(
                MailMessage.event_id == event.id, MailMessage.status == "failed"
            )
        )
        or 0
    )


def _dashboard(
    event: m.Event,
    now: datetime,
    cards: Sequence[Card],
    failures: int,
    *,
    directorates: tuple[tuple[str, str], ...],
    companies: tuple[tuple[str, str], ...],
) -> Dashboard:
    """Counters and alerts follow from the cards alone, so a refresh of a few cards and a whole
    build agree on them."""
    alerts: list[Alert] = []
    late = 0
    for card in cards:
        for seat in card.seats:
            if seat.mark == "late" and card.running_since is not None:
                late += 1
                alerts.append(
                    Alert(
                        "late",
                        card.key,
                        {"name": seat.name, "title": card.title, "time": card.time},
                    )
                )
        if card.state == "failed":
            alerts.append(
                Alert("failed", card.key, {"title": card.title, "error": card.error or ""})
            )
        for seat in card.seats if card.declined else ():
            if seat.answer == "declined":
                who = f"{seat.name} ({seat.organisation})" if seat.organisation else seat.name
                args = {"who": who, "title": card.title, "time": card.time}
                alerts.append(Alert("declined", card.key, args | {"reason": seat.reason or ""}))
        if card.one_sided:
            here = next(seat for seat in card.seats if seat.mark == "present")
            alerts.append(
                Alert(
                    "one-sided",
                    card.key,
                    {"title": card.title, "here": here.organisation or here.name},
                )
            )
    if failures:
        alerts.append(Alert("mail", None, {"count": str(failures)}))
    return Dashboard(
        slug=event.slug,
        title=event.title,
        now=now,
        counters=Counters(
            rooms_live=sum(1 for card in cards if card.state == "live"),
            people_in_rooms=sum(card.present for card in cards),
            late=late,
            no_shows=sum(card.no_shows for card in cards),
            mail_failures=failures,
        ),
        cards=tuple(cards),
        alerts=tuple(alerts),
        directorates=directorates,
        companies=companies,
    )
