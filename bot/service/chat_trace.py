"""What a worker's phone keeps: the ids of a Telegram chat's messages (the worker's and the
bot's), so that "delete" and "clear" can remove them from the phone with the Bot API's
deleteMessages. Telegram lets a bot delete messages of a private chat for 48 hours; older ids
are useless, and the pruning job drops them (docs/privacy.md, "What the worker's phone
keeps"). Filed under the conversation's pseudonym; an id within the chat says nothing of what
was written."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.clock import Clock
from bot.privacy import Keyring
from bot.service.conversations import hour
from bot.storage import Database
from bot.storage.models import ChatMessage

log = logging.getLogger(__name__)

# Telegram: "A message can only be deleted if it was sent less than 48 hours ago."
DELETABLE_FOR = timedelta(hours=48)
# deleteMessages takes 1 to 100 ids a call.
MAX_IDS_PER_CALL = 100

_chat = cast(Table, ChatMessage.__table__)
INSERT_CHAT_MESSAGES = insert(_chat)


def rows(key: str, message_ids: Iterable[int], at: datetime) -> list[dict[str, object]]:
    """Rows for the ids, dated to the hour only (like the conversation's last message)."""
    return [{"conversation_key": key, "message_id": i, "sent_at": hour(at)} for i in message_ids]


def deletable_since(now: datetime) -> datetime:
    """The oldest hour whose messages may still be deletable (dates are rounded down)."""
    return now - DELETABLE_FOR - timedelta(hours=1)


async def remember_in(
    conn: AsyncConnection, key: str, message_ids: Iterable[int], at: datetime
) -> None:
    """Within the transaction that handles the worker's message: its id."""
    values = rows(key, message_ids, at)
    if values:
        await conn.execute(INSERT_CHAT_MESSAGES, values)


class ChatTrace:
    def __init__(self, db: Database, keyring: Keyring, *, clock: Clock) -> None:
        self.db = db
        self.keyring = keyring
        self.clock = clock

    async def remember(self, channel: str, user_id: str, message_ids: Iterable[int]) -> None:
        """The bot's messages just sent to this worker."""
        await self.remember_key(self.keyring.conversation_key(channel, user_id), message_ids)

    async def remember_key(self, key: str, message_ids: Iterable[int]) -> None:
        """The bot's messages just sent to the worker whose conversation key is `key`. Best
        effort: a database that fails here costs the chance to delete them, not the send."""
        values = rows(key, message_ids, self.clock())
        if not values:
            return
        try:
            async with self.db.transaction() as session:
                await session.execute(INSERT_CHAT_MESSAGES, values)
        except (DBAPIError, OSError) as exc:
            log.warning("chat message ids not noted: %s", type(exc).__name__)

    async def take(self, channel: str, user_id: str) -> list[list[int]]:
        """The ids still deletable, in calls of at most 100, forgotten here as they are
        handed out (a deletion that fails is not tried again: the worker is told how to
        clear the chat themselves)."""
        key = self.keyring.conversation_key(channel, user_id)
        since = deletable_since(self.clock())
        async with self.db.transaction() as session:
            found = (
                await session.execute(
                    select(ChatMessage.message_id)
                    .where(ChatMessage.conversation_key == key, ChatMessage.sent_at >= since)
                    .order_by(ChatMessage.message_id)
                )
            ).scalars()
            ids = sorted(set(found))
            await session.execute(delete(ChatMessage).where(ChatMessage.conversation_key == key))
        return [ids[i : i + MAX_IDS_PER_CALL] for i in range(0, len(ids), MAX_IDS_PER_CALL)]


__all__ = ["DELETABLE_FOR", "MAX_IDS_PER_CALL", "ChatTrace", "deletable_since", "remember_in"]
