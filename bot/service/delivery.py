"""Was a message delivered? After a failed send, sometimes nobody can tell.

A request that reached the platform and whose answer was lost (a read timeout, a dropped
connection) may have been acted on: the message may be on the worker's phone. Both the reply
outbox (bot/service/inbound.py) and the broadcast outbox (bot/service/broadcasts.py) treat
such a message as *in doubt* and never send it again — a worker must not get the same
question or reminder twice. A connection that was never made, or an error answer from the
platform, is a definite failure: the message can go again.
"""

from __future__ import annotations

import httpx

# What python-telegram-bot (TimedOut / NetworkError) and our Graph API client wrap.
_UNCERTAIN = (httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError)


def delivery_uncertain(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) means the message may have been delivered although
    sending failed."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _UNCERTAIN):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False
