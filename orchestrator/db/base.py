"""The declarative base: one naming convention, UTC-aware timestamps on every backend."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import Boolean, DateTime, MetaData
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always hands back an aware UTC datetime, even from SQLite."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


def names_nothing(value: str) -> bool:
    """A key, slug or token with a NUL names no row: none holds one (validation refuses control
    characters), and PostgreSQL refuses one even in a comparison."""
    return "\x00" in value


class holds(FunctionElement[bool]):
    """Whether a binary column holds the given bytes anywhere. `LIKE` does not look into
    SQLite's BLOBs (it finds nothing there), so each database says it its own way."""

    type = Boolean()
    inherit_cache = True
    name = "holds"


@compiles(holds, "sqlite")
def _holds_sqlite(element: holds, compiler: SQLCompiler, **kw: Any) -> str:
    column, needle = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"instr({column}, {needle}) > 0"


@compiles(holds, "postgresql")
def _holds_postgresql(element: holds, compiler: SQLCompiler, **kw: Any) -> str:
    column, needle = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"position({needle} in {column}) > 0"
