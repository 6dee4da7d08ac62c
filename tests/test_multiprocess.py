"""The production shape (docs/architecture.md "Scaling"; issue 18 sections 2 and 5): several
processes on one PostgreSQL database.

* First start of several processes at once on an empty database: one migrates (under a
  PostgreSQL advisory lock), the others wait and find the schema current.
* Two `wagecheck run telegram --webhook` processes behind a proxy, two `wagecheck scheduler`
  processes (one holds the lease) and the portal; one of each killed with SIGKILL mid-round.

PostgreSQL only: with SQLite one process serves everything (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from starlette.requests import Request
from starlette.responses import Response

from bot.bootstrap import App
from bot.channels.telegram.broadcast import RESUME
from bot.clock import utc_now
from bot.config import Settings
from bot.storage.database import Database
from bot.storage.models import (
    BroadcastMessage,
    Conversation,
    OutboxMessage,
    ProcessedMessage,
    Round,
)
from bot.storage.models import Response as SurveyResponse
from tests.conftest import PG_URL
from tests.fault_helpers import (
    ALL_ANSWERS,
    SCRIPT,
    TOKEN,
    ChatLog,
    ChildProcess,
    TelegramWorker,
    count_rows,
    factory_codes,
    pay_of,
    responses,
    stored_answers,
)
from tests.telegram_standin import TelegramStandin, serve_asgi
from tests.test_service import open_round

pytestmark = pytest.mark.skipif(
    PG_URL is None,
    reason="several processes share one PostgreSQL database: set WAGECHECK_TEST_DATABASE_URL "
    "(.ci/run sets it when a server answers on 127.0.0.1:5432)",
)


def _env(home: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    env.update(WAGECHECK_HOME=str(home), WAGECHECK_DATABASE_URL=url, WAGECHECK_LOG_LEVEL="WARNING")
    env.update(extra)
    return env


# ------------------------------------------------------------------ first start
async def test_four_processes_started_at_once_on_an_empty_database_all_start(
    empty_database_url: str, tmp_path: Path
) -> None:
    """Four processes (three commands and `db upgrade`) start at the same moment on an empty
    PostgreSQL database and a home without a key: each exits 0, the schema is current, one
    key was made and its fingerprint recorded once. Before the advisory lock around the
    migration, three of four crashed (duplicate tables, a duplicate alembic_version)."""
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("SQLite: one process at a time migrates (its write lock), nothing to race")
    home = tmp_path / "home"
    env = _env(home, empty_database_url)
    commands = [("db", "upgrade"), ("org", "list"), ("factory", "list"), ("round", "list")]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *command,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for command in commands
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 120)
    failed = [
        (command, p.returncode, out.decode(errors="replace")[-2000:])
        for command, p, (out, _) in zip(commands, processes, outputs, strict=True)
        if p.returncode != 0
    ]
    assert not failed, failed
    db = Database(empty_database_url)
    try:
        assert await db.is_current()
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM key_fingerprints"))).scalar() == 1
    finally:
        await db.dispose()
    assert (home / "secret.key").exists()


# ------------------------------------------------------------------ the production shape
SECRET = "multi-process_secret"
FULL_WORKERS = 10
STALLED_WORKERS = 8
STALL_AFTER = 6  # steps a stalled worker takes (up to the pay month), then it goes quiet
LEASE_SECONDS = 3
SCHEDULER_RATE = 2.0  # reminders a second: a drain long enough to kill its sender mid-way


@dataclass
class Proc(ChildProcess):
    """One `python -m bot ...` process, its output in a log file."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str]
    log_path: Path
    process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *self.args,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid


