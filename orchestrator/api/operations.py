"""The operations of `/api/v1`, each declared once beside its handler: route, who may call it,
what it takes, what it answers. The grant check and the OpenAPI description both read that one
declaration, so neither can say something the other does not."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from .auth import require_grant
from .schemas.common import Query

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# `read`: any token of the event (organiser or followup); `write`: an organiser token.
Access = Literal["public", "read", "write"]


@dataclass(frozen=True, slots=True)
class Answer:
    """A success answer: the type of its JSON body, and other media types it may come as."""

    body: Any
    description: str
    media: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path. A `responses` value that is text is a failure with the error
    body, and says when it happens; the failures shared by its kind (a token, a body, a query)
    are added to it."""

    method: str
    path: str
    name: str
    summary: str
    responses: Mapping[int, Answer | str]
    access: Access = "read"
    body: Any = None
    body_required: bool = True
    query: type[Query] | None = None


class Operations:
    """One API module's operations, and the aiohttp route table the app adds."""

    def __init__(self) -> None:
        self.routes = web.RouteTableDef()
        self.declared: dict[tuple[str, str], Operation] = {}

    def __iter__(self) -> Iterator[Operation]:
        return iter(self.declared.values())

    def route(
        self,
        method: str,
        path: str,
        summary: str,
        *,
        responses: Mapping[int, Answer | str],
        access: Access = "read",
        body: Any = None,
        body_required: bool = True,
        query: type[Query] | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declares the operation and adds its handler, behind its grant check, to the routes."""

        def register(handler: Handler) -> Handler:
            operation = Operation(
                method,
                path,
                handler.__name__,
                summary,
                responses,
                access=access,
                body=body,
                body_required=body_required,
                query=query,
            )
            if access != "public" and "{slug}" not in path:
                raise ValueError(f"{method} {path}: a token is for one event; name it as {{slug}}")
            checked = _checked(handler, access)
            self.routes.route(method, path)(checked)
            self.declared[(method, path)] = operation
            return checked

        return register


def _checked(handler: Handler, access: Access) -> Handler:
    """The handler behind the grant check its declaration asks for."""
    if access == "public":
        return handler

    @functools.wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        require_grant(request, request.match_info["slug"], write=access == "write")
        return await handler(request)

    return checked
