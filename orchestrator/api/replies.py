"""Every JSON answer of the API leaves here: a Struct encoded by msgspec, errors included."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import msgspec
from aiohttp import web

from .schemas.common import Error, ErrorDetail, Problem


def reply(
    body: msgspec.Struct | msgspec.Raw,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    try:
        data = msgspec.json.encode(body)
    except UnicodeEncodeError:  # a lone surrogate a client sent, echoed: escape it as JSON may
        data = json.dumps(msgspec.to_builtins(body)).encode()
    return web.Response(
        body=data,
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def error_reply(
    status: int,
    code: str,
    message: str,
    details: Sequence[Problem] = (),
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    detail = ErrorDetail(code=code, message=message, details=list(details))
    return reply(Error(error=detail), status, headers)