class Proxy:
    """The reverse proxy in front of the webhook processes, as Caddy's reverse_proxy with
    several upstreams: round robin, and a request that cannot connect to one upstream goes to
    the next (lb_try_duration); one cut off mid-way answers 502 (Telegram delivers again)."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self.turn = 0
        self.client = httpx.AsyncClient(timeout=30)
        self.answered: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                pass
            return
        request = Request(scope, receive)
        body = await request.body()
        keep = ("content-type", "x-telegram-bot-api-secret-token")
        headers = {k: v for k, v in request.headers.items() if k.lower() in keep}
        response: Response = Response(status_code=502)
        for _ in self.upstreams:
            upstream = self.upstreams[self.turn % len(self.upstreams)]
            self.turn += 1
            try:
                answer = await self.client.post(
                    upstream + request.url.path, content=body, headers=headers
                )
            except httpx.ConnectError:
                continue
            except httpx.HTTPError:
                break  # cut off mid-way: 502
            self.answered[upstream] += 1
            response = Response(
                answer.content,
                answer.status_code,
                media_type=answer.headers.get("content-type"),
            )
            break
        await response(scope, receive, send)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


async def _lease_holder(app: App) -> str | None:
    from bot.service.lease import current_holder

    return await current_holder(app.db, utc_now())


def _reminders(api: TelegramStandin) -> Counter[int | str]:
    """Reminders the platform took, per chat (the message with the "continue" button)."""
    return Counter(
        s.chat_id
        for s in api.sent
        if s.method == "sendMessage"
        and s.chat_id is not None
        and any(d == RESUME for _, d in TelegramStandin.buttons(s))
    )


async def test_two_channels_two_schedulers_and_the_portal_survive_a_kill_of_each(
    app: App, settings: Settings, tmp_path: Path
) -> None:
    """The production shape on PostgreSQL: two `wagecheck run telegram --webhook` processes
    behind a proxy, two `wagecheck scheduler` processes and the portal, against the Telegram
    stand-in (which enforces Telegram's 30 messages a second). Eighteen workers answer; ten
    finish, eight go quiet part-way and are due a reminder. One channel process is killed
    with SIGKILL mid-round, and the scheduler holding the lease while it sends the
    reminders.

    Then: every answer is stored once; every finishing worker finished (none stranded);
    one scheduler held the lease at a time and the other took over; each quiet worker got
    at most one reminder, and every reminder was sent or is in doubt (handed over by the
    killed scheduler: never sent again); the portal answered throughout; no 429 (each
    channel process sends at 12 of the bot's 30 a second, the scheduler at 2)."""
    if not settings.effective_database_url.startswith("postgresql"):
        pytest.skip("the production shape is PostgreSQL's: SQLite serves one process")
    codes = await open_round(app, factory_codes(FULL_WORKERS + STALLED_WORKERS))
    async with app.db.transaction() as s:
        await s.execute(update(Round).values(reminder_delay_minutes=1, max_reminders=1))
    hook_ports = [_free_port(), _free_port()]
    upstreams = [f"http://127.0.0.1:{p}" for p in hook_ports]
    proxy = Proxy(upstreams)
    procs: list[Proc] = []
    async with TelegramStandin(TOKEN, webhook_timeout=30) as api, serve_asgi(proxy) as proxy_url:
        api.enforce_rate_limits(per_chat_per_second=100, per_chat_burst=100, overall_per_second=30)
        assert settings.secret_key is not None
        common = _env(
            settings.home,
            settings.effective_database_url,
            WAGECHECK_SECRET_KEY=settings.secret_key.get_secret_value(),
            WAGECHECK_TELEGRAM_TOKEN=TOKEN,
            WAGECHECK_TELEGRAM_API_URL=api.url,
            WAGECHECK_TELEGRAM_WEBHOOK_URL=f"{proxy_url}/telegram",
            WAGECHECK_TELEGRAM_WEBHOOK_SECRET=SECRET,
            WAGECHECK_TELEGRAM_RATE_PER_CHAT="100",
            WAGECHECK_QUIET_HOURS_START="00:00",
            WAGECHECK_QUIET_HOURS_END="00:00",
            WAGECHECK_SCHEDULER_LEASE_SECONDS=str(LEASE_SECONDS),
            WAGECHECK_SCHEDULER_TICK_SECONDS="1",
            WAGECHECK_LOG_LEVEL="INFO",
        )
        # The bot's 30/s shared: 12 for each channel process, the rest for the scheduler.
        channel_env = common | {"WAGECHECK_TELEGRAM_RATE_OVERALL": "12"}
        scheduler_env = common | {"WAGECHECK_TELEGRAM_RATE_OVERALL": str(SCHEDULER_RATE)}
        portal_port = _free_port()
        channels = [
            Proc(
                f"channel-{i}",
                ("run", "telegram", "--webhook", "--listen", f"127.0.0.1:{port}"),
                channel_env,
                tmp_path / f"channel-{i}.log",
            )
            for i, port in enumerate(hook_ports)
        ]
        schedulers = [
            Proc(f"scheduler-{i}", ("scheduler",), scheduler_env, tmp_path / f"scheduler-{i}.log")
            for i in range(2)
        ]
        portal = Proc(
            "portal",
            ("run", "web", "--listen", f"127.0.0.1:{portal_port}"),
            common,
            tmp_path / "portal.log",
        )
        procs = [*channels, *schedulers, portal]
        workers: list[TelegramWorker] = []
        try:
            for p in procs:
                await p.start()
            async with httpx.AsyncClient(timeout=5) as client:

                async def up(url: str) -> bool:
                    for p in procs:
                        assert p.alive, f"{p.name} exited: {p.logs()[-3000:]}"
                    try:
                        return (await client.get(url)).status_code < 500
                    except httpx.HTTPError:
                        return False

                for url in [*upstreams, f"http://127.0.0.1:{portal_port}"]:
                    await _wait(lambda u=url: up(f"{u}/healthz"), 60, url)  # type: ignore[misc]
            await _wait(lambda: _async(api.call_count("setWebhook") >= 2), 60, "setWebhook")
            await _wait(lambda: _lease_holder(app), 60, "a scheduler to take the lease")

            log = ChatLog(api)
            workers = [
                TelegramWorker(api, log, i, codes) for i in range(FULL_WORKERS + STALLED_WORKERS)
            ]
            full, stalled = workers[:FULL_WORKERS], workers[FULL_WORKERS:]

            async def stall(w: TelegramWorker) -> None:
                for step in SCRIPT[:STALL_AFTER]:
                    await w.do(step)

            running = asyncio.ensure_future(
                asyncio.gather(*(w.run() for w in full), *(stall(w) for w in stalled))
            )
            # Kill a channel process in the middle of the round.
            total = FULL_WORKERS * sum(s.action != "tick" for s in SCRIPT)
            await api.wait_until(lambda: log.total_messages >= total * 0.4, 120)
            await channels[0].kill()
            killed_channel_at = time.monotonic()
            await asyncio.wait_for(running, 240)
            assert all(w.finished for w in full)

            # The quiet workers wrote last hours ago: their reminders are due.
            keys = [w.chat for w in stalled]
            async with app.db.transaction() as s:
                await s.execute(
                    update(Conversation)
                    .where(Conversation.response_id.in_(_in_progress()))
                    .values(updated_at=utc_now() - timedelta(hours=3))
                )
            first_holder = await _lease_holder(app)
            assert first_holder is not None
            holder_pid = int(first_holder.split(":")[-2])
            holding = next(p for p in schedulers if p.pid == holder_pid)
            other = next(p for p in schedulers if p is not holding)
            await api.wait_until(lambda: sum(_reminders(api).values()) >= 1, 60)
            await holding.kill()  # mid-broadcast: 2 reminders a second, 8 to send
            sent_before_kill = sum(_reminders(api).values())

            async def taken_over() -> bool:
                holder = await _lease_holder(app)
                return holder is not None and int(holder.split(":")[-2]) == other.pid

            await _wait(taken_over, LEASE_SECONDS * 5, "the other scheduler to take over")

            async def settled() -> bool:
                counts = await _reminder_statuses(app)
                return sum(counts.values()) == STALLED_WORKERS and set(counts) <= {
                    "sent",
                    "in_doubt",
                }

            await _wait(settled, 60, "every reminder sent (or in doubt)")
            async with httpx.AsyncClient(timeout=5) as client:
                portal_health = await client.get(f"http://127.0.0.1:{portal_port}/healthz")
        finally:
            for p in procs:
                await p.aclose()
        assert portal_health.status_code == 200

        # Answers: once each; the finishing workers finished, none stranded.
        stored = await stored_answers(app)
        done = await responses(app)
        for w in full:
            assert stored[w.factory] == dict.fromkeys(ALL_ANSWERS, 1), w.factory
            assert done[w.factory] == ("complete", pay_of(w.index))
        stall_answers = {s.answers for s in SCRIPT[:STALL_AFTER] if s.answers}
        for w in stalled:
            assert stored[w.factory] == dict.fromkeys(stall_answers, 1), w.factory
            assert done[w.factory][0] == "in_progress"
        updates = sum(len(w.injected) + len(w.nudges) for w in workers)
        assert await count_rows(app, ProcessedMessage) == updates
        assert await count_rows(app, OutboxMessage) == 0

        # Reminders: at most one per quiet worker; none left; in doubt only across the kill.
        received = _reminders(api)
        statuses = await _reminder_statuses(app)
        assert set(received) <= set(keys)
        assert all(n == 1 for n in received.values()), received
        assert statuses.get("sent", 0) <= len(received) <= STALLED_WORKERS
        assert statuses.get("in_doubt", 0) <= 2, statuses
        assert 1 <= sent_before_kill < STALLED_WORKERS

        # The platform's limits held with two channel processes and two schedulers.
        too_many = [c for c in api.requests if c.status == 429]
        assert not too_many, len(too_many)
        # The killed channel process had taken its share of deliveries; the other the rest.
        assert all(proxy.answered[u] > 0 for u in upstreams), proxy.answered
        assert killed_channel_at > 0
        assert "scheduler lease taken" in other.logs()
        print(
            f"\nmulti-process: {updates} updates, proxy {dict(proxy.answered)}, "
            f"reminders {dict(statuses)} ({sent_before_kill} before the kill), "
            f"lease {first_holder} -> {await _lease_holder(app) or '(released)'}"
        )


def _in_progress() -> Any:
    return select(SurveyResponse.id).where(SurveyResponse.status == "in_progress")


async def _reminder_statuses(app: App) -> Counter[str]:
    async with app.db.transaction() as s:
        rows = (
            await s.execute(
                select(BroadcastMessage.status, func.count())
                .where(BroadcastMessage.kind == "reminder")
                .group_by(BroadcastMessage.status)
            )
        ).all()
    return Counter({status: n for status, n in rows})


async def _async(value: bool) -> bool:
    return value
