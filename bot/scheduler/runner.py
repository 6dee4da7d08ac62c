"""APScheduler 3 inside our process. Its jobs are kept in memory and derived from our database:
rounds are reconciled into date jobs at start and every minute (a round planned with
`wagecheck round schedule` in another process is picked up without a restart, and an opening or
closing missed while no process ran happens at the next start); a daily status missed by less
than its grace and the daily prune are caught up at start. Nothing the scheduler needs to
remember lives only in the scheduler.

One process at a time runs the jobs: the one holding the scheduler lease (bot/service/lease.py,
docs/architecture.md "Scaling"). Every `wagecheck scheduler` tries to take it every few seconds;
the others wait, their APScheduler paused, and one of them takes over when the holder stops
(at once: it gives the lease up) or dies (when the lease expires). The jobs' effects are keyed
as well (job_runs, the outbox's unique keys), so even two holders would not do anything twice.

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
import secrets
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
from bot.service import lease
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

    def cancel_running(self) -> int:
        """Stop the jobs running now (the lease was lost: another process may run them)."""
        running = [f for f in self._pending_futures if not f.done()]
        for f in running:
            f.cancel()
        return len(running)


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
    tick = app.settings.scheduler_tick_seconds or TICK_SECONDS
    scheduler.add_job(jobs.tick, "interval", seconds=tick, id="tick", replace_existing=True)
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
    """APScheduler's scheduler, the jobs it runs and the lease it runs them under."""

    scheduler: AsyncIOScheduler
    jobs: Jobs
    lease: LeaseKeeper | None = None


def process_name() -> str:
    """This process among the schedulers: host, pid and a few random characters (a container
    restarted with the same host name and pid 1 is another holder). At most 40 characters:
    it also marks the broadcast rows this process claims."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{secrets.token_hex(3)}"


class LeaseKeeper:
    """Takes and renews the scheduler lease every `seconds / 6`; runs the scheduler's jobs
    while it holds the lease and pauses them (cancelling any running one) when it is lost —
    taken by another process, or not renewed for `seconds` minus one interval (the database
    did not answer), before anyone else could take it."""

    def __init__(
        self,
        app: App,
        scheduler: AsyncIOScheduler,
        executor: FinishingExecutor,
        holder: str,
    ) -> None:
        self.app, self.scheduler, self.executor, self.holder = app, scheduler, executor, holder
        self.seconds = float(app.settings.scheduler_lease_seconds)
        self.interval = max(self.seconds / 6, 0.3)
        self.held = False
        self._renewed = 0.0  # loop time of the last renewal
        self._waiting_for: str | None = None
        self.task: asyncio.Task[None] | None = None  # the renewing loop (running_scheduler)

    async def attempt(self) -> bool:
        """One try; True while this process holds the lease."""
        loop = asyncio.get_running_loop()
        now = self.app.clock()
        try:
            state: lease.LeaseState | None = await lease.take_or_renew(
                self.app.db, self.holder, now, self.seconds
            )
        except Exception as exc:  # the database away for a moment: keep going while it lasts
            log.warning("scheduler lease: could not renew (%s)", type(exc).__name__)
            state = None
        if state is not None and state.held:
            self._renewed = loop.time()
            if not self.held:
                await self._taken(state, now)
            return True
        if not self.held:
            if state is not None and state.holder and state.holder != self._waiting_for:
                self._waiting_for = state.holder
                log.info("scheduler waiting: the lease is held by %s", state.holder)
            return False
        if state is not None or loop.time() - self._renewed > self.seconds - self.interval:
            self._lost(state.holder if state is not None else None)
        return self.held

    async def _taken(self, state: lease.LeaseState, now: datetime) -> None:
        self.held, self._waiting_for = True, None
        if state.taken_from:
            # The last holder died holding claims on broadcast rows: end them now.
            with contextlib.suppress(Exception):
                ended = await lease.expire_claims(self.app.db, state.taken_from, now)
                if ended:
                    log.info(
                        "scheduler lease: %d broadcast claim(s) of %s ended",
                        ended,
                        state.taken_from,
                    )
        self.scheduler.resume()
        metrics.scheduler_started(self.holder)
        log.info(
            "scheduler lease taken by %s%s",
            self.holder,
            f" (from {state.taken_from}, whose lease expired)" if state.taken_from else "",
        )

    def _lost(self, other: str | None) -> None:
        self.held = False
        self.scheduler.pause()
        cancelled = self.executor.cancel_running()
        metrics.scheduler_stopped(self.holder)
        log.warning(
            "scheduler lease lost (%s): jobs paused%s",
            f"now held by {other}" if other else "not renewed in time",
            f", {cancelled} running job(s) cancelled" if cancelled else "",
        )

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.attempt()

    async def release(self) -> None:
        if not self.held:
            return
        self.held = False
        metrics.scheduler_stopped(self.holder)
        try:
            await lease.release(self.app.db, self.holder, self.app.clock())
        except Exception as exc:
            log.warning("scheduler lease: could not give it up (%s)", type(exc).__name__)


@contextlib.asynccontextmanager
async def running_scheduler(
    app: App, senders: Sequence[BroadcastSender], paused: bool = False
) -> AsyncIterator[RunningScheduler]:
    """Run the scheduler (and its broadcaster, on the channels' `senders`) for the duration
    of the block: its jobs run while this process holds the scheduler lease (taken at once
    when free). `paused`: never runs jobs and takes no lease (tests run the jobs by hand)."""
    holder = process_name()
    jobs = Jobs(app, app.broadcaster(senders, holder=holder), holder)
    executor = FinishingExecutor()
    scheduler = build_scheduler(executor)
    jobs.reconcile = functools.partial(reconcile, app, scheduler, jobs)
    keeper = LeaseKeeper(app, scheduler, executor, holder)
    renewing: asyncio.Task[None] | None = None
    scheduler.start(paused=True)
    try:
        add_standing_jobs(app, scheduler, jobs)
        await reconcile(app, scheduler, jobs)
        if not paused:
            await keeper.attempt()
            renewing = keeper.task = asyncio.create_task(keeper.run(), name="scheduler-lease")
        log.info(
            "scheduler running" if keeper.held or paused else "scheduler waiting for the lease"
        )
        yield RunningScheduler(scheduler, jobs, keeper)
    finally:
        if renewing is not None:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing
        scheduler.pause()
        await executor.finish(FINISH_SECONDS)
        scheduler.shutdown(wait=False)
        await keeper.release()
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
