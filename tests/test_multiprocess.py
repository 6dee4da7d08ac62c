"""The production shape (docs/architecture.md "Scaling"; issue 18 sections 2 and 5): several
processes on one PostgreSQL database.

* First start of several processes at once on an empty database: one migrates (under a
  PostgreSQL advisory lock), the others wait and find the schema current.
* Two `wagecheck run telegram --webhook` processes behind a proxy, two `wagecheck scheduler`
  processes (one holds the lease) and the portal; one of each killed with SIGKILL mid-round.

PostgreSQL only: with SQLite one process serves everything (docs/architecture.md).
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.storage.database import Database
from tests.conftest import PG_URL

pytestmark = pytest.mark.skipif(
    PG_URL is None,
    reason="several processes share one PostgreSQL database: set WAGECHECK_TEST_DATABASE_URL "
    "(.ci/run sets it when a server answers on 127.0.0.1:5432)",
)


def _env(home: Path, url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    env.update(WAGECHECK_HOME=str(home), WAGECHECK_DATABASE_URL=url, WAGECHECK_LOG_LEVEL="WARNING")
    env.update(extra)
    return env


# ------------------------------------------------------------------ first start
async def test_four_processes_started_at_once_on_an_empty_database_all_start(
    empty_database_url: str, tmp_path: Path
) -> None:
    """Four processes (three commands and `db upgrade`) start at the same moment on an empty
    PostgreSQL database and a home without a key: each exits 0, the schema is current, one
    key was made and its fingerprint recorded once. Before the advisory lock around the
    migration, three of four crashed (duplicate tables, a duplicate alembic_version)."""
    if not empty_database_url.startswith("postgresql"):
        pytest.skip("SQLite: one process at a time migrates (its write lock), nothing to race")
    home = tmp_path / "home"
    env = _env(home, empty_database_url)
    commands = [("db", "upgrade"), ("org", "list"), ("factory", "list"), ("round", "list")]
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            *command,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        for command in commands
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in processes)), 120)
    failed = [
        (command, p.returncode, out.decode(errors="replace")[-2000:])
        for command, p, (out, _) in zip(commands, processes, outputs, strict=True)
        if p.returncode != 0
    ]
    assert not failed, failed
    db = Database(empty_database_url)
    try:
        assert await db.is_current()
        async with db.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM key_fingerprints"))).scalar() == 1
    finally:
        await db.dispose()
    assert (home / "secret.key").exists()
