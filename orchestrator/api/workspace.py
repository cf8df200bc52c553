"""`/admin/{slug}`: the organisers' workspace. Organisers read and change the event from the
browser; a followup sign-in sees the same pages without a control that changes anything. Every
changing form carries a CSRF token bound to the sign-in cookie; the handlers stay thin: the
tables and the actions live in `orchestrator/workspace/`."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from .. import appkeys
from ..db import models as m
from ..db.mail import MAIL_STATES
from ..db.states import RoomState
from ..program.export import export_document
from ..program.workbook_export import export_workbook
from ..workspace.tables import (
    Filters,
    Page,
    audit_page,
    mail_page,
    people_page,
    sessions_page,
)
from .viewers import Viewer, csrf_token, viewer_of

routes = web.RouteTableDef()
STALE_FORM = "this form is out of date or came from another page: reload and retry"
SECTIONS = ("program", "sessions", "people", "requests", "mail", "webhooks", "audit")
DONE = {
    "moved": "The session was moved; its attendees get the updated invite.",
    "cancelled": "The session was cancelled; its attendees get the cancellation.",
    "provider": "The session's provider was changed.",
    "resent": "The invite is on its way again.",
    "erased": "The person was erased.",
    "retried": "The mail is due again.",
    "applied": "The program was applied; the invites it changes are on their way.",
    "discarded": "The upload was thrown away; nothing changed.",
    "request-accepted": "Accepted for the directorate; the company is told.",
    "request-declined": "Declined for the directorate; the company is told.",
    "scheduled": "The meetings are written; their invites are on their way.",
    "previewing": "The placement is being worked out; nothing is written.",
    "scheduling": "The meetings are being placed; they are written when the run is over.",
    "follow-up": "The follow-up meeting is planned; its invites are on their way.",
    "webhook-ended": "The subscription is ended; nothing more is sent to it.",
    "webhook-resent": "The delivery is due again, with the same webhook-id.",
}


# What the pages show for stored words (each one a message of the catalogues).
LABELS = {
    "program.import": "Program imported",
    "session.edit": "Session changed",
    "session.move": "Session moved",
    "session.cancel": "Session cancelled",
    "session.provider": "Provider changed",
    "schedule": "Meetings scheduled",
    "refill": "Declined meetings re-filled",
    "seat.handover": "Seat handed to a colleague",
    "request.answer": "Meeting request answered",
    "session.follow-up": "Follow-up meeting planned",
    "invite.resend": "Invite sent again",
    "person.erase": "Person erased",
    "person.readd": "Erased email allowed back",
    "mail.retry": "Mail retried",
    "replay.add": "Replay published",
    "webhook.subscribe": "Webhook receiver subscribed",
    "webhook.end": "Webhook subscription ended",
    "webhook.resend": "Webhook delivery resent",
    "active": "active",
    "failing": "failing",
    "delivered": "delivered",
    "workspace": "from the workspace",
    "api": "through the API",
    "cli": "from the command line",
    "scheduler": "by the scheduler",
    "agenda": "from their agenda page",
    "scheduled": "scheduled",
    "provisioning": "being prepared",
    "ready": "ready",
    "live": "live",
    "ended": "ended",
    "failed": "failed",
    "cancelled": "cancelled",
    "pending": "waiting",
    "sending": "being sent",
    "sent": "sent",
    "plenary": "plenary",
    "meeting": "meeting",
    "follow-up": "follow-up meeting",
    "invitation": "invitation",
    "update": "update",
    "uninvited": "no longer invited",
    "reminder": "reminder",
    "replay": "replay",
}


def signed_in(request: web.Request) -> Viewer | web.Response:
    viewer = viewer_of(request, request.match_info["slug"])
    if viewer is None:
        return request.app[appkeys.PAGES].render(
            "signin.html", None, status=401, title="rdv", state="needed"
        )
    return viewer


async def event_of(request: web.Request) -> m.Event:
    async with request.app[appkeys.DB]() as db:
        event = await db.scalar(select(m.Event).where(m.Event.slug == request.match_info["slug"]))
    if event is None:
        raise web.HTTPNotFound(text=f"no event {request.match_info['slug']}")
    return event


def whole(value: str | None, default: int = 1) -> int:
    try:
        return max(int(value or default), 1)
    except ValueError:
        return default


def render(
    request: web.Request,
    template: str,
    event: m.Event,
    viewer: Viewer,
    section: str,
    status: int = 200,
    here: str | None = None,
    **context: Any,
) -> web.Response:
    """A workspace page; `here` is where its forms come back to (the page's own address)."""
    pages = request.app[appkeys.PAGES]
    language = pages.language(event.locale)
    zone = event.timezone

    def when(moment: datetime) -> str:
        return f"{language.date(moment, zone)} {language.time(moment, zone)}"

    done = request.query.get("done", "")
    return pages.render(
        template,
        event.locale,
        status=status,
        title=event.title,
        event=event,
        viewer=viewer,
        section=section,
        sections=SECTIONS,
        csrf=csrf_token(request) if viewer.can_act else "",
        csrf_any=csrf_token(request),  # signing out is for followups too
        done=DONE.get(done, ""),
        label=lambda word: LABELS.get(str(word), str(word)),
        when=when,
        hour=lambda moment: language.time(moment, zone),
        here=here or _link(request.path, {k: v for k, v in request.query.items() if k != "done"}),
        at_text=lambda text: when(datetime.fromisoformat(text.replace("Z", "+00:00"))),
        local=lambda moment: moment.astimezone(ZoneInfo(zone)),
        base=f"/admin/{event.slug}",
        **context,
    )


def _link(base: str, query: dict[str, Any]) -> str:
    kept = {name: value for name, value in query.items() if value not in ("", None, 1)}
    return f"{base}?{urlencode(kept)}" if kept else base


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def pager(base: str, shown: dict[str, Any], table: Page) -> dict[str, Any]:
    """The links to the pages before and after this one, keeping what the table shows."""
    return {
        "previous": _link(base, {**shown, "page": table.page - 1}) if table.page > 1 else None,
        "following": (
            _link(base, {**shown, "page": table.page + 1}) if table.page < table.pages else None
        ),
    }


@routes.get("/admin/template.xlsx")
async def template(request: web.Request) -> web.StreamResponse:
    """The example event as a workbook, to fill in: public, it holds nothing of anyone's."""
    body = await request.app[appkeys.UPLOADS].template()
    disposition = 'attachment; filename="rdv-program-template.xlsx"'
    return web.Response(body=body, content_type=XLSX, headers={"Content-Disposition": disposition})


@routes.get("/admin/{slug}")
async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"/admin/{request.match_info['slug']}/sessions")


