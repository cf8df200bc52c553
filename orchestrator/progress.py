"""What long work (scheduling an event, importing a large one) tells whoever waits for it: the
phase it is in, how far it has gone, and for the scheduler the best placement so far, the bound
no placement can pass, the gap between them and the time left within the limit.

The work reports to a `Progress` and knows nothing of displays: `Progress` itself shows nothing;
`Lines` writes one line per phase and nothing animated, for a pipe, CI or a log; `Live` is a live
display on a terminal (rich). Every report also updates `latest`, a snapshot a page can show
(the workspace's scheduling run). The scheduler reports from its solver's threads: a report is
taken under a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import IO, Any


@dataclass(frozen=True, slots=True)
class Snapshot:
    phase: str = ""
    done: int = 0
    total: int | None = None
    found: float | None = None  # the best placement's value so far
    bound: float | None = None  # no placement is worth more
    deadline: float | None = None  # monotonic seconds the search must stop at
    finished: bool = False

    @property
    def gap(self) -> float | None:
        """How far the best so far may be from the best there is (0 when proven best)."""
        if self.found is None or self.bound is None:
            return None
        return max(self.bound - self.found, 0.0) / max(abs(self.bound), 1.0)

    def left(self, now: float) -> float | None:
        return None if self.deadline is None else max(self.deadline - now, 0.0)

    def found_and_bound(self) -> str:
        """The best placement so far, its bound and the gap, in words."""
        if self.found is None:
            return ""
        said = f"best so far {self.found:g}"
        if self.bound is not None and self.gap is not None:
            said += f", bound {self.bound:g}, gap {self.gap:.1%}"
        return said

    def said(self, now: float, *, left: bool = True) -> str:
        """The snapshot in words (English: the command line's language)."""
        parts = [self.phase]
        if self.total:
            parts.append(f"{self.done} of {self.total}")
        parts.append(self.found_and_bound())
        remaining = self.left(now)
        if left and remaining is not None and not self.finished:
            parts.append(f"{remaining:.0f} s left")
        return ", ".join(part for part in parts if part)


class Progress:
    """Reports of long work; this one keeps the latest and shows nothing."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.latest = Snapshot()
        self._lock = threading.Lock()

    def phase(self, name: str, *, total: int | None = None, seconds: float | None = None) -> None:
        """A new phase; `total` items to go through, or `seconds` it may last at most."""
        deadline = None if seconds is None else self.clock() + seconds
        self._update(Snapshot(phase=name, total=total, deadline=deadline), new_phase=True)

    def advance(self, done: int = 1) -> None:
        with self._lock:
            self.latest = replace(self.latest, done=self.latest.done + done)
            snapshot = self.latest
        self.show(snapshot, new_phase=False)

    def solution(self, found: float, bound: float | None) -> None:
        """A better placement was found (called from a solver's thread)."""
        with self._lock:
            self.latest = replace(self.latest, found=found, bound=bound)
            snapshot = self.latest
        self.show(snapshot, new_phase=False)

    def finish(self) -> None:
        self._update(replace(self.latest, finished=True), new_phase=False)

    def _update(self, snapshot: Snapshot, *, new_phase: bool) -> None:
        with self._lock:
            self.latest = snapshot
        self.show(snapshot, new_phase=new_phase)

    def show(self, snapshot: Snapshot, *, new_phase: bool) -> None:
        """Displays a report; nothing here."""

    def close(self) -> None:
        """Ends the display."""


class Lines(Progress):
    """One line per phase, when it starts (nothing animated): for a pipe, CI or a log."""

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.stream = stream

    def show(self, snapshot: Snapshot, *, new_phase: bool) -> None:
        if new_phase:
            now = self.clock()
            limit = snapshot.left(now)
            line = snapshot.said(now, left=False)
            if limit is not None:
                line += f" (at most {limit:.0f} s)"
            self.stream.write(line + "\n")
            self.stream.flush()


class Live(Progress):
    """A live display on a terminal: the phase, a bar where the phase counts items, the best
    placement so far with its bound and gap, and the time left."""

    def __init__(self, stream: IO[str], clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        from rich.console import Console
        from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Display

        self.display = Display(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[said]}"),
            _left_column(clock),
            TimeElapsedColumn(),
            console=Console(file=stream, force_terminal=True),
            transient=False,
        )
        self.display.start()
        self.task: Any = None

    def show(self, snapshot: Snapshot, *, new_phase: bool) -> None:
        said = snapshot.found_and_bound()
        count = f"{snapshot.done}/{snapshot.total}" if snapshot.total else ""
        if new_phase or self.task is None:
            if self.task is not None:  # the phase before is over: no time left to show
                self.display.update(self.task, deadline=None)
                self.display.stop_task(self.task)
            self.task = self.display.add_task(
                snapshot.phase,
                total=snapshot.total,
                said=said,
                count=count,
                deadline=snapshot.deadline,
            )
            return
        self.display.update(
            self.task, completed=snapshot.done, said=said, count=count, deadline=snapshot.deadline
        )

    def close(self) -> None:
        self.display.stop()


def _left_column(clock: Callable[[], float]) -> Any:
    """Rich's column for the time left before the phase's limit, counted down as it refreshes."""
    from rich.progress import ProgressColumn
    from rich.text import Text

    class Left(ProgressColumn):
        def render(self, task: Any) -> Text:
            deadline = task.fields.get("deadline")
            if deadline is None or task.finished:
                return Text("")
            return Text(f"{max(deadline - clock(), 0.0):.0f} s left")

    return Left()


def for_stream(stream: IO[str]) -> Progress:
    """A live display on a terminal, a line per phase anywhere else."""
    return Live(stream) if stream.isatty() else Lines(stream)
