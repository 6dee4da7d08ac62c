"""The reply outbox: the replies to a worker's message are recorded in the transaction that
handles it, and leave the outbox only once the platform accepted them (or the send is in
doubt). A process killed between the commit and the platform's answer leaves them here: the
platform delivers the message again (polling offset or webhook answer not confirmed), the
service finds it handled, and the replies still here go out then — the worker is never left
waiting (docs/architecture.md, "Exactly-once").

The price: a kill in the instant after the platform accepted a reply and before it left the
outbox sends that reply again on the redelivery. On Telegram most replies are edits of the
pressed question (the same edit again changes nothing); a new message may then arrive twice.
A send that fails in doubt in a living process (a timeout: the message may have arrived) is
not repeated.

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
# Waits before forgetting sent replies again while the database is unreachable (about 8 s).
MARK_SENT_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 4.0)

_outbox = cast(Table, OutboxMessage.__table__)  # declarative classes type it as any FromClause
INSERT_REPLIES = insert(_outbox).returning(_outbox.c.id, sort_by_parameter_order=True)
FORGET_REPLIES = delete(_outbox).where(_outbox.c.id.in_(bindparam("ids", expanding=True)))


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
        """A redelivery: nothing changes, but replies still in the outbox (never sent, refused
        for sure, or sent by a process that died before it could forget them) go out now."""
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

    async def forget(self, outcome: Outcome, count: int) -> None:
        """The first `count` replies went out (or are in doubt): they leave the outbox.

        If the database cannot be reached, this is tried for about 8 s, then raises: the
        platform delivers the message again and the replies still here go out a second time
        (a database outage at exactly this moment is the one way a worker gets one twice)."""
        ids = outcome.outbox_ids[:count]
        if not ids:
            return
        for delay in (*MARK_SENT_RETRY_DELAYS, None):
            try:
                async with self._write_turn(), self.db.transaction() as session:
                    conn = await session.connection()
                    await conn.execute(FORGET_REPLIES, {"ids": ids})
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
        """A channel's delivery of `replies` (the outcome's, perhaps reworded): run `first`
        (e.g. showing the pressed answer), send them in order — `send` returning False drops
        the rest — then forget them. A definite failure forgets only what went out (the rest
        wait for the message's redelivery); a failure that may have delivered
        (bot/service/delivery.py) forgets that reply too: never twice in a living process."""
        sent = 0
        try:
            if first is not None:
                await first()
            for reply in replies:
                if not await send(reply):
                    sent = len(replies)  # refused for good: none of the rest can go either
                    break
                sent += 1
                metrics.MESSAGES_SENT.labels(outcome.channel, "reply").inc()
        except Exception as exc:
            metrics.SEND_FAILURES.labels(outcome.channel, "reply").inc()
            in_doubt = delivery_uncertain(exc)
            await self.forget(outcome, sent + 1 if in_doubt else sent)
            raise
        await self.forget(outcome, sent)
