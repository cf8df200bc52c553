"""The OpenAPI 3.1 description of `/api/v1`; a test fails when a route is missing from it."""

from __future__ import annotations

from typing import Any

from aiohttp import web

routes = web.RouteTableDef()

_STR = {"type": "string"}
_STRS = {"type": "array", "items": _STR}
_NULLABLE_STR = {"type": ["string", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": _STR,
                    "message": _STR,
                    "details": {"type": "array", "items": {"type": "object"}},
                },
            }
        },
    },
    "Problem": {
        "type": "object",
        "required": ["place", "message"],
        "properties": {"place": _STR, "message": _STR},
    },
    "Program": {
        "type": "object",
        "description": "A program file as in the SPEC (event, organisations, people, sessions, "
        "and optionally the meeting requests: schedule, availability, requests).",
        "required": ["event", "people", "sessions"],
        "properties": {
            "event": {"type": "object"},
            "organisations": {"type": "array", "items": {"type": "object"}},
            "people": {"type": "array", "items": {"type": "object"}},
            "sessions": {"type": "array", "items": {"type": "object"}},
            "schedule": {"type": "object"},
            "availability": {"type": "object"},
            "requests": {"type": "array", "items": {"type": "object"}},
        },
    },
    "KeyedChanges": {
        "type": "object",
        "required": ["added", "changed", "removed"],
        "properties": {"added": _STRS, "changed": _STRS, "removed": _STRS},
    },
    "SessionChange": {
        "type": "object",
        "required": ["key", "fields", "attendees_added", "attendees_removed", "roles_changed"],
        "properties": {
            "key": _STR,
            "fields": _STRS,
            "attendees_added": _STRS,
            "attendees_removed": _STRS,
            "roles_changed": _STRS,
        },
    },
    "ChangeSet": {
        "type": "object",
        "required": [
            "event",
            "event_created",
            "event_changed",
            "organisations",
            "people",
            "sessions",
            "empty",
        ],
        "properties": {
            "event": _STR,
            "event_created": {"type": "boolean"},
            "event_changed": _STRS,
            "organisations": _ref("KeyedChanges"),
            "people": _ref("KeyedChanges"),
            "sessions": {
                "type": "object",
                "required": ["created", "changed", "cancelled"],
                "properties": {
                    "created": _STRS,
                    "changed": {"type": "array", "items": _ref("SessionChange")},
                    "cancelled": _STRS,
                },
            },
            "empty": {"type": "boolean"},
        },
    },
    "MailMessage": {
        "type": "object",
        "required": ["id", "kind", "recipient", "subject", "status", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "kind": {
                "enum": ["invitation", "update", "cancelled", "uninvited", "reminder", "replay"]
            },
            "session": _NULLABLE_STR,
            "recipient": _STR,
            "subject": _STR,
            "status": {"enum": ["pending", "sending", "sent", "failed"]},
            "attempts": {"type": "integer"},
            "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
            "last_error": _NULLABLE_STR,
            "created_at": {"type": "string", "format": "date-time"},
            "sent_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
    "Outbox": {
        "type": "object",
        "required": ["counts", "messages"],
        "properties": {
            "counts": {
                "type": "object",
                "required": ["pending", "sending", "sent", "failed"],
                "properties": {
                    state: {"type": "integer"} for state in ("pending", "sending", "sent", "failed")
                },
            },
            "messages": {"type": "array", "items": _ref("MailMessage")},
        },
    },
    "RoomStatus": {
        "type": "object",
        "required": ["session", "title", "kind", "start", "end", "provider", "state", "expected"],
        "properties": {
            "session": _STR,
            "title": _STR,
            "kind": {"enum": ["plenary", "meeting"]},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "provider": _STR,
            "state": {
                "enum": [
                    "scheduled",
                    "provisioning",
                    "ready",
                    "live",
                    "ended",
                    "failed",
                    "cancelled",
                ]
            },
            "error": _NULLABLE_STR,
            "expected": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "name", "role"],
                    "properties": {
                        "key": _STR,
                        "name": _STR,
                        "organisation": _NULLABLE_STR,
                        "role": {"enum": ["speaker", "attendee"]},
                    },
                },
            },
        },
    },
    "Rooms": {
        "type": "object",
        "required": ["rooms"],
        "properties": {"rooms": {"type": "array", "items": _ref("RoomStatus")}},
    },
    "AttendanceRow": {
        "type": "object",
        "required": ["session", "name", "status", "minutes_present", "sources"],
        "properties": {
            "session": _STR,
            "session_title": _STR,
            "local_start": {"type": "string", "format": "date-time"},
            "person": _NULLABLE_STR,
            "name": _STR,
            "email": _NULLABLE_STR,
            "organisation": _NULLABLE_STR,
            "organisation_kind": {"enum": ["company", "buyer", "organiser", None]},
            "role": {"enum": ["speaker", "attendee", "substitute", "guest"]},
            "first_join": {"type": ["string", "null"], "format": "date-time"},
            "last_leave": {"type": ["string", "null"], "format": "date-time"},
            "minutes_present": {"type": "number"},
            "status": {"enum": ["attended", "late", "left-early", "no-show", "expected"]},
            "substitute_for": _NULLABLE_STR,
            "sources": _STRS,
        },
    },
    "Attendance": {
        "type": "object",
        "required": ["event", "timezone", "attendance"],
        "properties": {
            "event": _STR,
            "timezone": _STR,
            "attendance": {"type": "array", "items": _ref("AttendanceRow")},
        },
    },
    "Report": {
        "type": "object",
        "required": [
            "event",
            "plenary_participants",
            "meetings_scheduled",
            "meetings_held",
            "companies_met",
            "buyer_representatives",
            "directorates",
        ],
        "properties": {
            "event": _STR,
            "title": _STR,
            "plenary_participants": {"type": "integer"},
            "plenary_peak": {"type": "integer"},
            "meetings_scheduled": {"type": "integer"},
            "meetings_held": {"type": "integer"},
            "meetings_not_held": {"type": "integer"},
            "companies_met": {"type": "integer"},
            "buyer_representatives": {"type": "integer"},
            "directorates": {"type": "integer"},
            "no_show_rate": {"type": ["number", "null"]},
            "median_meeting_minutes": {"type": ["number", "null"]},
            "per_directorate": {"type": "array", "items": {"type": "object"}},
            "replays": {"type": "integer"},
            "replay_mail_sent": {"type": "integer"},
            "plenary_replay": _NULLABLE_STR,
            "definitions": {"type": "object", "additionalProperties": _STR},
        },
    },
    "Replay": {
        "type": "object",
        "required": ["id", "session", "url", "kind", "title", "source", "added_at"],
        "properties": {
            "id": {"type": "integer"},
            "session": _STR,
            "url": _STR,
            "kind": {"enum": ["stream", "recording"]},
            "title": _STR,
            "duration_seconds": {"type": ["integer", "null"]},
            "source": _STR,
            "added_at": {"type": "string", "format": "date-time"},
            "valid_until": {"type": ["string", "null"], "format": "date-time"},
            "archived": {"type": "boolean"},
        },
    },
    "Replays": {
        "type": "object",
        "required": ["replays"],
        "properties": {"replays": {"type": "array", "items": _ref("Replay")}},
    },
    "NewReplay": {
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {"url": _STR, "title": _STR, "kind": {"enum": ["stream", "recording"]}},
    },
    "AddedReplay": {
        "type": "object",
        "required": ["replay", "replay_mail_queued"],
        "properties": {"replay": _ref("Replay"), "replay_mail_queued": {"type": "integer"}},
    },
    "ScheduleOptions": {
        "type": "object",
        "description": "All optional; an empty body schedules with the defaults.",
        "properties": {
            "move": {
                "type": "boolean",
                "description": "may move meetings whose invites have not gone out",
            },
            "dry_run": {"type": "boolean", "description": "answer the schedule, write nothing"},
            "time_limit": {
                "type": "number",
                "description": "seconds the solver may search (default 60, at most 600)",
            },
        },
    },
    "ScheduledMeeting": {
        "type": "object",
        "required": ["key", "request", "from", "to", "start", "end", "attendees", "change"],
        "properties": {
            "key": _STR,
            "request": {"type": "integer", "description": "position in the program's requests"},
            "from": _STR,
            "to": _STR,
            "start": _STR,
            "end": _STR,
            "attendees": _STRS,
            "change": {"enum": ["new", "kept", "moved", "stuck"]},
            "before": {"type": "string", "description": "where a moved meeting was"},
            "why": {"type": "string", "description": "why it moved, or should but cannot"},
        },
    },
    "UnplacedRequest": {
        "type": "object",
        "required": ["request", "place", "from", "to", "reason", "message", "removed"],
        "properties": {
            "request": {"type": "integer"},
            "place": _STR,
            "from": _STR,
            "to": _STR,
            "reason": {
                "enum": [
                    "no_common_availability",
                    "past",
                    "busy",
                    "max_per_person",
                    "max_parallel",
                    "conflict",
                    "taken",
                    "time_limit",
                    "nobody",
                ]
            },
            "message": _STR,
            "removed": {"type": "boolean", "description": "its earlier meeting was cancelled"},
        },
    },
    "Schedule": {
        "type": "object",
        "required": [
            "method",
            "optimal",
            "requests",
            "placed",
            "weighted",
            "total_weight",
            "bound",
            "dry_run",
            "meetings",
            "unplaced",
            "changes",
        ],
        "properties": {
            "method": {"type": "string", "description": "exact CP-SAT, or split by window"},
            "optimal": {"type": "boolean", "description": "the placement is proven best"},
            "seconds": {"type": "number"},
            "requests": {"type": "integer"},
            "placed": {"type": "integer"},
            "weighted": {"type": "integer", "description": "placed requests weighted by priority"},
            "total_weight": {"type": "integer"},
            "bound": {"type": ["integer", "null"], "description": "no schedule weighs more"},
            "dry_run": {"type": "boolean"},
            "meetings": {"type": "array", "items": _ref("ScheduledMeeting")},
            "unplaced": {"type": "array", "items": _ref("UnplacedRequest")},
            "changes": {"oneOf": [_ref("ChangeSet"), {"type": "null"}]},
        },
    },
    "Changes": {
        "type": "object",
        "required": ["changes"],
        "properties": {"changes": _ref("ChangeSet")},
    },
    "Room": {
        "type": "object",
        "required": ["provider", "state"],
        "properties": {
            "provider": _STR,
            "state": {
                "enum": [
                    "scheduled",
                    "provisioning",
                    "ready",
                    "live",
                    "ended",
                    "failed",
                    "cancelled",
                ]
            },
            "error": _NULLABLE_STR,
        },
    },
    "Session": {
        "type": "object",
        "required": ["key", "kind", "title", "start", "end", "status", "attendees", "room"],
        "properties": {
            "key": _STR,
            "kind": {"enum": ["plenary", "meeting"]},
            "title": _STR,
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "local_start": {"type": "string", "format": "date-time"},
            "local_end": {"type": "string", "format": "date-time"},
            "status": {"enum": ["scheduled", "cancelled"]},
            "sequence": {"type": "integer"},
            "stream_url": _NULLABLE_STR,
            "attendees": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["key", "name", "role"],
                    "properties": {
                        "key": _STR,
                        "name": _STR,
                        "organisation": _NULLABLE_STR,
                        "role": {"enum": ["speaker", "attendee"]},
                    },
                },
            },
            "room": _ref("Room"),
        },
    },
    "Event": {
        "type": "object",
        "required": ["slug", "title", "timezone", "locale", "organiser", "sessions"],
        "properties": {
            "slug": _STR,
            "title": _STR,
            "timezone": _STR,
            "locale": {"enum": ["en", "fr"]},
            "organiser": {"type": "object", "properties": {"name": _STR, "email": _STR}},
            "provider": _STR,
            "organisations": {"type": "array", "items": {"type": "object"}},
            "people_count": {"type": "integer"},
            "sessions": {"type": "array", "items": _ref("Session")},
        },
    },
    "SessionPatch": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "properties": {
            "start": {"type": "string", "description": "local to the event's zone unless offset"},
            "end": _STR,
            "title": _STR,
            "attendees": {"oneOf": [_STRS, {"const": "*"}]},
            "provider": _NULLABLE_STR,
        },
    },
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(schema)}}}


