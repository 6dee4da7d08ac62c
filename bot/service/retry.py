"""When handling a message again is right, and one delivery at a time.

A message is handled in one transaction (bot/service/inbound.py). A conflict (two deliveries
of one message at once, or two processes), a locked or busy database, or a connection the
server dropped can make that transaction fail although the same work would succeed on a fresh
connection: it is tried again, up to MAX_ATTEMPTS times. Within one process, a delivery of a
message waits for another delivery of the same message to finish (`InFlight`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

# Conflicts (two deliveries of one message at once, or two processes) are retried this often.
MAX_ATTEMPTS = 4


def retryable(exc: BaseException) -> bool:
    """A conflict, a locked or busy database, or a connection the server dropped (a restart,
    pg_terminate_backend): the same work can succeed on a fresh connection."""
    if isinstance(exc, IntegrityError | OperationalError | OSError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class InFlight:
    """One delivery of a message at a time in this process."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    @asynccontextmanager
    async def exclusive(self, channel: str, message_id: str) -> AsyncIterator[None]:
        """Held from `handle()` until the message's replies are sent and marked.

        A webhook delivery retried while the first is still sending (Telegram or Meta gave up
        waiting for the 200, or sent it twice) waits here, then finds the message handled and
        its replies gone from the outbox. Without it, both would send the same replies.
        """
        key = f"{channel}|{message_id}"
        lock, holders = self._held.setdefault(key, (asyncio.Lock(), [0]))
        holders[0] += 1
        try:
            async with lock:
                yield
        finally:
            holders[0] -= 1
            if not holders[0]:
                del self._held[key]
