"""Shared fixtures. Databases are real: a SQLite file per test, and PostgreSQL when
WAGECHECK_TEST_DATABASE_URL is set (CI sets it when a server answers on 127.0.0.1:5432)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.bootstrap import App, build_app
from bot.config import PROJECT_ROOT, Settings
from bot.i18n import Catalogs
from bot.survey.definition import Survey, load_survey
from bot.survey.engine import Engine
from bot.survey.state import FactoryRef
from bot.wages import WageTable

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
    return NOW


@pytest.fixture
def factory_ref() -> FactoryRef:
    return FactoryRef(
        code="K7M4QP", name="Korangi Knitwear", region="sindh", round_id=1, factory_id=1
    )


def _backends() -> list[str]:
    return ["sqlite", "postgresql"] if PG_URL else ["sqlite"]


@pytest.fixture(params=_backends())
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
        return
    assert PG_URL is not None
    name = f"wagecheck_test_{secrets.token_hex(6)}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        secret_key="test-secret-" + "x" * 40,
        _env_file=None,
    )  # type: ignore[call-arg]


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[App]:
    """The whole application on a migrated, empty database."""
    application = await build_app(settings)
    try:
        yield application
    finally:
        await application.close()
