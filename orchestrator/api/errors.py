"""The API's one error format and the middleware that guarantees it; and the short page that
tells a person in a browser why a request was refused."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from calendars.i18n import LOCALES

from ..pages import Pages
from ..program.problems import ProgramError
from .replies import error_reply
from .schemas import common

log = logging.getLogger("rdv.api")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_program",
    500: "internal",
}


class ApiError(Exception):
    """An answer other than success, with the SPEC's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        details: Sequence[common.Problem] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _STATUS_CODES.get(status, "error")
        self.message = message
        self.details = list(details)
        self.headers = headers or {}

    @classmethod
    def from_program(cls, error: ProgramError) -> ApiError:
        return cls(
            422,
            str(error),
            code="invalid_program",
            details=[
                common.Problem(place=problem.place, message=problem.message)
                for problem in error.problems
            ],
        )

    def response(self) -> web.Response:
        return error_reply(self.status, self.code, self.message, self.details, self.headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every API failure leaves as the error format; nothing leaves as a bare 500 page."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except ProgramError as error:
        return ApiError.from_program(error).response()
    except web.HTTPException as error:
        if error.status < 400 or not request.path.startswith("/api/"):
            raise
        code = _STATUS_CODES.get(error.status, "error")
        headers = {k: v for k, v in error.headers.items() if k.lower() == "allow"}
        return error_reply(error.status, code, error.reason, headers=headers)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, route_of(request))
        return error_reply(500, "internal", "internal error; the details are in the server log")


def route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "?"


def browser_locale(accept_language: str) -> str | None:
    """The language of ours the browser prefers most (by its `q`), or None for the default."""
    ranked: list[tuple[float, int, str]] = []
    for place, item in enumerate(accept_language.split(",")):
        tag, _, parameters = item.partition(";")
        weight = 1.0
        name, _, value = parameters.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
        language = tag.strip().split("-")[0].lower()
        if language in LOCALES and weight > 0:
            ranked.append((-weight, place, language))
    return min(ranked)[2] if ranked else None


def refused_page(
    request: web.Request,
    pages: Pages,
    status: int,
    state: str,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> web.Response:
    """`refused.html` in the browser's language: who cannot be looked up (no link opened yet)
    is answered in the language they asked for."""
    return pages.render(
        "refused.html",
        browser_locale(request.headers.get("Accept-Language", "")),
        status=status,
        headers=headers,
        title="rdv",
        state=state,
        **context,
    )
