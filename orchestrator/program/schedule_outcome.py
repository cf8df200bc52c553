"""What a scheduling run answers: the method, the figures, each request's meeting and how it
changed, each request left and why; as lines for the command and as JSON for the API."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .changes import ChangeSet
from .model import Request


@dataclass(frozen=True, slots=True)
class Placed:
    """A request's meeting after the run. `change` is `new`, `kept`, `moved` or `stuck` (it
    should move but its invites went out, so it stays); `why` says why it moved or should."""

    request: Request
    start: datetime
    end: datetime
    attendees: tuple[str, ...]
    change: str
    before: datetime | None = None
    why: str | None = None


@dataclass(frozen=True, slots=True)
class Unplaced:
    """A request left without a meeting, and why; `removed` when it had one before."""

    request: Request
    reason: str
    message: str
    removed: bool = False


@dataclass
class Outcome:
    """One run: `names` turns keys into the names people read, `tz` the event's zone for times;
    `changes` is None on a dry run or when there was nothing to schedule."""

    slug: str
    tz: ZoneInfo
    names: dict[str, str]
    method: str = "none"
    optimal: bool = True
    bound: int | None = None
    requests: int = 0
    total_weight: int = 0
    placed: list[Placed] = field(default_factory=list)
    unplaced: list[Unplaced] = field(default_factory=list)
    seconds: float = 0.0
    dry_run: bool = False
    changes: ChangeSet | None = None

    @property
    def weighted(self) -> int:
        return sum(item.request.priority for item in self.placed)

    def _when(self, moment: datetime) -> str:
        return moment.astimezone(self.tz).strftime("%Y-%m-%d %H:%M")

    def _pair(self, request: Request) -> str:
        return f"{self.names.get(request.source, request.source)} × " + self.names.get(
            request.target, request.target
        )

    def lines(self) -> list[str]:
        """What the command prints: the method and figures, each change, each request left."""
        proven = "proven optimal" if self.optimal else "not proven optimal"
        bound = "" if self.bound is None else f", bound {self.bound}"
        lines = [
            f"{self.slug}: placed {len(self.placed)} of {self.requests} meeting requests "
            f"(weighted {self.weighted} of {self.total_weight}{bound}) by {self.method}, "
            f"{proven}, in {self.seconds:.1f} s"
        ]
        kept = sum(1 for item in self.placed if item.change == "kept")
        if kept:
            lines.append(f"  kept where they were: {kept}")
        for item in self.placed:
            key = item.request.session_key
            end = item.end.astimezone(self.tz).strftime("%H:%M")
            span = f"{self._when(item.start)}–{end}"
            if item.change == "new":
                lines.append(f"  new    {key}: {span}, {self._pair(item.request)}")
            elif item.change == "moved":
                before = self._when(item.before) if item.before else "?"
                lines.append(f"  moved  {key}: {before} → {span} ({item.why})")
            elif item.change == "stuck":
                lines.append(
                    f"  stays  {key}: {span} although {item.why}; its invites went out "
                    "(--move moves it)"
                )
        for left in self.unplaced:
            verb = "removed" if left.removed else "not placed"
            lines.append(
                f"  {verb} requests[{left.request.index}] {self._pair(left.request)}: "
                f"{left.message}"
            )
        if self.dry_run:
            lines.append("dry run: nothing was written")
        elif self.changes is not None:
            lines.extend(self.changes.summary())
        return lines

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "optimal": self.optimal,
            "seconds": round(self.seconds, 3),
            "requests": self.requests,
            "placed": len(self.placed),
            "weighted": self.weighted,
            "total_weight": self.total_weight,
            "bound": self.bound,
            "dry_run": self.dry_run,
            "meetings": [
                {
                    "key": item.request.session_key,
                    "request": item.request.index,
                    "from": item.request.source,
                    "to": item.request.target,
                    "start": item.start.isoformat(),
                    "end": item.end.isoformat(),
                    "attendees": list(item.attendees),
                    "change": item.change,
                    **({"before": item.before.isoformat()} if item.before else {}),
                    **({"why": item.why} if item.why else {}),
                }
                for item in self.placed
            ],
            "unplaced": [
                {
                    "request": left.request.index,
                    "place": f"requests[{left.request.index}]",
                    "from": left.request.source,
                    "to": left.request.target,
                    "reason": left.reason,
                    "message": left.message,
                    "removed": left.removed,
                }
                for left in self.unplaced
            ],
            "changes": None if self.changes is None else self.changes.as_dict(),
        }
