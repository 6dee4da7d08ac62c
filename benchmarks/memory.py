"""Memory benchmark: resident memory of the real bot process (`wagecheck run telegram` against
the Telegram stand-in) with many open conversations in the database, against none.

Per database: a fresh database and an open round; the bot is started, a few workers complete the
survey through it, and its RSS (VmRSS of /proc/<pid>/status) is read — the case with no open
conversations. Then N open conversations are bulk-inserted (SQLAlchemy Core), a new bot process
is started and the same number of workers complete the survey; RSS again. The aim is no growth:
the state lives in the database, not in the process.

Open conversations are copies of what the real service stores for a worker midway: one worker
is taken through `SurveyService.handle` and the rows after each of its steps (conversation
state, the in-progress response, its answers, the encrypted contact address) are copied with
other pseudonyms, spread over the steps and the round's factories. Their last message is from
this hour (`updated_at`), so none is due for a reminder while the bot runs.

    python benchmarks/memory.py [--conversations 100000] [--workers 25] [--repeat 1]
                                [--tick] [--only sqlite|postgresql]

`--tick` keeps each bot running until its scheduler's first minute tick (which looks for
workers to remind among the open conversations) has run before reading RSS.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (
    LANGUAGES,
    backends,
    machine,
    open_bench_round,
    postgres_version,
    rss_kib,
    scratch_database,
    settings_for,
)
from benchmarks.service import complete_survey
from benchmarks.telegram_e2e import (
    TOKEN,
    BenchStandin,
    Tally,
    bot_command,
    bot_env,
    process,
    worker,
)
from bot.bootstrap import App, build_app
from bot.service import InboundMessage, Outcome
from bot.storage.models import (
    Answer,
    ContactAddress,
    Conversation,
    Response,
    RoundFactory,
)
from bot.survey.state import ConversationState, FactoryRef

CHANNEL = "telegram"
BATCH = 5_000
FIRST_USER = 50_000_001  # user ids of the bulk conversations; the workers' chats stay below
TICK_SECONDS = 60 + 5  # the scheduler's first tick, and a margin


@dataclass
class Snapshot:
    """The rows the service keeps for one worker after one message."""

    conversation: dict[str, Any]
    response: dict[str, Any]
    answers: list[dict[str, Any]]
    contact: dict[str, Any] | None


@dataclass
class Measure:
    case: str
    conversations: int
    messages: int
    completed: int
    rss_start: int  # KiB, polling and idle, before any message
    rss: int  # KiB, after the workers
    hwm: int  # KiB, peak


@dataclass
class Result:
    backend: str
    version: str
    measures: list[Measure]
    insert_seconds: float

    def of(self, case: str) -> list[Measure]:
        return [m for m in self.measures if m.case == case]


async def _rows(app: App, statement: Any) -> list[dict[str, Any]]:
    async with app.db.transaction() as s:
        return [dict(r._mapping) for r in (await s.execute(statement)).all()]


async def capture(app: App, code: str) -> list[Snapshot]:
    """One worker through the real service; the rows it has after each message while its
    response is in progress."""
    key = app.keyring.conversation_key(CHANNEL, "capture")
    snapshots: list[Snapshot] = []

    async def handle(msg: InboundMessage) -> Outcome:
        outcome = await app.service.handle(msg)
        conv = await _rows(app, select(Conversation.__table__).where(Conversation.key == key))
        if conv and conv[0]["response_id"] is not None:
            rid = conv[0]["response_id"]
            response = await _rows(app, select(Response.__table__).where(Response.id == rid))
            if response and response[0]["status"] == "in_progress":
                answers = await _rows(
                    app, select(Answer.__table__).where(Answer.response_id == rid)
                )
                contact = await _rows(
                    app, select(ContactAddress.__table__).where(ContactAddress.key == key)
                )
                snapshots.append(
                    Snapshot(conv[0], response[0], answers, contact[0] if contact else None)
                )
        return outcome

    await complete_survey(handle, "capture", code, "ur")
    assert snapshots, "the capture worker never had a response in progress"
    return snapshots


async def insert_open_conversations(app: App, n: int, snapshots: Sequence[Snapshot]) -> None:
    """n conversations midway through the survey, as the service stores them, in batches."""
    async with app.db.transaction() as s:
        refs = [
            FactoryRef(
                code=rf.code,
                name=rf.factory.name,
                region=rf.factory.region,
                round_id=rf.round_id,
                factory_id=rf.factory_id,
            )
            for rf in (await s.execute(select(RoundFactory))).scalars()
        ]
        next_id = int(await s.scalar(select(func.coalesce(func.max(Response.id), 0)))) + 1
    states: dict[tuple[int, int], str] = {}  # (snapshot, factory) -> state JSON
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    today = date.today()
    keyring = app.keyring
    conversations: list[dict[str, Any]] = []
    responses: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    contacts: list[dict[str, Any]] = []

    async def flush() -> None:
        async with app.db.transaction() as s:
            for model, rows in (
                (Response, responses),
                (Answer, answers),
                (ContactAddress, contacts),
                (Conversation, conversations),
            ):
                if rows:
                    await s.execute(insert(model.__table__), rows)
        for rows in (responses, answers, contacts, conversations):
            rows.clear()

    for i in range(n):
        user = str(FIRST_USER + i)
        si, fi = i % len(snapshots), (i // len(snapshots)) % len(refs)
        snap, ref = snapshots[si], refs[fi]
        state = states.get((si, fi))
        if state is None:
            parsed = ConversationState.from_json(snap.conversation["state"])
            state = states[(si, fi)] = parsed.model_copy(update={"factory": ref}).to_json()
        key = keyring.conversation_key(CHANNEL, user)
        rid = next_id + i
        responses.append(
            {
                **{k: v for k, v in snap.response.items() if k != "id"},
                "id": rid,
                "factory_id": ref.factory_id,
                "respondent": keyring.respondent(ref.round_id, CHANNEL, user),
                "started_on": today,
            }
        )
        answers.extend(
            {
                **{k: v for k, v in a.items() if k != "id"},
                "response_id": rid,
                "answered_on": today,
            }
            for a in snap.answers
        )
        if snap.contact is not None:
            contacts.append(
                {
                    **snap.contact,
                    "key": key,
                    "ciphertext": keyring.encrypt_address(CHANNEL, user),
                    "factory_id": ref.factory_id,
                    "created_on": today,
                }
            )
        conversations.append(
            {
                **snap.conversation,
                "key": key,
                "state": state,
                "response_id": rid,
                "updated_at": hour,
            }
        )
        if len(conversations) >= BATCH:
            await flush()
    await flush()
    if not app.db.is_sqlite:  # explicit ids do not advance PostgreSQL's sequence
        async with app.db.transaction() as s:
            await s.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('responses', 'id'), max(id)) "
                    "FROM responses"
                )
            )
            await s.execute(text("ANALYZE"))


async def check_resumable(url: str, home: Path, n: int) -> None:
    """The copies are what the service would have stored: the last copy's worker comes back
    and is asked the survey question the copy stopped at (a stranger would be asked for a
    language)."""
    app = await build_app(settings_for(url, home))
    try:
        outcome = await app.service.handle(
            InboundMessage(
                channel=CHANNEL,
                user_id=str(FIRST_USER + n - 1),
                message_id="memory-benchmark-check",
                kind="start",
                received_at=datetime.now(UTC),
            )
        )
        asked = [r.question_id for r in outcome.replies if r.question_id]
        assert asked and asked[-1] != "language", f"a copied conversation did not resume: {asked}"
    finally:
        await app.close()


async def open_count(app: App) -> int:
    async with app.db.transaction() as s:
        return int(
            await s.scalar(
                select(func.count())
                .select_from(Conversation)
                .join(Response, Response.id == Conversation.response_id)
                .where(Response.status == "in_progress")
            )
            or 0
        )


async def measure(
    case: str, url: str, home: Path, codes: list[str], workers: int, first_chat: int, tick: bool
) -> Measure:
    """Start the bot, let `workers` workers complete the survey, read its memory, stop it."""
    app = await build_app(settings_for(url, home))
    try:
        conversations = await open_count(app)
    finally:
        await app.close()
    async with BenchStandin(TOKEN) as api:
        started = time.monotonic()
        async with process(bot_command(), bot_env(url, home, api.url), home, api) as child:
            await asyncio.sleep(1)  # the scheduler's start-up (reconcile) settles
            rss_start, _ = rss_kib(child.pid)
            tally = Tally()
            done = await asyncio.gather(
                *(
                    worker(
                        api,
                        first_chat + i,
                        codes[i % len(codes)],
                        LANGUAGES[i % 3],
                        tally,
                        echo=False,
                    )
                    for i in range(workers)
                )
            )
            if tick:
                await asyncio.sleep(max(0.0, TICK_SECONDS - (time.monotonic() - started)))
            await asyncio.sleep(1)
            rss, hwm = rss_kib(child.pid)
    m = Measure(case, conversations, len(tally.latencies), sum(done), rss_start, rss, hwm)
    print(
        f"  {case:<5} {conversations:>7,} open conversations: RSS {rss / 1024:6.1f} MiB after "
        f"{m.messages} messages ({m.completed}/{workers} surveys completed; "
        f"{rss_start / 1024:.1f} MiB before them, peak {hwm / 1024:.1f} MiB)"
    )
    return m


async def run_backend(
    backend: str, url: str, conversations: int, workers: int, tick: bool, chat: int
) -> tuple[list[Measure], float, str]:
    home = Path(tempfile.mkdtemp(prefix="wagecheck-bench-"))
    try:
        app = await build_app(settings_for(url, home))
        try:
            version = sqlite3.sqlite_version if app.db.is_sqlite else await postgres_version(url)
            codes = await open_bench_round(app)
            snapshots = await capture(app, codes[0])
        finally:
            await app.close()
        none = await measure("none", url, home, codes, workers, chat, tick)
        app = await build_app(settings_for(url, home))
        try:
            started = time.perf_counter()
            await insert_open_conversations(app, conversations, snapshots)
            seconds = time.perf_counter() - started
        finally:
            await app.close()
        print(f"  {conversations:,} open conversations inserted in {seconds:.1f} s")
        await check_resumable(url, home, conversations)
        many = await measure("open", url, home, codes, workers, chat + workers, tick)
        return [none, many], seconds, version
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000, help="open ones (100000)")
    parser.add_argument("--workers", type=int, default=25, help="workers completing the survey")
    parser.add_argument("--repeat", type=int, default=1, help="none/open pairs per backend")
    parser.add_argument("--tick", action="store_true", help="read RSS after a scheduler tick")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args(argv)
    print(
        f"memory: bot process with {args.conversations:,} open conversations vs none, "
        f"{args.workers} workers completing the survey in each"
    )
    print(f"machine: {machine()}")
    results = []
    for backend in backends(args.only):
        measures: list[Measure] = []
        version, seconds = "", 0.0
        for n in range(args.repeat):
            async with scratch_database(backend) as url:
                if url is None:
                    break
                print(f"[{backend}] pass {n + 1}")
                got, seconds, version = await run_backend(
                    backend, url, args.conversations, args.workers, args.tick, 1_000_001
                )
                measures += got
        if measures:
            results.append(Result(backend, version, measures, seconds))
    print()
    print("| backend | open conversations | RSS (none) | RSS (open) | difference | peak |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in results:
        for none, many in zip(r.of("none"), r.of("open"), strict=True):
            print(
                f"| {r.backend} {r.version} | {many.conversations:,} | {none.rss / 1024:.1f} MiB | "
                f"{many.rss / 1024:.1f} MiB | {(many.rss - none.rss) / 1024:+.1f} MiB | "
                f"{none.hwm / 1024:.1f} / {many.hwm / 1024:.1f} MiB |"
            )
    return results


if __name__ == "__main__":
    asyncio.run(main())
