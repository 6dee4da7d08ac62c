"""The scheduler: its jobs are derived from our database, so a job due while no process ran
runs once when one starts again; two processes never run one job twice (job_runs); the loop
is never blocked by the scheduler's storage."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import func, select

from bot.bootstrap import App
from bot.config import PROJECT_ROOT
from bot.scheduler import running_scheduler
from bot.scheduler.runner import RunningScheduler
from bot.storage.models import AuditEntry, BroadcastMessage, ContactAddress, JobRun


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    """Wait for something another task or process does (polling; no fixed sleep)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def _opens(app: App) -> int:
    async with app.db.transaction() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "round.open")
            )
            or 0
        )


async def _scheduled_round_due(app: App, opted_in: int = 0) -> int:
    """A round planned to open a minute ago, at a factory where workers opted in earlier."""
    await app.admin.add_org("Test CSO", "cso")
    factory = await app.admin.add_factory("KHI-001", "Factory 0", "sindh")
    now = app.clock()
    async with app.db.transaction() as s:
        for i in range(opted_in):
            s.add(
                ContactAddress(
                    key=f"k{i}",
                    channel="telegram",
                    ciphertext=app.keyring.encrypt_address("telegram", str(5000 + i)),
                    purpose="opt_in",
                    factory_id=factory.id,
                    language="ur",
                    created_on=date(2026, 1, 1),
                )
            )
    rnd = await app.admin.create_round(
        "R",
        "Test CSO",
        app.survey,
        ["KHI-001"],
        now - timedelta(minutes=1),
        now + timedelta(days=30),
    )
    await app.admin.schedule_round(rnd.id)
    return rnd.id


async def test_a_job_due_while_stopped_runs_once_after_the_restart(app: App) -> None:
    round_id = await _scheduled_round_due(app)
    # A process planned the opening, and stopped before it ran (paused: it never runs jobs).
    async with running_scheduler(app, [], paused=True) as first:
        assert first.scheduler.get_job(f"round:{round_id}:open") is not None
    assert (await app.admin.get_round(round_id)).status == "scheduled"
    # Started again after the job's time: the stored job has misfired and runs once.
    async with running_scheduler(app, []):

        async def opened() -> bool:
            return (await app.admin.get_round(round_id)).status == "open"

        await _until(opened)
    async with running_scheduler(app, []) as third:  # and once more: nothing happens again
        await asyncio.sleep(0)
        assert third.scheduler.get_job(f"round:{round_id}:open") is None
    assert await _opens(app) == 1
    async with app.db.transaction() as s:
        keys = list((await s.execute(select(JobRun.key))).scalars())
    assert keys == [f"round:{round_id}:open"]


async def test_two_scheduler_processes_run_one_job_once(
    app: App, database_url: str, tmp_path: Path
) -> None:
    round_id = await _scheduled_round_due(app, opted_in=5)
    env = {
        **os.environ,
        "WAGECHECK_DATABASE_URL": database_url,
        "WAGECHECK_SECRET_KEY": app.settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        "WAGECHECK_HOME": str(tmp_path / "home"),
        "WAGECHECK_LOG_LEVEL": "INFO",
    }
    env.pop("WAGECHECK_TELEGRAM_TOKEN", None)
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "scheduler",
            cwd=PROJECT_ROOT,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for _ in range(2)
    ]
    try:

        async def opened() -> bool:
            return (await app.admin.get_round(round_id)).status == "open"

        await _until(opened, 60)
        await asyncio.sleep(1)  # let the slower process try too
    finally:
        logs = []
        for p in processes:
            p.terminate()
            out, _ = await asyncio.wait_for(p.communicate(), 20)
            logs.append(out.decode())
    assert all(p.returncode == 0 for p in processes), logs
    assert await _opens(app) == 1
    async with app.db.transaction() as s:
        invitations = await s.scalar(select(func.count()).select_from(BroadcastMessage))
        runs = await s.scalar(select(func.count()).select_from(JobRun))
    assert (invitations, runs) == (5, 1)


async def test_a_long_write_transaction_neither_stalls_the_loop_nor_stops_the_scheduler(
    app: App,
) -> None:
    """A job falls due while one of the bot's own transactions holds SQLite's write lock across
    awaits (as every write transaction does for a moment). The scheduler keeps nothing in the
    database, so the loop is not blocked waiting for that lock (it was, with APScheduler's
    synchronous job store: 5 s, then "database is locked" and no scheduling ever again); the
    job waits for the lock like any other coroutine and runs."""
    await app.admin.add_org("Test CSO", "cso")
    await app.admin.add_factory("KHI-001", "Factory 0", "sindh")
    now = app.clock()
    rnd = await app.admin.create_round(
        "R",
        "Test CSO",
        app.survey,
        ["KHI-001"],
        now + timedelta(seconds=1),
        now + timedelta(days=3),
    )
    await app.admin.schedule_round(rnd.id)
    loop = asyncio.get_running_loop()
    gaps: list[float] = []

    async def watch(stop: asyncio.Event) -> None:
        last = loop.time()
        while not stop.is_set():
            await asyncio.sleep(0.02)
            gaps.append(loop.time() - last)
            last = loop.time()

    async with running_scheduler(app, []):
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(stop))
        async with app.db.transaction() as s:
            s.add(AuditEntry(actor="test", action="test.hold", target="-", at=now))
            await s.flush()  # the write lock is taken (SQLite) …
            await asyncio.sleep(3)  # … and held across awaits while the opening falls due

        async def opened() -> bool:
            return (await app.admin.get_round(rnd.id)).status == "open"

        await _until(opened)
        stop.set()
        await watcher
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.1f} s"
    assert await _opens(app) == 1


