"""Broadcast benchmark: N invitations through the Telegram stand-in, whose flood control
answers 429 (retry_after) to anything above R messages a second (sliding one-second window).

Measures what the real path does — durable outbox (claim, send, mark each row), the Telegram
channel's rate limiter (AIORateLimiter + per-chat limit, retrying 429 after retry_after),
python-telegram-bot against a real HTTP server — and reports the achieved rate as a fraction
of R, the 429s received, and whether every recipient got exactly one message.

    python benchmarks/broadcast.py [--recipients 20000] [--rate 30] [--headroom 1.0]
                                   [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from datetime import time as clock_time
from itertools import pairwise
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.bootstrap import build_app
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram.broadcast import TelegramSender
from bot.config import Settings
from bot.service.broadcasts import Broadcaster, QuietHours
from bot.storage.models import ContactAddress

TOKEN = "4242:BENCH-token"
STANDIN = Path(__file__).resolve().parent / "_standin_process.py"


@asynccontextmanager
async def standin(rate: float) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """The stand-in in its own process (benchmarks/_standin_process.py): its flood referee
    stamps requests on its own clock, not after the bot's event loop lets it run. Yields the
    URL and, after the block, the stand-in's summary."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(STANDIN), TOKEN, str(rate), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    url = (await process.stdout.readline()).decode().strip()
    summary: dict[str, Any] = {}
    try:
        yield url, summary
    finally:
        process.terminate()
        out, _ = await process.communicate()
        if out.strip():
            summary.update(json.loads(out.decode().strip().splitlines()[-1]))


async def main(recipients: int, rate: float, headroom: float, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        async with standin(rate) as (url, summary):
            settings = Settings(
                home=Path(tmp),
                secret_key="bench-secret-" + "x" * 40,
                telegram_token=SecretStr(TOKEN),
                telegram_api_url=url,
                telegram_rate_overall=rate * headroom,
                _env_file=None,
            )  # type: ignore[call-arg]
            app = await build_app(settings)
            await app.admin.add_org("CSO", "cso")
            factory = await app.admin.add_factory("KHI-001", "Factory", "sindh")
            rows = [
                {
                    "key": f"k{i:06d}",
                    "channel": "telegram",
                    "ciphertext": app.keyring.encrypt_address("telegram", str(10_000_000 + i)),
                    "purpose": "opt_in",
                    "round_id": None,
                    "factory_id": factory.id,
                    "language": ("ur", "sd", "en")[i % 3],
                    "created_on": date(2026, 1, 1),
                }
                for i in range(recipients)
            ]
            async with app.db.transaction() as s:
                await s.execute(insert(ContactAddress), rows)
            await app.admin.open_round("Bench", "CSO", app.survey, ["KHI-001"])  # queues them
            channel = TelegramChannel.build(app)
            await channel.application.initialize()
            # Quiet hours off: the benchmark must not depend on the time of day in Karachi.
            always = QuietHours(clock_time(0), clock_time(0))
            broadcaster = Broadcaster(
                app.db,
                app.keyring,
                app.catalogs,
                [TelegramSender(channel)],
                always,
                clock=app.clock,
            )
            started = time.monotonic()
            result = await broadcaster.drain(concurrency=concurrency)
            seconds = time.monotonic() - started
            await channel.application.shutdown()
            await app.close()
        per_chat = Counter(summary["per_chat"])
        missing = recipients - len(per_chat)
        duplicates = sum(n - 1 for n in per_chat.values() if n > 1)
        achieved = result.sent / seconds
        print(f"recipients            {recipients}")
        print(f"flood limit R         {rate:.0f} messages/s (stand-in answers 429 above it)")
        print(f"limiter set to        {rate * headroom:.1f} messages/s")
        print(f"sent                  {result.sent} in {seconds:.1f} s")
        print(f"achieved rate         {achieved:.1f}/s = {achieved / rate:.3f} R")
        print(f"429 answers           {summary['refused']}")
        print(f"missing / duplicates  {missing} / {duplicates}")
        print(f"in doubt              {result.in_doubt}")
        times = summary.get("times", [])
        if times and "--diag" in sys.argv:
            ok = [t for t, good in times if good]
            gaps = sorted(b - a for a, b in pairwise(ok))
            print(
                "gaps p1/p50/p99",
                gaps[len(gaps) // 100],
                gaps[len(gaps) // 2],
                gaps[-len(gaps) // 100],
            )
            bad = [t for t, good in times if not good]
            for t in bad[:5]:
                window = [x for x in ok if t - 1 < x <= t]
                print("429 at", t, "accepted in the second before:", len(window))
        print(f"run at                {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=30.0)
    parser.add_argument("--headroom", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--diag", action="store_true")
    args = parser.parse_args()
    asyncio.run(main(args.recipients, args.rate, args.headroom, args.concurrency))
