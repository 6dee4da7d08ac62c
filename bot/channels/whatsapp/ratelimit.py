"""WhatsApp's sending limits: a throughput per business number (80 messages a second by
default, error 130429 past it) and a pair rate per worker (about one message every 6 seconds
with short bursts allowed, error 131056 past it)."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable

# Replies come in small flurries (a note, then the next question); Meta allows short bursts to
# one worker as long as the average stays at the pair rate.
PER_RECIPIENT_BURST = 6
MAX_TRACKED_RECIPIENTS = 4096


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up. Waiting callers queue in order."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = burst
        self._stamp = clock()

    def reserve(self) -> float:
        """Take a token now; the seconds to wait before using it (0 when one was free)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def hold(self, seconds: float) -> None:
        """Nothing goes out for `seconds` (after the API said the limit was reached)."""
        self.reserve()
        self._tokens = min(self._tokens, -seconds * self.rate)


class SendLimits:
    """The number's throughput and the pair rate of every worker it writes to."""

    def __init__(
        self,
        per_second: float,
        per_recipient_per_second: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._per_recipient = per_recipient_per_second
        self.overall = TokenBucket(per_second, max(1.0, per_second), clock)
        self._recipients: OrderedDict[str, TokenBucket] = OrderedDict()

    def recipient(self, key: str) -> TokenBucket:
        bucket = self._recipients.pop(key, None)
        if bucket is None:
            bucket = TokenBucket(self._per_recipient, PER_RECIPIENT_BURST, self._clock)
        self._recipients[key] = bucket  # most recently used last
        while len(self._recipients) > MAX_TRACKED_RECIPIENTS:
            self._recipients.popitem(last=False)
        return bucket

    async def acquire(self, key: str) -> None:
        """Wait until one more message to `key` fits both limits."""
        wait = max(self.recipient(key).reserve(), self.overall.reserve())
        if wait > 0:
            await asyncio.sleep(wait)
