"""`/api/v1/events/{slug}/mail`: the outbox as organisers see it, failures with their reasons."""

from __future__ import annotations

from aiohttp import web
from msgspec import UNSET
from sqlalchemy import func, select

from .. import appkeys
from ..db import models as m
from ..db.mail import MAIL_STATES, MailMessage
from .bodies import read_query
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas import mail as shapes
from .views import stored_as, utc_text

api = Operations()
routes = api.routes
PAGE = 500


@api.route(
    "GET",
    "/api/v1/events/{slug}/mail",
    "The mail outbox: pending, sent and failed messages, with reasons",
    query=shapes.MailQuery,
    responses={
        200: Answer(shapes.Outbox, f"counts by state and the latest {PAGE} messages"),
        404: "no such event",
    },
)
async def list_mail(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    status = read_query(request, shapes.MailQuery).status
    async with request.app[appkeys.DB]() as db:
        event_id = await db.scalar(select(m.Event.id).where(m.Event.slug == slug))
        if event_id is None:
            raise ApiError(404, f'no event "{slug}"')
        counts: dict[str, int] = {
            state: count
            for state, count in await db.execute(
                select(MailMessage.status, func.count())
                .where(MailMessage.event_id == event_id)
                .group_by(MailMessage.status)
            )
        }
        query = (
            select(
                MailMessage.id,
                MailMessage.kind,
                MailMessage.recipient,
                MailMessage.subject,
                MailMessage.status,
                MailMessage.attempts,
                MailMessage.next_attempt_at,
                MailMessage.last_error,
                MailMessage.created_at,
                MailMessage.sent_at,
                m.Session.key.label("session"),
            )
            .outerjoin(m.Session, m.Session.id == MailMessage.session_id)
            .where(MailMessage.event_id == event_id)
            .order_by(MailMessage.id.desc())
            .limit(PAGE)
        )
        if status is not UNSET:
            query = query.where(MailMessage.status == status)
        rows = (await db.execute(query)).all()
    messages = [
        shapes.MailMessage(
            id=row.id,
            kind=stored_as(shapes.MailKind, row.kind),
            session=row.session,
            recipient=row.recipient,
            subject=row.subject,
            status=stored_as(shapes.MailStatus, row.status),
            attempts=row.attempts,
            next_attempt_at=utc_text(row.next_attempt_at) if row.status == "pending" else None,
            last_error=row.last_error,
            created_at=utc_text(row.created_at),
            sent_at=utc_text(row.sent_at) if row.sent_at else None,
        )
        for row in rows
    ]
    counted = shapes.MailCounts(**{state: counts.get(state, 0) for state in MAIL_STATES})
    return reply(shapes.Outbox(counts=counted, messages=messages))
