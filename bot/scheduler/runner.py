"""APScheduler 3 inside our process: an AsyncIOScheduler whose job store is a table in our
own database (APScheduler's SQLAlchemyJobStore is synchronous, so it gets the sync twin of the
async URL). Rounds are reconciled into date jobs at start and every minute, so a round planned
with `wagecheck round schedule` in another process is picked up without a restart."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select
from sqlalchemy.engine import make_url

from bot.bootstrap import App
from bot.scheduler import jobs
from bot.service.broadcasts import Broadcaster, BroadcastSender, Clock, QuietHours, utc_now
from bot.storage.models import Round

log = logging.getLogger(__name__)

JOB_TABLE = "apscheduler_jobs"
TICK_SECONDS = 60
# A missed round opening or closing runs however late the process comes back (a round must
# not stay open for ever because the server was down at closing time); a missed daily status
# is only worth sending the same day.
STATUS_GRACE = timedelta(hours=6)
SYNC_DRIVERS = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql+psycopg"}


def sync_url(async_url: str) -> str:
    """The synchronous twin of our async database URL, for APScheduler's job store."""
    url = make_url(async_url)
    driver = SYNC_DRIVERS.get(url.drivername)
    if driver is None:
        raise ValueError(f"no synchronous driver known for {url.drivername!r}")
    return url.set(drivername=driver).render_as_string(hide_password=False)


def quiet_hours(app: App) -> QuietHours:
    from zoneinfo import ZoneInfo

    s = app.settings
    return QuietHours(s.quiet_hours_start, s.quiet_hours_end, ZoneInfo(s.time_zone))


def build_scheduler(app: App) -> AsyncIOScheduler:
    """The scheduler with our job store and the defaults that make it restart-proof:
    coalesce (many missed runs → one), and run a missed job however late."""
    return AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=sync_url(app.db.url), tablename=JOB_TABLE)},
        job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
        timezone=UTC,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def reconcile(app: App, scheduler: AsyncIOScheduler) -> None:
    """Make the date jobs match the rounds: open at opens_at, close at closes_at."""
    async with app.db.transaction() as s:
        rounds = list(
            (
                await s.execute(select(Round).where(Round.status.in_(("scheduled", "open"))))
            ).scalars()
        )
    wanted: dict[str, tuple[object, datetime, int]] = {}
    for rnd in rounds:
        if rnd.status == "scheduled" and rnd.opens_at is not None:
            wanted[f"round:{rnd.id}:open"] = (jobs.open_round, _aware(rnd.opens_at), rnd.id)
        if rnd.closes_at is not None:
            wanted[f"round:{rnd.id}:close"] = (jobs.close_round, _aware(rnd.closes_at), rnd.id)
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


def add_standing_jobs(app: App, scheduler: AsyncIOScheduler) -> None:
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


@contextlib.asynccontextmanager
async def running_scheduler(
    app: App,
    senders: Sequence[BroadcastSender],
    clock: Clock = utc_now,
    paused: bool = False,
) -> AsyncIterator[AsyncIOScheduler]:
    """Run the scheduler (and its broadcaster) for the duration of the block."""
    broadcaster = Broadcaster(app.db, app.keyring, app.catalogs, senders, quiet_hours(app), clock)
    holder = f"{socket.gethostname()}:{os.getpid()}"
    context = jobs.Context(app, broadcaster, clock, holder)
    jobs.install(context)
    scheduler = build_scheduler(app)
    context.reconcile = functools.partial(reconcile, app, scheduler)
    scheduler.start(paused=True)
    try:
        add_standing_jobs(app, scheduler)
        await reconcile(app, scheduler)
        if not paused:
            scheduler.resume()
        log.info("scheduler running")
        yield scheduler
    finally:
        scheduler.shutdown(wait=False)
        jobs.install(None)
        log.info("scheduler stopped")


async def channel_senders(app: App) -> tuple[list[BroadcastSender], list[object]]:
    """Senders for the channels configured (Telegram when its token is set, WhatsApp when its
    token and phone number id are), and the clients to stop afterwards."""
    senders: list[BroadcastSender] = []
    clients: list[object] = []
    if app.settings.telegram_token is not None:
        from bot.channels.telegram import TelegramChannel
        from bot.channels.telegram.broadcast import TelegramSender

        telegram = TelegramChannel.build(app)
        await telegram.application.initialize()
        senders.append(TelegramSender(telegram))
        clients.append(telegram)
    if app.settings.whatsapp_token is not None and app.settings.whatsapp_phone_number_id:
        from bot.channels.whatsapp.adapter import WhatsAppChannel
        from bot.channels.whatsapp.broadcast import WhatsAppSender

        whatsapp = WhatsAppChannel.build(app)
        await whatsapp.start()
        senders.append(WhatsAppSender(whatsapp))
        clients.append(whatsapp)
    return senders, clients


async def run_until_stopped(app: App, stop: asyncio.Event | None = None) -> None:
    """`wagecheck scheduler`: run until SIGINT/SIGTERM (or `stop`)."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    senders, channels = await channel_senders(app)
    try:
        async with running_scheduler(app, senders):
            await stop.wait()
    finally:
        for channel in channels:
            await channel.stop()  # type: ignore[attr-defined]


@contextlib.asynccontextmanager
async def alongside(app: App, enabled: bool = True) -> AsyncIterator[None]:
    """The scheduler next to the channels of `wagecheck run` (its own Telegram client)."""
    if not enabled:
        yield
        return
    senders, channels = await channel_senders(app)
    try:
        async with running_scheduler(app, senders):
            yield
    finally:
        for channel in channels:
            await channel.stop()  # type: ignore[attr-defined]
