"""Telegram end-to-end benchmark: N workers complete the survey through the real bot
(`wagecheck run telegram`: python-telegram-bot, our long-polling runner, the service, the
database) against the Telegram stand-in, and the same number of chats and messages through a
minimal python-telegram-bot echo bot against the same stand-in, in the same run.

Processes: the bot under test runs in its own process, as in production; so does the echo bot.
This process runs the stand-in (tests/telegram_standin.py, a real HTTP server) and the
simulated workers, so that the two bots pay the same for the stand-in and for the workers, and
neither shares an event loop with them.

Each worker answers what the bot asks: it presses the button of the last question whose
payload ends in the answer (as a phone would send the callback query) or types the pay and the
payment method; 16 messages from the poster link to the thank-you. Against the echo bot each
worker sends the same 16 updates (the presses as callback queries on the echo bot's last
message); the echo bot answers a press and sends its data back as a message, and replies to a
text with the same text, so every update is answered with one message in both runs.

Latency: from the update being queued in the stand-in to the bot's reply arriving there: a
sendMessage, or an editMessageText that carries the next question (a button press edits the
pressed question into the next one; an edit that only shows the answer under the pressed
question, as the bot did before, is not a reply). Each pass also counts the Bot API calls per
completed survey by method (answerCallbackQuery, editMessageText, sendMessage), and the summary
gives the median of the passes' ratios besides the best pass's. The bot's rate limiter
(Telegram's 30 messages/s overall, 1/s per chat) is raised out of the way: it would cap both
rates at Telegram's limit, not measure the bot.

    python benchmarks/telegram_e2e.py [--workers 500] [--repeat 2] [--only sqlite|postgresql]
                                      [--profile FILE]     # cProfile of the bot process
                                      [--py-spy PREFIX]    # py-spy samples of both bots
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    ANSWERS_PER_SURVEY,
    LANGUAGES,
    MESSAGES_PER_SURVEY,
    ROOT,
    SECRET_KEY,
    Throughput,
    backends,
    completed_counts,
    cpu_seconds,
    machine,
    open_bench_round,
    percentile,
    pick_payload,
    postgres_version,
    scratch_database,
    settings_for,
    survey_steps,
)
from tests.telegram_standin import TelegramStandin, UploadedFile

TOKEN = "4242:BENCH-token"
# Seconds a worker waits for one reply before it counts as failed: hundreds of workers who
# answer at once queue up behind each other, for tens of seconds on a loaded machine.
REPLY_TIMEOUT = 180.0
RATE_OUT_OF_THE_WAY = {"overall": 1_000_000.0, "per_chat": 10_000.0}


_first_update_ids = itertools.count(10_001, 10_000_000)


class BenchStandin(TelegramStandin):
    """The stand-in plus a queue per chat of the bot's messages (sent, or edited with
    editMessageText: (arrival, message, method)), stamped when they arrive.

        The stand-in's own waiting (`wait_for_messages`) rescans every message sent so far for
        every waiter after every request: fine for a test, quadratic for hundreds of workers.
    """

    def __init__(self, token: str) -> None:
        # Update ids go on from one stand-in to the next: a bot handling a database that an
        # earlier bot used must not take new updates for redeliveries of old ones.
        super().__init__(token, first_update_id=next(_first_update_ids))
        self.inbox: defaultdict[int, asyncio.Queue[tuple[float, dict[str, Any], str]]] = (
            defaultdict(asyncio.Queue)
        )

    def _bot_sends(
        self, method: str, p: dict[str, Any], files: dict[str, UploadedFile], **content: Any
    ) -> dict[str, Any]:
        message = super()._bot_sends(method, p, files, **content)
        self.inbox[message["chat"]["id"]].put_nowait((time.monotonic(), message, method))
        return message

    def _record_edit(
        self, method: str, p: dict[str, Any], chat_id: int | str, stored: dict[str, Any]
    ) -> dict[str, Any]:
        message = super()._record_edit(method, p, chat_id, stored)
        if method == "editMessageText":
            self.inbox[message["chat"]["id"]].put_nowait((time.monotonic(), message, method))
        return message


@dataclass
class Run(Throughput):
    """One pass of every worker through one bot."""

    bot: str
    workers: int
    completed: int
    failed: int
    seconds: float
    bot_cpu: float  # CPU seconds of the bot process during the pass
    harness_cpu: float  # CPU seconds of this process (stand-in and workers)
    api_calls: int
    latencies: list[float] = field(repr=False)
    calls: Counter[str] = field(default_factory=Counter)  # Bot API calls of the pass by method

    @property
    def cpu_ms_per_message(self) -> float:
        return 1000 * self.bot_cpu / max(self.messages, 1)

    def per_survey(self, method: str) -> float:
        """Calls of `method` per completed survey."""
        return self.calls[method] / max(self.completed, 1)


@dataclass
class Result:
    backend: str
    version: str
    bot: list[Run]
    echo: list[Run]
    responses: int
    answers: int

    @property
    def best_bot(self) -> Run:
        return max(self.bot, key=lambda r: r.per_second)

    @property
    def best_echo(self) -> Run:
        return max(self.echo, key=lambda r: r.per_second)

    @property
    def ratio(self) -> float:
        """Messages per second, our bot / the echo bot (best pass of each)."""
        return self.best_bot.per_second / self.best_echo.per_second

    @property
    def cpu_ratio(self) -> float:
        """CPU per message, the echo bot / our bot: what the rate ratio would be if both had
        a core to themselves (the harness has its own)."""
        return self.best_echo.cpu_ms_per_message / self.best_bot.cpu_ms_per_message

    @property
    def median_ratio(self) -> float:
        """The median over the passes of msgs/s bot / echo (each pass against its own echo)."""
        pairs = zip(self.bot, self.echo, strict=True)
        return statistics.median(b.per_second / e.per_second for b, e in pairs)

    @property
    def median_cpu_per_message(self) -> float:
        """The median over the passes of CPU per message, our bot / the echo bot."""
        pairs = zip(self.bot, self.echo, strict=True)
        return statistics.median(b.cpu_ms_per_message / e.cpu_ms_per_message for b, e in pairs)


# ------------------------------------------------------------------ the echo bot (the floor)


def serve_echo_bot() -> None:
    """The floor (run in its own process): python-telegram-bot's Application with its own
    polling and concurrent updates, a reply with the same text to every text, and to a button
    press an answer and a message with its data. Stops on SIGTERM."""
    from telegram import Update
    from telegram.ext import (
        Application,
        CallbackQueryHandler,
        ContextTypes,
        MessageHandler,
        filters,
    )

    url, token = os.environ["ECHO_API_URL"], os.environ["ECHO_TOKEN"]

    async def echo(update: Update, _: ContextTypes.DEFAULT_TYPE) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        await message.reply_text(message.text)

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None and query.message is not None and query.data is not None
        await query.answer()
        await context.bot.send_message(query.message.chat.id, query.data)

    application = (
        Application.builder()
        .token(token)
        .base_url(f"{url}/bot")
        .base_file_url(f"{url}/file/bot")
        .concurrent_updates(True)
        .build()
    )
    application.add_handler(MessageHandler(filters.TEXT, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    application.run_polling(allowed_updates=["message", "callback_query"], timeout=25)


# ------------------------------------------------------------------ processes


def _clean_env() -> dict[str, str]:
    """This process's environment without any WAGECHECK_* setting (a stray WhatsApp token
    would start another channel), with the repository importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def bot_command(profile: Path | None = None) -> list[str]:
    """`wagecheck run telegram --scheduler` (the scheduler beside it, as measured in
    docs/benchmarks.md), optionally under cProfile."""
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    return [sys.executable, *profiler, "-m", "bot", "run", "telegram", "--scheduler"]


