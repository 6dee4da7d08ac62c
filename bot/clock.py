"""The one clock. Everything that needs "now" is handed a `Clock` by the composition root
(`bot.bootstrap.build_app`): the real one in production, one a test sets when it needs a date.
No module other than this one reads the wall clock for a date or a time of day (monotonic
clocks for rate limits and timeouts measure durations, not dates, and are not covered)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The real clock: now, timezone-aware, in UTC."""
    return datetime.now(UTC)


class SetClock:
    """A clock set to a chosen moment: frozen there, or (`tick=True`) moving on from it at the
    pace of real time. Tests choose their dates with it; `set` moves it."""

    def __init__(self, moment: datetime, *, tick: bool = False) -> None:
        self.set(moment, tick=tick)

    def set(self, moment: datetime, *, tick: bool = False) -> None:
        if moment.tzinfo is None:
            raise ValueError("a clock's time must be timezone-aware")
        self._moment = moment.astimezone(UTC)
        self._tick = tick
        self._since = time.monotonic()

    def advance(self, by: timedelta) -> None:
        self._moment += by

    def __call__(self) -> datetime:
        if not self._tick:
            return self._moment
        return self._moment + timedelta(seconds=time.monotonic() - self._since)
