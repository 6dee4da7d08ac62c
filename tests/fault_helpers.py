"""Machinery for the fault tests (tests/test_faults.py): scripted workers that answer the whole
survey through the Telegram or WhatsApp stand-in, the bot as a real `wagecheck run telegram`
process that can be killed, and read-outs of the database and of what the workers received.

Workers are pseudonymous in the database. Each worker here starts from its own factory's poster
code, so its response is found by factory; it also reports a pay of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import sys
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine
from telegram.ext import Application, ApplicationBuilder

from bot.bootstrap import App
from bot.channels.telegram import TelegramChannel, run_polling
from bot.channels.telegram.adapter import build_application
from bot.channels.telegram.ratelimit import ChatRateLimiter
from bot.config import Settings
from bot.storage.database import APPLICATION_NAME
from bot.storage.models import Answer, Factory, Response
from tests.telegram_standin import Sent, TelegramStandin
from tests.whatsapp_standin import Sent as WASent
from tests.whatsapp_standin import WhatsAppStandin
from tests.whatsapp_standin import Worker as WAWorker

TOKEN = "4242:TEST-token"
# Generous: a restart of the bot process on a loaded machine takes several seconds.
STEP_TIMEOUT = 90.0
# A worker who hears nothing for this long writes /start, as a real one would: a question lost
# in a crash (taken from the outbox, never sent: bot/service/inbound.py `take`) comes again.
NUDGE_AFTER = 12.0


@dataclass(frozen=True)
class Step:
    """One thing a worker does, the answer it stores (if any) and the next question's mark:
    the prefix of its buttons' payloads, or a piece of its text."""

    action: str  # "start", "press", "type" or "tick" (a multiple choice: edited in place)
    value: str  # payload suffix ("#0": the first button), text, or "" for the poster code
    answers: str | None
    expect: str


SCRIPT: tuple[Step, ...] = (
    Step("start", "", None, "a:language:"),
    Step("press", "en", None, "a:consent:"),
    Step("type", "yes", None, "a:factory:"),
    Step("press", "yes", None, "a:job:"),
    Step("press", "helper", "job", "a:employment:"),
    Step("type", "2", "employment", "a:pay_month:"),
    Step("press", "#0", "pay_month", "a:full_month:"),
    Step("press", "yes", "full_month", "How much pay"),
    Step("type", "<pay>", "pay", "a:pay_rise:"),
    Step("press", "dont_know", "pay_rise", "a:payslip:"),
    Step("press", "yes", "payslip", "t:payment_method:"),
    Step("tick", "wallet", None, "t:payment_method:"),
    Step("press", "_done", "payment_method", "a:deductions:"),
    Step("press", "no", "deductions", "a:gender:"),
    Step("press", "unsaid", "gender", "a:comment:"),
    Step("press", "_skip", None, "a:contact_opt_in:"),
    Step("press", "no", "contact_opt_in", "Thank you"),
)
ALL_ANSWERS = frozenset(s.answers for s in SCRIPT if s.answers)
# What a typed answer's reply starts with on Telegram ("✓ 2\n\n<next question>"); a reply sent
# again from the outbox comes without it.
_ECHO = re.compile(r"^✓ [^\n]*\n\n")


def factory_codes(n: int) -> tuple[str, ...]:
    return tuple(f"F-{i:03d}" for i in range(n))


def pay_of(index: int) -> int:
    return 41_000 + 10 * index


# ------------------------------------------------------------------------------- Telegram
def identity(sent: Sent) -> tuple[str, tuple[str | None, ...]]:
    """What a message asks: its text without the echo of a typed answer, and its buttons."""
    return _ECHO.sub("", sent.raw_text or ""), tuple(d for _, d in TelegramStandin.buttons(sent))


def repeats(messages: Sequence[Sent]) -> list[tuple[Sent, Sent]]:
    """Messages to one chat that ask what an earlier one asked (the survey asks nothing
    twice): pairs of the first and the repeated message."""
    first: dict[tuple[str, tuple[str | None, ...]], Sent] = {}
    out = []
    for m in messages:
        earlier = first.setdefault(identity(m), m)
        if earlier is not m:
            out.append((earlier, m))
    return out


