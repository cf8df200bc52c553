"""`PUT /api/v1/events/{slug}/sessions/{key}/attendees/{person}/answer`: an organiser records a
seat's answer for the person (who phoned, or wrote to a person): source `organiser`. It does what
the person's own answer does: the dashboard shows it, a decline mails the other side and the
organisers, and with `"refill": "auto"` the meeting is offered to the open requests."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select

from .. import appkeys
from ..db import models as m
from ..db.base import names_nothing
from ..mail.declines import after_answer
from ..participants.answers import Given, Unanswerable, answer_seat, seat_for
from .bodies import read_struct
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas.answers import AnswerGiven, SeatAnswered

api = Operations()
routes = api.routes


@api.route(
    "PUT",
    "/api/v1/events/{slug}/sessions/{key}/attendees/{person}/answer",
    "Record a seat's answer on the person's behalf (source: organiser)",
    access="write",
    body=AnswerGiven,
    responses={
        200: Answer(SeatAnswered, "the seat's answer now"),
        404: "no such event, person, or seat of theirs in that session",
        422: "the session is over or cancelled",
    },
)
async def put_answer(request: web.Request) -> web.Response:
    app, info = request.app, request.match_info
    given = await read_struct(request, AnswerGiven)
    now = app[appkeys.CLOCK].now()
    if names_nothing(info["person"]):
        raise ApiError(404, "no such person")
    async with app[appkeys.DB]() as db, db.begin():
        person = await db.scalar(
            select(m.Person)
            .join(m.Event, m.Event.id == m.Person.event_id)
            .where(
                m.Event.slug == info["slug"],
                m.Person.key == info["person"],
                m.Person.removed_at.is_(None),
            )
        )
        found = await seat_for(db, person, info["key"]) if person is not None else None
        if person is None or found is None:
            raise ApiError(
                404, f'no seat of "{info["person"]}" in session "{info["key"]}" of this event'
            )
        seat, session = found
        previous = seat.answer
        try:
            changed = await answer_seat(
                db, seat, session, Given(given.answer, "organiser", given.reason), now
            )
        except Unanswerable as why:
            raise ApiError(422, str(why)) from None
        queued = changed and await after_answer(
            db, session, seat, previous, sender=app[appkeys.SETTINGS].mail_from, now=now
        )
        answered = SeatAnswered(
            session=session.key,
            person=person.key,
            answer=seat.answer,  # type: ignore[arg-type]
            answered_at=seat.answered_at.isoformat().replace("+00:00", "Z")
            if seat.answered_at
            else None,
            answer_source=seat.answer_source,  # type: ignore[arg-type]
            answer_reason=seat.answer_reason,
            changed=changed,
        )
    if changed:
        app[appkeys.FEED].wake_soon()
        if queued:
            app[appkeys.OUTBOX].wake()
        if given.answer == "declined":
            app[appkeys.REFILL].soon(session.event_id)
    return reply(answered)
