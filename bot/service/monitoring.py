"""`/metrics`: this process's counters (bot/metrics.py) and, read from the database at each
scrape, what every process shares — the reply outbox, the broadcast queue, open rounds and
completed answers per open round (docs/operations.md, "Monitoring").

The database figures are read in one short transaction per scrape, so two processes scraped
at once report the same truth, and nothing is cached that could go stale. Counts only: per
channel, message kind, status and round, never per worker or factory. Completed answers are
counted as of the start of the current hour: the database keeps completion times only to the
hour (`responses.completed_hour`), and a count that moved at every scrape would tell the
monitoring system, which keeps its series for weeks, the minute each worker finished.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from bot.clock import Clock
from bot.enums import ResponseStatus, RoundStatus
from bot.metrics import REGISTRY
from bot.service.broadcasts import shown_status
from bot.storage import Database
from bot.storage.models import BroadcastMessage, OutboxMessage, Response, Round

log = logging.getLogger(__name__)


# Statuses of the broadcast queue shown as its depth; the settled ones (sent, blocked,
# skipped, failed, undeliverable) are shown too, as totals.
QUEUED = ("pending", "sending", "in_doubt")


@dataclass
class Snapshot:
    """What the database says at one moment (one scrape)."""

    reply_outbox: dict[str, int] = field(default_factory=dict)  # per channel
    reply_outbox_oldest_seconds: float = 0.0
    broadcasts: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, status)
    broadcast_oldest_pending_seconds: dict[str, float] = field(default_factory=dict)  # kind
    open_rounds: int = 0
    completed: dict[int, int] = field(default_factory=dict)  # open round id -> responses


async def read_snapshot(db: Database, now: datetime) -> Snapshot:
    """The shared figures, in one transaction of a handful of grouped counts."""
    snap = Snapshot()
    hour = now.replace(minute=0, second=0, microsecond=0)
    async with db.transaction() as s:
        for channel, n, oldest in (
            await s.execute(
                select(
                    OutboxMessage.channel, func.count(), func.min(OutboxMessage.created_at)
                ).group_by(OutboxMessage.channel)
            )
        ).all():
            snap.reply_outbox[str(channel)] = int(n)
            if oldest is not None:
                age = _age(now, oldest)
                snap.reply_outbox_oldest_seconds = max(snap.reply_outbox_oldest_seconds, age)
        status = shown_status().label("shown")
        for kind, shown, n in (
            await s.execute(
                select(BroadcastMessage.kind, status, func.count()).group_by(
                    BroadcastMessage.kind, status
                )
            )
        ).all():
            snap.broadcasts[(str(kind), str(shown))] = int(n)
        for kind, oldest in (
            await s.execute(
                select(BroadcastMessage.kind, func.min(BroadcastMessage.created_at))
                .where(BroadcastMessage.status == "pending")
                .group_by(BroadcastMessage.kind)
            )
        ).all():
            if oldest is not None:
                snap.broadcast_oldest_pending_seconds[str(kind)] = _age(now, oldest)
        open_ids = list(
            (await s.execute(select(Round.id).where(Round.status == RoundStatus.OPEN))).scalars()
        )
        snap.open_rounds = len(open_ids)
        snap.completed = dict.fromkeys(open_ids, 0)
        if open_ids:
            for round_id, n in (
                await s.execute(
                    select(Response.round_id, func.count())
                    .where(
                        Response.round_id.in_(open_ids),
                        Response.status == ResponseStatus.COMPLETE,
                        Response.completed_hour < hour,
                    )
                    .group_by(Response.round_id)
                )
            ).all():
                snap.completed[int(round_id)] = int(n)
    return snap


def _age(now: datetime, then: datetime) -> float:
    return max(0.0, (now - then) / timedelta(seconds=1))


def snapshot_families(snap: Snapshot | None, seconds: float) -> list[GaugeMetricFamily]:
    """The snapshot as gauges; `None` (the database did not answer) gives only `up` = 0."""
    up = GaugeMetricFamily(
        "wagecheck_database_up", "1 when this scrape could read the database, else 0"
    )
    up.add_metric([], 1 if snap is not None else 0)
    took = GaugeMetricFamily(
        "wagecheck_metrics_query_seconds", "How long this scrape's database queries took"
    )
    took.add_metric([], seconds)
    if snap is None:
        return [up, took]
    outbox = GaugeMetricFamily(
        "wagecheck_reply_outbox_messages",
        "Replies to workers recorded but not yet taken for sending (all processes)",
        labels=["channel"],
    )
    for channel, n in sorted(snap.reply_outbox.items()):
        outbox.add_metric([channel], n)
    outbox_age = GaugeMetricFamily(
        "wagecheck_reply_outbox_oldest_seconds",
        "Age of the oldest reply still in the outbox (0 when it is empty)",
    )
    outbox_age.add_metric([], snap.reply_outbox_oldest_seconds)
    broadcasts = GaugeMetricFamily(
        "wagecheck_broadcast_messages",
        "Broadcast rows (reminders, invitations, status, reports) per kind and status; "
        "pending, sending and in_doubt are the queue",
        labels=["kind", "status"],
    )
    for kind in sorted({k for k, _ in snap.broadcasts} | {"reminder"}):
        for status in QUEUED:  # always present, so an alert on them sees 0, not nothing
            broadcasts.add_metric([kind, status], snap.broadcasts.get((kind, status), 0))
    for (kind, status), n in sorted(snap.broadcasts.items()):
        if status not in QUEUED:
            broadcasts.add_metric([kind, status], n)
    pending_age = GaugeMetricFamily(
        "wagecheck_broadcast_oldest_pending_seconds",
        "Age of the oldest pending broadcast row per kind (worker messages wait out quiet hours)",
        labels=["kind"],
    )
    for kind, age in sorted(snap.broadcast_oldest_pending_seconds.items()):
        pending_age.add_metric([kind], age)
    rounds = GaugeMetricFamily("wagecheck_rounds_open", "Rounds open now")
    rounds.add_metric([], snap.open_rounds)
    completed = GaugeMetricFamily(
        "wagecheck_round_responses_completed",
        "Completed responses per open round, as of the start of the current hour",
        labels=["round"],
    )
    for round_id, n in sorted(snap.completed.items()):
        completed.add_metric([str(round_id)], n)
    return [up, took, outbox, outbox_age, broadcasts, pending_age, rounds, completed]


class _Families(Collector):
    def __init__(self, families: Iterable[GaugeMetricFamily]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.families


class Monitoring:
    """Renders `/metrics` for one process."""

    def __init__(self, db: Database, *, clock: Clock, registry: CollectorRegistry = REGISTRY):
        self.db, self.clock, self.registry = db, clock, registry

    async def exposition(self) -> bytes:
        """The Prometheus text format: this process's counters, then the database's figures."""
        started = time.perf_counter()
        try:
            snap: Snapshot | None = await read_snapshot(self.db, self.clock())
        except (SQLAlchemyError, OSError) as exc:  # counted in wagecheck_database_errors_total
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            snap = None
        families = snapshot_families(snap, time.perf_counter() - started)
        scrape = CollectorRegistry(auto_describe=False)
        scrape.register(_Families(families))
        return generate_latest(self.registry) + generate_latest(scrape)


__all__ = ["Monitoring", "Snapshot", "read_snapshot"]
