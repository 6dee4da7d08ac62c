"""Service benchmark: inbound answers handled per second by `SurveyService.handle` (engine and
storage, one transaction each) with many simulated workers completing the survey at once,
against a floor: the same loop and concurrency with a no-op engine and one write per message.

Each worker is an asyncio task that answers what the service asks (the question's buttons,
by their payload; typed pay and payment method), 16 messages from the poster link to the
thank-you. All workers start together. The floor's service writes only the de-duplication row
(the HMAC key included) and hands back the replies a real run produced, so the workers run the
same code. Floor and service run in the same process, on the same database, one after the
other (`--repeat` alternates them).

    python benchmarks/service.py [--workers 1000] [--repeat 1] [--only sqlite|postgresql]
    WAGECHECK_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    ANSWERS_PER_SURVEY,
    LANGUAGES,
    MESSAGES_PER_SURVEY,
    Throughput,
    backends,
    completed_counts,
    machine,
    open_bench_round,
    percentile,
    pick_payload,
    postgres_version,
    scratch_database,
    settings_for,
    survey_steps,
)
from bot.bootstrap import App, build_app
from bot.privacy import Keyring
from bot.service import InboundMessage, Outcome
from bot.service.inbound import MAX_ATTEMPTS
from bot.storage import Database
from bot.storage.models import ProcessedMessage
from bot.survey.state import ResponseCompleted

CHANNEL = "telegram"
Handle = Callable[[InboundMessage], Awaitable[Outcome]]


@dataclass
class Run(Throughput):
    """One pass of every worker through one handler."""

    workers: int
    completed: int
    failed: int
    seconds: float
    latencies: list[float] = field(repr=False)


@dataclass
class Result:
    backend: str
    version: str
    service: list[Run]
    floor: list[Run]
    responses: int
    answers: int

    @property
    def best_service(self) -> Run:
        return max(self.service, key=lambda r: r.per_second)

    @property
    def best_floor(self) -> Run:
        return max(self.floor, key=lambda r: r.per_second)

    @property
    def ratio(self) -> float:
        return self.best_service.per_second / self.best_floor.per_second


class FloorService:
    """The floor: a no-op engine and one trivial write. Like the real service it derives the
    de-duplication key, commits one transaction per message and retries a lock conflict; then
    it hands back the replies a real run gave at that step, so that the workers' loop is the
    same."""

    def __init__(self, db: Database, keyring: Keyring, script: list[Outcome]) -> None:
        self.db, self.keyring, self.script = db, keyring, script
        self._step: dict[str, int] = {}

    def reset(self) -> None:
        """Forget the workers' steps (a new pass uses new worker ids anyway)."""
        self._step.clear()

    async def handle(self, msg: InboundMessage) -> Outcome:
        dedup = self.keyring.message_key(msg.channel, msg.message_id)
        for attempt in range(1, MAX_ATTEMPTS + 1):  # SQLite's "database is locked", as there
            try:
                async with self.db.transaction() as session:
                    await session.execute(
                        insert(ProcessedMessage).values(
                            key=dedup, processed_on=msg.received_at.date()
                        )
                    )
                break
            except OperationalError:
                if attempt == MAX_ATTEMPTS:
                    raise
        step = self._step.get(msg.user_id, 0)
        self._step[msg.user_id] = step + 1
        return self.script[step]


_message_ids = itertools.count(1)


async def complete_survey(
    handle: Handle, user_id: str, code: str, lang: str, latencies: list[float] | None = None
) -> list[Outcome]:
    """One worker from the poster link to the thank-you, answering what it was asked; returns
    every outcome (the floor replays them)."""
    outcomes: list[Outcome] = []
    outcome = Outcome()
    for step in survey_steps(code, lang):
        if step.kind == "start":
            kw: dict[str, str] = {"kind": "start", "start_code": step.value}
        elif step.kind == "type":
            kw = {"kind": "text", "text": step.value}
        else:
            question = next(r for r in reversed(outcome.replies) if r.buttons)
            payloads = [b.payload for b in question.buttons]
            kw = {"kind": "button", "payload": pick_payload(payloads, step.value)}
        msg = InboundMessage(
            channel=CHANNEL,
            user_id=user_id,
            message_id=str(next(_message_ids)),
            received_at=datetime.now(UTC),
            **kw,  # type: ignore[arg-type]
        )
        started = time.perf_counter()
        outcome = await handle(msg)
        if latencies is not None:
            latencies.append(time.perf_counter() - started)
        outcomes.append(outcome)
    return outcomes


