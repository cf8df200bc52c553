"""The API's one error format, the middleware that guarantees it, and safe body reading."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from ..program.problems import Problem, ProgramError

log = logging.getLogger("rdv.api")

DEFAULT_BODY_LIMIT = 1024 * 1024
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
        details: Sequence[dict[str, Any]] = (),
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
            details=[problem.as_dict() for problem in error.problems],
        )

    def response(self) -> web.Response:
        return error_response(self.status, self.code, self.message, self.details, self.headers)


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[dict[str, Any]] = (),
    headers: dict[str, str] | None = None,
) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": list(details)}}
    return web.json_response(body, status=status, headers=headers)


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
        return error_response(error.status, code, error.reason, headers=headers)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, _route_of(request))
        return error_response(500, "internal", "internal error; the details are in the server log")


def _route_of(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "?"


async def read_body(request: web.Request, limit: int = DEFAULT_BODY_LIMIT) -> bytes:
    """The raw body, refused with 413 as soon as it passes `limit` (chunked bodies too)."""
    too_large = ApiError(413, f"the body is larger than {limit} bytes")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise too_large
    return bytes(data)


async def read_json_object(request: web.Request, limit: int = DEFAULT_BODY_LIMIT) -> dict[str, Any]:
    data = await read_body(request, limit)
    if not data.strip():
        raise ApiError(400, "the body is empty; expected a JSON object")
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise ApiError(400, f"the body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "expected a JSON object")
    return value


def names_nothing(value: str) -> bool:
    """A path or query value with a NUL: no key, slug or token holds one (validation refuses
    control characters), and PostgreSQL refuses one even in a comparison."""
    return "\x00" in value


def problems_error(problems: Sequence[Problem]) -> ApiError:
    return ApiError.from_program(ProgramError(list(problems)))
