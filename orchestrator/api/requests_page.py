"""`/me/{token}/requests`: a participant's page for the meetings asked before the day. A buyer
publishes their directorate's needs and answers the requests that reach it; a company keeps the
profile of its offer, reads the needs and asks for meetings; both see each request's state and,
once placed, the meeting. Every form posts back here (303) with what happened, or why not."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from calendars.request_text import Step

from .. import appkeys
from ..db.matchmaking import ParticipantRequest
from ..mail.request_notices import queue_request_mail
from ..participants.agenda import Owner, owner_of
from ..participants.meeting_requests import (
    Refused,
    answer_request,
    send_request,
    withdraw_request,
)
from ..participants.needs import NotTaken, publish_need, remove_need, save_profile
from ..participants.requests_view import by_directorate, requests_page

routes = web.RouteTableDef()

# What the page says after a form (`?done=` / `?why=`); messages of the catalogues.
DONE = {
    "profile": "Your profile is saved.",
    "need": "Your need is published.",
    "need-removed": "The need is removed.",
    "sent": "Your request is sent; the directorate is told by mail.",
    "accepted": "Accepted: the meeting will be placed in the day's schedule.",
    "declined": "Declined: the company is told.",
    "withdrawn": "Your request is withdrawn.",
}
WHY = {
    "none": "This event takes no meeting requests.",
    "before": "Meeting requests are not open yet.",
    "closed": "Meeting requests are closed.",
    "not-company": "Meeting requests are sent by companies.",
    "own": "That is your own organisation.",
    "yourself": "You cannot ask yourself for a meeting.",
    "unknown-buyer": "There is no such buyer or directorate in this event.",
    "unknown-need": "That need is not one of this directorate's.",
    "message": "Say in a few words what you would like to talk about.",
    "limit": "You have as many requests going as this event allows.",
    "twice": "You have already asked this directorate.",
    "unknown": "There is no such request.",
    "pending": "This request is waiting for its answer.",
    "accepted": "This request is accepted already.",
    "declined": "This request is declined already.",
    "expired": "This request expired when requests closed.",
    "withdrawn": "This request was withdrawn.",
    "alone": "You are not in the program as part of an organisation: ask the organisers.",
    "not-buyer": "Only buyers publish needs.",
    "title": "Give the need a title.",
    "too-many": "Your directorate has as many needs as it may publish.",
    "website": "The website must be an http or https address.",
}


def _back(token: str, *, done: str | None = None, why: str | None = None) -> web.HTTPSeeOther:
    query = f"done={quote(done)}" if done else f"why={quote(why or '')}"
    return web.HTTPSeeOther(f"/me/{token}/requests?{query}")


async def _owner(db: AsyncSession, request: web.Request) -> Owner:
    owner = await owner_of(db, request.match_info["token"])
    if owner is None:
        raise web.HTTPNotFound(text="This link does not open any page.")
    return owner


@routes.get("/me/{token}/requests")
async def page(request: web.Request) -> web.StreamResponse:
    app = request.app
    now = app[appkeys.CLOCK].now()
    async with app[appkeys.DB]() as db:
        owner = await owner_of(db, request.match_info["token"])
        if owner is None:
            return app[appkeys.PAGES].render(
                "join.html", None, status=404, state="unknown", title="rdv"
            )
        found = await requests_page(db, owner.person, now)
    language = app[appkeys.PAGES].language(owner.locale)
    zone = owner.event.timezone
    window = found.window

    def moment(at: datetime) -> str:
        return f"{language.date(at, zone)} {language.time(at, zone)}"

    return app[appkeys.PAGES].render(
        "requests.html",
        owner.locale,
        title=owner.event.title,
        event=owner.event,
        person=owner.person,
        token=owner.person.feed_token,
        page=found,
        directorates=by_directorate(found.needs),
        opens=moment(window.opens) if window else "",
        closes=moment(window.closes) if window else "",
        moment=moment,
        done=DONE.get(request.query.get("done", ""), ""),
        why=WHY.get(request.query.get("why", ""), ""),
    )


@routes.post("/me/{token}/requests/profile")
async def profile(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with request.app[appkeys.DB]() as db, db.begin():
        owner = await _owner(db, request)
        try:
            await save_profile(
                db,
                owner.person,
                description=str(form.get("description", "")),
                themes=str(form.get("themes", "")),
                website=str(form.get("website", "")),
            )
        except NotTaken as why:
            raise _back(owner.person.feed_token, why=why.code) from None
    raise _back(owner.person.feed_token, done="profile")


@routes.post("/me/{token}/requests/needs")
async def need(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    now = request.app[appkeys.CLOCK].now()
    which = str(form.get("need", ""))
    async with request.app[appkeys.DB]() as db, db.begin():
        owner = await _owner(db, request)
        try:
            await publish_need(
                db,
                owner.person,
                title=str(form.get("title", "")),
                description=str(form.get("description", "")),
                themes=str(form.get("themes", "")),
                now=now,
                need_id=int(which) if which.isdigit() else None,
            )
        except NotTaken as why:
            raise _back(owner.person.feed_token, why=why.code) from None
    raise _back(owner.person.feed_token, done="need")


@routes.post("/me/{token}/requests/needs/{need}/remove")
async def need_removed(request: web.Request) -> web.StreamResponse:
    now = request.app[appkeys.CLOCK].now()
    which = request.match_info["need"]
    async with request.app[appkeys.DB]() as db, db.begin():
        owner = await _owner(db, request)
        try:
            await remove_need(db, owner.person, int(which) if which.isdigit() else 0, now)
        except NotTaken as why:
            raise _back(owner.person.feed_token, why=why.code) from None
    raise _back(owner.person.feed_token, done="need-removed")


@routes.post("/me/{token}/requests/ask")
async def ask(request: web.Request) -> web.StreamResponse:
    app = request.app
    form = await request.post()
    now = app[appkeys.CLOCK].now()
    which = str(form.get("need", ""))
    async with app[appkeys.DB]() as db, db.begin():
        owner = await _owner(db, request)
        try:
            sent = await send_request(
                db,
                owner.person,
                to=str(form.get("to", "")).strip(),
                message=str(form.get("message", "")),
                need_id=int(which) if which.isdigit() else None,
                now=now,
            )
        except Refused as why:
            raise _back(owner.person.feed_token, why=why.code) from None
        await _mail(request, db, sent, "received")
    app[appkeys.OUTBOX].wake()
    raise _back(owner.person.feed_token, done="sent")


@routes.post("/me/{token}/requests/{request}/answer")
async def answer(request: web.Request) -> web.StreamResponse:
    app = request.app
    form = await request.post()
    now = app[appkeys.CLOCK].now()
    accept = str(form.get("answer", "")) == "accepted"
    which = request.match_info["request"]
    async with app[appkeys.DB]() as db, db.begin():
        owner = await _owner(db, request)
        try:
            answered = await answer_request(
                db,
                owner.person,
                int(which) if which.isdigit() else 0,
                accept=accept,
                reason=str(form.get("reason", "")),
                now=now,
                event_id=owner.event.id,
            )
        except Refused as why:
            raise _back(owner.person.feed_token, why=why.code) from None
        await _mail(request, db, answered, "accepted" if accept else "declined")
    app[appkeys.OUTBOX].wake()
    raise _back(owner.person.feed_token, done="accepted" if accept else "declined")


@routes.post("/me/{token}/requests/{request}/withdraw")
async def withdraw(request: web.Request) -> web.StreamResponse:
    which = request.match_info["request"]
    async with request.app[appkeys.DB]() as db, db.begin():
        owner = await _owner(db, request)
        try:
            await withdraw_request(
                db,
                owner.person,
                int(which) if which.isdigit() else 0,
                request.app[appkeys.CLOCK].now(),
            )
        except Refused as why:
            raise _back(owner.person.feed_token, why=why.code) from None
    raise _back(owner.person.feed_token, done="withdrawn")


async def _mail(
    request: web.Request, db: AsyncSession, sent: ParticipantRequest, step: Step
) -> None:
    app = request.app
    await queue_request_mail(
        db,
        sent,
        step,
        writer=app[appkeys.WRITER],
        settings=app[appkeys.SETTINGS],
        now=app[appkeys.CLOCK].now(),
    )
