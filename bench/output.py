"""The one table every benchmark prints: figure, value, baseline, ratio, target, holds.

A script prints its rows as a table; when `RDV_BENCH_ROWS` names a file (bench/all.py sets it), it
also appends them there as JSON lines, so `make bench` can print every script's rows as one table.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

HEAD = ("figure", "value", "baseline", "ratio", "target", "holds")
Row = tuple[str, str, str, str, str, str]


def widen(row: Sequence[str]) -> Row:
    """A (figure, value, target, holds) row with no baseline."""
    figure, value, target, holds = row
    return (figure, value, "-", "-", target, holds)


def holds(ok: bool | None) -> str:
    return "-" if ok is None else "yes" if ok else "NO"


def print_table(rows: Sequence[Sequence[str]], head: Sequence[str] = HEAD) -> None:
    widths = [max(len(r[i]) for r in (head, *rows)) for i in range(len(head))]
    for line in (head, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def emit(bench: str, rows: Sequence[Row]) -> None:
    """Prints the rows; appends them to $RDV_BENCH_ROWS too when it is set."""
    print_table(rows)
    target = os.environ.get("RDV_BENCH_ROWS")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps({"bench": bench, "row": list(row)}, ensure_ascii=False) + "\n")