_AUTH_ERRORS = {
    "401": _error("missing, malformed, expired or forged token"),
    "403": _error("token for another event, or a followup token on a write"),
}
_SLUG = {"name": "slug", "in": "path", "required": True, "schema": _STR}
_KEY = {"name": "key", "in": "path", "required": True, "schema": _STR}

PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This description",
            "security": [],
            "responses": {
                "200": {
                    "description": "the OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                }
            },
        }
    },
    "/api/v1/events/{slug}/program": {
        "put": {
            "summary": "Import or update the event from a program file",
            "parameters": [_SLUG],
            "requestBody": _body("Program"),
            "responses": {
                "200": _ok("the event was updated; the change set", "Changes"),
                "201": _ok("the event was created; the change set", "Changes"),
                "400": _error("the body is not JSON"),
                **_AUTH_ERRORS,
                "409": _error("another import of the event ran at the same time"),
                "413": _error("the body is too large"),
                "422": _error("the program has problems, listed in details, none imported"),
            },
        }
    },
    "/api/v1/events/{slug}": {
        "get": {
            "summary": "The event, its sessions and their rooms",
            "parameters": [_SLUG],
            "responses": {
                "200": _ok("the event", "Event"),
                **_AUTH_ERRORS,
                "404": _error("no such event"),
            },
        }
    },
    "/api/v1/events/{slug}/mail": {
        "get": {
            "summary": "The mail outbox: pending, sent and failed messages, with reasons",
            "parameters": [
                _SLUG,
                {
                    "name": "status",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["pending", "sending", "sent", "failed"]},
                },
            ],
            "responses": {
                "200": _ok("counts by state and the latest 500 messages", "Outbox"),
                "400": _error("unknown status filter"),
                **_AUTH_ERRORS,
                "404": _error("no such event"),
            },
        }
    },
    "/api/v1/events/{slug}/attendance": {
        "get": {
            "summary": "The attendance log (JSON, or CSV with format=csv)",
            "parameters": [
                _SLUG,
                {
                    "name": "format",
                    "in": "query",
                    "required": False,
                    "schema": {"enum": ["json", "csv"]},
                },
                {"name": "session", "in": "query", "required": False, "schema": _STR},
                {
                    "name": "organisation",
                    "in": "query",
                    "required": False,
                    "schema": _STR,
                    "description": "an organisation's key or name",
                },
            ],
            "responses": {
                "200": {
                    "description": "one row per expected person, substitute or guest",
                    "content": {
                        "application/json": {"schema": _ref("Attendance")},
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                "400": _error("unknown format"),
                **_AUTH_ERRORS,
                "404": _error("no such event"),
            },
        }
    },
    "/api/v1/events/{slug}/report": {
        "get": {
            "summary": "The event's key figures, with their definitions",
            "parameters": [_SLUG],
            "responses": {
                "200": _ok("the figures", "Report"),
                **_AUTH_ERRORS,
                "404": _error("no such event"),
            },
        }
    },
    "/api/v1/events/{slug}/replays": {
        "get": {
            "summary": "The replay archive of the event",
            "parameters": [_SLUG],
            "responses": {"200": _ok("every replay, oldest first", "Replays"), **_AUTH_ERRORS},
        }
    },
    "/api/v1/events/{slug}/sessions/{key}/replays": {
        "post": {
            "summary": "Archive a replay link (https only; YouTube links made canonical)",
            "parameters": [_SLUG, _KEY],
            "requestBody": _body("NewReplay"),
            "responses": {
                "201": _ok(
                    "archived; the first replay of a plenary queues the replay mail", "AddedReplay"
                ),
                "400": _error("the body is not a JSON object with a url"),
                **_AUTH_ERRORS,
                "404": _error("no such session"),
                "409": _error("this replay is already archived"),
                "413": _error("the body is too large"),
                "422": _error("the link is refused (not https, not a video, ...)"),
            },
        }
    },
    "/api/v1/events/{slug}/rooms": {
        "get": {
            "summary": "Every room: its state, provider, failure if any, and who is expected",
            "parameters": [_SLUG],
            "responses": {
                "200": _ok("the rooms, in session order", "Rooms"),
                **_AUTH_ERRORS,
                "404": _error("no such event"),
            },
        }
    },
    "/api/v1/events/{slug}/schedule": {
        "post": {
            "summary": "Schedule the open meeting requests and write them as meetings",
            "parameters": [_SLUG],
            "requestBody": {
                "required": False,
                "content": {"application/json": {"schema": _ref("ScheduleOptions")}},
            },
            "responses": {
                "200": _ok("what was placed, and why the rest was not", "Schedule"),
                "400": _error("the options are not valid"),
                **_AUTH_ERRORS,
                "404": _error("no such event"),
                "409": _error("the event changed while scheduling"),
                "413": _error("the body is too large"),
                "422": _error("the stored program has problems"),
            },
        }
    },
    "/api/v1/events/{slug}/sessions/{key}": {
        "patch": {
            "summary": "Change a session's start, end, title, attendees or provider",
            "parameters": [_SLUG, _KEY],
            "requestBody": _body("SessionPatch"),
            "responses": {
                "200": _ok("the change set", "Changes"),
                "400": _error("the body is not a JSON object"),
                **_AUTH_ERRORS,
                "404": _error("no such event or live session"),
                "413": _error("the body is too large"),
                "422": _error("the change would make the program invalid"),
            },
        },
        "delete": {
            "summary": "Cancel a session",
            "parameters": [_SLUG, _KEY],
            "responses": {
                "200": _ok("the change set (empty if it was cancelled already)", "Changes"),
                **_AUTH_ERRORS,
                "404": _error("no such event or session"),
            },
        },
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {"title": "rdv-orchestrator API", "version": "1"},
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearer": []}],
        "paths": PATHS,
    }


@routes.get("/api/v1/openapi.json")
async def openapi(_request: web.Request) -> web.Response:
    return web.json_response(document())
