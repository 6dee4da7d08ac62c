"""Pruning: what is no longer needed goes — handled message ids and unsent replies past the
redelivery window, opt-in addresses past their keeping period (docs/privacy.md), the
portal's log-in throttling rows that count for nothing any more, and chat message ids past
the 48 hours in which Telegram lets the bot delete them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete

from bot.clock import Clock
from bot.enums import ContactPurpose
from bot.service import login_throttle
from bot.service.audited import Audited
from bot.service.chat_trace import deletable_since
from bot.storage import Database, rowcount
from bot.storage.models import (
    ChatMessage,
    ContactAddress,
    OutboxMessage,
    ProcessedMessage,
)


class PruningService(Audited):
    def __init__(
        self,
        db: Database,
        actor: str = "cli",
        processed_message_days: int = 7,
        opt_in_days: int = 400,
        *,
        clock: Clock,
    ) -> None:
        super().__init__(db, actor, clock=clock)
        self.processed_message_days = processed_message_days
        self.opt_in_days = opt_in_days

    async def prune(self, today: date | None = None) -> dict[str, int]:
        """Delete what is no longer needed: handled message ids and unsent replies past the
        redelivery window, opt-in addresses past their keeping period, and log-in throttling
        rows with no failure for a day (and no wait running) at the start of `today`."""
        today = today or self.clock().date()
        async with self.db.transaction() as s:
            ids = rowcount(
                await s.execute(
                    delete(ProcessedMessage).where(
                        ProcessedMessage.processed_on
                        < today - timedelta(days=self.processed_message_days)
                    )
                )
            )
            addresses = rowcount(
                await s.execute(
                    delete(ContactAddress).where(
                        ContactAddress.purpose == ContactPurpose.OPT_IN,
                        ContactAddress.created_on < today - timedelta(days=self.opt_in_days),
                    )
                )
            )
            if addresses:
                self._audit(s, "contact.expire", f"{addresses} opt-in address(es)")
            # Replies whose message was never delivered again (a webhook the platform gave
            # up on): past the redelivery window nobody will send them, and they may echo
            # answers.
            cutoff = datetime.combine(
                today - timedelta(days=self.processed_message_days), datetime.min.time(), UTC
            )
            replies = rowcount(
                await s.execute(delete(OutboxMessage).where(OutboxMessage.created_at < cutoff))
            )
            throttles = await login_throttle.prune(s, login_throttle.start_of(today))
            # Chat message ids Telegram no longer lets the bot delete (bot/service/chat_trace.py).
            chat = rowcount(
                await s.execute(
                    delete(ChatMessage).where(ChatMessage.sent_at < deletable_since(self.clock()))
                )
            )
        return {
            "message_ids": ids or 0,
            "opt_in_addresses": addresses or 0,
            "unsent_replies": replies or 0,
            "login_throttles": throttles,
            "chat_message_ids": chat or 0,
        }
