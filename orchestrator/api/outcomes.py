"""`/o/{token}`: what came of a meeting, as one side says. The mail's links name an answer
(`/o/{token}/{label}`): the page they open records it at once from the browser (a form sent
as the page loads; mail scanners, which run no scripts, record nothing), or with its button
without JavaScript; then a comment only the organisers read may be added."""

from __future__ import annotations

from aiohttp import web

from calendars.outcome_text import LABEL_TEXT

from .. import appkeys
from ..participants.outcomes import Question, question_of, record_answer

routes = web.RouteTableDef()


def _page(
    request: web.Request, question: Question, *, chosen: str | None, saved: bool
) -> web.Response:
    app = request.app
    language = app[appkeys.PAGES].language(question.locale)
    session, event = question.session, question.event
    return app[appkeys.PAGES].render(
        "outcome.html",
        question.locale,
        title=session.title,
        event=event,
        session=session,
        when=language.when(session.starts_at, session.ends_at, event.timezone),
        outcome=question.outcome,
        labels=[(label, LABEL_TEXT[label]) for label in question.labels],
        chosen=chosen,
        saved=saved,
        later=question.outcome.stage == "later",
        token=question.outcome.token,
    )


def _unknown(request: web.Request) -> web.Response:
    return request.app[appkeys.PAGES].render(
        "join.html", None, status=404, state="unknown", title="rdv"
    )


@routes.get("/o/{token}")
async def question(request: web.Request) -> web.StreamResponse:
    async with request.app[appkeys.DB]() as db:
        found = await question_of(db, request.match_info["token"])
    if found is None:
        return _unknown(request)
    saved = bool(request.query.get("saved"))
    return _page(request, found, chosen=found.outcome.answer, saved=saved)


@routes.get("/o/{token}/{label}")
async def one_click(request: web.Request) -> web.StreamResponse:
    """The mail's link: the answer it names, sent by the page itself as it loads."""
    async with request.app[appkeys.DB]() as db:
        found = await question_of(db, request.match_info["token"])
    label = request.match_info["label"]
    if found is None or label not in found.labels:
        return _unknown(request)
    if found.outcome.answer == label:  # answered so already (a second click)
        return _page(request, found, chosen=label, saved=True)
    return _page(request, found, chosen=label, saved=False)


@routes.post("/o/{token}")
async def answer(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    token = request.match_info["token"]
    now = request.app[appkeys.CLOCK].now()
    async with request.app[appkeys.DB]() as db, db.begin():
        found = await question_of(db, token)
        if found is None:
            return _unknown(request)
        comment = form.get("comment")
        taken = await record_answer(
            db,
            found,
            str(form.get("answer", "")),
            str(comment) if comment is not None else None,
            now,
        )
    if not taken:
        raise web.HTTPBadRequest(text="answer must be one of: " + ", ".join(found.labels))
    raise web.HTTPSeeOther(f"/o/{token}?saved=1")
