"""Many rows inserted at once, their values made ready for the driver beforehand.

SQLAlchemy readies each row of an executemany as it runs it (defaults, type conversions), some
ten microseconds a row. An import inserts tens of thousands of rows while it holds the write lock
that every webhook and join link waits for on SQLite, so it readies them while it plans (`ready`)
and the insert is the driver's own executemany (`insert_ready`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from .upsert import table


@dataclass(frozen=True, slots=True)
class ReadyRows:
    """Rows for one INSERT, in the driver's own form, save the columns `later` names (ids of
    rows inserted just before), which `insert_ready` fills in."""

    table: Table
    columns: tuple[str, ...]
    later: frozenset[str]
    rows: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.rows)


def ready(
    dialect: Dialect,
    model: type[Any],
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    later: Iterable[str] = (),
) -> ReadyRows:
    """`rows` (each with every name in `columns`) converted as SQLAlchemy would convert them."""
    found = table(model)
    wait = frozenset(later)
    given = set(columns)
    columns = [column.name for column in found.columns if column.name in given]
    assert len(columns) == len(given), f"{found.name} has no column among {sorted(given)}"
    convert = [
        None if name in wait else found.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        for name in columns
    ]
    pairs = list(zip(columns, convert, strict=True))
    values = [
        tuple(row[name] if process is None else process(row[name]) for name, process in pairs)
        for row in rows
    ]
    return ReadyRows(found, tuple(columns), wait, values)


async def insert_ready(
    db: AsyncSession, rows: ReadyRows, fill: Mapping[str, Callable[[Any], Any]] | None = None
) -> None:
    """Inserts the rows, `fill[name]` turning what each holds in a `later` column into its
    value, in the caller's transaction."""
    if not rows.rows:
        return
    fill = fill or {}
    assert set(fill) == rows.later, "every column left for later needs its filler"
    connection = await db.connection()
    compiled = insert(rows.table).compile(
        dialect=connection.dialect, column_keys=list(rows.columns)
    )
    order = tuple(compiled.positiontup or ())
    if order != rows.columns:  # a column with a default the rows do not give
        raise ValueError(f"{rows.table.name}: rows give {rows.columns}, the INSERT takes {order}")
    values = rows.rows
    if fill:
        fillers = [(index, fill[name]) for index, name in enumerate(rows.columns) if name in fill]
        filled = []
        for row in values:
            out = list(row)
            for index, function in fillers:
                out[index] = function(out[index])
            filled.append(tuple(out))
        values = filled
    await connection.exec_driver_sql(compiled.string, values)
