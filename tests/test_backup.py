"""`wagecheck backup` / `wagecheck restore` (docs/operations.md "Backups and restore"): the
database and the key in one passphrase-encrypted archive, restored into an empty instance
only; after it, answers are there, a worker goes on in their conversation (pseudonyms
stable) and a reminder can be addressed (addresses decrypt). SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.bootstrap import build_app
from bot.clock import SetClock
from bot.config import Settings, StartupError
from bot.service import backup as backups
from tests.conftest import _pg_admin, _pg_url
from tests.test_keys import continues, file_settings, responses, start_workers
from tests.test_service import Worker

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
async def second_database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """Another empty database of the same kind as `database_url` (no schema at all)."""
    if database_url.startswith("sqlite"):
        yield f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
        return
    name = f"wagecheck_restore_{secrets.token_hex(6)}"
    await _pg_admin(f'CREATE DATABASE "{name}"')
    try:
        yield _pg_url(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def filled_instance(
    tmp_path: Path, database_url: str, clock: SetClock
) -> tuple[Settings, Path, Worker]:
    """An instance with an open round, a worker halfway and one at the first question,
    backed up to an archive."""
    settings = file_settings(tmp_path / "a", database_url)
    app = await build_app(settings, clock=clock)
    try:
        _, halfway, _ = await start_workers(app)
        out = tmp_path / "backup.wcb"
        result = await backups.backup(settings, app.db, out, PASSPHRASE, clock)
    finally:
        await app.close()
    assert result.path == out and out.stat().st_mode & 0o777 == 0o600
    assert result.rows["responses"] == 1 and result.rows["contact_addresses"] == 1
    blob = out.read_bytes()
    assert settings.key_file.read_text().strip().encode() not in blob  # encrypted
    return settings, out, halfway


async def test_backup_and_restore_into_an_empty_instance(
    tmp_path: Path, database_url: str, second_database_url: str, clock: SetClock
) -> None:
    original, archive, halfway = await filled_instance(tmp_path, database_url, clock)
    target = file_settings(tmp_path / "b", second_database_url)
    steps: list[str] = []
    result = await backups.restore_instance(
        target, archive, PASSPHRASE, clock, lambda step, _d, _t: steps.append(step)
    )
    assert "decrypting" in steps and "restoring the database" in steps
    assert (result.addresses, result.unreadable) == (1, 0)
    assert result.rows["responses"] == 1 and result.answers == result.rows["answers"]
    assert target.key_file.read_text() == original.key_file.read_text()
    assert target.key_file.stat().st_mode & 0o777 == 0o600
    app = await build_app(target, clock=clock)
    try:
        assert await responses(app) == 1
        key = app.keyring.conversation_key("telegram", halfway.user_id)
        contact = await app.contacts.find(key, "telegram")
        assert contact is not None and contact.address == halfway.user_id
        await continues(app, halfway)
    finally:
        await app.close()


async def test_restore_refuses_a_wrong_passphrase_a_changed_archive_and_a_full_instance(
    tmp_path: Path, database_url: str, second_database_url: str, clock: SetClock
) -> None:
    original, archive, _ = await filled_instance(tmp_path, database_url, clock)
    target = file_settings(tmp_path / "b", second_database_url)
    with pytest.raises(StartupError, match="wrong passphrase"):
        await backups.restore_instance(target, archive, "not the passphrase", clock)
    changed = tmp_path / "changed.wcb"
    blob = bytearray(archive.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    changed.write_bytes(bytes(blob))
    with pytest.raises(StartupError, match="damaged or was changed"):
        await backups.restore_instance(target, changed, PASSPHRASE, clock)
    cut = tmp_path / "cut.wcb"
    cut.write_bytes(archive.read_bytes()[:-100])
    with pytest.raises(StartupError, match=r"damaged or was changed|cut short"):
        await backups.restore_instance(target, cut, PASSPHRASE, clock)
    assert not target.key_file.exists()  # nothing was written by the refused restores
    with pytest.raises(StartupError, match="is not empty"):
        await backups.restore_instance(original, archive, PASSPHRASE, clock)


def test_backup_and_restore_on_the_command_line(tmp_path: Path) -> None:
    """The commands: passphrase from the environment or a file (never an argument), one line
    and exit code 2 for a wrong one, (refusing a full instance: the test above)."""

    def run(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
        base.update(WAGECHECK_HOME=str(home), COLUMNS="200", **env)
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            capture_output=True,
            text=True,
            env=base,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    a, b = tmp_path / "a", tmp_path / "b"
    assert run(a, "org", "add", "Karachi Workers Centre").returncode == 0
    made = run(a, "backup", str(tmp_path / "x.wcb"), WAGECHECK_BACKUP_PASSPHRASE=PASSPHRASE)
    assert made.returncode == 0, made.stderr
    assert "backup written to" in made.stdout
    wrong = tmp_path / "wrong"
    wrong.write_text("a wrong passphrase\n")
    refused = run(b, "restore", str(tmp_path / "x.wcb"), "--passphrase-file", str(wrong))
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "wrong passphrase" in refused.stderr
    assert "Traceback" not in refused.stderr
    right = tmp_path / "right"
    right.write_text(PASSPHRASE + "\n")
    done = run(b, "restore", str(tmp_path / "x.wcb"), "--passphrase-file", str(right))
    assert done.returncode == 0, done.stderr
    assert "restored: sqlite" in done.stdout
