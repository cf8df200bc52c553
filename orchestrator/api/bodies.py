"""Request bodies and query strings read safely and decoded into their Structs; a bad one is a
400 that names every field at fault at once, as the program validator does."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

import msgspec
import msgspec.inspect as mi
from aiohttp import web

from .errors import ApiError

DEFAULT_BODY_LIMIT = 1024 * 1024

S = TypeVar("S", bound=msgspec.Struct)
# What to do with names the Struct does not have: refuse them with the other problems, ignore
# them, or turn them into another answer (the session PATCH: a field that cannot change).
Unknown = Literal["refuse", "ignore"] | Callable[[Sequence[str]], Exception]


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


async def read_json_object(
    request: web.Request, limit: int = DEFAULT_BODY_LIMIT, *, required: bool = True
) -> dict[str, Any]:
    """The body as a JSON object; an empty body is `{}` when the body is optional."""
    data = await read_body(request, limit)
    if not data.strip():
        if required:
            raise ApiError(400, "the body is empty; expected a JSON object")
        return {}
    # The standard parser, not msgspec's: it keeps a lone surrogate escape (`"\\ud800"`), so
    # a link holding one is refused with its reason (422) rather than as bad JSON.
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError) as error:
        raise ApiError(400, f"the body is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise ApiError(400, "expected a JSON object")
    return value


async def read_struct(
    request: web.Request,
    kind: type[S],
    *,
    required: bool = True,
    unknown: Unknown = "refuse",
) -> S:
    return decode(await read_json_object(request, required=required), kind, unknown=unknown)


def read_query(request: web.Request, kind: type[S]) -> S:
    """The query string as `kind`; a repeated parameter counts once (its first value). Values
    are text, so a number is read from its digits."""
    given = {name: request.query.getone(name) for name in request.query}
    return decode(given, kind, unknown="ignore", strict=False)


def decode(
    value: dict[str, Any], kind: type[S], *, unknown: Unknown = "refuse", strict: bool = True
) -> S:
    fields = {field.encode_name: field for field in msgspec.structs.fields(kind)}
    strangers = [name for name in value if name not in fields]
    if strangers and callable(unknown):
        raise unknown(strangers)
    problems = [f'unknown field "{name}"' for name in strangers if unknown == "refuse"]
    for name, field in fields.items():
        if name not in value:
            if field.required:
                problems.append(f"{name} is required")
            continue
        try:
            msgspec.convert(value[name], field.type, strict=strict)
        except msgspec.ValidationError as error:
            problems.append(f"{name} must be {_expects(mi.type_info(field.type), error)}")
    if problems:
        raise ApiError(400, "; ".join(problems))
    return msgspec.convert(
        {name: value[name] for name in fields if name in value}, kind, strict=strict
    )


def _expects(info: mi.Type, error: msgspec.ValidationError) -> str:
    """What a field wants, in words: said by the field (`Meta(extra={"expects": ...})`) or read
    from its type; msgspec's own words when the type is not a plain one."""
    if isinstance(info, mi.Metadata):
        said = (info.extra or {}).get("expects")
        return said if isinstance(said, str) else _expects(info.type, error)
    if isinstance(info, mi.UnionType):
        return " or ".join(_expects(member, error) for member in info.types)
    if isinstance(info, mi.LiteralType):
        return "one of " + ", ".join(str(value) for value in info.values)
    if isinstance(info, mi.EnumType):
        return "one of " + ", ".join(str(member.value) for member in info.cls)
    if isinstance(info, mi.ListType):
        return "a list of " + _expects(info.item_type, error)
    plain = {
        mi.BoolType: "true or false",
        mi.StrType: "text",
        mi.IntType: "a whole number",
        mi.FloatType: "a number",
        mi.NoneType: "null",
    }
    return plain.get(type(info), f"valid ({error})")
