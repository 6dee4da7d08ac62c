"""Connecting to SQLite (WAL) or PostgreSQL, and running Alembic migrations in-process."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, CursorResult, ExceptionContext, Result, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot import metrics

log = logging.getLogger(__name__)
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# How our sessions show in PostgreSQL's pg_stat_activity (unless the URL's caller sets another).
APPLICATION_NAME = "wagecheck"
# PostgreSQL advisory lock taken around a migration (any 64-bit number no one else uses: here
# the bytes of "wagechk" + 1). Processes started at once on an empty database wait for the
# first one's migration instead of creating the same tables at the same time.
MIGRATION_LOCK = 0x77616765636B01


def alembic_config() -> Config:
    """Alembic's configuration, built in code so no alembic.ini needs to be found."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer commits; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# The pool of each process: kept open, and opened beyond that for a moment under a burst.
POOL_SIZE = 15
POOL_OVERFLOW = 5


def _in_memory(url: str) -> bool:
    """An in-memory SQLite database lives in one connection (SQLAlchemy's StaticPool)."""
    parsed = make_url(url)
    return parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")


def _count_error(context: ExceptionContext) -> None:
    """Every error the driver raises, by SQLAlchemy's class (wagecheck_database_errors_total):
    whether a caller retried it or not, a rising count is the database in trouble."""
    error = context.sqlalchemy_exception
    metrics.DATABASE_ERRORS.labels(type(error or context.original_exception).__name__).inc()


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An async engine; SQLite gets WAL and foreign keys, and its folder is created."""
    engine = _create_engine(url, **kwargs)
    event.listen(engine.sync_engine, "handle_error", _count_error)
    return engine


def _create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    if parsed.get_driver_name() == "asyncpg":
        # Named, an operator can tell the bot's sessions apart (and end them, as the fault
        # tests do with pg_terminate_backend).
        connect_args = dict(kwargs.get("connect_args") or {})
        server_settings = {"application_name": APPLICATION_NAME}
        server_settings.update(connect_args.get("server_settings") or {})
        kwargs["connect_args"] = connect_args | {"server_settings": server_settings}
    return create_async_engine(url, **kwargs)


def _upgrade(connection: Connection, revision: str) -> None:
    cfg = alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, revision)


def current_revision(connection: Connection) -> str | None:
    """The schema revision of a database (None: no schema yet)."""
    return MigrationContext.configure(connection).get_current_revision()


async def upgrade_database(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to `revision` (creates every table on an empty database).

    PostgreSQL: under an advisory lock (MIGRATION_LOCK), so several processes starting at once
    on an empty or old database migrate one after the other: the first applies the
    migrations, the others wait and find the schema current (SQLite: its write lock does the
    same).

    SQLite: with foreign keys off. Batch mode changes a table by copying it and dropping the
    old one, and with foreign keys on, that DROP first deletes every row that refers to the
    table (ON DELETE CASCADE) or empties the reference (SET NULL): recreating `organisations`
    would take every brand link and factory owner with it. The pragma has no effect inside a
    transaction, so it is set before; the references are checked before the commit."""
    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()
        try:
            async with conn.begin():
                if not sqlite:
                    # Held until this transaction ends; the next process then reads the
                    # revision this one committed and has nothing left to do.
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK}
                    )
                await conn.run_sync(_upgrade, revision)
                if sqlite:
                    broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).all()
                    if broken:
                        raise RuntimeError(f"the migration broke references: {broken[:5]}")
        finally:
            if sqlite:
                await conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                await conn.commit()


async def pending_migrations(engine: AsyncEngine) -> tuple[str | None, list[tuple[str, str]]]:
    """The database's revision and the migrations an upgrade would apply, oldest first, each
    with the first line of its description. Changes nothing."""
    async with engine.connect() as conn:
        current = await conn.run_sync(current_revision)
    script = ScriptDirectory.from_config(alembic_config())
    pending = [
        (s.revision, (s.doc or "").strip().splitlines()[0] if s.doc else "")
        for s in script.iterate_revisions("head", current)
    ]
    return current, list(reversed(pending))


def migration_sql(dialect: str, current: str | None) -> str:
    """The SQL an upgrade from `current` would run, from Alembic's offline mode (not run)."""
    buffer = io.StringIO()
    cfg = Config(output_buffer=buffer)
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("dialect", dialect)
    command.upgrade(cfg, f"{current}:head" if current else "head", sql=True)
    return buffer.getvalue()


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE matched. `AsyncSession.execute` is typed as giving a
    `Result`; for those statements it is a `CursorResult`, which has the count."""
    if not isinstance(result, CursorResult):
        raise TypeError("rowcount() takes the result of an UPDATE or DELETE")
    return result.rowcount


class Database:
    """The engine and session factory of one instance."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        if _in_memory(url):
            # One connection holds the whole database (SQLAlchemy's StaticPool): no pool.
            engine_kwargs.pop("pool_size", None)
            engine_kwargs.pop("max_overflow", None)
        else:
            # Connections kept open between uses (see `writers`). SQLAlchemy's default of 5
            # kept + 10 overflow closed and reopened a connection for nearly every message
            # under load (a new PostgreSQL session each time, its statements prepared again;
            # a new thread for SQLite): docs/benchmarks.md.
            engine_kwargs.setdefault("pool_size", POOL_SIZE)
            engine_kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        self.engine = create_engine(url, **engine_kwargs)
        self.pool_size = int(engine_kwargs.get("pool_size", 1))
        # Write transactions worth running at once. SQLite has one writer at a time: a second
        # would only wait in SQLite's busy handler, which sleeps (up to 100 ms a try) while
        # the lock may long be free. Elsewhere two thirds of the kept connections, the rest
        # staying free for reads, the scheduler and the portal.
        self.writers = 1 if self.is_sqlite else max(1, self.pool_size * 2 // 3)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def upgrade(self) -> None:
        """Run pending migrations."""
        await upgrade_database(self.engine)

    async def is_current(self) -> bool:
        """Whether the schema is at the newest migration."""
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        async with self.engine.connect() as conn:
            return await conn.run_sync(current_revision) == head

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def run(coro: Any) -> Any:
    """Run a coroutine from synchronous code (the command line)."""
    return asyncio.run(coro)
