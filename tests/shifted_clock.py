"""The wall clock moved for a whole test run: WAGECHECK_TEST_CLOCK names the moment each test
starts at (it then moves on in real time). `.ci/run` runs the date-sensitive tests again under
each of the named moments below; any ISO 8601 moment with an offset works too.

Named moments are counted from the real today, in Karachi time, so that they stay ahead of
the real clock (a moment in the past would put the shifted run behind databases and other
processes that keep the real time):

- `plus400d`: 400 days from today, 11:00 (daytime: messages to workers go out);
- `fy-end`: the next 30 June, 23:59 (the last minute of the fiscal year: wage notifications
  and the wage table's years turn at 1 July);
- `fy-start`: the next 1 July, 00:00;
- `month-end`: the last day of this month, 20:59 (the last evening of a month: "last month"
  turns; quiet hours start a minute later);
- `night`: 23:30 on the 15th of next month (inside quiet hours)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

KARACHI = ZoneInfo("Asia/Karachi")
VARIABLE = "WAGECHECK_TEST_CLOCK"
# Processes a test starts (the CLI, the bot, the scheduler) take the same shift: Python runs
# sitecustomize.py from this folder at their start (not named WAGECHECK_*: some tests start
# processes with the WAGECHECK_ settings removed, and the shift must survive that).
CHILDREN = Path(__file__).parent / "shifted_children"
OFFSET = "SHIFTED_CLOCK_OFFSET"


def _next(month: int, day: int, at: time, today: date) -> datetime:
    moment = datetime.combine(date(today.year, month, day), at, KARACHI)
    if moment.date() <= today:
        moment = datetime.combine(date(today.year + 1, month, day), at, KARACHI)
    return moment


def moment(name: str, today: date | None = None) -> datetime:
    """The moment `name` stands for (see the module's text)."""
    today = today or datetime.now(KARACHI).date()
    if name == "plus400d":
        return datetime.combine(today + timedelta(days=400), time(11, 0), KARACHI)
    if name == "fy-end":
        return _next(6, 30, time(23, 59), today)
    if name == "fy-start":
        return _next(7, 1, time(0, 0), today)
    if name == "month-end":
        first_of_next = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
        return datetime.combine(first_of_next - timedelta(days=1), time(20, 59), KARACHI)
    if name == "night":
        first_of_next = (today.replace(day=28) + timedelta(days=4)).replace(day=1)
        return datetime.combine(first_of_next.replace(day=15), time(23, 30), KARACHI)
    parsed = datetime.fromisoformat(name)
    if parsed.tzinfo is None:
        raise pytest.UsageError(f"{VARIABLE}={name!r}: give a moment with its offset")
    return parsed


def shifted_to() -> datetime | None:
    name = os.environ.get(VARIABLE, "").strip()
    return moment(name) if name else None


@contextlib.contextmanager
def travel_for_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """Start the test at the shifted moment (no-op without WAGECHECK_TEST_CLOCK)."""
    destination = shifted_to()
    if destination is None:
        yield
        return
    import time_machine  # a test dependency, used only in the shifted runs

    saved = {name: os.environ.get(name) for name in (OFFSET, "PYTHONPATH")}
    offset = (destination - datetime.now(UTC)).total_seconds()
    os.environ[OFFSET] = repr(offset)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHILDREN), saved["PYTHONPATH"]]))
    try:
        with time_machine.travel(destination, tick=True):
            yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
