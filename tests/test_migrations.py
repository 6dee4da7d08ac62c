"""The migrations, run on an empty database, give exactly the tables of the models; they go
down to nothing and up again. Other tests get a copy of a database migrated once per session
(tests/conftest.py)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.storage import Database
from bot.storage.database import alembic_config
from bot.storage.models import Base


async def test_migrations_make_the_models_schema_and_go_down_and_up(
    empty_database_url: str,
) -> None:
    db = Database(empty_database_url)
    try:
        await db.upgrade()
        assert await db.is_current()
        async with db.engine.connect() as conn:

            def differences(sync_conn: Any) -> list[Any]:
                context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
                return list(compare_metadata(context, Base.metadata))

            assert await conn.run_sync(differences) == []
            tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert set(Base.metadata.tables) <= tables
        assert "apscheduler_jobs" not in tables  # 0007 made it, 0008 dropped it

        def run(sync_conn: Any, verb: str, target: str) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            getattr(command, verb)(cfg, target)

        async with db.engine.begin() as conn:
            await conn.run_sync(run, "downgrade", "base")
        async with db.engine.connect() as conn:
            left = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
        assert left <= {"alembic_version"}
        await db.upgrade()
        assert await db.is_current()
    finally:
        await db.dispose()