class ChatLog:
    """The stand-in's record per chat, kept up to date incrementally: with dozens of workers
    waiting, scanning every message of every chat on each request would be quadratic.

    `messages` are what the bot said: messages sent, and questions edited into the next one
    (a button press edits the pressed question into the next). An edit that re-renders what
    the message already asked (a tick on a multiple choice) is only counted in `edits`."""

    def __init__(self, api: TelegramStandin) -> None:
        self.api = api
        self._seen = 0
        self._messages: dict[int | str, list[Sent]] = defaultdict(list)
        self._edits: dict[int | str, int] = defaultdict(int)
        self._asks: dict[tuple[int | str, int | None], tuple[str, tuple[str | None, ...]]] = {}
        self.total_messages = 0

    def refresh(self) -> None:
        sent = self.api.sent
        for s in sent[self._seen :]:
            if s.chat_id is None or s.method not in ("sendMessage", "editMessageText"):
                continue
            asks, key = identity(s), (s.chat_id, s.message_id)
            if s.method == "editMessageText":
                self._edits[s.chat_id] += 1
                if self._asks.get(key) == asks:
                    continue  # the same question re-rendered (a tick)
            self._asks[key] = asks
            self._messages[s.chat_id].append(s)
            self.total_messages += 1
        self._seen = len(sent)

    def messages(self, chat: int) -> list[Sent]:
        self.refresh()
        return self._messages[chat]

    def edits(self, chat: int) -> int:
        self.refresh()
        return self._edits[chat]


@dataclass
class Injected:
    """An update a worker sent, and how many messages the chat had received before it."""

    step: Step
    update: dict[str, Any]
    before: int
    at: float  # time.monotonic()
    reply: Sent | None = None  # the next question, once it came