def finished(outcomes: list[Outcome]) -> bool:
    return bool(outcomes) and any(isinstance(e, ResponseCompleted) for e in outcomes[-1].events)


async def run_workers(handle: Handle, codes: list[str], workers: int, tag: str) -> Run:
    """Every worker at once, each an asyncio task answering in turn."""
    latencies: list[float] = []

    async def one(i: int) -> bool:
        outcomes = await complete_survey(
            handle, f"{tag}-{i}", codes[i % len(codes)], LANGUAGES[i % 3], latencies
        )
        return finished(outcomes)

    started = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(workers)), return_exceptions=True)
    seconds = time.perf_counter() - started
    failed = [r for r in results if isinstance(r, BaseException)]
    for exc in failed[:3]:
        print(f"  worker failed: {type(exc).__name__}: {exc}".splitlines()[0])
    return Run(workers, sum(r is True for r in results), len(failed), seconds, latencies)


def show(label: str, run: Run) -> None:
    print(
        f"  {label:<8} {run.messages:>6,} messages in {run.seconds:6.2f} s: "
        f"{run.per_second:7.1f} msgs/s, {run.surveys_per_second:6.2f} surveys/s, "
        f"p50 {percentile(run.latencies, 50) * 1000:6.1f} ms, "
        f"p99 {percentile(run.latencies, 99) * 1000:6.1f} ms; "
        f"{run.completed}/{run.workers} completed"
        + (f", {run.failed} failed" if run.failed else "")
    )


async def run_backend(backend: str, url: str, workers: int, repeat: int) -> Result:
    home = Path(tempfile.mkdtemp(prefix="wagecheck-bench-"))
    try:
        app = await build_app(settings_for(url, home))
        try:
            return await measure(app, backend, url, workers, repeat)
        finally:
            await app.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def measure(app: App, backend: str, url: str, workers: int, repeat: int) -> Result:
    version = sqlite3.sqlite_version if app.db.is_sqlite else await postgres_version(url)
    codes = await open_bench_round(app)
    # Warm-up (engine caches, connections, query compilation) and the floor's replies.
    script = await complete_survey(app.service.handle, "warm-up", codes[0], "en")
    assert finished(script), "the warm-up worker did not finish the survey"
    floor = FloorService(app.db, app.keyring, script)
    await run_workers(floor.handle, codes, min(workers, 50), "floor-warm-up")
    service_runs, floor_runs = [], []
    for n in range(repeat):
        floor.reset()
        floor_runs.append(await run_workers(floor.handle, codes, workers, f"floor{n}"))
        show("floor", floor_runs[-1])
        service_runs.append(await run_workers(app.service.handle, codes, workers, f"w{n}"))
        show("service", service_runs[-1])
    responses, answers = await completed_counts(app)
    return Result(backend, version, service_runs, floor_runs, responses, answers)


async def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=200, help="concurrent workers (1000)")
    parser.add_argument("--repeat", type=int, default=1, help="floor/service pairs per backend")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args(argv)
    print(f"service benchmark: {args.workers} concurrent workers, {MESSAGES_PER_SURVEY} messages")
    print(f"machine: {machine()}")
    results = []
    for backend in backends(args.only):
        async with scratch_database(backend) as url:
            if url is None:
                continue
            print(f"[{backend}]")
            result = await run_backend(backend, url, args.workers, args.repeat)
            expected = 1 + sum(r.completed for r in result.service)  # + the warm-up worker
            assert result.responses == expected, (result.responses, expected)
            assert result.answers == expected * ANSWERS_PER_SURVEY, result.answers
            results.append(result)
            print(f"  ratio service / floor: {result.ratio:.2f}")
    print()
    print(
        "| backend | workers | service msgs/s | surveys/s | p50 | p99 | floor msgs/s | p50 | p99 "
        "| ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        s, f = r.best_service, r.best_floor
        print(
            f"| {r.backend} {r.version} | {s.workers:,} | {s.per_second:.0f} | "
            f"{s.surveys_per_second:.1f} | {percentile(s.latencies, 50) * 1000:.0f} ms | "
            f"{percentile(s.latencies, 99) * 1000:.0f} ms | {f.per_second:.0f} | "
            f"{percentile(f.latencies, 50) * 1000:.0f} ms | "
            f"{percentile(f.latencies, 99) * 1000:.0f} ms | {r.ratio:.2f} |"
        )
    return results


if __name__ == "__main__":
    asyncio.run(main())
