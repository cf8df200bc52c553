"""Bytes of a program file to text and JSON, with the file named in every problem."""

from __future__ import annotations

import json
from typing import Any

from .problems import ProgramError


class _DuplicateField(ValueError):
    pass


def _no_duplicate_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateField(key)
        result[key] = value
    return result


def decode(data: bytes, name: str) -> str:
    """UTF-8 text (a byte order mark is dropped); other bytes are refused with their offset."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise ProgramError.single(
            name, f"not UTF-8 text (byte 0x{bad:02x} at offset {error.start}); save it as UTF-8"
        ) from None


def parse_json(data: bytes, name: str = "program") -> Any:
    """JSON from bytes; syntax errors name the line and column, duplicate fields are refused."""
    text = decode(data, name)
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_fields)
    except _DuplicateField as error:
        raise ProgramError.single(name, f'field "{error}" appears twice in one object') from None
    except json.JSONDecodeError as error:
        raise ProgramError.single(
            name, f"invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    except RecursionError:
        raise ProgramError.single(name, "JSON nested too deeply") from None
