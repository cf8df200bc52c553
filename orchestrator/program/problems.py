"""Problems found in a program file, each with the place it was found."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

MAX_REPORTED = 500


class Cells(Protocol):
    """Where the parts of one item of a workbook sit: `at("email")` names its cell, `people!C5`."""

    def at(self, path: str) -> str: ...


@dataclass(frozen=True, slots=True)
class Place:
    """Where a value sits: `sessions[3].attendees[1]`, `sessions.csv line 5, attendees[1]`, or
    in a workbook the cell that `cells` names for the path (`sessions!F5`)."""

    base: str
    path: str = ""
    separator: str = "."
    cells: Cells | None = None

    def __truediv__(self, part: str | int) -> Place:
        step = f"[{part}]" if isinstance(part, int) else part
        if isinstance(part, str) and self.path:
            step = "." + step
        return Place(self.base, self.path + step, self.separator, self.cells)

    def __str__(self) -> str:
        if self.cells is not None:
            return self.cells.at(self.path)
        if not self.path:
            return self.base
        if not self.base:
            return self.path
        joiner = "" if self.path.startswith("[") and self.separator == "." else self.separator
        return f"{self.base}{joiner}{self.path}"


@dataclass(frozen=True, slots=True)
class Problem:
    place: str
    message: str

    def __str__(self) -> str:
        return f"{self.place}: {self.message}" if self.place else self.message

    def as_dict(self) -> dict[str, str]:
        return {"place": self.place, "message": self.message}


class ProgramError(Exception):
    """The program cannot be imported; `problems` lists every reason, each with its place."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = len(problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the program")

    @classmethod
    def single(cls, place: str, message: str) -> ProgramError:
        return cls([Problem(place, message)])

    def lines(self, limit: int = MAX_REPORTED) -> list[str]:
        shown = [str(problem) for problem in self.problems[:limit]]
        if len(self.problems) > limit:
            shown.append(f"... and {len(self.problems) - limit} more problems")
        return shown


class Collector:
    """Gathers problems so that validation can report all of them at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, place: Place | str, message: str) -> None:
        self.problems.append(Problem(str(place), message))

    def raise_if_any(self) -> None:
        if self.problems:
            raise ProgramError(self.problems)
