"""The OpenAPI 3.1 description of `/api/v1`, generated from the operations the handlers declare
and the Structs they answer with (msgspec writes JSON Schema 2020-12, which OpenAPI 3.1 uses)."""

from __future__ import annotations

import functools
import re
from typing import Any

import msgspec
from aiohttp import web

from . import (
    answers,
    attendance,
    audit,
    events,
    mail,
    outcomes_api,
    replays,
    rooms,
    schedule,
    subscriptions,
)
from .operations import Answer, Operation, Operations
from .replies import reply
from .schemas.common import Error

REF = "#/components/schemas/{name}"
SECURITY = "bearerAuth"
ACCESS = {
    "read": "Any token of the event: organiser or followup.",
    "write": "An organiser token: a followup token only reads.",
}
ROLES = {"read": ["organiser", "followup"], "write": ["organiser"], "public": []}

api = Operations()
routes = api.routes


def _failures(operation: Operation) -> dict[int, str]:
    """The failures an operation shares with others of its kind: a token, a body, a query."""
    shared: dict[int, str] = {}
    if operation.query is not None:
        shared[400] = "a query parameter is not valid; the message names it"
    if operation.body is not None:
        shared[400] = "the body is not a JSON object of this shape; the message names each field"
        shared[413] = "the body is too large"
    if operation.access != "public":
        shared[401] = "missing, malformed, expired or forged token"
        shared[403] = "a token for another event" + (
            ", or a followup token (it only reads)" if operation.access == "write" else ""
        )
    return shared


def _types(operation: Operation) -> list[Any]:
    answers = [a for a in operation.responses.values() if isinstance(a, Answer)]
    found = [operation.body, operation.query, *(a.body for a in answers)]
    found += [kind for answer in answers for kind in answer.media.values()]
    return [kind for kind in found if kind is not None]


def _parameters(operation: Operation, components: dict[str, Any]) -> list[dict[str, Any]]:
    """Path parameters from the route; query parameters from the fields of its query Struct."""
    names = re.findall(r"{(\w+)", operation.path)
    found = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]
    if operation.query is not None:
        query = components[operation.query.__name__]
        for name, schema in query["properties"].items():
            required = name in query.get("required", ())
            found.append({"name": name, "in": "query", "required": required, "schema": schema})
    return found


def _content(answer: Answer, schemas: dict[Any, Any]) -> dict[str, Any]:
    media = {"application/json": answer.body, **answer.media}
    return {name: {"schema": schemas[kind]} for name, kind in media.items()}


def _operation(
    operation: Operation, schemas: dict[Any, Any], components: dict[str, Any]
) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, answer in sorted({**_failures(operation), **operation.responses}.items()):
        if isinstance(answer, str):
            answer = Answer(Error, answer)
        responses[str(status)] = {
            "description": answer.description,
            "content": _content(answer, schemas),
        }
    found: dict[str, Any] = {"operationId": operation.name, "summary": operation.summary}
    if operation.access == "public":
        found["security"] = []
    else:
        found["description"] = ACCESS[operation.access]
    found["x-roles"] = ROLES[operation.access]
    if parameters := _parameters(operation, components):
        found["parameters"] = parameters
    if operation.body is not None:
        found["requestBody"] = {
            "required": operation.body_required,
            "content": {"application/json": {"schema": schemas[operation.body]}},
        }
    found["responses"] = responses
    return found


def document() -> dict[str, Any]:
    """The description of every operation the API modules declare."""
    operations = [op for table in API for op in table]
    kinds = list(dict.fromkeys([Error, *(kind for op in operations for kind in _types(op))]))
    found, components = msgspec.json.schema_components(kinds, ref_template=REF)
    schemas = dict(zip(kinds, found, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for operation in sorted(operations, key=lambda op: op.path):
        described = _operation(operation, schemas, components)
        paths.setdefault(operation.path, {})[operation.method.lower()] = described
    for query in {op.query for op in operations if op.query is not None}:
        del components[query.__name__]  # described as parameters, not as a body
    return {
        "openapi": "3.1.0",
        "info": {"title": "rdv-orchestrator API", "version": "1"},
        "components": {
            "schemas": components,
            "securitySchemes": {
                SECURITY: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{SECURITY: []}],
        "paths": paths,
    }


@functools.cache
def _served() -> msgspec.Raw:
    """Built once, at the first request: the description only changes with the code."""
    return msgspec.Raw(msgspec.json.encode(document()))


@api.route(
    "GET",
    "/api/v1/openapi.json",
    "This description",
    access="public",
    responses={200: Answer(dict[str, Any], "the OpenAPI document")},
)
async def openapi(_request: web.Request) -> web.Response:
    return reply(_served())


API = (
    events.api,
    answers.api,
    rooms.api,
    attendance.api,
    outcomes_api.api,
    subscriptions.api,
    replays.api,
    schedule.api,
    mail.api,
    audit.api,
    api,
)
