"""`/admin/{slug}/program`: upload a program, see every problem in place or the change it would
make, then apply it or throw it away. Nothing changes before "apply", and a preview made stale by
another change of the event is refused."""

from __future__ import annotations

from datetime import datetime

from aiohttp import BodyPartReader, web

from .. import appkeys
from ..program.archive import MB
from ..program.problems import ProgramError
from ..program.service import NotFound, Stale
from ..workspace.program import UPLOAD_LIMIT
from .viewers import Viewer, csrf_ok
from .workspace import STALE_FORM, event_of, render, signed_in
from .workspace_changes import after_change, author_of

routes = web.RouteTableDef()
MEGABYTES = UPLOAD_LIMIT // MB
TOO_LARGE = "The file is larger than {megabytes} MB: nothing was read."
NO_FILE = "Choose a file to upload."
REFUSALS = (TOO_LARGE, NO_FILE)


@routes.get("/admin/{slug}/program")
async def program_page(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    return await _page(request, viewer)


async def _page(
    request: web.Request,
    viewer: Viewer,
    *,
    status: int = 200,
    problems: list[str] | None = None,
    refusal: str = "",
) -> web.Response:
    event = await event_of(request)
    waiting = await request.app[appkeys.UPLOADS].pending(
        event.slug, request.app[appkeys.CLOCK].now()
    )
    return render(
        request,
        "admin_program.html",
        event,
        viewer,
        "program",
        status=status,
        problems=problems or [],
        refusal=refusal,
        waiting=waiting,
        megabytes=MEGABYTES,
    )


@routes.post("/admin/{slug}/program")
async def upload(request: web.Request) -> web.StreamResponse:
    """The file is read as it arrives, never more than the limit: a 50 MB upload is refused
    without being kept."""
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    if (request.content_length or 0) > UPLOAD_LIMIT + 64 * 1024:
        return await _too_large(request, viewer)
    form: dict[str, str] = {}
    filename, data = "", b""
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "file":
            filename = part.filename or "upload"
            chunks, size = [], 0
            while chunk := await part.read_chunk(64 * 1024):
                size += len(chunk)
                if size > UPLOAD_LIMIT:
                    return await _too_large(request, viewer)
                chunks.append(chunk)
            data = b"".join(chunks)
        elif part.name:
            form[part.name] = (await part.read(decode=True)).decode("utf-8", "replace")[:200]
    _may_change(request, viewer, form)
    if not data:
        return await _page(request, viewer, status=422, refusal=NO_FILE)
    slug = request.match_info["slug"]
    try:
        preview_id = await request.app[appkeys.UPLOADS].preview(
            slug, filename, data, author_of(viewer), request.app[appkeys.CLOCK].now()
        )
    except ProgramError as error:
        return await _page(
            request, viewer, status=422, problems=[str(problem) for problem in error.problems]
        )
    raise web.HTTPSeeOther(f"/admin/{slug}/program/{preview_id}")


async def _too_large(request: web.Request, viewer: Viewer) -> web.Response:
    return await _page(request, viewer, status=413, refusal=TOO_LARGE)


def _may_change(request: web.Request, viewer: Viewer, form: dict[str, str]) -> None:
    if not csrf_ok(request, form.get("csrf")):
        raise web.HTTPForbidden(text=STALE_FORM)
    if not viewer.can_act:
        raise web.HTTPForbidden(text="a followup sign-in can only read")


@routes.get("/admin/{slug}/program/{preview}")
async def preview_page(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    slug = request.match_info["slug"]
    try:
        found = await request.app[appkeys.UPLOADS].shown(
            slug, request.match_info["preview"], request.app[appkeys.CLOCK].now()
        )
    except NotFound as error:
        return await _page(request, viewer, status=404, refusal=str(error))
    event = await event_of(request)
    return render(request, "admin_preview.html", event, viewer, "program", preview=found)


@routes.post("/admin/{slug}/program/{preview}/apply")
async def apply(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    form = {name: str(value) for name, value in (await request.post()).items()}
    _may_change(request, viewer, form)
    slug, app = request.match_info["slug"], request.app
    now: datetime = app[appkeys.CLOCK].now()
    try:
        await app[appkeys.UPLOADS].apply(
            slug, request.match_info["preview"], author_of(viewer), now
        )
    except (Stale, NotFound) as error:
        return await _page(request, viewer, status=409, refusal=str(error))
    except ProgramError as error:  # the stored program no longer fits what is stored now
        return await _page(
            request, viewer, status=409, problems=[str(problem) for problem in error.problems]
        )
    after_change(app)
    raise web.HTTPSeeOther(f"/admin/{slug}/sessions?done=applied")


@routes.post("/admin/{slug}/program/{preview}/discard")
async def discard(request: web.Request) -> web.StreamResponse:
    viewer = signed_in(request)
    if isinstance(viewer, web.Response):
        return viewer
    form = {name: str(value) for name, value in (await request.post()).items()}
    _may_change(request, viewer, form)
    slug = request.match_info["slug"]
    await request.app[appkeys.UPLOADS].discard(slug, request.match_info["preview"])
    raise web.HTTPSeeOther(f"/admin/{slug}/program?done=discarded")
