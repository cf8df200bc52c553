"""The demo's clock: the wall clock until the day starts, then many times faster, so a whole
day of meetings plays in about a minute; every part of the service reads the time from it."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta


class DemoClock:
    def __init__(self) -> None:
        self._origin = datetime.now(UTC)
        self._since = time.monotonic()
        self.speed = 1.0

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=(time.monotonic() - self._since) * self.speed)

    def set_speed(self, speed: float) -> None:
        """From now on, one real second is `speed` seconds of the day; time never jumps."""
        self._origin, self._since = self.now(), time.monotonic()
        self.speed = speed

    def real_seconds_until(self, moment: datetime) -> float:
        return max((moment - self.now()).total_seconds() / self.speed, 0.0)
