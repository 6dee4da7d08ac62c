"""The Telegram stand-in as a process of its own, for benchmarks whose referee must not share
the bot's event loop (a stalled loop would stamp a burst of requests at one instant).

    python benchmarks/_standin_process.py TOKEN RATE

Prints the stand-in's URL on the first line; on SIGTERM (or a closed stdin), prints one JSON
line: sendMessage calls, 429 answers, messages per chat (missing/duplicate counts).
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.telegram_standin import TelegramStandin


async def main(token: str, rate: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with TelegramStandin(token) as api:
        api.enforce_rate_limits(per_chat_per_second=1, overall_per_second=rate)
        print(api.url, flush=True)
        await stop.wait()
        calls = api.calls_of("sendMessage")
        per_chat = Counter(str(m.chat_id) for m in api.sent if m.method == "sendMessage")
        summary = {
            "calls": len(calls),
            "refused": sum(1 for c in calls if not c.ok),
            "per_chat": per_chat,
            "times": [[c.at, c.ok] for c in calls],
        }
        print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
