"""`/admin/{slug}/webhooks`: the event's outbound webhooks in the workspace, for organisers only
(a receiver's address may hold its credentials): each subscription with its state and its recent
deliveries, a form to subscribe a receiver (its secret shown on the page that answers, once),
"resend" for a delivery, "end" for a subscription. The same service functions as the API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from webhooks.outbound import EVENT_TYPES, BadSubscription

from .. import appkeys
from ..outbound.subscriptions import NoSuchSubscription, end, resend, subscribe, subscriptions_of
from ..program.audit import Author
from .viewers import Viewer, csrf_ok
from .workspace import STALE_FORM, event_of, render, signed_in
from .workspace_changes import author_of, changing

routes = web.RouteTableDef()

# What a refused subscription is told, by `BadSubscription.code` (messages of the catalogues).
REFUSED = {
    "empty": "give the receiver's address.",
    "invalid": "this is not a valid address.",
    "https": "the address must start with https://.",
    "credentials": "the address must not hold a user name or password: the signature proves "
    "where deliveries come from.",
    "private": "the address is inside rdv's own network (loopback, private or link-local); "
    "receivers must be on the internet unless the operator allows private ones.",
    "events": "choose among the changes listed.",
    "too-many": "this event has as many receivers as it may: end one first.",
}
# What each change is, beside its name (messages of the catalogues).
TYPES = {
    "session.changed": "a session created or changed (time, title, people)",
    "session.cancelled": "a session cancelled",
    "seat.answered": "someone accepted or declined their meeting",
    "meeting.held": "a meeting held, once its room has closed",
    "meeting.not-held": "a meeting not held, and why",
    "attendee.no-show": "someone who never came",
    "outcome.recorded": "what someone said came of their meeting",
    "request.changed": "a meeting request sent, answered or withdrawn",
}


async def _page(
    request: web.Request,
    viewer: Viewer,
    *,
    status: int = 200,
    secret: str = "",
    refused: str = "",
    asked: dict[str, str] | None = None,
) -> web.Response:
    event = await event_of(request)
    async with request.app[appkeys.DB]() as db:
        subscriptions = await subscriptions_of(db, event.id)
    return render(
        request,
        "admin_webhooks.html",
        event,
        viewer,
        "webhooks",
        status=status,
        here=f"/admin/{event.slug}/webhooks",
        subscriptions=subscriptions,
        event_types=EVENT_TYPES,
        secret=secret,
        refused=refused,
        refused_text=lambda code: REFUSED.get(code, REFUSED["invalid"]),
        type_text=lambda kind: TYPES.get(kind, ""),
        asked=asked or {},
    )


def _organiser(request: web.Request) -> Viewer | web.Response:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    if not viewer.can_act:
        raise web.HTTPForbidden(
            text="webhooks are for organisers: a followup sign-in cannot see them"
        )
    return viewer


@routes.get("/admin/{slug}/webhooks")
async def webhooks_page(request: web.Request) -> web.StreamResponse:
    viewer = _organiser(request)
    if isinstance(viewer, web.Response):
        return viewer
    return await _page(request, viewer)


@routes.post("/admin/{slug}/webhooks")
async def subscribe_receiver(request: web.Request) -> web.StreamResponse:
    """Answers with the page itself, the secret on it: it is shown this once, and never put in
    an address (a redirect would leave it in logs and the browser's history)."""
    viewer = _organiser(request)
    if isinstance(viewer, web.Response):
        return viewer
    posted = await request.post()
    if not csrf_ok(request, posted.get("csrf")):
        raise web.HTTPForbidden(text=STALE_FORM)
    url = str(posted.get("url", ""))
    kinds = [str(kind) for kind in posted.getall("events", [])]
    app = request.app
    event = await event_of(request)
    try:
        async with app[appkeys.DB]() as db, db.begin():
            _, secret = await subscribe(
                db,
                event.id,
                url,
                kinds or None,
                allow_private=app[appkeys.SETTINGS].webhook_allow_private,
                now=app[appkeys.CLOCK].now(),
                author=author_of(viewer),
            )
    except BadSubscription as error:
        return await _page(request, viewer, status=422, refused=error.code, asked={"url": url})
    return await _page(request, viewer, status=201, secret=secret)


@routes.post("/admin/{slug}/webhooks/{subscription}/end")
@changing("webhooks")
async def end_subscription(
    request: web.Request, form: dict[str, str], author: Author, now: datetime
) -> str:
    await _on(request, "subscription", lambda db, event, which: end(db, event, which, now, author))
    return "webhook-ended"


@routes.post("/admin/{slug}/webhooks/deliveries/{delivery}/resend")
@changing("webhooks")
async def resend_delivery(
    request: web.Request, form: dict[str, str], author: Author, now: datetime
) -> str:
    await _on(request, "delivery", lambda db, event, which: resend(db, event, which, now, author))
    return "webhook-resent"


async def _on(
    request: web.Request,
    name: str,
    act: Callable[[AsyncSession, int, int], Awaitable[object]],
) -> None:
    """`act` on the subscription or delivery the path names (its number), in a transaction of
    its own; 404 when this event has none such."""
    event = await event_of(request)
    which = request.match_info[name]
    async with request.app[appkeys.DB]() as db, db.begin():
        try:
            await act(db, event.id, int(which) if which.isdigit() else 0)
        except NoSuchSubscription as error:
            raise web.HTTPNotFound(text=str(error)) from None
