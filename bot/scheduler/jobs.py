"""The scheduled jobs: plain functions with plain arguments; what they work with (the App, the
broadcaster, the clock) is the context the running scheduler installed. Each job's effect is
keyed in `job_runs` or by the outbox's unique key (run once, however many processes)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.bootstrap import App
from bot.clock import Clock
from bot.service.admin import AdminError, AdminService
from bot.service.broadcasts import (
    Broadcaster,
    enqueue_daily_status,
    enqueue_due_reminders,
)
from bot.storage.models import Round

log = logging.getLogger(__name__)


@dataclass
class Context:
    app: App
    broadcaster: Broadcaster
    clock: Clock
    holder: str
    # Re-reads the rounds and moves their open/close jobs (set by the running scheduler), so
    # `round extend/schedule/cancel` in another process takes effect without a restart.
    reconcile: Callable[[], Awaitable[None]] | None = None


_context: Context | None = None


def install(context: Context | None) -> None:
    global _context
    _context = context


def context() -> Context:
    if _context is None:
        raise RuntimeError("no scheduler context installed (bot.scheduler.runner)")
    return _context


def _admin(ctx: Context) -> AdminService:
    """Round changes made by a job are audited as the scheduler's, with its process."""
    return ctx.app.admin.acting_as(f"scheduler {ctx.holder}")


async def open_round(round_id: int) -> bool:
    """Open a scheduled round (job "round:N:open"); False when it ran already elsewhere."""
    ctx = context()
    try:
        await _admin(ctx).start_round(round_id, ctx.clock(), job_key=f"round:{round_id}:open")
    except (IntegrityError, AdminError) as exc:
        log.info("round %s open: nothing to do (%s)", round_id, type(exc).__name__)
        return False
    log.info("round %s opened", round_id)
    await ctx.broadcaster.drain(round_id=round_id)
    return True


async def close_round(round_id: int) -> bool:
    """Close an open round, purge its addresses, deliver the reports (job "round:N:close")."""
    ctx = context()
    async with ctx.app.db.transaction() as s:
        closes_at = await s.scalar(select(Round.closes_at).where(Round.id == round_id))
    if closes_at is not None and closes_at > ctx.clock():
        # Extended since this job was planned (by another process, perhaps seconds ago).
        log.info("round %s close: its closing time moved to later; not closing", round_id)
        if ctx.reconcile is not None:
            await ctx.reconcile()
        return False
    try:
        await _admin(ctx).close_round(round_id, ctx.clock(), job_key=f"round:{round_id}:close")
    except (IntegrityError, AdminError) as exc:
        log.info("round %s close: nothing to do (%s)", round_id, type(exc).__name__)
        return False
    log.info("round %s closed", round_id)
    await ctx.broadcaster.drain(round_id=round_id)
    return True


async def remind() -> int:
    """Queue due reminders; two processes may race: the unique key keeps one of each."""
    ctx = context()
    try:
        async with ctx.app.db.transaction() as s:
            return await enqueue_due_reminders(s, ctx.clock())
    except IntegrityError:
        return 0


async def tick() -> None:
    """Every minute: follow round changes made elsewhere, queue due reminders and send what the
    outbox holds (worker messages wait while it is night in the factories' time zone)."""
    ctx = context()
    if ctx.reconcile is not None:
        await ctx.reconcile()
    await remind()
    await ctx.broadcaster.drain()


async def daily_status(opened_by: datetime | None = None) -> int:
    """Once a day: counts per factory to the members of each CSO with an open round. Caught up
    at a start after the status time (`opened_by` = that time): only rounds open by then."""
    ctx = context()
    now = ctx.clock()
    day = now.astimezone(ctx.broadcaster.quiet.zone).date()
    query = select(Round.id).where(Round.status == "open")
    if opened_by is not None:
        query = query.where(Round.opens_at <= opened_by.astimezone(UTC))  # SQLite: as stored
    async with ctx.app.db.transaction() as s:
        rounds = list((await s.execute(query)).scalars())
    counts = {r: await ctx.app.admin.counts(r) for r in rounds}
    try:
        async with ctx.app.db.transaction() as s:
            queued = await enqueue_daily_status(s, day, now, counts)
    except IntegrityError:
        queued = 0
    await ctx.broadcaster.drain(kinds=("status",))
    return queued


async def prune() -> None:
    """Once a day: forget old message ids and expired opt-in addresses."""
    ctx = context()
    today = ctx.clock().astimezone(ctx.broadcaster.quiet.zone).date()
    await _admin(ctx).prune(today)


def now() -> datetime:
    return context().clock()
