"""Python loads this at start-up in every process a test starts while the wall clock is
shifted (tests/shifted_clock.py puts this folder on PYTHONPATH and the shift, in seconds, in
SHIFTED_CLOCK_OFFSET): the CLI, the bot and the scheduler started by a test then keep the same
shifted time as the test. Without SHIFTED_CLOCK_OFFSET it does nothing."""

import os

_offset = os.environ.get("SHIFTED_CLOCK_OFFSET")
if _offset:
    from datetime import UTC, datetime, timedelta

    import time_machine

    time_machine.travel(datetime.now(UTC) + timedelta(seconds=float(_offset)), tick=True).start()
