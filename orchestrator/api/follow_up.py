"""The agenda page's follow-up meetings: after a held meeting one side proposes a time
(`POST /me/{token}/{key}/follow-up`), the other confirms or declines it
(`POST /me/{token}/follow-ups/{id}/answer`). Each step mails the other side; a confirmation
sends both the invites of the new `follow-up` session. Back to the agenda, which says so."""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from calendars.model import Party
from calendars.outcome_text import follow_up_mail

from .. import appkeys
from ..db import models as m
from ..db.mail import enqueue
from ..db.outcomes import FollowUpProposal
from ..mail.compose import notice_to
from ..participants.agenda import owner_of
from ..participants.answers import seat_for
from ..participants.follow_up import NotPlanned, answer, local_time, propose

routes = web.RouteTableDef()

# What the agenda says after a follow-up form (`?planned=` / `?not_planned=`).
PLANNED = {
    "proposed": "Your proposal is sent; the other side confirms or declines it.",
    "confirmed": "Confirmed: the follow-up is on both agendas, its invites are on their way.",
    "declined": "Declined: the other side is told.",
}
NOT_PLANNED = {
    "not-over": "A follow-up is planned once the meeting is over.",
    "past": "The follow-up must be in the future.",
    "order": "The follow-up must end after it starts.",
    "long": "The follow-up is longer than a session may be.",
    "when": "Give a day and a time.",
    "pending": "A proposal for this meeting already waits for its answer.",
    "unknown": "There is no such proposal.",
    "confirmed": "This proposal is confirmed already.",
    "declined": "This proposal is declined already.",
    "gone": "That meeting is no longer in the program: ask the organisers.",
    "clash": "That time clashes with another session of one of you: propose another.",
}


@routes.post("/me/{token}/{key}/follow-up")
async def propose_follow_up(request: web.Request) -> web.StreamResponse:
    app, token = request.app, request.match_info["token"]
    form = await request.post()
    now = app[appkeys.CLOCK].now()
    async with app[appkeys.DB]() as db, db.begin():
        owner = await owner_of(db, token)
        if owner is None:
            raise web.HTTPNotFound(text="This link does not open any page.")
        found = await seat_for(db, owner.person, request.match_info["key"])
        if found is None:
            raise web.HTTPNotFound(text="not one of your sessions")
        zone = owner.event.timezone
        try:
            day = str(form.get("day", ""))
            proposal = await propose(
                db,
                owner.person,
                found[1],
                starts_at=local_time(day, str(form.get("start", "")), zone),
                ends_at=local_time(day, str(form.get("end", "")), zone),
                now=now,
                settings=app[appkeys.SETTINGS],
            )
        except NotPlanned as why:
            raise _back(token, not_planned=why.code) from None
        await _mail(request, db, proposal, owner.person, proposed=True)
    app[appkeys.OUTBOX].wake()
    raise _back(token, planned="proposed")


@routes.post("/me/{token}/follow-ups/{proposal}/answer")
async def answer_follow_up(request: web.Request) -> web.StreamResponse:
    app, token = request.app, request.match_info["token"]
    form = await request.post()
    now = app[appkeys.CLOCK].now()
    accept = form.get("answer") == "confirmed"
    which = request.match_info["proposal"]
    async with app[appkeys.DB]() as db, db.begin():
        owner = await owner_of(db, token)
        if owner is None:
            raise web.HTTPNotFound(text="This link does not open any page.")
        try:
            proposal = await answer(
                db,
                owner.person,
                int(which) if which.isdigit() else 0,
                accept=accept,
                now=now,
                settings=app[appkeys.SETTINGS],
                on_change=app[appkeys.INVITES].queue,
            )
        except NotPlanned as why:
            raise _back(token, not_planned=why.code) from None
        if not accept:
            await _mail(request, db, proposal, owner.person, proposed=False)
    app[appkeys.OUTBOX].wake()
    app[appkeys.FEED].wake_soon()
    raise _back(token, planned="confirmed" if accept else "declined")


def _back(token: str, **outcome: str) -> web.HTTPSeeOther:
    ((name, code),) = outcome.items()
    return web.HTTPSeeOther(f"/me/{token}?{name}={quote(code)}")


async def _mail(
    request: web.Request,
    db: AsyncSession,
    proposal: FollowUpProposal,
    author: m.Person,
    *,
    proposed: bool,
) -> None:
    """To the other side of the meeting (a proposal), or to the proposer (a decline)."""
    app = request.app
    settings, writer = app[appkeys.SETTINGS], app[appkeys.WRITER]
    event = await db.get(m.Event, proposal.event_id)
    session = await db.get(m.Session, proposal.session_id)
    assert event is not None
    assert session is not None
    if proposed:
        recipients = list(
            await db.scalars(
                select(m.Person)
                .join(m.Attendee, m.Attendee.person_id == m.Person.id)
                .where(
                    m.Attendee.session_id == session.id,
                    m.Attendee.removed_at.is_(None),
                    m.Person.id != author.id,
                    m.Person.erased_at.is_(None),
                )
            )
        )
    else:
        proposer = await db.get(m.Person, proposal.proposer_id)
        recipients = [proposer] if proposer is not None and proposer.erased_at is None else []
    organiser = Party(event.organiser_name, event.organiser_email)
    outgoing = []
    for person in recipients:
        language = app[appkeys.PAGES].language(person.locale or event.locale)
        when = language.when(proposal.starts_at, proposal.ends_at, event.timezone)
        text = follow_up_mail(
            writer,
            person.locale or event.locale,
            proposed=proposed,
            who=author.name,
            title=session.title,
            when=when,
            agenda_url=f"{settings.base_url}/me/{person.feed_token}",
            organiser=organiser,
            event_title=event.title,
        )
        step = "proposed" if proposed else "declined"
        outgoing.append(
            notice_to(
                event,
                person,
                text,
                kind="follow-up",
                dedupe=f"follow-up:{proposal.id}:{step}:{person.id}",
                mail_from=settings.mail_from,
                now=app[appkeys.CLOCK].now(),
                session_id=session.id,
            )
        )
    await enqueue(db, outgoing)
