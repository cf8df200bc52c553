"""Refuses what a browser sends from another site to a route that changes something, so that a
page elsewhere cannot sign an organiser out, sign them in to another event, or open rooms in
their name (their cookie goes along with a cross-site form: SameSite=Lax spares only GET).

A browser says where a request comes from in `Sec-Fetch-Site`, and that word is taken first:
`same-origin`, or `none` for what the person did themselves, passes. A browser too old for it
still sends `Origin` with every cross-site POST, which must then be RDV_PUBLIC_URL's origin. A
request with neither header comes from no browser's cross-site form (curl or a script with its
bearer token, which is no cookie a page could borrow) and passes. Reading requests (GET, HEAD)
pass: they change nothing (see the organiser's join in `dashboard.py`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from ..pages import Pages
from .errors import ApiError, refused_page, route_of

log = logging.getLogger("rdv.api")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OWN_SITE = frozenset({"same-origin", "none"})
# Provider webhooks carry a signature, not a cookie; their senders' own headers are no concern.
WEBHOOKS = "/webhooks/"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin_of(url: str) -> str:
    """`scheme://host[:port]` as a browser writes an Origin (lower case, no default port); an
    empty string for what is no origin (`null`, garbage)."""
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return ""
    if not parts.scheme or not host:
        return ""
    scheme = parts.scheme.lower()
    host = f"[{host}]" if ":" in host else host
    if port not in (None, _DEFAULT_PORTS.get(scheme)):
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def from_another_site(method: str, headers: Mapping[str, str], own_origin: str) -> str | None:
    """Why the request counts as another site's, or None when it may go on."""
    if method.upper() in SAFE_METHODS:
        return None
    site = headers.get("Sec-Fetch-Site")
    if site is not None:
        if site.strip().lower() in OWN_SITE:
            return None
        header = "Sec-Fetch-Site"
    else:
        origin = headers.get("Origin")
        if origin is None or (own_origin and origin_of(origin) == own_origin):
            return None
        header = "Origin"
    return (
        f"refused: this {method.upper()} came from another site (its {header} header says so); "
        f"only the pages of {own_origin} may send it"
    )


def same_site_only(public_url: str, pages: Pages) -> Middleware:
    """The middleware, for the service at `public_url` (RDV_PUBLIC_URL)."""
    own = origin_of(public_url)

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        reason = None
        if not request.path.startswith(WEBHOOKS):
            reason = from_another_site(request.method, request.headers, own)
        if reason is None:
            return await handler(request)
        log.info("%s %s refused: from another site", request.method, route_of(request))
        if request.path.startswith("/api/"):
            raise ApiError(403, reason)
        return refused_page(request, pages, 403, "cross-site", public_url=public_url)

    return check
