"""The administrative use cases, as one service for the command line, the bot's staff
commands, the portal and the scheduler: organisations (organisations.py), factories
(factories.py), rounds (rounds.py) and pruning (pruning.py), each in its own room; this class
only puts them together, and adds what crosses them (closing a round also prunes)."""

from __future__ import annotations

from datetime import datetime

from bot.service.audited import AdminError
from bot.service.factories import REGIONS, FactoryService
from bot.service.organisations import OrganisationService
from bot.service.pruning import PruningService
from bot.service.rounds import CODE_ALPHABET, FactoryCount, JobDone, RoundService, claim_job

__all__ = [
    "CODE_ALPHABET",
    "REGIONS",
    "AdminError",
    "AdminService",
    "FactoryCount",
    "JobDone",
    "claim_job",
]


class AdminService(OrganisationService, FactoryService, RoundService, PruningService):
    """What a CSO does on the command line, in the bot and in the portal."""

    def acting_as(self, actor: str) -> AdminService:
        """The same service, with audit entries in the name of `actor` (e.g. "scheduler",
        "web:12", "telegram member 3")."""
        return AdminService(
            self.db, actor, self.processed_message_days, self.opt_in_days, clock=self.clock
        )

    async def close_round(
        self, round_id: int, now: datetime | None = None, job_key: str | None = None
    ) -> dict[str, int]:
        """Close a round (rounds.RoundService.close_round), then prune what is due to go."""
        result = await super().close_round(round_id, now, job_key)
        await self.prune()
        return result