class TelegramWorker:
    """A worker answering SCRIPT through the Telegram stand-in: each step waits for the next
    question (whatever else arrives meanwhile, e.g. a question sent again, is ignored)."""

    def __init__(self, api: TelegramStandin, log: ChatLog, index: int, codes: dict[str, str]):
        self.api, self.log, self.index = api, log, index
        self.chat = 5_550_000_000 + index  # long: it cannot turn up in a log by chance
        self.factory = factory_codes(index + 1)[-1]  # its own factory: its response
        self.code = codes[self.factory]  # the poster code
        self.injected: list[Injected] = []
        self.nudges: list[float] = []  # time.monotonic() of each /start sent while waiting
        self.current: Sent | None = None
        self.finished = False
        # Called after each update is made: e.g. to POST it to a webhook several times.
        self.after_inject: Callable[[TelegramWorker, dict[str, Any]], Awaitable[None]] | None = None

    def _act(self, step: Step) -> dict[str, Any]:
        api, chat = self.api, self.chat
        if step.action == "start":
            return api.user_sends_start(chat, self.code)
        if step.action == "type":
            text = str(pay_of(self.index)) if step.value == "<pay>" else step.value
            return api.user_sends_text(chat, text)
        assert self.current is not None and self.current.message_id is not None
        now = api.message(chat, self.current.message_id)
        data = [d for _, d in api.buttons(now) if d]
        choice = (
            data[0]
            if step.value == "#0"
            else next(d for d in data if d.rsplit(":", 1)[-1] == step.value)
        )
        return api.user_presses(chat, self.current.message_id, choice)

    async def do(self, step: Step) -> None:
        before, edits = len(self.log.messages(self.chat)), self.log.edits(self.chat)
        update = self._act(step)
        entry = Injected(step, update, before, time.monotonic())
        self.injected.append(entry)
        if self.after_inject is not None:
            await self.after_inject(self, update)
        if step.action == "tick":  # the question is edited with the tick, no new message
            await self._ticked(step, before, edits)
            entry.reply = self.current
            return

        def arrived() -> bool:
            entry.reply = next(
                (m for m in self.log.messages(self.chat)[before:] if _marks(m, step.expect)),
                None,
            )
            return entry.reply is not None

        deadline = time.monotonic() + STEP_TIMEOUT
        while True:
            wait = min(NUDGE_AFTER, deadline - time.monotonic())
            try:
                await self.api.wait_until(arrived, max(wait, 0.1))
                break
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise
                self.nudge(step)
        self.current = entry.reply

    async def _ticked(self, step: Step, before: int, edits: int) -> None:
        """Wait for the edit that shows the tick. An edit lost in a crash (taken from the outbox,
        never sent) is the same price as a lost question: the worker writes /start, the
        question comes again with the ticks kept, and it is pressed again only if the tick is
        not among them."""
        deadline = time.monotonic() + STEP_TIMEOUT

        def asked_again() -> Sent | None:
            return next(
                (m for m in self.log.messages(self.chat)[before:] if _marks(m, step.expect)),
                None,
            )

        while True:
            wait = max(min(NUDGE_AFTER, deadline - time.monotonic()), 0.1)
            try:
                await self.api.wait_until(
                    lambda: self.log.edits(self.chat) > edits or asked_again() is not None, wait
                )
            except AssertionError:
                if time.monotonic() >= deadline:
                    raise
                self.nudge(step)
                continue
            again = asked_again()
            if self.log.edits(self.chat) > edits or again is None:
                return
            self.current = again
            ticked = any(
                label.startswith("✓") and (d or "").endswith(":" + step.value)
                for label, d in TelegramStandin.buttons(again)
            )
            if not ticked:  # the tick itself was lost: press it again, and wait for its edit
                now_messages = len(self.log.messages(self.chat))
                now_edits = self.log.edits(self.chat)
                update = self._act(step)
                if self.after_inject is not None:
                    await self.after_inject(self, update)
                await self._ticked(step, now_messages, now_edits)
            return

    def nudge(self, step: Step) -> None:
        """Nothing came: /start again (the poster's link for the first step), which asks the
        question where the worker is."""
        self.nudges.append(time.monotonic())
        self.api.user_sends_start(self.chat, self.code if step.action == "start" else None)

    def unasked_repeats(self) -> list[tuple[Sent, Sent]]:
        """Questions this worker got twice without asking: each /start it sent explains one
        repeat that came after it (the bot answers /start with the question where they are)."""
        nudges = sorted(self.nudges)
        out = []
        for first, second in repeats(self.log.messages(self.chat)):
            used = next((at for at in nudges if at < second.at), None)
            if used is None:
                out.append((first, second))
            else:
                nudges.remove(used)
        return out

    async def run(self) -> None:
        for step in SCRIPT:
            await self.do(step)
        self.finished = True

    def answered(self, until: float | None = None) -> set[str]:
        """Answers whose next question had been sent (by `until`, time.monotonic())."""
        out = set()
        for entry in self.injected:
            if entry.step.answers is None or entry.step.action == "tick":
                continue
            shown = [
                m
                for m in self.log.messages(self.chat)[entry.before :]
                if _marks(m, entry.step.expect) and (until is None or m.at < until)
            ]
            if shown:
                out.add(entry.step.answers)
        return out

    def attempted(self, until: float | None = None) -> set[str]:
        """Answers of every update this worker sent (by `until`)."""
        return {
            e.step.answers
            for e in self.injected
            if e.step.answers and (until is None or e.at < until)
        }


def _marks(message: Sent, expect: str) -> bool:
    if ":" in expect and " " not in expect:
        return any(d and d.startswith(expect) for _, d in TelegramStandin.buttons(message))
    return expect in (message.raw_text or "")


# ------------------------------------------------------------------------------- WhatsApp


def wa_identity(sent: WASent) -> tuple[str, tuple[tuple[str, str], ...]]:
    """What a WhatsApp message asks: text and options (a ticked list differs from the one
    before it, so it is not counted as a repeat)."""
    return _ECHO.sub("", sent.text), tuple(sent.options)


def wa_repeats(messages: Sequence[WASent]) -> list[tuple[WASent, WASent]]:
    first: dict[tuple[str, tuple[tuple[str, str], ...]], WASent] = {}
    out = []
    for m in messages:
        earlier = first.setdefault(wa_identity(m), m)
        if earlier is not m:
            out.append((earlier, m))
    return out


