"""Shared fixtures. Databases are real: a SQLite file per test, and PostgreSQL when
WAGECHECK_TEST_DATABASE_URL is set (CI sets it when a server answers on 127.0.0.1:5432); each
test gets its own, already at the newest schema (copied from one migrated per session).

Time: the application's clock is the `clock` fixture (today, moving on in real time); a test
that needs a date sets it (`clock.set(...)`), and the engine's tests take the fixed `now`.
With WAGECHECK_TEST_CLOCK set (.ci/run does, tests/shifted_clock.py), every test starts at
that moment instead of today — the wall clock itself is moved, with time-machine — so a test
or a code path that reads the wall clock where it should take the clock shows up there."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.bootstrap import App, build_app
from bot.clock import SetClock, utc_now
from bot.config import PROJECT_ROOT, Settings
from bot.i18n import Catalogs
from bot.storage import Database
from bot.survey.definition import Survey, load_survey
from bot.survey.engine import Engine
from bot.survey.state import FactoryRef
from bot.wages import WageTable
from tests.shifted_clock import travel_for_each_test

PG_URL = os.environ.get("WAGECHECK_TEST_DATABASE_URL")
SURVEY_FILE = PROJECT_ROOT / "surveys" / "sindh-minimum-wage.yaml"
WAGES_FILE = PROJECT_ROOT / "surveys" / "minimum-wages.yaml"
# A fixed moment: Sunday 29 November 2026, 10:00 UTC (15:00 in Karachi).
NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def catalogs() -> Catalogs:
    return Catalogs.load(PROJECT_ROOT / "locales")


@pytest.fixture(scope="session")
def survey() -> Survey:
    return load_survey(SURVEY_FILE)


@pytest.fixture(scope="session")
def wages() -> WageTable:
    return WageTable.load(WAGES_FILE)


@pytest.fixture(scope="session")
def engine(survey: Survey, wages: WageTable, catalogs: Catalogs) -> Engine:
    return Engine(survey, wages, catalogs)


@pytest.fixture
def now() -> datetime:
    """A chosen moment, for tests of the engine and the parsers."""
    return NOW


@pytest.fixture(autouse=True)
def _shifted_wall_clock(request: pytest.FixtureRequest) -> Iterator[None]:
    """Under WAGECHECK_TEST_CLOCK: the wall clock starts each test at that moment."""
    with travel_for_each_test(request):
        yield


@pytest.fixture
def clock() -> SetClock:
    """The application's clock: now (the wall clock's, shifted or not), moving on in real
    time. A test that needs a date or an hour sets it."""
    return SetClock(utc_now(), tick=True)


@pytest.fixture
def factory_ref() -> FactoryRef:
    return FactoryRef(
        code="K7M4QP", name="Korangi Knitwear", region="sindh", round_id=1, factory_id=1
    )


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


async def _migrate(url: str) -> None:
    db = Database(url)
    try:
        await db.upgrade()
    finally:
        await db.dispose()


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The schema migrated once per test session: a SQLite file each test copies, and a
    PostgreSQL database each test clones (CREATE DATABASE … TEMPLATE). Running the whole
    migration chain for each of some 1,500 tests took minutes; `test_migrations` still runs
    it on an empty database and compares the result with the models."""
    folder = tmp_path_factory.mktemp("template")
    templates = {"sqlite": str(folder / "template.db")}
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{templates['sqlite']}"))
    name = None
    if PG_URL:
        name = f"wagecheck_template_{secrets.token_hex(6)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        templates["postgresql"] = name
        asyncio.run(_migrate(_pg_url(name)))
    try:
        yield templates
    finally:
        if name:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _pg_admin(statement: str) -> None:
    assert PG_URL is not None
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await admin.dispose()


def _pg_url(name: str) -> str:
    assert PG_URL is not None
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(params=_backends())
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"wagecheck_test_{secrets.token_hex(6)}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=_backends())
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]
) -> AsyncIterator[str]:
    """A fresh database at the newest schema, nothing in it: a copy of the session's migrated
    SQLite file, or a clone of its migrated PostgreSQL database (dropped afterwards)."""
    if request.param == "sqlite":
        path = tmp_path / "test.db"
        shutil.copyfile(migrated_templates["sqlite"], path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"wagecheck_test_{secrets.token_hex(6)}"
    await _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_templates["postgresql"]}"')
    try:
        yield _pg_url(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key="test-secret-" + "x" * 40,
        _env_file=None,
    )  # type: ignore[call-arg]


@pytest.fixture
async def app(settings: Settings, clock: SetClock) -> AsyncIterator[App]:
    """The whole application on a migrated, empty database, on the `clock` fixture's time."""
    application = await build_app(settings, clock=clock)
    try:
        yield application
    finally:
        await application.close()
