"""The migrations, run on an empty database, give exactly the tables of the models; they go
down to nothing and up again. Other tests get a copy of a database migrated once per session
(tests/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from bot.storage import Database
from bot.storage.database import alembic_config, upgrade_database
from bot.storage.models import Base, Round


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


async def test_data_survives_the_migrations_that_copy_tables(empty_database_url: str) -> None:
    """On SQLite, batch mode copies a table and drops the old one; with foreign keys on, that
    DROP deleted the rows referring to it (0009 copies `organisations`: every brand link and
    factory owner went). Data written at 0008 is all there at the newest schema: owners,
    Open Supply Hub ids, and brand links, those on a CSO's own factory now that CSO's, those
    on the shared register for every CSO (0011)."""
    db = Database(empty_database_url)
    try:
        await upgrade_database(db.engine, "0008")
        async with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO organisations (id, name, kind, created_at) VALUES "
                "(1, 'CSO', 'cso', '2026-01-01 00:00:00+00:00'), "
                "(2, 'Brand', 'brand', '2026-01-01 00:00:00+00:00')",
                "INSERT INTO factories (id, code, name, region, city, os_id, created_at, cso_id) "
                "VALUES (1, 'SHR', 'Shared', 'sindh', '', 'PK1', '2026-01-01 00:00:00+00:00', "
                "NULL), (2, 'OWN', 'Own', 'sindh', '', 'PK2', '2026-01-01 00:00:00+00:00', 1)",
                "INSERT INTO brand_factories (brand_id, factory_id) VALUES (2, 1), (2, 2)",
            ):
                await conn.execute(text(statement))
        await db.upgrade()
        async with db.engine.connect() as conn:
            factories = (
                await conn.execute(text("SELECT code, os_id, cso_id FROM factories ORDER BY id"))
            ).all()
            links = (
                await conn.execute(
                    text(
                        "SELECT brand_id, factory_id, cso_id FROM brand_factories "
                        "ORDER BY factory_id"
                    )
                )
            ).all()
        assert [tuple(f) for f in factories] == [("SHR", "PK1", None), ("OWN", "PK2", 1)]
        assert [tuple(link) for link in links] == [(2, 1, None), (2, 2, 1)]
    finally:
        await db.dispose()


async def test_rounds_get_an_empty_help_text_at_0012(empty_database_url: str) -> None:
    """A round made before 0012 keeps its rows and has no help text (the default is shown);
    a text written after it is JSON on SQLite and PostgreSQL alike."""
    db = Database(empty_database_url)
    try:
        await upgrade_database(db.engine, "0011")
        async with db.engine.begin() as conn:
            for statement in (
                "INSERT INTO organisations (id, name, kind, created_at) VALUES "
                "(1, 'CSO', 'cso', '2026-01-01 00:00:00+00:00')",
                "INSERT INTO survey_versions (id, survey_id, version, sha256, definition, "
                "loaded_at) VALUES (1, 's', 1, 'x', '{}', '2026-01-01 00:00:00+00:00')",
                "INSERT INTO rounds (id, name, cso_id, survey_version_id, status, created_at) "
                "VALUES (1, 'R', 1, 1, 'draft', '2026-01-01 00:00:00+00:00')",
            ):
                await conn.execute(text(statement))
        await db.upgrade()
        async with db.engine.begin() as conn:
            assert (await conn.execute(text("SELECT help_text FROM rounds"))).scalar() is None
        async with db.transaction() as s:
            rnd = await s.get(Round, 1)
            assert rnd is not None
            rnd.help_text = {"ur": "مدد: 0300-1234567"}
        async with db.transaction() as s:
            rnd = await s.get(Round, 1)
            assert rnd is not None and rnd.help_text == {"ur": "مدد: 0300-1234567"}
    finally:
        await db.dispose()


# ------------------------------------------------------------------ upgrade from every revision
# A value for a column by its name (and table), where a CHECK constraint or meaning asks for
# one; any other column gets a value of its type (`_value`).
NAMED_VALUES: dict[str, Any] = {
    "organisations.kind": "cso",
    "broadcast_messages.kind": "reminder",
    "broadcast_messages.status": "sent",
    "rounds.status": "open",
    "responses.status": "complete",
    "answers.kind": "number",
    "role": "admin",
    "purpose": "active",
    "channel": "telegram",
    "language": "en",
    "region": "sindh",
}


# Tables a migration drops on purpose: 0008 the scheduler's job table 0007 made; 0010 the
# failed log-ins (replaced by login_throttles; they counted 15 minutes at most).
DROPPED = {"apscheduler_jobs", "login_attempts"}


def _value(table: str, column: Any) -> Any:
    from datetime import UTC, date, datetime

    from sqlalchemy import types

    for name in (f"{table}.{column.name}", column.name):
        if name in NAMED_VALUES:
            return NAMED_VALUES[name]
    kind = column.type
    if isinstance(kind, types.Boolean):
        return True
    if isinstance(kind, types.Integer):
        return 1  # every table's one row has id 1, so references resolve
    if isinstance(kind, types.Float | types.Numeric):
        return 38000.0
    if isinstance(kind, types.DateTime):
        return datetime(2026, 1, 1, tzinfo=UTC)
    if isinstance(kind, types.Date):
        return date(2026, 1, 1)
    if isinstance(kind, types.JSON):
        return {"kept": "yes"}
    if isinstance(kind, types.LargeBinary):
        return b"\x00kept-bytes"
    length = getattr(kind, "length", None) or 40
    return f"kept-{column.name}"[:length]


def _fill(sync_conn: Any) -> dict[str, int]:
    """One row in every table present, with every column present: raw rows of that revision's
    schema, read from the database itself (not the models, which are the newest)."""
    from sqlalchemy import MetaData

    meta = MetaData()
    meta.reflect(sync_conn)
    filled = {}
    for table in meta.sorted_tables:
        if table.name == "alembic_version":
            continue
        row = {c.name: _value(table.name, c) for c in table.columns}
        sync_conn.execute(table.insert().values(**row))
        filled[table.name] = 1
    return filled


def _revisions() -> list[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    return [s.revision for s in reversed(list(script.walk_revisions()))]


@pytest.mark.parametrize("revision", _revisions())
async def test_a_database_filled_at_each_revision_upgrades_with_its_data(
    empty_database_url: str, revision: str
) -> None:
    """`wagecheck db upgrade` from every released schema: a database at `revision`, one row in
    each of its tables, is upgraded to the newest; every row is still there (tables a later
    migration drops excepted) with its values."""
    db = Database(empty_database_url)
    try:
        await upgrade_database(db.engine, revision)
        async with db.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            filled = await conn.run_sync(_fill)
        await db.upgrade()
        assert await db.is_current()
        async with db.engine.connect() as conn:
            present = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            for table in filled:
                if table not in present:
                    assert table in DROPPED, table
                    continue
                count = (await conn.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
                assert count == 1, table
            name = (await conn.execute(text("SELECT name FROM organisations"))).scalar()
            assert name == "kept-name"
            if "answers" in filled:
                number = (await conn.execute(text("SELECT value_number FROM answers"))).scalar()
                assert number == 38000.0
            if "contact_addresses" in filled:
                blob = (
                    await conn.execute(text("SELECT ciphertext FROM contact_addresses"))
                ).scalar()
                assert bytes(blob) == b"\x00kept-bytes"
    finally:
        await db.dispose()
