"""Reports benchmark: the full JSON report of a big round against a hand-written SQL floor.

A round of 1,000 factories and 100,000 complete responses (12 answers each, 1.2 million
answer rows) is bulk-inserted into SQLite and, when its server answers, PostgreSQL. Then,
in the same run and on the same rows:

- report: `build_report(app, round, "cso:...")` + `render(report, "json")`: every figure of
  every factory (shares, Wilson intervals, medians and quartiles, distributions, breakdowns
  by employment and gender with complementary suppression, quality flags), disclosed;
- floor: one hand-written SQL statement that pivots each response's answers and aggregates
  them per factory, employment type and gender: respondents, assessed answers, answers at or
  above the minimum in force (a CASE over the wage table), payslip, pay-rise and deduction
  counts. No medians (SQLite has no percentile function), so it is a lower bound.

Each is run once to warm up, then `--repeat` times; the best times are compared.

    python benchmarks/reports.py [--factories 1000] [--respondents 100000] [--repeat 3]
    WAGECHECK_BENCH_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.synthetic import Answers, insert_responses, set_up_round
from bot.bootstrap import App, build_app
from bot.config import Settings
from bot.reports import build_report, render
from bot.wages import WageTable

PG_URL = os.environ.get(
    "WAGECHECK_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
CSO = "Benchmark CSO"
SEMI_SKILLED_JOBS = ("operator", "checker")


@dataclass
class Result:
    backend: str
    rows: int
    insert_seconds: float
    report_seconds: list[float]
    floor_seconds: list[float]
    report_bytes: int

    @property
    def ratio(self) -> float:
        return min(self.report_seconds) / min(self.floor_seconds)


def workers(
    factory_ids: list[int], respondents: int, seed: int = 1
) -> Iterator[tuple[int, Answers]]:
    """Deterministic answers: factory sizes vary (a few tiny ones are suppressed)."""
    rng = random.Random(seed)
    weights = [rng.choice((0.05, 1, 1, 2, 3)) for _ in factory_ids]
    hour = datetime(2026, 11, 20, 6, tzinfo=UTC)
    for fid in rng.choices(factory_ids, weights, k=respondents):
        job = rng.choices(("helper", "operator", "checker", "other"), (4, 5, 2, 1))[0]
        minimum = 41_380 if job in SEMI_SKILLED_JOBS else 40_000
        pay = (
            minimum + rng.choice((0, 500, 2_000, 5_000))
            if rng.random() < 0.7
            else (rng.randrange(24_000, minimum, 500))
        )
        yield (
            fid,
            Answers(
                job=job,
                employment=rng.choices(
                    ("permanent", "contractor", "piece_rate", "daily"), (4, 3, 2, 1)
                )[0],
                month=rng.choice(("2026-09", "2026-10")),
                full_month=True,
                pay=pay,
                pay_rise=rng.choice(("yes", "no", "dont_know")),
                payslip=rng.choice(("yes", "no")),
                methods=rng.choice((("cash",), ("bank",), ("cash", "wallet"))),
                deductions=rng.choice(("yes", "no", "dont_know")),
                gender=rng.choices(("woman", "man", "unsaid"), (4, 5, 1))[0],
                # 12 answers each: every question, the optional comment included.
                comment="Overtime is paid late",
                completed_hour=hour + timedelta(hours=rng.randrange(0, 24 * 6)),
            ),
        )


def minimum_case(
    wages: WageTable, month: str = "month", job: str = "job", region: str = "sindh"
) -> str:
    """The minimum in force as a SQL CASE over the pay month and job, from the wage table."""
    branches = []
    unskilled = [e for e in wages.history(region) if e.status != "contested"]
    for entry in reversed(unskilled):
        start = entry.in_force_from.strftime("%Y-%m")
        semi = wages.minimum_for(region, "semi_skilled", entry.in_force_from)
        semi_amount = semi.amount if semi else entry.amount
        branches.append(
            f"WHEN {month} >= '{start}' THEN CASE WHEN {job} IN "
            f"({', '.join(repr(j) for j in SEMI_SKILLED_JOBS)}) "
            f"THEN {semi_amount} ELSE {entry.amount} END"
        )
    return "CASE " + " ".join(branches) + " END"


FLOOR_QUESTIONS = {
    "job": "value_text",
    "pay_month": "value_text",
    "full_month": "value_text",
    "pay": "value_number",
    "employment": "value_text",
    "gender": "value_text",
    "payslip": "value_text",
    "pay_rise": "value_text",
    "deductions": "value_text",
}


def floor_sql(wages: WageTable) -> str:
    """One aggregate statement: each response joined with its answers (one index look-up per
    question, the fastest shape we found on both databases), grouped per factory, employment
    type and gender."""
    joins = "\n".join(
        f"LEFT JOIN answers {q} ON {q}.response_id = r.id AND {q}.question_id = '{q}'"
        for q in FLOOR_QUESTIONS
    )
    minimum = (
        minimum_case(wages)
        .replace("month", "pay_month.value_text")
        .replace("job IN", "job.value_text IN")
    )
    return f"""
    SELECT r.factory_id, employment.value_text, gender.value_text,
           COUNT(*) AS respondents,
           COUNT(CASE WHEN full_month.value_text = 'yes' AND pay.value_number IS NOT NULL
                      THEN 1 END) AS assessed,
           COUNT(CASE WHEN full_month.value_text = 'yes' AND pay.value_number >= {minimum}
                      THEN 1 END) AS at_least_minimum,
           COUNT(CASE WHEN payslip.value_text = 'yes' THEN 1 END) AS payslip,
           COUNT(CASE WHEN pay_rise.value_text = 'yes' THEN 1 END) AS pay_rise,
           COUNT(CASE WHEN deductions.value_text = 'yes' THEN 1 END) AS deductions
    FROM responses r
    {joins}
    WHERE r.round_id = :round_id AND r.status = 'complete'
    GROUP BY r.factory_id, employment.value_text, gender.value_text
    """


async def run_backend(
    backend: str, url: str, factories: int, respondents: int, repeat: int
) -> Result:
    home = Path(tempfile.mkdtemp(prefix="wagecheck-bench-"))
    settings = Settings(home=home, database_url=url, secret_key="bench-" + "x" * 40, _env_file=None)  # type: ignore[call-arg]
    app: App = await build_app(settings)
    try:
        codes = [(f"B{i:04d}", 400) for i in range(factories)]
        print(f"[{backend}] setting up {factories:,} factories ...", flush=True)
        round_id, ids = await set_up_round(app, codes, cso=CSO, name="Benchmark round")
        started = time.perf_counter()
        await insert_responses(app, round_id, workers(list(ids.values()), respondents))
        inserted = time.perf_counter() - started
        async with app.db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
            rows = (await conn.execute(text("SELECT count(*) FROM answers"))).scalar_one()
        print(f"[{backend}] {respondents:,} responses, {rows:,} answers in {inserted:.1f} s")
        await app.admin.close_round(round_id)
        sql = text(floor_sql(app.wages))

        async def report() -> int:
            built = await build_report(app, round_id, f"cso:{CSO}")
            return len(render(built, "json"))

        async def floor() -> int:
            async with app.db.engine.connect() as conn:
                return len((await conn.execute(sql, {"round_id": round_id})).all())

        size = await report()  # warm-up: caches, query plans, the first JSON
        await floor()
        report_times, floor_times = [], []
        for _ in range(repeat):  # interleaved, so that both see the same machine state
            t = time.perf_counter()
            await floor()
            floor_times.append(time.perf_counter() - t)
            t = time.perf_counter()
            await report()
            report_times.append(time.perf_counter() - t)
        return Result(backend, rows, inserted, report_times, floor_times, size)
    finally:
        await app.close()
        shutil.rmtree(home, ignore_errors=True)


async def scratch_postgres() -> tuple[str, str] | None:
    """A new empty database on the PostgreSQL server, or None when none answers."""
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"wagecheck_bench_{secrets.token_hex(4)}"
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # no server, no rights: the SQLite half still runs
        print(f"[postgresql] skipped: {type(exc).__name__}: {exc}".splitlines()[0])
        return None
    finally:
        await admin.dispose()
    return name, make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


async def drop_postgres(name: str) -> None:
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def show(result: Result) -> None:
    best_r, best_f = min(result.report_seconds), min(result.floor_seconds)
    print(
        f"[{result.backend}] report (build + JSON, {result.report_bytes / 1e6:.1f} MB): "
        f"best {best_r:.2f} s, median {statistics.median(result.report_seconds):.2f} s | "
        f"SQL floor: best {best_f:.2f} s, median {statistics.median(result.floor_seconds):.2f} s"
        f" | ratio {result.ratio:.2f}x"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--factories", type=int, default=1_000)
    parser.add_argument("--respondents", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    results = []
    if args.only != "postgresql":
        folder = Path(tempfile.mkdtemp(prefix="wagecheck-bench-"))
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        try:
            results.append(
                await run_backend("sqlite", url, args.factories, args.respondents, args.repeat)
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)  # about 130 MB
        show(results[-1])
    if args.only != "sqlite":
        scratch = await scratch_postgres()
        if scratch is not None:
            name, url = scratch
            try:
                results.append(
                    await run_backend(
                        "postgresql", url, args.factories, args.respondents, args.repeat
                    )
                )
                show(results[-1])
            finally:
                await drop_postgres(name)
    print()
    print("| backend | answer rows | report (build + JSON) | SQL floor | ratio |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r.backend} | {r.rows:,} | {min(r.report_seconds):.2f} s | "
            f"{min(r.floor_seconds):.2f} s | {r.ratio:.2f}x |"
        )


if __name__ == "__main__":
    asyncio.run(main())
