"""APScheduler 3 inside our process. Its jobs are kept in memory and derived from our database:
rounds are reconciled into date jobs at start and every minute (a round planned with
`wagecheck round schedule` in another process is picked up without a restart, and an opening or
closing missed while no process ran happens at the next start); a daily status missed by less
than its grace and the daily prune are caught up at start. Nothing the scheduler needs to
remember lives only in the scheduler.

Why not APScheduler's SQLAlchemyJobStore: it is synchronous and runs on the event loop's
thread. On SQLite it waited (blocking the bot) for the write lock that one of the bot's own
transactions held across an await — a deadlock ended only by "database is locked" after 5 s,
raised out of the scheduler's wake-up, which then never ran again (docs/rounds.md)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import metrics
from bot.bootstrap import App
from bot.enums import RoundStatus
from bot.scheduler.jobs import Jobs
from bot.service.broadcasts import BroadcastSender

log = logging.getLogger(__name__)

TICK_SECONDS = 60
# At shutdown, running jobs get this long to finish before they are cancelled (a broadcast is
# safe to cut — its messages are marked one by one — but a finished transaction is tidier).
FINISH_SECONDS = 10.0
# A missed round opening or closing runs however late the process comes back (a round must
# not stay open for ever because the server was down at closing time); a missed daily status
# is only worth sending the same day.
STATUS_GRACE = timedelta(hours=6)


class FinishingExecutor(AsyncIOExecutor):
    """APScheduler's asyncio executor, which cancels running jobs at shutdown whatever `wait`
    says; this one can first wait for them (`finish`)."""

    async def finish(self, seconds: float) -> None:
        running = [f for f in self._pending_futures if not f.done()]
        if running:
            await asyncio.wait(running, timeout=seconds)


def build_scheduler(executor: AsyncIOExecutor) -> AsyncIOScheduler:
    """The scheduler (jobs in memory, derived from the database) with coalescing (many missed
    runs → one) and a missed job run however late (a stalled event loop must not skip one)."""
    return AsyncIOScheduler(
        executors={"default": executor},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=UTC,
    )


async def reconcile(app: App, scheduler: AsyncIOScheduler, jobs: Jobs) -> None:
    """Make the date jobs match the rounds: open at opens_at, close at closes_at."""
    rounds = await app.admin.planned_rounds()
    wanted: dict[str, tuple[Callable[[int], Awaitable[bool]], datetime, int]] = {}
    for rnd in rounds:
        if rnd.status == RoundStatus.SCHEDULED and rnd.opens_at is not None:
            wanted[f"round:{rnd.id}:open"] = (jobs.open_round, rnd.opens_at, rnd.id)
        if rnd.closes_at is not None:
            wanted[f"round:{rnd.id}:close"] = (jobs.close_round, rnd.closes_at, rnd.id)
    for job in scheduler.get_jobs():
        if job.id.startswith("round:") and job.id not in wanted:
            scheduler.remove_job(job.id)
    for job_id, (func, when, round_id) in wanted.items():
        job = scheduler.get_job(job_id)
        planned = getattr(job, "next_run_time", None)
        if job is None or planned is None or planned != when:
            scheduler.add_job(
                func, "date", run_date=when, args=[round_id], id=job_id, replace_existing=True
            )


def status_missed(app: App, now: datetime) -> datetime | None:
    """Today's daily status time when it passed less than its grace ago: a process starting
    then sends the status of the rounds open at that time (one sent already is not sent
    twice: status messages are keyed by day)."""
    local = now.astimezone(ZoneInfo(app.settings.time_zone))
    due = local.replace(hour=app.settings.daily_status_hour, minute=0, second=0, microsecond=0)
    return due if due <= local < due + STATUS_GRACE else None


def add_standing_jobs(app: App, scheduler: AsyncIOScheduler, jobs: Jobs) -> None:
    """The tick, the daily status and the prune; and, at start, what a stopped process missed:
    the daily status (within its grace) and the prune (it only removes what is due to go)."""
    tz = app.settings.time_zone
    scheduler.add_job(jobs.tick, "interval", seconds=TICK_SECONDS, id="tick", replace_existing=True)
    scheduler.add_job(
        jobs.daily_status,
        "cron",
        hour=app.settings.daily_status_hour,
        timezone=tz,
        id="daily-status",
        replace_existing=True,
        misfire_grace_time=int(STATUS_GRACE.total_seconds()),
    )
    scheduler.add_job(jobs.prune, "cron", hour=3, timezone=tz, id="prune", replace_existing=True)
    scheduler.add_job(jobs.prune, id="prune-at-start", replace_existing=True)
    missed = status_missed(app, app.clock())
    if missed is not None:
        scheduler.add_job(
            jobs.daily_status, args=[missed], id="daily-status-at-start", replace_existing=True
        )


@dataclass(frozen=True)
class RunningScheduler:
    """APScheduler's scheduler and the jobs it runs."""

    scheduler: AsyncIOScheduler
    jobs: Jobs


@contextlib.asynccontextmanager
async def running_scheduler(
    app: App, senders: Sequence[BroadcastSender], paused: bool = False
) -> AsyncIterator[RunningScheduler]:
    """Run the scheduler (and its broadcaster, on the channels' `senders`) for the duration
    of the block."""
    holder = f"{socket.gethostname()}:{os.getpid()}"
    jobs = Jobs(app, app.broadcaster(senders), holder)
    executor = FinishingExecutor()
    scheduler = build_scheduler(executor)
    jobs.reconcile = functools.partial(reconcile, app, scheduler, jobs)
    scheduler.start(paused=True)
    try:
        add_standing_jobs(app, scheduler, jobs)
        await reconcile(app, scheduler, jobs)
        if not paused:
            scheduler.resume()
            metrics.scheduler_started(holder)
        log.info("scheduler running")
        yield RunningScheduler(scheduler, jobs)
    finally:
        metrics.scheduler_stopped(holder)
        scheduler.pause()
        await executor.finish(FINISH_SECONDS)
        scheduler.shutdown(wait=False)
        log.info("scheduler stopped")


async def run_until_stopped(
    app: App, senders: Sequence[BroadcastSender], stop: asyncio.Event | None = None
) -> None:
    """`wagecheck scheduler`: run until SIGINT/SIGTERM (or `stop`)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with running_scheduler(app, senders):
        await stop.wait()
