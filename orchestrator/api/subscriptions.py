"""`/api/v1/events/{slug}/webhooks`: an organiser subscribes a receiver (a CRM, a data
warehouse) to the event's changes, lists the subscriptions with their recent deliveries, resends
one delivery, and ends a subscription. Organiser tokens only: a receiver's address may hold its
own credentials."""

from __future__ import annotations

import msgspec
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks.outbound import BadSubscription

from .. import appkeys
from ..db import models as m
from ..outbound.subscriptions import (
    NoSuchSubscription,
    SubscriptionView,
    end,
    resend,
    subscribe,
    subscriptions_of,
)
from .auth import author
from .bodies import read_struct
from .errors import ApiError
from .operations import Answer, Operations
from .replies import reply
from .schemas.subscriptions import (
    Resent,
    SubscriptionAsked,
    SubscriptionMade,
    Subscriptions,
)
from .views import utc_text

api = Operations()
routes = api.routes
HOOKS = "/api/v1/events/{slug}/webhooks"


async def _event_id(db: AsyncSession, slug: str) -> int:
    found = await db.scalar(select(m.Event.id).where(m.Event.slug == slug))
    if found is None:
        raise ApiError(404, f'no event "{slug}"')
    return found


def shown(view: SubscriptionView) -> dict[str, object]:
    return {
        "id": view.id,
        "url": view.url,
        "events": list(view.events),
        "state": view.state,
        "created_at": utc_text(view.created_at),
        "failing_since": view.failing_since and utc_text(view.failing_since),
        "last_delivered_at": view.last_delivered_at and utc_text(view.last_delivered_at),
        "waiting": view.waiting,
        "failed": view.failed,
        "recent": [
            {
                "id": d.id,
                "webhook_id": d.webhook_id,
                "type": d.kind,
                "status": d.status,
                "attempts": d.attempts,
                "last_status": d.last_status,
                "last_error": d.last_error,
                "created_at": utc_text(d.created_at),
                "next_attempt_at": d.next_attempt_at and utc_text(d.next_attempt_at),
                "delivered_at": d.delivered_at and utc_text(d.delivered_at),
            }
            for d in view.recent
        ],
    }


@api.route(
    "POST",
    HOOKS,
    "Subscribe a receiver to the event's changes (Standard Webhooks); the secret is shown once",
    access="write",
    body=SubscriptionAsked,
    responses={
        201: Answer(SubscriptionMade, "the subscription, with its signing secret"),
        404: "no such event",
        422: "the address or an event type is refused (the message says why)",
    },
)
async def post_webhook(request: web.Request) -> web.Response:
    app, slug = request.app, request.match_info["slug"]
    asked = await read_struct(request, SubscriptionAsked)
    now = app[appkeys.CLOCK].now()
    async with app[appkeys.DB]() as db, db.begin():
        event_id = await _event_id(db, slug)
        try:
            made, secret = await subscribe(
                db,
                event_id,
                asked.url,
                asked.events,
                allow_private=app[appkeys.SETTINGS].webhook_allow_private,
                now=now,
                author=author(request),
            )
        except BadSubscription as error:
            raise ApiError(422, str(error)) from None
    body = {
        "id": made.id,
        "url": made.url,
        "events": made.event_types,
        "secret": secret,
        "created_at": utc_text(made.created_at),
    }
    return reply(msgspec.convert(body, SubscriptionMade), status=201)


@api.route(
    "GET",
    HOOKS,
    "The event's live subscriptions, each with its recent deliveries",
    access="write",
    responses={200: Answer(Subscriptions, "the subscriptions"), 404: "no such event"},
)
async def get_webhooks(request: web.Request) -> web.Response:
    slug = request.match_info["slug"]
    async with request.app[appkeys.DB]() as db:
        views = await subscriptions_of(db, await _event_id(db, slug))
    body = {"event": slug, "subscriptions": [shown(view) for view in views]}
    return reply(msgspec.convert(body, Subscriptions))


@api.route(
    "DELETE",
    HOOKS + "/{id}",
    "End a subscription: nothing more is stored or sent for it",
    access="write",
    responses={204: "ended", 404: "no such event or live subscription"},
)
async def delete_webhook(request: web.Request) -> web.Response:
    app, slug = request.app, request.match_info["slug"]
    number = _number(request.match_info["id"])
    async with app[appkeys.DB]() as db, db.begin():
        try:
            await end(
                db, await _event_id(db, slug), number, app[appkeys.CLOCK].now(), author(request)
            )
        except NoSuchSubscription as error:
            raise ApiError(404, str(error)) from None
    return web.Response(status=204)


@api.route(
    "POST",
    HOOKS + "/deliveries/{delivery}/resend",
    "Send one delivery again (same webhook-id), retried for a day from now",
    access="write",
    responses={
        200: Answer(Resent, "the delivery is due now"),
        404: "no such event, or no such delivery of a live subscription",
    },
)
async def resend_delivery(request: web.Request) -> web.Response:
    app, slug = request.app, request.match_info["slug"]
    number = _number(request.match_info["delivery"])
    async with app[appkeys.DB]() as db, db.begin():
        try:
            webhook_id = await resend(
                db, await _event_id(db, slug), number, app[appkeys.CLOCK].now(), author(request)
            )
        except NoSuchSubscription as error:
            raise ApiError(404, str(error)) from None
    app[appkeys.WEBHOOKS_OUT].wake()
    return reply(Resent(delivery=number, webhook_id=webhook_id))


def _number(text: str) -> int:
    if not text.isdigit() or len(text) > 12:
        raise ApiError(404, f"no subscription or delivery {text[:20]!r}")
    return int(text)