class WhatsAppWorker:
    """A worker answering the survey through the WhatsApp stand-in; `send` posts a delivery
    (the test decides how often and in which order)."""

    def __init__(self, api: WhatsAppStandin, index: int, codes: dict[str, str]) -> None:
        self.api, self.index = api, index
        self.factory = factory_codes(index + 1)[-1]
        self.code = codes[self.factory]
        self.worker: WAWorker = api.worker(f"W{index}")
        self.payloads: list[dict[str, Any]] = []
        self.finished = False

    def _payload(self, step: Step) -> dict[str, Any]:
        api, w = self.api, self.worker
        if step.action == "start":
            return api.message(w, "text", {"body": self.code})
        if step.action == "type":
            text = str(pay_of(self.index)) if step.value == "<pay>" else step.value
            return api.message(w, "text", {"body": text})
        last = api.last_with_options(w)
        ids = [i for _, i in last.options]
        choice = (
            ids[0]
            if step.value == "#0"
            else next(i for i in ids if i.rsplit(":", 1)[-1] == step.value)
        )
        return api.press_payload(w, choice)

    async def run(self, send: Callable[[WhatsAppWorker, dict[str, Any]], Awaitable[None]]) -> None:
        """Each step: `send` the delivery, then wait for the next question (a failed delivery
        comes again from the stand-in's retries, as Meta's would)."""
        for step in SCRIPT:  # on WhatsApp a tick sends the list again, ticked
            before = len(self.api.messages_to(self.worker))
            payload = self._payload(step)
            self.payloads.append(payload)
            await send(self, payload)
            await poll_until(
                lambda b=before, e=step.expect: any(  # type: ignore[misc]
                    _wa_marks(m, e) for m in self.api.messages_to(self.worker)[b:]
                ),
                STEP_TIMEOUT,
            )
        self.finished = True


async def poll_until(predicate: Callable[[], bool], timeout: float) -> None:  # noqa: ASYNC109
    """For stand-ins that do not announce changes: check every 20 ms until the deadline."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s")
        await asyncio.sleep(0.02)


def _wa_marks(message: WASent, expect: str) -> bool:
    if ":" in expect and " " not in expect:
        return any(i.startswith(expect) for _, i in message.options)
    return expect in message.text


# ------------------------------------------------------------------------------- database
async def stored_answers(app: App) -> dict[str, dict[str, int]]:
    """Per factory code (= per worker here), how many rows each question has."""
    async with app.db.transaction() as s:
        rows = (
            await s.execute(
                select(Factory.code, Answer.question_id, func.count())
                .join(Response, Response.id == Answer.response_id)
                .join(Factory, Factory.id == Response.factory_id)
                .group_by(Factory.code, Answer.question_id)
            )
        ).all()
    out: dict[str, dict[str, int]] = defaultdict(dict)
    for code, question, n in rows:
        out[code][question] = n
    return out


async def responses(app: App) -> dict[str, tuple[str, float | None]]:
    """Per factory code: the response's status and its pay answer."""
    async with app.db.transaction() as s:
        rows = (
            await s.execute(
                select(Factory.code, Response.status, Answer.value_number)
                .join(Factory, Factory.id == Response.factory_id)
                .outerjoin(
                    Answer, (Answer.response_id == Response.id) & (Answer.question_id == "pay")
                )
            )
        ).all()
    return {code: (status, pay) for code, status, pay in rows}


async def count_rows(app: App, model: type) -> int:
    async with app.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


# ------------------------------------------------------------------------------- the process
class ChildProcess:
    """What the tests do with a `python -m bot ...` child: `process` and `log_path` are the
    subclass's fields."""

    process: asyncio.subprocess.Process | None
    log_path: Path

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed or confirmed."""
        assert self.process is not None
        self.process.kill()
        await self.process.wait()

    async def stop(self) -> int:
        """SIGTERM, as systemd stops it; returns the exit code."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def aclose(self) -> None:
        if self.alive:
            assert self.process is not None
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            await self.process.wait()


