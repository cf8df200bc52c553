"""Every route table of the HTTP API and the pages, in the order the app adds them (a more
specific path before the one it would otherwise match: the workspace's changes before its pages)."""

from __future__ import annotations

from aiohttp import web

from . import (
    agenda,
    answers,
    attendance,
    audit,
    dashboard,
    events,
    feeds,
    follow_up,
    health,
    join,
    mail,
    openapi,
    outcomes,
    outcomes_api,
    replays,
    report,
    requests_page,
    rooms,
    schedule,
    subscriptions,
    workspace,
    workspace_changes,
    workspace_program,
    workspace_requests,
    workspace_webhooks,
)

ROUTE_TABLES: tuple[web.RouteTableDef, ...] = (
    health.routes,
    openapi.routes,
    events.routes,
    answers.routes,
    mail.routes,
    audit.routes,
    feeds.routes,
    agenda.routes,
    follow_up.routes,
    outcomes.routes,
    outcomes_api.routes,
    subscriptions.routes,
    requests_page.routes,
    join.routes,
    rooms.routes,
    attendance.routes,
    replays.routes,
    schedule.routes,
    dashboard.routes,
    report.routes,
    workspace_changes.routes,
    workspace_program.routes,
    workspace_requests.routes,
    workspace_webhooks.routes,
    workspace.routes,
)