def bot_env(url: str, home: Path, api_url: str) -> dict[str, str]:
    return {
        **_clean_env(),
        "WAGECHECK_HOME": str(home),
        "WAGECHECK_DATABASE_URL": url,
        "WAGECHECK_SECRET_KEY": SECRET_KEY,
        "WAGECHECK_TELEGRAM_TOKEN": TOKEN,
        "WAGECHECK_TELEGRAM_API_URL": api_url,
        "WAGECHECK_TELEGRAM_RATE_OVERALL": str(RATE_OUT_OF_THE_WAY["overall"]),
        "WAGECHECK_TELEGRAM_RATE_PER_CHAT": str(RATE_OUT_OF_THE_WAY["per_chat"]),
        "WAGECHECK_LOG_LEVEL": "WARNING",
    }


@contextlib.asynccontextmanager
async def process(
    command: list[str], env: dict[str, str], cwd: Path, api: TelegramStandin
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a bot process, wait until it polls the stand-in, stop it with SIGTERM after."""
    log = cwd / f"bot-{time.monotonic_ns()}.log"
    with log.open("wb") as out:
        child = await asyncio.create_subprocess_exec(
            *command, env=env, cwd=cwd, stdout=out, stderr=asyncio.subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while api.call_count("getUpdates") == 0:
            if child.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the bot did not start:\n{log.read_text()[-3000:]}")
            await asyncio.sleep(0.05)
        yield child
    except BaseException:
        print(f"  bot log (tail):\n{log.read_text()[-2000:]}")
        raise
    finally:
        if child.returncode is None:
            child.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(child.wait(), 30)
            except TimeoutError:
                child.kill()
                await child.wait()
        text = log.read_text()
        entries = _errors(text) if "time=" in text else [text[-1500:]] if text.strip() else []
        for entry in entries[:5]:
            print("  bot log: " + entry.replace("\n", "\n    "))


def _errors(log: str) -> list[str]:
    """The ERROR entries of a bot log, each with the traceback lines that follow it."""
    entries: list[str] = []
    for line in log.splitlines():
        if line.startswith("time="):
            entries.append(line)
        elif entries:
            entries[-1] += "\n" + line
    return [e for e in entries if "level=ERROR" in e.split("\n", 1)[0]]


# ------------------------------------------------------------------ workers


@dataclass
class Tally:
    """What the workers of a pass measured: each reply's latency, and when the last came."""

    latencies: list[float] = field(default_factory=list)
    last_reply: float = 0.0


async def worker(
    api: BenchStandin, chat: int, code: str, lang: str, tally: Tally, echo: bool
) -> bool:
    """One worker's 16 messages; True when the last reply came and (for our bot) is the
    thank-you (after the contact question, with no button but "Clear this chat")."""
    inbox = api.inbox[chat]
    question: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    pressed_text: str | None = None
    for step in survey_steps(code, lang):
        pressed_text = None
        if step.kind == "start":
            api.user_sends_start(chat, step.value, language_code=lang)
        elif step.kind == "type":
            api.user_sends_text(chat, step.value)
        elif echo:
            assert last is not None
            api.user_presses(chat, last["message_id"], f"a:bench:{step.value}", strict=False)
        else:
            assert question is not None, "a button to press before any question"
            payloads = [data for _, data in api.buttons(question) if data]
            api.user_presses(chat, question["message_id"], pick_payload(payloads, step.value))
            pressed_text = question.get("text")
        queued = time.monotonic()
        while True:
            arrived, last, method = await asyncio.wait_for(inbox.get(), REPLY_TIMEOUT)
            shows_answer = (
                method == "editMessageText"
                and not api.buttons(last)
                and pressed_text is not None
                and str(last.get("text", "")).startswith(pressed_text)
            )
            if not shows_answer:  # the pressed question with "✓ answer" under it: not a reply
                break
        tally.latencies.append(arrived - queued)
        tally.last_reply = max(tally.last_reply, arrived)
        if api.buttons(last):
            question = last
    # The thank-you's only button is the offer to clear the chat.
    return inbox.empty() and (echo or [d for _, d in api.buttons(last)] in ([], ["c:clear"]))


async def run_pass(
    api: BenchStandin,
    child: asyncio.subprocess.Process,
    codes: list[str],
    workers: int,
    echo: bool,
    first_chat: int = 1_000_001,
    spy: Path | None = None,
) -> Run:
    """Every worker at once (chats first_chat, first_chat + 1, ...); with `spy`, py-spy
    samples the bot process meanwhile (collapsed stacks written there)."""
    sampler = None
    if spy is not None:
        sampler = await asyncio.create_subprocess_exec(
            os.environ.get("PY_SPY", "py-spy"),
            *("record", "--pid", str(child.pid), "--format", "raw", "--rate", "250"),
            *("--nonblocking", "--output", str(spy)),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(1)
    calls = len(api.requests)
    bot_cpu, harness_cpu = cpu_seconds(child.pid), time.process_time()
    started = time.monotonic()
    tally = Tally(last_reply=started)
    results = await asyncio.gather(
        *(
            worker(api, first_chat + i, codes[i % len(codes)], LANGUAGES[i % 3], tally, echo)
            for i in range(workers)
        ),
        return_exceptions=True,
    )
    # Up to the last reply: a worker waiting in vain for a lost one does not stretch the pass.
    seconds = tally.last_reply - started
    bot_cpu = cpu_seconds(child.pid) - bot_cpu
    harness_cpu = time.process_time() - harness_cpu
    if sampler is not None:
        sampler.send_signal(signal.SIGINT)
        await asyncio.wait_for(sampler.wait(), 30)
    by_method = Counter(c.method for c in api.requests[calls:])
    failed = [r for r in results if isinstance(r, BaseException)]
    for exc in failed[:3]:
        print(f"  worker failed: {type(exc).__name__}: {exc}".splitlines()[0])
    return Run(
        "echo" if echo else "bot",
        workers,
        sum(r is True for r in results),
        len(failed),
        seconds,
        bot_cpu,
        harness_cpu,
        len(api.requests) - calls,
        tally.latencies,
        by_method,
    )


CALLS = ("answerCallbackQuery", "editMessageText", "sendMessage")


def show(run: Run) -> None:
    print(
        f"  {run.bot:<4} {run.messages:>6,} messages in {run.seconds:6.2f} s: "
        f"{run.per_second:6.1f} msgs/s, {run.surveys_per_second:5.2f} surveys/s, "
        f"p50 {percentile(run.latencies, 50) * 1000:6.1f} ms, "
        f"p99 {percentile(run.latencies, 99) * 1000:6.1f} ms; "
        f"bot CPU {run.cpu_ms_per_message:.2f} ms/msg ({run.bot_cpu / run.seconds:.0%} of a core), "
        f"stand-in+workers CPU {run.harness_cpu / run.seconds:.0%}; "
        f"{run.api_calls / max(run.messages, 1):.1f} API calls/msg; "
        f"{run.completed}/{run.workers} completed"
        + (f", {run.failed} failed" if run.failed else "")
    )
    print(
        "       calls per completed survey: "
        + ", ".join(f"{m} {run.per_survey(m):.2f}" for m in CALLS)
        + f"; these {sum(run.per_survey(m) for m in CALLS):.2f}"
    )


async def run_backend(
    backend: str,
    url: str,
    workers: int,
    repeat: int,
    profile: Path | None = None,
    spy: Path | None = None,
) -> Result:
    from bot.bootstrap import build_app

    home = Path(tempfile.mkdtemp(prefix="wagecheck-bench-"))
    try:
        app = await build_app(settings_for(url, home))
        try:
            version = sqlite3.sqlite_version if app.db.is_sqlite else await postgres_version(url)
            codes = await open_bench_round(app)
        finally:
            await app.close()
        bot_runs, echo_runs = [], []
        for n in range(repeat):
            async with BenchStandin(TOKEN) as api:
                echo_env = {**_clean_env(), "ECHO_API_URL": api.url, "ECHO_TOKEN": TOKEN}
                echo_code = (
                    f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                    "from benchmarks.telegram_e2e import serve_echo_bot; serve_echo_bot()"
                )
                async with process([sys.executable, "-c", echo_code], echo_env, home, api) as c:
                    await run_pass(api, c, codes[:1], 1, echo=True, first_chat=1)
                    echo_runs.append(
                        await run_pass(
                            api, c, codes, workers, echo=True, spy=_spy(spy, "echo", backend, n)
                        )
                    )
                show(echo_runs[-1])
            async with BenchStandin(TOKEN) as api:
                command = bot_command(profile if n == 0 else None)
                async with process(command, bot_env(url, home, api.url), home, api) as child:
                    # One worker first: connections, caches and imports warm, as in production.
                    await run_pass(api, child, codes[:1], 1, echo=False, first_chat=10 + n)
                    # New chats each pass: a worker who finished would start a second response.
                    chats = 1_000_001 + n * 1_000_000
                    bot_runs.append(
                        await run_pass(
                            api,
                            child,
                            codes,
                            workers,
                            echo=False,
                            first_chat=chats,
                            spy=_spy(spy, "bot", backend, n),
                        )
                    )
                show(bot_runs[-1])
        app = await build_app(settings_for(url, home))
        try:
            responses, answers = await completed_counts(app)
        finally:
            await app.close()
        return Result(backend, version, bot_runs, echo_runs, responses, answers)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _spy(prefix: Path | None, bot: str, backend: str, n: int) -> Path | None:
    return prefix.with_name(f"{prefix.name}-{bot}-{backend}-{n}.txt") if prefix else None


async def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=50, help="workers at once (500)")
    parser.add_argument("--repeat", type=int, default=1, help="echo/bot pairs per backend")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument("--profile", type=Path, help="write a cProfile of the bot process here")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="PREFIX",
        help="sample both bots with py-spy (on PATH, or $PY_SPY) into PREFIX-<bot>-<db>-<n>.txt",
    )
    args = parser.parse_args(argv)
    print(f"Telegram end-to-end: {args.workers} workers, {MESSAGES_PER_SURVEY} messages each")
    print(f"machine: {machine()}")
    results = []
    for backend in backends(args.only):
        async with scratch_database(backend) as url:
            if url is None:
                continue
            print(f"[{backend}]")
            profile = args.profile.with_suffix(f".{backend}.prof") if args.profile else None
            result = await run_backend(
                backend, url, args.workers, args.repeat, profile, args.py_spy
            )
            expected = sum(r.completed for r in result.bot) + len(result.bot)  # + warm-ups
            assert result.responses == expected, (result.responses, expected)
            assert result.answers == expected * ANSWERS_PER_SURVEY, result.answers
            results.append(result)
            for n, (bot, echo) in enumerate(zip(result.bot, result.echo, strict=True)):
                rate = bot.per_second / echo.per_second
                cpu = echo.cpu_ms_per_message / bot.cpu_ms_per_message
                print(f"  pass {n + 1}: msgs/s bot / echo {rate:.2f}, CPU/msg echo / bot {cpu:.2f}")
    print()
    print(
        "| backend | workers | bot msgs/s | surveys/s | p50 | p99 | bot CPU/msg "
        "| echo msgs/s | p50 | p99 | echo CPU/msg | ratio | CPU ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        b, e = r.best_bot, r.best_echo
        print(
            f"| {r.backend} {r.version} | {b.workers:,} | {b.per_second:.0f} | "
            f"{b.surveys_per_second:.1f} | {percentile(b.latencies, 50) * 1000:.0f} ms | "
            f"{percentile(b.latencies, 99) * 1000:.0f} ms | {b.cpu_ms_per_message:.2f} ms | "
            f"{e.per_second:.0f} | {percentile(e.latencies, 50) * 1000:.0f} ms | "
            f"{percentile(e.latencies, 99) * 1000:.0f} ms | {e.cpu_ms_per_message:.2f} ms | "
            f"{r.ratio:.2f} | {r.cpu_ratio:.2f} |"
        )
    print()
    print(
        "| backend | workers | passes | median msgs/s bot / echo | median CPU/msg bot / echo "
        "| answerCallbackQuery | editMessageText | sendMessage | per survey (bot) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        per = {m: statistics.median(b.per_survey(m) for b in r.bot) for m in CALLS}
        print(
            f"| {r.backend} | {r.bot[0].workers:,} | {len(r.bot)} | {r.median_ratio:.2f} | "
            f"{r.median_cpu_per_message:.2f} | "
            + " | ".join(f"{per[m]:.2f}" for m in CALLS)
            + f" | {sum(per.values()):.2f} |"
        )
    return results


if __name__ == "__main__":
    asyncio.run(main())
