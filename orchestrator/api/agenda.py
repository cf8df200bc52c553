"""`/me/{token}`: a person's agenda — their sessions in order, each with its state and, when it
is open, the join button; a calendar subscription and a per-session `.ics`. No sign-in: the
person's feed token is the key, as for their calendar feed."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

from aiohttp import web

from calendars import ics

from .. import appkeys
from ..db.outcomes import FollowUpProposal
from ..mail.declines import after_answer
from ..participants.agenda import Item, agenda_items, owner_of, sessions_of
from ..participants.answers import ANSWERS, Given, Unanswerable, answer_seat, seat_for
from ..participants.follow_up import pending_for
from ..participants.handover import Colleague, Refused, colleague_in, colleagues_of, hand_over
from ..participants.meeting_requests import window_of
from ..participants.outcomes import questions_of
from ..participants.seats import build_entry
from .follow_up import NOT_PLANNED, PLANNED

routes = web.RouteTableDef()


def _unknown(request: web.Request) -> web.Response:
    return request.app[appkeys.PAGES].render(
        "join.html", None, status=404, state="unknown", title="rdv"
    )


@routes.get("/me/{token}")
async def agenda(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings, now = app[appkeys.SETTINGS], app[appkeys.CLOCK].now()
    async with app[appkeys.DB]() as db:
        owner = await owner_of(db, request.match_info["token"])
        if owner is None:
            return _unknown(request)
        mine = await sessions_of(db, owner.person, cancelled=True)
        colleagues = await colleagues_of(db, owner.person)
        questions = await questions_of(db, owner.person)
        waiting = await pending_for(db, owner.person)
        asking = await window_of(db, owner.person.event_id) is not None
        handed = request.query.get("handed")
        handed_to = await colleague_in(db, owner.person, handed) if handed else None
    person, event = owner.person, owner.event
    language = app[appkeys.PAGES].language(owner.locale)

    def when(item: Item) -> str:
        return language.when(item.starts_at, item.ends_at, event.timezone)

    def when_of(proposal: FollowUpProposal) -> str:
        return language.when(proposal.starts_at, proposal.ends_at, event.timezone)

    follow_ups = {
        found.session.key: (pending, when_of(pending.proposal))
        for found in mine
        if (pending := waiting.get(found.session.id))
    }
    host = urlsplit(settings.base_url)
    return app[appkeys.PAGES].render(
        "agenda.html",
        owner.locale,
        title=event.title,
        person=person,
        event=event,
        items=agenda_items(mine, settings, now, questions),
        when=when,
        feed=f"{settings.base_url}/calendar/{person.feed_token}.ics",
        webcal=f"webcal://{host.netloc}{host.path}/calendar/{person.feed_token}.ics",
        token=person.feed_token,
        now=now.isoformat(),
        answered=request.query.get("answered"),
        refused=request.query.get("refused"),
        colleagues=colleagues,
        asking=asking,
        follow_ups=follow_ups,
        planned=PLANNED.get(request.query.get("planned", ""), ""),
        not_planned=NOT_PLANNED.get(request.query.get("not_planned", ""), ""),
        can_hand_over=person.organisation_id is not None,
        handed_to=handed_to,
        not_handed=request.query.get("not_handed"),
        why=HANDOVER_REFUSALS.get(request.query.get("why", ""), ""),
    )


# What the page says when a seat cannot be handed over (`Refused.code`); messages of the catalogues.
HANDOVER_REFUSALS = {
    "over": "This session is over or cancelled.",
    "alone": "You are not in the program as part of an organisation: ask the organisers.",
    "already": "Your colleague is already invited to this session.",
    "unknown": "Choose a colleague from the list, or give a name and an email.",
    "missing": "Give your colleague's name and email.",
    "email": "That is not an email address.",
    "yourself": "That is your own address.",
    "elsewhere": "That address belongs to someone of another organisation: ask the organisers.",
    "erased": "That person asked this event to forget them: ask the organisers.",
}


@routes.post("/me/{token}/{key}/handover")
async def handover(request: web.Request) -> web.StreamResponse:
    """ "A colleague comes instead": the seat goes to a person of the same organisation, who
    gets the invite and a link of their own; back to the agenda page, which says so."""
    app, token, key = request.app, request.match_info["token"], request.match_info["key"]
    form = await request.post()
    wanted = Colleague(
        str(form.get("colleague", "")).strip(),
        str(form.get("name", "")),
        str(form.get("email", "")),
    )
    now = app[appkeys.CLOCK].now()
    async with app[appkeys.DB]() as db, db.begin():
        owner = await owner_of(db, token)
        if owner is None:
            return _unknown(request)
        found = await seat_for(db, owner.person, key)
        if found is None:
            raise web.HTTPNotFound(text="not one of your sessions")
        seat, session = found
        refused: str | None = None
        try:
            handed = await hand_over(
                db,
                owner.person,
                owner.event,
                seat,
                session,
                wanted,
                now=now,
                secret=app[appkeys.SETTINGS].secret_key,
            )
        except Refused as why:
            refused = why.code
        else:
            await app[appkeys.INVITES].queue(db, handed.changes, now)
    there = quote(session.key, safe="")
    if refused is not None:
        raise web.HTTPSeeOther(f"/me/{token}?not_handed={there}&why={refused}#session-{there}")
    app[appkeys.FEED].wake_soon()
    app[appkeys.OUTBOX].wake()
    raise web.HTTPSeeOther(f"/me/{token}?handed={there}")


@routes.post("/me/{token}/{key}/answer")
async def answer(request: web.Request) -> web.StreamResponse:
    """The agenda page's "I'll be there" or "I can't come" (with a reason, if given); back to
    the page, which says the answer is taken (or why not)."""
    app, token, key = request.app, request.match_info["token"], request.match_info["key"]
    form = await request.post()
    given = Given(str(form.get("answer", "")), "page", str(form.get("reason", "")) or None)
    if given.answer not in ANSWERS:
        raise web.HTTPBadRequest(text=f"answer must be one of: {', '.join(ANSWERS)}")
    outcome = "answered"
    async with app[appkeys.DB]() as db, db.begin():
        owner = await owner_of(db, token)
        if owner is None:
            return _unknown(request)
        found = await seat_for(db, owner.person, key)
        if found is None:
            raise web.HTTPNotFound(text="not one of your sessions")
        seat, session = found
        previous, now = seat.answer, app[appkeys.CLOCK].now()
        try:
            changed = await answer_seat(db, seat, session, given, now)
        except Unanswerable:
            outcome, changed = "refused", False
        if changed:
            sender = app[appkeys.SETTINGS].mail_from
            queued = await after_answer(db, session, seat, previous, sender=sender, now=now)
    if changed:  # the open dashboards show it now, the other side hears of it
        app[appkeys.FEED].wake_soon()
        if queued:
            app[appkeys.OUTBOX].wake()
        if given.answer == "declined":  # its slot may go to an open request
            app[appkeys.REFILL].soon(session.event_id)
    key = quote(found[1].key, safe="")
    raise web.HTTPSeeOther(f"/me/{token}?{outcome}={key}#session-{key}")


@routes.get("/me/{token}/{key}.ics")
async def one_session(request: web.Request) -> web.StreamResponse:
    app = request.app
    async with app[appkeys.DB]() as db:
        owner = await owner_of(db, request.match_info["token"])
        if owner is None:
            return _unknown(request)
        found = await sessions_of(db, owner.person, cancelled=True, key=request.match_info["key"])
    if not found:
        raise web.HTTPNotFound(text="not one of your sessions")
    mine = found[0]
    session = mine.session
    entry = build_entry(
        app[appkeys.WRITER],
        app[appkeys.SETTINGS].base_url,
        owner.event,
        session,
        mine.seats,
        mine.seat,
        cancelled=session.cancelled,
    )
    return web.Response(
        body=ics.feed([entry], name=session.title),
        content_type="text/calendar",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{session.key}.ics"'},
    )