@routes.get("/admin/{slug}/program.{form:json|xlsx}")
async def program_file(request: web.Request) -> web.StreamResponse:
    """The event as it stands, as a program file (JSON or workbook): to edit and upload again."""
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    slug, form = request.match_info["slug"], request.match_info["form"]
    async with request.app[appkeys.DB]() as db:
        document = await export_document(db, slug)
    if document is None:
        raise web.HTTPNotFound(text=f"no event {slug}")
    disposition = {"Content-Disposition": f'attachment; filename="{slug}.{form}"'}
    if form == "xlsx":
        body = await asyncio.to_thread(export_workbook, document)
        return web.Response(body=body, content_type=XLSX, headers=disposition)
    return web.json_response(
        document,
        dumps=lambda value: json.dumps(value, ensure_ascii=False, indent=1),
        headers=disposition,
    )


@routes.get("/admin/{slug}/sessions")
async def sessions(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    event = await event_of(request)
    query = request.query
    filters = Filters(
        q=query.get("q", "").strip()[:100],
        state=query.get("state", ""),
        day=query.get("day", ""),
        organisation=query.get("organisation", ""),
        page=whole(query.get("page")),
    )
    return await sessions_view(request, event, viewer, filters)


async def sessions_view(
    request: web.Request,
    event: m.Event,
    viewer: Viewer,
    filters: Filters,
    *,
    problems: list[str] | None = None,
    back: str | None = None,
) -> web.Response:
    """The sessions page as `filters` narrow it; with `problems`, what a change was refused for
    (status 422), its forms going `back` where the refused one would have."""
    async with request.app[appkeys.DB]() as db:
        found = await sessions_page(db, event, filters)
    base = f"/admin/{event.slug}/sessions"
    shown = {"q": filters.q, "state": filters.state, "day": filters.day}
    shown["organisation"] = filters.organisation
    return render(
        request,
        "admin_sessions.html",
        event,
        viewer,
        "sessions",
        status=422 if problems else 200,
        here=back,
        table=found,
        filters=filters,
        states=list(RoomState),
        providers=sorted(request.app[appkeys.SETTINGS].configured_providers()),
        **pager(base, shown, found),
        problems=problems or [],
    )


@routes.get("/admin/{slug}/people")
async def people(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    event = await event_of(request)
    query = request.query
    filters = Filters(
        q=query.get("q", "").strip()[:100],
        organisation=query.get("organisation", ""),
        page=whole(query.get("page")),
    )
    async with request.app[appkeys.DB]() as db:
        found = await people_page(db, event, filters)
    base = f"/admin/{event.slug}/people"
    shown = {"q": filters.q, "organisation": filters.organisation}
    return render(
        request,
        "admin_people.html",
        event,
        viewer,
        "people",
        table=found,
        filters=filters,
        **pager(base, shown, found),
    )


@routes.get("/admin/{slug}/mail")
async def mail(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    event = await event_of(request)
    state = request.query.get("state", "failed")
    async with request.app[appkeys.DB]() as db:
        found = await mail_page(db, event, state, whole(request.query.get("page")))
    base = f"/admin/{event.slug}/mail"
    chosen = found.options["state"]
    return render(
        request,
        "admin_mail.html",
        event,
        viewer,
        "mail",
        table=found,
        states=MAIL_STATES,
        **pager(base, {"state": chosen}, found),
    )


@routes.get("/admin/{slug}/audit")
async def audit(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    event = await event_of(request)
    async with request.app[appkeys.DB]() as db:
        found = await audit_page(db, event, whole(request.query.get("page")))
    base = f"/admin/{event.slug}/audit"
    return render(
        request,
        "admin_audit.html",
        event,
        viewer,
        "audit",
        table=found,
        **pager(base, {}, found),
    )
