"""The scheduler lease (docs/architecture.md "Scaling"): one row in `scheduler_lease` says
which process runs the scheduled jobs and until when. Its holder renews it every few seconds;
another process takes it only once it has expired, with a conditional UPDATE (or the first
INSERT), so two processes never both hold it: the database decides, not the processes.

Times are the processes' clocks (kept within a second of each other by NTP); the holder stops
running jobs one renewal interval before its lease could be taken (bot/scheduler/runner.py).
With SQLite one process serves everything, and the lease simply stays with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.storage.database import Database, rowcount
from bot.storage.models import BroadcastMessage, SchedulerLease

SCHEDULER = "scheduler"


@dataclass(frozen=True)
class LeaseState:
    """After an attempt: whether `holder` holds the lease, who does, and — when it was just
    taken over from another process whose lease had expired — that process."""

    held: bool
    holder: str | None
    expires_at: datetime | None
    taken_from: str | None = None


async def take_or_renew(
    db: Database, holder: str, now: datetime, seconds: float, name: str = SCHEDULER
) -> LeaseState:
    """Renew the lease if `holder` has it, take it if it is free or expired, else say who has
    it. Each step is one conditional statement; concurrent attempts are serialised by the
    row's lock, and only one of them matches."""
    until = now + timedelta(seconds=seconds)
    async with db.transaction() as s:
        renewed = await s.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
            .values(expires_at=until)
        )
        if rowcount(renewed):
            return LeaseState(True, holder, until)
        current = (
            await s.execute(select(SchedulerLease).where(SchedulerLease.name == name))
        ).scalar_one_or_none()
        if current is not None:
            previous = current.holder  # read now: the UPDATE below refreshes `current`
            if current.expires_at >= now:
                return LeaseState(False, previous, current.expires_at)
            taken = await s.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == name,
                    SchedulerLease.holder == previous,
                    SchedulerLease.expires_at < now,
                )
                .values(holder=holder, acquired_at=now, expires_at=until)
            )
            if rowcount(taken):
                return LeaseState(True, holder, until, taken_from=previous)
            return LeaseState(False, None, None)  # another process was quicker
    try:
        async with db.transaction() as s:
            s.add(SchedulerLease(name=name, holder=holder, acquired_at=now, expires_at=until))
    except IntegrityError:
        return LeaseState(False, None, None)  # another process made the row first
    return LeaseState(True, holder, until)


async def release(db: Database, holder: str, now: datetime, name: str = SCHEDULER) -> bool:
    """Give the lease up (a clean stop): the next process takes it at its next attempt."""
    async with db.transaction() as s:
        done = await s.execute(
            update(SchedulerLease)
            .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
            .values(expires_at=now - timedelta(microseconds=1))
        )
    return bool(rowcount(done))


async def current_holder(db: Database, now: datetime, name: str = SCHEDULER) -> str | None:
    """The process holding the lease now, or None."""
    async with db.transaction() as s:
        row = (
            await s.execute(select(SchedulerLease).where(SchedulerLease.name == name))
        ).scalar_one_or_none()
    return row.holder if row is not None and row.expires_at >= now else None


async def expire_claims(db: Database, claimed_by: str, now: datetime) -> int:
    """The broadcast rows a dead lease holder had claimed: their claims end now instead of
    minutes later, so the new holder sends what was never handed over (a row it had
    handed over becomes in doubt, as after any interrupted send; a late mark by the old
    holder matches nothing, since it is made only under its own claim)."""
    async with db.transaction() as s:
        done = await s.execute(
            update(BroadcastMessage)
            .where(BroadcastMessage.status == "sending", BroadcastMessage.claimed_by == claimed_by)
            .values(claimed_until=now - timedelta(microseconds=1))
        )
    return rowcount(done)
