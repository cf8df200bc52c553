"""`/api/v1/openapi.json` describes every `/api/v1` route, and nothing that does not exist."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from orchestrator.api.openapi import document

METHODS = {"GET", "PUT", "POST", "PATCH", "DELETE"}


def _app_routes(app: web.Application) -> set[tuple[str, str]]:
    routes = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith("/api/v1") and route.method in METHODS:
            routes.add((route.method.lower(), path))
    return routes


def _documented(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method, path) for path, item in doc["paths"].items() for method in item}


async def test_every_api_route_is_described_and_every_description_is_a_route(
    app: web.Application, client: TestClient[Any, Any]
) -> None:
    served = await (await client.get("/api/v1/openapi.json")).json()
    assert served == document()
    assert _app_routes(app) == _documented(served)


async def test_every_operation_documents_its_errors_and_refers_to_known_schemas() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (method, path)
            if operation.get("security") != []:
                assert {"401", "403"} <= responses.keys(), (method, path)
            text = str(operation)
            for name in schemas:
                text = text.replace(f"#/components/schemas/{name}'", "")
            assert "#/components/schemas/" not in text, (method, path)
