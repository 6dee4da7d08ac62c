"""The scheduled jobs: the methods of one `Jobs`, built by the running scheduler with what they
work with (the App, the broadcaster, this process's name); the clock is the App's. Each job's
effect is keyed in `job_runs` or by the outbox's unique key (run once, however many
processes)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.bootstrap import App
from bot.reports.build import verdict_rule
from bot.service.admin import AdminError, AdminService
from bot.service.broadcasts import Broadcaster, queue_daily_status, queue_due_reminders

log = logging.getLogger(__name__)


class Jobs:
    """The jobs of one running scheduler."""

    def __init__(self, app: App, broadcaster: Broadcaster, holder: str) -> None:
        self.app = app
        self.broadcaster = broadcaster
        self.holder = holder
        # Re-reads the rounds and moves their open/close jobs (set by the running scheduler),
        # so `round extend/schedule/cancel` in another process takes effect without a restart.
        self.reconcile: Callable[[], Awaitable[None]] | None = None

    def now(self) -> datetime:
        return self.app.clock()

    def _admin(self) -> AdminService:
        """Round changes made by a job are audited as the scheduler's, with its process."""
        return self.app.admin.acting_as(f"scheduler {self.holder}")

    async def open_round(self, round_id: int) -> bool:
        """Open a scheduled round (job "round:N:open"); False when it ran already elsewhere."""
        try:
            await self._admin().start_round(round_id, self.now(), job_key=f"round:{round_id}:open")
        except AdminError as exc:  # JobDone: it ran already (elsewhere, or before a restart)
            log.info("round %s open: nothing to do (%s)", round_id, type(exc).__name__)
            return False
        log.info("round %s opened", round_id)
        await self.broadcaster.drain(round_id=round_id)
        return True

    async def close_round(self, round_id: int) -> bool:
        """Close an open round, purge its addresses, deliver the reports (job
        "round:N:close")."""
        closes_at = await self.app.admin.closing_time(round_id)
        if closes_at is not None and closes_at > self.now():
            # Extended since this job was planned (by another process, perhaps seconds ago).
            log.info("round %s close: its closing time moved to later; not closing", round_id)
            if self.reconcile is not None:
                await self.reconcile()
            return False
        try:
            await self._admin().close_round(round_id, self.now(), job_key=f"round:{round_id}:close")
        except AdminError as exc:
            log.info("round %s close: nothing to do (%s)", round_id, type(exc).__name__)
            return False
        log.info("round %s closed", round_id)
        await self.broadcaster.drain(round_id=round_id)
        return True

    async def remind(self) -> int:
        """Queue due reminders; two processes may race: the unique key keeps one of each."""
        return await queue_due_reminders(self.app.db, self.now())

    async def tick(self) -> None:
        """Every minute: follow round changes made elsewhere, queue due reminders and send
        what the outbox holds (worker messages wait while it is night in the factories' time
        zone)."""
        if self.reconcile is not None:
            await self.reconcile()
        await self.remind()
        await self.broadcaster.drain()

    async def daily_status(self, opened_by: datetime | None = None) -> int:
        """Once a day: counts per factory to the members of each CSO with an open round.
        Caught up at a start after the status time (`opened_by` = that time): only rounds
        open by then."""
        now = self.now()
        day = now.astimezone(self.broadcaster.quiet.zone).date()
        rounds = await self.app.admin.open_round_ids(opened_by)
        counts = {r: await self.app.admin.counts(r) for r in rounds}
        queued = await queue_daily_status(
            self.app.db,
            day,
            now,
            counts,
            k=self.app.settings.k_brand,
            rule=verdict_rule(self.app),
        )
        await self.broadcaster.drain(kinds=("status",))
        return queued

    async def prune(self) -> None:
        """Once a day: forget old message ids and expired opt-in addresses."""
        today = self.now().astimezone(self.broadcaster.quiet.zone).date()
        await self._admin().prune(today)
