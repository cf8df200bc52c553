"""`/admin/{slug}/requests`: participants' meeting requests in the workspace. Every company
against every directorate with what one asked the other; the requests, those waiting first, an
organiser answering for a directorate that does not; then the day: a preview of where the
scheduler would place the accepted requests (nothing written), and "apply" to write them as
meetings, whose invites follow. Both run beside the page (`workspace/runs.py`), which shows how
they go until they are over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from .. import appkeys
from ..db.audit import record
from ..mail.request_notices import AgendaReady, queue_request_mail
from ..participants.meeting_requests import Refused, answer_request
from ..program.audit import Author, hooks, recorder
from ..program.schedule import schedule_event
from ..program.schedule_outcome import Outcome
from ..progress import Progress
from ..workspace.requests import requests_overview
from ..workspace.runs import Run
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
    run = app[appkeys.RUNS].current(event.slug) if viewer.can_act else None
    outcome = run.outcome if run is not None else None
    why = request.query.get("why", "") or (run.failure or "" if run is not None else "")
    pages = app[appkeys.PAGES]
    return render(
        request,
        "admin_requests.html",
        event,
        viewer,
        "requests",
        overview=overview,
        run=run,
        running=said(pages.language(event.locale).gettext, run) if run and not run.over else "",
        preview=outcome.lines() if outcome is not None and run and run.kind == "preview" else None,
        applied=outcome.lines() if outcome is not None and run and run.kind == "apply" else None,
        refused=REFUSED.get(why, ""),
    )


@routes.get("/admin/{slug}/requests/run")
async def run_state(request: web.Request) -> web.StreamResponse:
    """How the event's scheduling run goes, for the requests page to show as it runs."""
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    event = await event_of(request)
    run = request.app[appkeys.RUNS].current(event.slug)
    if run is None:
        return web.json_response({"running": False, "said": ""})
    translate = request.app[appkeys.PAGES].language(event.locale).gettext
    return web.json_response({"running": not run.over, "said": said(translate, run)})


def said(translate: Callable[[str], str], run: Run) -> str:
    """How a run goes, in the event's language: its phase, the best placement so far with its
    bound and gap, the time left."""
    latest = run.progress.latest
    parts = [translate(latest.phase)] if latest.phase else [translate("starting")]
    if latest.total:
        parts.append(translate("{done} of {total}").format(done=latest.done, total=latest.total))
    if latest.found is not None and latest.bound is not None and latest.gap is not None:
        parts.append(
            translate("best so far {found}, bound {bound}, gap {gap}").format(
                found=f"{latest.found:g}", bound=f"{latest.bound:g}", gap=f"{latest.gap:.1%}"
            )
        )
    left = latest.left(run.progress.clock())
    if left is not None:
        parts.append(translate("{seconds} s left").format(seconds=f"{left:.0f}"))
    return " · ".join(parts)


@routes.post("/admin/{slug}/requests/preview")
@changing("requests")
async def preview(request: web.Request, form: dict[str, str], author: Author, now: datetime) -> str:
    """Starts a preview: where the scheduler would place the accepted requests (nothing is
    written); the requests page shows how it goes, then the placement."""
    await start_run(request, "preview", now, dry_run=True)
    return "previewing"


async def start_run(request: web.Request, kind: str, now: datetime, **options: Any) -> None:
    """Starts the event's scheduling run beside the page, unless one is running."""
    app = request.app
    event = await event_of(request)

    async def work(progress: Progress) -> Outcome:
        return await schedule_event(
            app[appkeys.DB],
            app[appkeys.SETTINGS],
            event.slug,
            now=now,
            time_limit=PREVIEW_SECONDS,
            progress=progress,
            **options,
        )

    app[appkeys.RUNS].start(event.slug, kind, work)


REFUSED = {
    "pending": "This request is waiting for its answer.",
    "accepted": "This request is accepted already.",
    "declined": "This request is declined already.",
    "expired": "This request expired when requests closed.",
    "unknown": "There is no such request.",
    "changed": "The event changed while scheduling: preview again.",
    "failed": "The scheduling run failed: the service's log says why. Try again.",
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
    """Starts writing the placement the preview showed (the scheduler runs again: same data,
    same placement); the invites follow. The requests page shows how it goes."""
    app = request.app
    on_change = hooks(
        app[appkeys.INVITES].queue,
        AgendaReady(app[appkeys.SETTINGS], app[appkeys.WRITER]),
        recorder(author, "schedule"),
    )
    await start_run(request, "apply", now, on_change=on_change)
    return "scheduling"
