"""What the service, Telegram and memory benchmarks share: scratch databases (SQLite always,
PostgreSQL when its server answers), the survey a simulated worker completes, percentiles and
the machine the figures come from.

Not a benchmark itself: it has no main block, so `make bench` leaves it alone.
"""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import shutil
import sqlite3
import sys
import tempfile
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python benchmarks/x.py` puts benchmarks/ first, not the root
    sys.path.insert(0, str(ROOT))

from bot.bootstrap import App  # noqa: E402
from bot.config import Settings  # noqa: E402

PG_URL = os.environ.get(
    "WAGECHECK_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SECRET_KEY = "bench-secret-" + "x" * 40
BACKENDS = ("sqlite", "postgresql")


def settings_for(url: str, home: Path, **extra: Any) -> Settings:
    """Settings for a benchmark: its own home folder and database, no .env file."""
    return Settings(home=home, database_url=url, secret_key=SECRET_KEY, _env_file=None, **extra)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def scratch_database(backend: str) -> AsyncIterator[str | None]:
    """A new, empty database: a SQLite file in a temporary folder, or a new database on the
    PostgreSQL server of WAGECHECK_BENCH_DATABASE_URL (None when no server answers). Both are
    removed afterwards, whatever happened."""
    if backend == "sqlite":
        folder = Path(tempfile.mkdtemp(prefix="wagecheck-bench-"))
        try:
            yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    name = f"wagecheck_bench_{secrets.token_hex(4)}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:  # no server, no rights: the SQLite half still runs
            print(f"[postgresql] skipped: {type(exc).__name__}: {exc}".splitlines()[0])
            yield None
            return
        try:
            yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def backends(only: str | None) -> list[str]:
    return [b for b in BACKENDS if only in (None, b)]


async def open_bench_round(app: App, factories: int = 10) -> list[str]:
    """A CSO, `factories` factories in Karachi and an open round; returns the poster codes."""
    await app.admin.add_org("Benchmark CSO", "cso")
    codes = [f"KHI-{i:03d}" for i in range(1, factories + 1)]
    for code in codes:
        await app.admin.add_factory(code, f"Factory {code}", "sindh", "Karachi", headcount=500)
    rnd = await app.admin.open_round("Benchmark round", "Benchmark CSO", app.survey, codes)
    return [rf.code for rf in rnd.factories]


# ------------------------------------------------------------------ the survey a worker completes


@dataclass(frozen=True)
class Step:
    """One thing a worker does: open the poster link, press a button (by the end of its
    payload; "" = the first button) or type."""

    kind: str  # "start" | "press" | "type"
    value: str


def survey_steps(code: str, lang: str) -> list[Step]:
    """The shipped survey (sindh-minimum-wage), answered like tests/test_service.py's
    complete_survey: 16 messages, every question answered, the comment skipped. The pay month
    is the first button offered (last month), whatever today's date."""
    return [
        Step("start", code),
        Step("press", lang),
        Step("press", "yes"),  # consent
        Step("press", "yes"),  # the factory of the poster
        Step("press", "helper"),
        Step("press", "permanent"),
        Step("press", ""),  # pay month
        Step("press", "yes"),  # a full month
        Step("type", "38000"),
        Step("press", "yes"),  # pay rise
        Step("press", "no"),  # payslip
        Step("type", "1"),  # payment method: cash
        Step("press", "no"),  # deductions
        Step("press", "woman"),
        Step("press", "_skip"),  # comment
        Step("press", "no"),  # no contact later
    ]


MESSAGES_PER_SURVEY = len(survey_steps("X", "en"))
ANSWERS_PER_SURVEY = 11  # every question but the skipped comment (language: not an answer)
LANGUAGES = ("ur", "sd", "en")


async def completed_counts(app: App) -> tuple[int, int]:
    """Complete responses in the database, and their answers."""
    from sqlalchemy import func, select

    from bot.storage.models import Answer, Response

    complete = Response.status == "complete"
    async with app.db.transaction() as s:
        responses = await s.scalar(select(func.count()).select_from(Response).where(complete))
        answers = await s.scalar(
            select(func.count()).select_from(Answer).join(Response).where(complete)
        )
    return int(responses or 0), int(answers or 0)


def pick_payload(payloads: Sequence[str], value: str) -> str:
    """The payload a worker presses: the one ending in ":value", or the first for ""."""
    if not payloads:
        raise AssertionError("the bot asked no question with buttons")
    if value == "":
        return payloads[0]
    for payload in payloads:
        if payload.rsplit(":", 1)[-1] == value:
            return payload
    raise AssertionError(f"no button {value!r} among {list(payloads)}")


# ------------------------------------------------------------------ figures


class Throughput:
    """Rates of one pass (a dataclass with `latencies`, `seconds` and `completed`)."""

    latencies: list[float]
    seconds: float
    completed: int

    @property
    def messages(self) -> int:
        return len(self.latencies)

    @property
    def per_second(self) -> float:
        return self.messages / self.seconds

    @property
    def surveys_per_second(self) -> float:
        return self.completed / self.seconds


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def machine() -> str:
    """One line: cores, CPU, memory, Python, SQLite, date; the reader's context for figures."""
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    with contextlib.suppress(OSError, ValueError, IndexError):
        kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
        memory = f", {kib / 1024**2:.0f} GiB RAM"
    load = ""
    with contextlib.suppress(OSError):
        load = f", load {os.getloadavg()[0]:.1f}"
    return (
        f"{os.cpu_count()} cores ({cpu}){memory}{load}; Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    )


async def postgres_version(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(text("SHOW server_version"))).scalar_one()).split()[0]
    finally:
        await engine.dispose()


def rss_kib(pid: int) -> tuple[int, int]:
    """Resident memory of a process and its peak, in KiB (VmRSS, VmHWM of /proc/<pid>/status)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (/proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
