"""The scheduling runs organisers start from the workspace: a preview (nothing written) or an
apply (the meetings written, their invites queued). A run takes seconds to a minute, so it runs
beside the pages, one per event at a time on this instance, and the requests page shows how it
goes (its `Progress`) until it is over, then what came of it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field

from ..program.schedule import Changed
from ..program.schedule_outcome import Outcome
from ..program.service import NotFound
from ..progress import Progress

log = logging.getLogger("rdv.workspace")
Work = Callable[[Progress], Coroutine[object, object, Outcome]]


@dataclass
class Run:
    kind: str  # "preview" or "apply"
    progress: Progress
    task: asyncio.Task[Outcome] = field(repr=False)

    @property
    def over(self) -> bool:
        return self.task.done()

    @property
    def outcome(self) -> Outcome | None:
        if not self.task.done() or self.task.cancelled() or self.task.exception():
            return None
        return self.task.result()

    @property
    def failure(self) -> str | None:
        """Why the run ended without an outcome: "changed" (the event changed meanwhile) or
        "failed"."""
        if not self.task.done() or self.task.cancelled():
            return None
        error = self.task.exception()
        if error is None:
            return None
        return "changed" if isinstance(error, Changed | NotFound) else "failed"


class SchedulingRuns:
    def __init__(self) -> None:
        self._runs: dict[str, Run] = {}

    def current(self, slug: str) -> Run | None:
        return self._runs.get(slug)

    def start(self, slug: str, kind: str, work: Work) -> Run:
        """Starts a run for the event, unless one is running: then that one goes on."""
        running = self._runs.get(slug)
        if running is not None and not running.over:
            return running
        progress = Progress()
        task: asyncio.Task[Outcome] = asyncio.get_running_loop().create_task(work(progress))
        task.add_done_callback(_logged)
        self._runs[slug] = Run(kind, progress, task)
        return self._runs[slug]

    async def close(self) -> None:
        for run in self._runs.values():
            if not run.over:
                run.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await run.task


def _logged(task: asyncio.Task[Outcome]) -> None:
    error = None if task.cancelled() else task.exception()
    if error is not None and not isinstance(error, Changed | NotFound):
        log.error("a scheduling run failed", exc_info=error)