@dataclass
class BotProcess(ChildProcess):
    """`python -m bot run telegram` against the stand-in, on the test's database."""

    settings: Settings
    api: TelegramStandin
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None
    starts: list[float] = field(default_factory=list)  # time.monotonic() of each start

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
        assert self.settings.secret_key is not None
        env.update(
            WAGECHECK_HOME=str(self.settings.home),
            WAGECHECK_DATABASE_URL=self.settings.effective_database_url,
            WAGECHECK_SECRET_KEY=self.settings.secret_key.get_secret_value(),
            WAGECHECK_TELEGRAM_TOKEN=TOKEN,
            WAGECHECK_TELEGRAM_API_URL=self.api.url,
            # The per-chat and overall limits have their own tests; here workers answer fast.
            WAGECHECK_TELEGRAM_RATE_PER_CHAT="100",
            WAGECHECK_TELEGRAM_RATE_OVERALL="1000",
            WAGECHECK_LOG_LEVEL="WARNING",
        )
        env.update(self.extra_env)
        return env

    async def start(self) -> None:
        """Start the process and wait until it polls."""
        polls = self.api.call_count("getUpdates")
        self.starts.append(time.monotonic())
        with self.log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "telegram",
                env=self.env(),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        process = self.process

        def polling() -> bool:
            if process.returncode is not None:
                raise AssertionError(f"the bot exited at start: {self.logs()}")
            return self.api.call_count("getUpdates") > polls

        await self.api.wait_until(polling, 60)


# ------------------------------------------------------------------------------- in process
def telegram_settings(app: App, api: TelegramStandin) -> None:
    """Point the app at the stand-in; workers answer fast (the limiters have their own tests)."""
    app.settings = app.settings.model_copy(
        update={
            "telegram_token": SecretStr(TOKEN),
            "telegram_api_url": api.url,
            "telegram_rate_per_chat": 100.0,
            "telegram_rate_overall": 1000.0,
        }
    )


def application_with_timeout(app: App, seconds: float) -> Application:  # type: ignore[type-arg]
    """bot.channels.telegram.build_application, but every Bot API call gives up after
    `seconds` (python-telegram-bot's default is 5 s) except getUpdates, which sets its own."""
    s = app.settings
    assert s.telegram_token is not None
    root = s.telegram_api_url.rstrip("/")
    return (
        ApplicationBuilder()
        .token(s.telegram_token.get_secret_value())
        .base_url(f"{root}/bot")
        .base_file_url(f"{root}/file/bot")
        .rate_limiter(
            ChatRateLimiter(
                s.telegram_rate_overall, s.telegram_rate_per_chat, s.telegram_max_retries
            )
        )
        .read_timeout(seconds)
        .write_timeout(seconds)
        .updater(None)
        .build()
    )


@contextlib.asynccontextmanager
async def polling_bot(
    app: App,
    api: TelegramStandin,
    application: Application | None = None,  # type: ignore[type-arg]
) -> AsyncIterator[asyncio.Task[None]]:
    """bot.channels.telegram.run_polling as a task of the test's event loop."""
    channel = TelegramChannel(app, application or build_application(app))
    stop = asyncio.Event()
    polls = api.call_count("getUpdates")
    task = asyncio.create_task(run_polling(channel, stop, handle_signals=False))
    await api.wait_until(lambda: task.done() or api.call_count("getUpdates") > polls, 30)
    try:
        yield task
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


# ------------------------------------------------------------------------------- outages
async def cut_connections(url: str, seconds: float, every: float = 0.1) -> int:
    """For `seconds`, end every session of the bot on the test database (pg_terminate_backend,
    as a server restart or a failover would); returns how many were ended."""
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")  # not named "wagecheck"
    ended = 0
    try:
        async with admin.connect() as conn:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                ended += int(
                    await conn.scalar(
                        text(
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                            "AND application_name = :name"
                        ),
                        {"name": APPLICATION_NAME},
                    )
                    or 0
                )
                await asyncio.sleep(every)
    finally:
        await admin.dispose()
    return ended


@contextlib.asynccontextmanager
async def sqlite_write_lock(path: str) -> AsyncIterator[None]:
    """Another program writes to the SQLite file and holds its write lock meanwhile."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    try:
        await asyncio.to_thread(connection.execute, "BEGIN IMMEDIATE")
        yield
        connection.execute("COMMIT")
    finally:
        connection.close()
