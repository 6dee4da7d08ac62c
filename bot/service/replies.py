"""The reply outbox: the replies to a worker's message are recorded in the transaction that
handles it, taken out just before a channel sends them, and given back only when the platform
refused them for sure. A reply is never sent twice (docs/architecture.md, "Exactly-once").

A channel sends through one port: `send_replies(outcome, replies, send, first)`, where `send`
delivers one reply and says whether to go on (like the broadcasts' `BroadcastSender`)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.exc import DBAPIError

from bot import metrics
from bot.clock import Clock
from bot.service.delivery import delivery_uncertain
from bot.service.messages import Outcome
from bot.service.retry import retryable
from bot.storage import Database
from bot.storage.models import OutboxMessage
from bot.survey.state import Reply, reply_from_dict, reply_to_dict

# Sends one reply; False stops the rest (the worker blocked the bot, a reply refused for good).
SendReply = Callable[[Reply], Awaitable[bool]]
# Waits before taking replies again while the database is unreachable (about 8 s in all).
MARK_SENT_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 4.0)

_outbox = cast(Table, OutboxMessage.__table__)  # declarative classes type it as any FromClause
GIVE_BACK_REPLIES = insert(_outbox)
INSERT_REPLIES = insert(_outbox).returning(_outbox.c.id, sort_by_parameter_order=True)
TAKE_REPLIES = delete(_outbox).where(_outbox.c.id.in_(bindparam("ids", expanding=True)))


def outbox_rows(
    message_key: str, channel: str, replies: Iterable[tuple[int, Reply]], at: datetime
) -> list[dict[str, Any]]:
    """Outbox rows for replies at their positions in the message's answer."""
    return [
        {
            "message_key": message_key,
            "channel": channel,
            "position": i,
            "reply": reply_to_dict(r),
            "created_at": at,
        }
        for i, r in replies
    ]


class ReplyOutbox:
    """Taking replies out for sending, giving back what did not go, finding what a redelivered
    message still has to send. `write_turn` queues its short writes with the messages where
    the database has one writer at a time (SQLite)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        write_turn: Callable[[], AbstractAsyncContextManager[Any]],
    ) -> None:
        self.db = db
        self.clock = clock
        self._write_turn = write_turn

    async def unsent(self, dedup: str) -> Outcome:
        """A redelivery: nothing changes, but replies still in the outbox (never taken for
        sending, or given back after a definite failure) go out now."""
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(OutboxMessage.id, OutboxMessage.reply, OutboxMessage.channel)
                    .where(OutboxMessage.message_key == dedup)
                    .order_by(OutboxMessage.position)
                )
            ).all()
        return Outcome(
            duplicate=True,
            replies=[reply_from_dict(r) for _, r, _ in rows],
            outbox_ids=[i for i, _, _ in rows],
            message_key=dedup,
            channel=rows[0][2] if rows else "",
        )

    async def take(self, outcome: Outcome) -> None:
        """Take the replies out of the outbox just before sending them.

        From here on a crash cannot send them a second time: a message handed to the platform
        whose answer never came back (a kill, a timeout) may or may not have arrived, and a
        worker must never get the same question twice. The other side of that choice: a
        crash in the instant between this commit and the send loses the question; the
        worker's next message, whatever it is, gets it again (the engine asks where they are).
        If the database cannot be reached, this raises and nothing is sent: the platform
        delivers the message again later and finds the replies still here.
        """
        if not outcome.outbox_ids:
            return
        for delay in (*MARK_SENT_RETRY_DELAYS, None):
            try:
                async with self._write_turn(), self.db.transaction() as session:
                    conn = await session.connection()
                    await conn.execute(TAKE_REPLIES, {"ids": outcome.outbox_ids})
                return
            except (DBAPIError, OSError) as exc:
                if not retryable(exc) or delay is None:
                    raise
                await asyncio.sleep(delay)

    async def send_replies(
        self,
        outcome: Outcome,
        replies: Sequence[Reply],
        send: SendReply,
        first: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """A channel's delivery of `replies` (the outcome's, perhaps reworded): take them from
        the outbox, run `first` (e.g. showing the pressed answer), send them in order —
        `send` returning False drops the rest. A definite failure gives the unsent ones back
        for the message's redelivery; a failure that may have delivered
        (bot/service/delivery.py) does not: never twice."""
        await self.take(outcome)
        sent = 0
        try:
            if first is not None:
                await first()
            for reply in replies:
                if not await send(reply):
                    return
                sent += 1
                metrics.MESSAGES_SENT.labels(outcome.channel, "reply").inc()
        except Exception as exc:
            metrics.SEND_FAILURES.labels(outcome.channel, "reply").inc()
            if not delivery_uncertain(exc):
                await self.give_back(outcome, sent)
            raise

    async def give_back(self, outcome: Outcome, first_unsent: int) -> None:
        """Put replies `first_unsent`.. back in the outbox: the platform refused them for sure
        (connection refused, an error answer), so the redelivery of the message sends them."""
        rest = list(enumerate(outcome.replies))[first_unsent:]
        if not outcome.outbox_ids or not rest:
            return
        rows = outbox_rows(outcome.message_key, outcome.channel, rest, self.clock())
        async with self._write_turn(), self.db.transaction() as session:
            conn = await session.connection()
            await conn.execute(GIVE_BACK_REPLIES, rows)
