"""One structured line per request, with personal tokens taken out of paths."""

from __future__ import annotations

import json
import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

# Paths whose next segment is a personal token or a one-time secret.
_TOKEN_PATHS = re.compile(r"^/(j|calendar|login|me|room)/[^/?]+")


def redact_path(path: str) -> str:
    """The path without its personal token; query strings are never logged."""
    return _TOKEN_PATHS.sub(lambda match: f"/{match.group(1)}/[token]", path.split("?", 1)[0])


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        route = "?"
        match_info = getattr(request, "match_info", None)
        resource = match_info.route.resource if match_info is not None else None
        if resource is not None:
            route = resource.canonical
        self.logger.info(
            json.dumps(
                {
                    "method": request.method,
                    "route": route,
                    "path": redact_path(request.path),
                    "status": response.status,
                    "duration_ms": round(time * 1000, 1),
                },
                separators=(",", ":"),
            )
        )
