"""Liveness and readiness."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from .. import appkeys
from ..db import models as m
from ..db.mail import MAIL_STATES, MailMessage, MailPlan
from ..db.states import RoomState

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    try:
        async with request.app[appkeys.ENGINE].connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure means "not ready", and says which kind
        return web.json_response(
            {"status": "unavailable", "database": type(error).__name__}, status=503
        )
    return web.json_response({"status": "ok", "database": "ok"})


@routes.get("/metrics")
async def metrics_endpoint(request: web.Request) -> web.Response:
    """The counters, with the outbox and rooms read from the database at scrape time."""
    app = request.app
    metrics = app[appkeys.METRICS]
    async with app[appkeys.DB]() as db:
        mail = dict(
            (
                await db.execute(
                    select(MailMessage.status, func.count()).group_by(MailMessage.status)
                )
            ).all()
        )
        rooms = dict(
            (await db.execute(select(m.Room.state, func.count()).group_by(m.Room.state))).all()
        )
        plans = await db.scalar(select(func.count()).select_from(MailPlan))
    for state in MAIL_STATES:
        metrics.outbox.labels(state).set(mail.get(state, 0))
    metrics.mail_plans.set(plans or 0)
    for state in RoomState:
        metrics.rooms.labels(state).set(rooms.get(state, 0))
    return web.Response(
        body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
