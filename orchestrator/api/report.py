"""`/events/{slug}/report`: the follow-up report page, and its CSV exports, for signed-in readers
(followup or organiser)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import select

from calendars.outcome_text import LABEL_TEXT

from .. import appkeys
from ..attendance.export import attendance_csv, csv_bytes
from ..attendance.log import as_dict, event_attendance
from ..db import models as m
from ..report.charts import counts_chart, held_chart, presence_chart
from ..report.extras import extra_figures
from ..report.model import Report, build_report
from ..report.outcomes import COLUMNS as OUTCOME_COLUMNS
from ..report.outcomes import answer_rows, next_steps, outcome_answers, outcome_figures
from .viewers import viewer_of

routes = web.RouteTableDef()
MEETING_COLUMNS = (
    ("key", "session"),
    ("time", "local start"),
    ("title", "title"),
    ("held", "held"),
    ("minutes", "minutes together"),
    ("missing", "missing"),
    ("substitutes", "substitutes"),
    ("contacts", "contacts"),
)
NO_SHOW_COLUMNS = (
    ("name", "person"),
    ("organisation", "organisation"),
    ("email", "email"),
    ("session", "session"),
)


async def _report(request: web.Request) -> tuple[m.Event, Report, list[Any]] | web.Response:
    slug = request.match_info["slug"]
    app = request.app
    if viewer_of(request, slug) is None:
        return app[appkeys.PAGES].render(
            "signin.html", None, status=401, title="rdv", state="needed"
        )
    now, marks = app[appkeys.CLOCK].now(), app[appkeys.SETTINGS].marks
    async with app[appkeys.DB]() as db:
        found = await event_attendance(db, slug, now=now, marks=marks)
        if found is None:
            raise web.HTTPNotFound(text=f"no event {slug}")
        event, outcomes = found
        extra = await extra_figures(db, event.id, now)
    zone = ZoneInfo(event.timezone)
    return event, build_report(slug, event.title, zone, outcomes, extra), outcomes


@routes.get("/events/{slug}/report")
async def report_page(request: web.Request) -> web.StreamResponse:
    found = await _report(request)
    if isinstance(found, web.Response):
        return found
    event, report, _ = found
    async with request.app[appkeys.DB]() as db:
        said = outcome_figures(await outcome_answers(db, event.id))
    pages = request.app[appkeys.PAGES]
    translate = pages.language(event.locale).gettext
    labelled = [(translate(LABEL_TEXT[label]), n) for label, n in said["after"]["labels"].items()]
    _ = pages.language(event.locale).gettext
    peak = report.figures["plenary_peak"]
    rows = [
        (row["name"], row["held"], row["meetings"] - row["held"])
        for row in report.figures["per_directorate"]
    ]
    return pages.render(
        "report.html",
        event.locale,
        title=event.title,
        report=report,
        said=said,
        label_text=LABEL_TEXT,
        outcomes_svg=counts_chart(labelled, title=translate("What came of the meetings")),
        presence_svg=presence_chart(
            report.curve,
            report.curve_zone,
            title=_("People present in the plenary"),
            peak_label=_("peak: {count}").format(count=peak),
        ),
        held_svg=held_chart(
            rows,
            title=_("Meetings per directorate"),
            held_label=_("held"),
            not_held_label=_("not held"),
        ),
    )


@routes.get("/events/{slug}/report/{name}.csv")
async def report_csv(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in ("attendance", "meetings", "no-shows", "outcomes"):
        raise web.HTTPNotFound(text="no such export")
    found = await _report(request)
    if isinstance(found, web.Response):
        return found
    event, report, outcomes = found
    if name == "outcomes":  # the comments are the organisers' alone
        viewer = viewer_of(request, event.slug)
        async with request.app[appkeys.DB]() as db:
            answers = await outcome_answers(db, event.id)
        rows = answer_rows(
            answers, ZoneInfo(event.timezone), comments=bool(viewer and viewer.can_act)
        )
        body = csv_bytes(OUTCOME_COLUMNS, rows)
    elif name == "attendance":
        body = attendance_csv(
            row for outcome in outcomes for row in as_dict(outcome, ZoneInfo(event.timezone))
        )
    elif name == "meetings":
        meetings = {meeting.key: meeting for cell in report.matrix.values() for meeting in cell}
        body = csv_bytes(
            MEETING_COLUMNS,
            (
                {
                    "key": meeting.key,
                    "time": meeting.time,
                    "title": meeting.title,
                    "held": "yes" if meeting.held else ("no" if meeting.over else "not yet"),
                    "minutes": meeting.minutes,
                    "missing": "; ".join(meeting.missing),
                    "substitutes": "; ".join(meeting.substitutes),
                    "contacts": "; ".join(f"{n} ({o}) <{e}>" for n, o, e in meeting.contacts),
                }
                for meeting in sorted(
                    meetings.values(), key=lambda meeting: (meeting.time, meeting.key)
                )
            ),
        )
    else:
        body = csv_bytes(
            NO_SHOW_COLUMNS,
            (
                {"name": n, "organisation": o, "email": e, "session": s}
                for n, o, e, s in report.no_shows
            ),
        )
    return web.Response(
        body=body,
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{event.slug}-{name}.csv"',
            "Cache-Control": "no-store",
        },
    )


@routes.get("/events/{slug}/follow-up")
async def follow_up_page(request: web.Request) -> web.StreamResponse:
    """Every pair with a next step: the meetings where a side sees something coming of it, with
    both sides' answers and contacts; the comments for organisers only."""
    slug = request.match_info["slug"]
    app = request.app
    viewer = viewer_of(request, slug)
    if viewer is None:
        return app[appkeys.PAGES].render(
            "signin.html", None, status=401, title="rdv", state="needed"
        )
    async with app[appkeys.DB]() as db:
        event = await db.scalar(select(m.Event).where(m.Event.slug == slug))
        if event is None:
            raise web.HTTPNotFound(text=f"no event {slug}")
        pairs = next_steps(await outcome_answers(db, event.id))
    zone = ZoneInfo(event.timezone)
    return app[appkeys.PAGES].render(
        "follow_up.html",
        event.locale,
        title=event.title,
        event=event,
        pairs=pairs,
        label_text=LABEL_TEXT,
        comments=viewer.can_act,
        local=lambda moment: moment.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
    )
