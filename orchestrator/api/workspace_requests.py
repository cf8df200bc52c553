"""`/admin/{slug}/requests`: participants' meeting requests in the workspace. Every company
against every directorate with what one asked the other; the requests, those waiting first, an
organiser answering for a directorate that does not; then the day: a preview of where the
scheduler would place the accepted requests (nothing written), and "apply" to write them as
meetings, whose invites follow."""

from __future__ import annotations

from datetime import datetime

from aiohttp import web

from .. import appkeys
from ..db.audit import record
from ..mail.request_notices import AgendaReady, queue_request_mail
from ..participants.meeting_requests import Refused, answer_request
from ..program.audit import Author, hooks, recorder
from ..program.schedule import Changed, schedule_event
from ..workspace.requests import requests_overview
from .workspace import event_of, render, signed_in
from .workspace_changes import changing

routes = web.RouteTableDef()
PREVIEW_SECONDS = 20.0  # the solver's limit for a preview and an apply from the workspace


@routes.get("/admin/{slug}/requests")
async def requests_page(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    event = await event_of(request)
    app = request.app
    now = app[appkeys.CLOCK].now()
    async with app[appkeys.DB]() as db:
        overview = await requests_overview(db, event, now)
    preview = None
    if request.query.get("preview") and viewer.can_act:
        preview = await schedule_event(
            app[appkeys.DB],
            app[appkeys.SETTINGS],
            event.slug,
            now=now,
            dry_run=True,
            time_limit=PREVIEW_SECONDS,
        )
    return render(
        request,
        "admin_requests.html",
        event,
        viewer,
        "requests",
        overview=overview,
        preview=preview.lines() if preview is not None else None,
        refused=REFUSED.get(request.query.get("why", ""), ""),
    )


REFUSED = {
    "pending": "This request is waiting for its answer.",
    "accepted": "This request is accepted already.",
    "declined": "This request is declined already.",
    "expired": "This request expired when requests closed.",
    "unknown": "There is no such request.",
    "changed": "The event changed while scheduling: preview again.",
}


@routes.post("/admin/{slug}/requests/{request}/answer")
@changing("requests")
async def answer(request: web.Request, form: dict[str, str], author: Author, now: datetime) -> str:
    """An organiser answers for the directorate (source organiser); the company is told."""
    app = request.app
    event = await event_of(request)
    which = request.match_info["request"]
    accept = form.get("answer") == "accepted"
    async with app[appkeys.DB]() as db, db.begin():
        try:
            answered = await answer_request(
                db,
                None,
                int(which) if which.isdigit() else 0,
                accept=accept,
                reason=form.get("reason", ""),
                now=now,
                event_id=event.id,
            )
        except Refused as why:
            raise web.HTTPSeeOther(f"/admin/{event.slug}/requests?why={why.code}") from None
        await queue_request_mail(
            db,
            answered,
            "accepted" if accept else "declined",
            writer=app[appkeys.WRITER],
            settings=app[appkeys.SETTINGS],
            now=now,
        )
        await record(
            db,
            event_id=event.id,
            at=now,
            actor=author.actor,
            source=author.source,
            action="request.answer",
            subject=f"request {answered.id}",
            details={"answer": answered.state},
        )
    return "request-accepted" if accept else "request-declined"


@routes.post("/admin/{slug}/requests/schedule")
@changing("requests")
async def schedule(
    request: web.Request, form: dict[str, str], author: Author, now: datetime
) -> str:
    """Writes the placement the preview showed (the scheduler runs again: same data, same
    placement); the invites follow."""
    app = request.app
    event = await event_of(request)
    try:
        await schedule_event(
            app[appkeys.DB],
            app[appkeys.SETTINGS],
            event.slug,
            now=now,
            time_limit=PREVIEW_SECONDS,
            on_change=hooks(
                app[appkeys.INVITES].queue,
                AgendaReady(app[appkeys.SETTINGS], app[appkeys.WRITER]),
                recorder(author, "schedule"),
            ),
        )
    except Changed:
        raise web.HTTPSeeOther(f"/admin/{event.slug}/requests?why=changed") from None
    return "scheduled"
