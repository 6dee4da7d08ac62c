"""`wagecheck backup` and `wagecheck restore`: the database and the instance key together, in
one archive encrypted with a passphrase (bot/privacy/archive.py; docs/operations.md "Backups
and restore").

Inside the encrypted archive is a tar file: manifest.json (when, which schema revision and
database kind, the key fingerprints, row counts per table), secret.key (every key version),
and the database: SQLite's file copied with SQLite's online backup (consistent while the bot
runs), or PostgreSQL's custom-format pg_dump (pg_restore restores it). Restoring goes into an
empty instance only, then checks what was restored: row counts as in the manifest, the key
matching the database's fingerprints, every kept address decrypting."""

# The file work here blocks the event loop: these are one-shot commands with nothing else on
# their loop; the long parts (copying, dumping, encrypting) run in threads for the progress bar.
# ruff: noqa: ASYNC240

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.engine import URL, make_url

from bot.clock import Clock
from bot.config import Settings, StartupError
from bot.privacy import Keyring, archive
from bot.privacy.keys import AddressDecryptionError, parse_secrets
from bot.service import keys
from bot.storage import Database
from bot.storage.database import current_revision
from bot.storage.models import ContactAddress, Member

# (step, done, total): the command line shows it as a progress bar; total 0: unknown.
Progress = Callable[[str, int, int], None]
FORMAT = 1


def _quiet(_step: str, _done: int, _total: int) -> None:
    pass


@dataclass
class BackupResult:
    path: Path
    size: int
    backend: str
    revision: str | None
    rows: dict[str, int]


@dataclass
class RestoreResult:
    backend: str
    revision: str | None
    rows: dict[str, int]
    answers: int
    addresses: int  # contact and member addresses that decrypted
    unreadable: int
    fingerprints: dict[int, str] = field(default_factory=dict)


@contextmanager
def _private_folder(near: Path) -> Iterator[Path]:
    """A temporary folder only this user can read, next to `near` (same disk)."""
    near.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".wagecheck-backup-", dir=near))
    try:
        os.chmod(folder, 0o700)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ------------------------------------------------------------------ PostgreSQL client tools
def _pg_env(url: URL) -> dict[str, str]:
    """libpq's environment for the URL: the password never on a command line."""
    env = dict(os.environ)
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    return env


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise StartupError(
            f"{name} is not installed: PostgreSQL backups need the client tools "
            "(Debian/Ubuntu: apt install postgresql-client, of the server's version or newer)"
        )
    return path


def _run_tool(args: list[str], url: URL) -> None:
    done = subprocess.run(args, env=_pg_env(url), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise StartupError(f"{Path(args[0]).name} failed: {last}")


# ------------------------------------------------------------------ backup
async def backup(
    settings: Settings,
    db: Database,
    out: Path,
    passphrase: str,
    clock: Clock,
    progress: Progress = _quiet,
) -> BackupResult:
    """Write the encrypted archive of database and key to `out` (replaced only when done)."""
    key_text = settings.secret_key_text()
    if key_text is None:
        raise StartupError(f"no secret key to back up ({settings.key_file} is missing)")
    if len(passphrase) < archive.MIN_PASSPHRASE:
        raise StartupError(f"the passphrase must be at least {archive.MIN_PASSPHRASE} characters")
    url = make_url(db.url)
    backend = "sqlite" if db.is_sqlite else "postgresql"
    async with db.engine.connect() as conn:
        revision = await conn.run_sync(current_revision)
    rows = await keys.rows_in(db)
    fingerprints = {str(v): fp for v, (fp, _) in (await keys.stored_fingerprints(db)).items()}
    manifest = {
        "format": FORMAT,
        "created_at": clock().isoformat(),
        "backend": backend,
        "schema_revision": revision,
        "key_fingerprints": fingerprints,
        "rows": rows,
    }
    with _private_folder(out.resolve().parent) as tmp:
        dump = tmp / ("database.sqlite" if db.is_sqlite else "database.pgdump")
        if db.is_sqlite:
            await asyncio.to_thread(_sqlite_copy, Path(str(url.database)), dump, progress)
        else:
            progress("dumping the database (pg_dump)", 0, 0)
            await asyncio.to_thread(
                _run_tool,
                [
                    _tool("pg_dump"),
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={dump}",
                ],
                url,
            )
        plain = tmp / "backup.tar"
        with tarfile.open(plain, "w:gz", compresslevel=6) as tar:
            _add_bytes(tar, "manifest.json", json.dumps(manifest, indent=1).encode())
            _add_bytes(tar, "secret.key", key_text.encode())
            tar.add(dump, arcname=dump.name)
        total = plain.stat().st_size
        staged = tmp / "archive"
        with plain.open("rb") as src, staged.open("wb") as dst:
            await asyncio.to_thread(
                archive.encrypt,
                src,
                dst,
                passphrase,
                lambda n: progress("encrypting", n, total),
            )
            dst.flush()
            os.fsync(dst.fileno())
        os.chmod(staged, 0o600)
        os.replace(staged, out)
    return BackupResult(out, out.stat().st_size, backend, revision, rows)


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), 0o600
    tar.addfile(info, io.BytesIO(data))


