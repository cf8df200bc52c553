"""One structured line per request, with personal tokens taken out of paths."""

from __future__ import annotations

import json
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

# The first segment of every path whose next segment is a personal token or a one-time secret.
TOKEN_ROUTES = frozenset({"j", "calendar", "login", "me", "room"})
# A route's variable part, `{name}` or `{name:regex}`.
_VARIABLE = re.compile(r"\{(\w+)(?::[^{}]*)?\}")
# Made once: `json.dumps` with options builds a new encoder for every line.
_LINE = json.JSONEncoder(separators=(",", ":"))


def redact_path(path: str) -> str:
    """A path no route took, as a router or a proxy in front may read it (slashes merged, dot
    segments resolved, any case), with what follows a token route's name hidden; query strings
    are never logged."""
    segments: list[str] = []
    for segment in path.split("?", 1)[0].split("/"):
        if segment == "..":
            segments = segments[:-1]
        elif segment not in ("", "."):
            segments.append(segment)
    for place, segment in enumerate(segments[:-1]):
        if segment.lower() in TOKEN_ROUTES:
            return "/" + "/".join([*segments[: place + 1], "[token]"])
    return "/" + "/".join(segments)


def logged_path(request: web.BaseRequest) -> tuple[str, str]:
    """(route, path) for the log line. A path a token route took is written from the route
    itself, whatever spelling reached it; any other is redacted by `redact_path`."""
    match_info = request.match_info if isinstance(request, web.Request) else None
    resource = match_info.route.resource if match_info is not None else None
    if match_info is None or resource is None:
        return "?", redact_path(request.path)
    route = resource.canonical
    if "token" not in match_info:
        return route, request.path
    values = dict(match_info)

    def value(found: re.Match[str]) -> str:
        name = found.group(1)
        return "[token]" if name == "token" else values.get(name, "")

    return route, _VARIABLE.sub(value, route)


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route, path = logged_path(request)
        self.logger.info(
            _LINE.encode(
                {
                    "method": request.method,
                    "route": route,
                    "path": path,
                    "status": response.status,
                    "duration_ms": round(time * 1000, 1),
                }
            )
        )
