"""Telegram's flood limits: about 30 messages a second overall (PTB's AIORateLimiter) and about
one a second per private chat, which AIORateLimiter leaves out; and no more requests in flight
than the HTTP pool has connections."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from bot import metrics

# A short burst is fine (a question after an edited answer); the average stays at the rate.
PER_CHAT_BURST = 3
MAX_TRACKED_CHATS = 4096


class ChatRateLimiter(AIORateLimiter):
    """AIORateLimiter plus a per-private-chat limit; retries 429 answers after `retry_after`.

    Requests beyond `in_flight` wait here, not in httpx's pool: httpcore walks every queued
    request against every connection whenever one starts or ends, which under load cost the
    bot more CPU than everything else together (docs/benchmarks.md)."""

    def __init__(
        self,
        overall_per_second: float,
        per_chat_per_second: float,
        max_retries: int,
        in_flight: int = 16,
    ) -> None:
        super().__init__(
            overall_max_rate=overall_per_second, overall_time_period=1, max_retries=max_retries
        )
        self._per_chat = per_chat_per_second
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self._slots = asyncio.Semaphore(in_flight)

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.pop(chat_id, None)
        if limiter is None:
            limiter = AsyncLimiter(PER_CHAT_BURST, PER_CHAT_BURST / self._per_chat)
        self._chats[chat_id] = limiter  # most recently used last
        while len(self._chats) > MAX_TRACKED_CHATS:
            self._chats.popitem(last=False)
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        send = callback

        async def in_slot(*a: Any, **kw: Any) -> bool | dict[str, Any] | list[dict[str, Any]]:
            async with self._slots:  # held for the HTTP request only, not a 429's wait
                try:
                    return await send(*a, **kw)
                except RetryAfter:  # AIORateLimiter waits it out and tries again
                    metrics.RATE_LIMITED.labels("telegram").inc()
                    raise

        chat_id = data.get("chat_id")
        try:
            private = chat_id is not None and int(chat_id) > 0
        except (TypeError, ValueError):
            private = False
        if not private:
            return await super().process_request(
                in_slot, args, kwargs, endpoint, data, rate_limit_args
            )
        async with self._chat_limiter(int(chat_id)):  # type: ignore[arg-type]  # an int, tried above
            return await super().process_request(
                in_slot, args, kwargs, endpoint, data, rate_limit_args
            )