def _sqlite_copy(source: Path, target: Path, progress: Progress) -> None:
    """SQLite's online backup: a consistent copy while other connections write."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    try:

        def step(_status: int, remaining: int, total: int) -> None:
            progress("copying the database", total - remaining, total)

        src.backup(dst, pages=1024, progress=step)
    finally:
        dst.close()
        src.close()


# ------------------------------------------------------------------ restore
async def restore(
    settings: Settings,
    db: Database,
    source: Path,
    passphrase: str,
    clock: Clock,
    progress: Progress = _quiet,
) -> RestoreResult:
    """Restore an archive into this instance, which must be empty (no data in the database,
    no key in WAGECHECK_SECRET_KEY); then check it. `db` is disposed of here (its file or its
    tables are replaced)."""
    if settings.secret_key is not None:
        raise StartupError(
            "WAGECHECK_SECRET_KEY is set: restore writes the archive's key to "
            f"{settings.key_file}; unset it for the restore"
        )
    url = make_url(db.url)
    backend = "sqlite" if db.is_sqlite else "postgresql"
    if not await keys.is_empty(db):
        raise StartupError(
            f"the database {url.render_as_string(hide_password=True)} is not empty: restore "
            "only into a new, empty instance (a new database and home folder)"
        )
    size = source.stat().st_size
    with _private_folder(settings.home) as tmp:
        plain = tmp / "backup.tar"
        with source.open("rb") as src, plain.open("wb") as dst:
            try:
                await asyncio.to_thread(
                    archive.decrypt, src, dst, passphrase, lambda n: progress("decrypting", n, size)
                )
            except archive.ArchiveError as exc:
                raise StartupError(f"{source}: {exc}") from None
        with tarfile.open(plain) as tar:
            manifest = json.loads(_member(tar, "manifest.json"))
            key_text = _member(tar, "secret.key").decode()
            if manifest.get("format") != FORMAT:
                raise StartupError(f"{source}: backup format {manifest.get('format')} unknown")
            if manifest["backend"] != backend:
                raise StartupError(
                    f"{source} holds a {manifest['backend']} database and this instance uses "
                    f"{backend}: set WAGECHECK_DATABASE_URL to a {manifest['backend']} database"
                )
            name = "database.sqlite" if backend == "sqlite" else "database.pgdump"
            tar.extract(name, tmp, filter="data")
        dump = tmp / name
        progress("restoring the database", 0, 0)
        await db.dispose()
        if backend == "sqlite":
            target = Path(str(url.database))
            for suffix in ("-wal", "-shm", ""):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
            shutil.copyfile(dump, target)
            os.chmod(target, 0o600)
        else:
            await _drop_tables(db.url)
            await asyncio.to_thread(
                _run_tool,
                [
                    _tool("pg_restore"),
                    "--no-owner",
                    "--no-privileges",
                    "--exit-on-error",
                    f"--dbname={url.database}",
                    str(dump),
                ],
                url,
            )
    _write_key(settings, key_text)
    return await _check(settings, manifest, clock)


async def restore_instance(
    settings: Settings, source: Path, passphrase: str, clock: Clock, progress: Progress = _quiet
) -> RestoreResult:
    """`wagecheck restore`: into the instance the settings name (not built as an app: that
    would make a key for its empty database)."""
    db = Database(settings.effective_database_url)
    try:
        return await restore(settings, db, source, passphrase, clock, progress)
    finally:
        await db.dispose()


def _member(tar: tarfile.TarFile, name: str) -> bytes:
    try:
        fh = tar.extractfile(name)
    except KeyError:
        fh = None
    if fh is None:
        raise StartupError(f"the archive lacks {name}")
    return fh.read()


async def _drop_tables(url: str) -> None:
    """The (empty) tables of a database about to receive a dump: pg_restore makes them."""
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
            for name in names:
                await conn.execute(text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
    finally:
        await db.dispose()


def _write_key(settings: Settings, key_text: str) -> None:
    """The archive's key into the key file; an existing one (of the empty instance) is kept
    beside it, never overwritten."""
    settings.home.mkdir(parents=True, exist_ok=True)
    if settings.key_file.exists():
        if settings.key_file.read_text() == key_text:
            return
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        settings.key_file.rename(settings.key_file.with_name(f"secret.key.before-restore-{stamp}"))
    fd = os.open(settings.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key_text)


async def _check(settings: Settings, manifest: dict[str, Any], clock: Clock) -> RestoreResult:
    """What was restored: the rows of the manifest, the key matching the database, every kept
    address decrypting. Then the schema is brought to this version's newest."""
    db = Database(settings.effective_database_url)
    try:
        rows = await keys.rows_in(db)
        expected = {k: int(v) for k, v in manifest["rows"].items()}
        if rows != expected:
            differ = sorted(t for t in expected if rows.get(t) != expected[t])
            raise StartupError(f"restored row counts differ from the backup's in {differ}")
        await db.upgrade()
        text_ = settings.secret_key_text()
        assert text_ is not None
        keyring = Keyring(parse_secrets(text_))
        await keys.check_and_record(db, keyring, str(settings.key_file), clock)
        addresses = unreadable = 0
        async with db.transaction() as s:
            blobs = [
                *(await s.execute(select(ContactAddress.channel, ContactAddress.ciphertext))),
                *(await s.execute(select(Member.channel, Member.address))),
            ]
            for channel, blob in blobs:
                try:
                    keyring.decrypt_address(channel, blob)
                    addresses += 1
                except AddressDecryptionError:
                    unreadable += 1
        async with db.engine.connect() as conn:
            revision = await conn.run_sync(current_revision)
        return RestoreResult(
            backend="sqlite" if db.is_sqlite else "postgresql",
            revision=revision,
            rows=rows,
            answers=rows.get("answers", 0),
            addresses=addresses,
            unreadable=unreadable,
            fingerprints=keyring.fingerprints(),
        )
    finally:
        await db.dispose()