# ------------------------------------------------------------------ the lease
async def test_the_lease_goes_to_one_holder_and_passes_on_only_when_it_expires(app: App) -> None:
    """Renewed by its holder, refused to another until it has expired, then taken over (the
    new holder learns whose it was); given up, it is taken at once."""
    from bot.service import lease

    t0 = app.clock()
    db = app.db
    assert (await lease.take_or_renew(db, "a", t0, 30)).held
    other = await lease.take_or_renew(db, "b", t0 + timedelta(seconds=1), 30)
    assert not other.held and other.holder == "a"
    assert (await lease.take_or_renew(db, "a", t0 + timedelta(seconds=10), 30)).held
    assert not (await lease.take_or_renew(db, "b", t0 + timedelta(seconds=35), 30)).held
    assert await lease.current_holder(db, t0 + timedelta(seconds=39)) == "a"
    taken = await lease.take_or_renew(db, "b", t0 + timedelta(seconds=41), 30)
    assert taken.held and taken.taken_from == "a"
    back = await lease.take_or_renew(db, "a", t0 + timedelta(seconds=42), 30)
    assert not back.held and back.holder == "b"  # the old holder learns it lost it
    assert await lease.release(db, "b", t0 + timedelta(seconds=43))
    assert (await lease.take_or_renew(db, "a", t0 + timedelta(seconds=43), 30)).held


async def test_many_attempts_at_once_give_the_lease_to_one(app: App) -> None:
    """Ten processes' attempts at the same moment on a new database: one holds it."""
    from bot.service import lease

    now = app.clock()
    states = await asyncio.gather(
        *(lease.take_or_renew(app.db, f"p{i}", now, 30) for i in range(10))
    )
    assert sum(s.held for s in states) == 1
    later = await asyncio.gather(
        *(lease.take_or_renew(app.db, f"p{i}", now + timedelta(seconds=31), 30) for i in range(10))
    )
    assert sum(s.held for s in later) == 1


async def test_a_second_scheduler_waits_and_takes_over_when_the_first_stops_or_dies(
    app: App,
) -> None:
    """Two running schedulers: only the lease holder runs jobs. When it stops (giving the
    lease up), the waiting one takes it within one renewal interval; when a holder stops
    renewing (killed, frozen), another takes it once it expired, and the old holder, should
    it come back, learns so at its next attempt and pauses its jobs."""
    from apscheduler.schedulers.base import STATE_PAUSED, STATE_RUNNING

    from bot import metrics
    from bot.clock import SetClock

    assert isinstance(app.clock, SetClock)
    app.clock.set(app.clock(), tick=True)
    app.settings = app.settings.model_copy(update={"scheduler_lease_seconds": 1.2})

    def held(running: RunningScheduler) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return running.lease is not None and running.lease.held

        return check

    async with running_scheduler(app, []) as second:
        async with running_scheduler(app, []) as first:
            assert first.lease is not None and second.lease is not None
            # whichever came first holds it; the other waits, paused
            holder, waiting = (second, first) if second.lease.held else (first, second)
            assert holder.lease.held and not waiting.lease.held  # type: ignore[union-attr]
            assert waiting.scheduler.state == STATE_PAUSED
            await asyncio.sleep(0.6)  # a few renewals: nothing changes
            assert holder.lease.held and not waiting.lease.held  # type: ignore[union-attr]
        if holder is first:  # the holder stopped cleanly: the other takes over at once
            await _until(held(second), 2)
        async with running_scheduler(app, []) as third:
            assert third.lease is not None and not third.lease.held
            keeper = second.lease
            assert keeper.held and keeper.task is not None
            keeper.task.cancel()  # the holder stops renewing, as if killed
            started = asyncio.get_running_loop().time()
            await _until(held(third), 5)
            waited = asyncio.get_running_loop().time() - started
            assert 0.8 < waited < 3.0, waited  # the lease ran out first
            assert third.scheduler.state == STATE_RUNNING
            label = metrics.SCHEDULER_HOLDER.labels(third.lease.holder)
            assert label._value.get() == 1
            assert not await keeper.attempt()  # back: it learns and pauses
            assert second.scheduler.state == STATE_PAUSED
