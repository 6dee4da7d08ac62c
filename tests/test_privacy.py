"""Privacy by design, proven on the bytes: raw user ids and phone numbers never reach the
database file or the logs; addresses are encrypted; pseudonyms are keyed."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.bootstrap import App, build_app
from bot.config import Settings, StartupError
from bot.privacy import Keyring
from bot.privacy.keys import AddressDecryptionError
from bot.storage.models import ContactAddress, Response
from tests.test_service import Worker, complete_survey, open_round

# Distinctive ids: a Telegram chat id, a Pakistani mobile number, a WhatsApp user id.
RAW_IDS = ["5123498765", "923001234567", "PK.7f3a9c0e1d"]


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=None,  # the default SQLite file
        secret_key="privacy-test-" + "k" * 40,
        _env_file=None,
    )  # type: ignore[call-arg]


def _database_bytes(home: Path) -> bytes:
    db = home / "wagecheck.db"
    # Fold the write-ahead log into the main file, then read every file SQLite keeps.
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return b"".join(p.read_bytes() for p in home.glob("wagecheck.db*"))


async def test_raw_ids_never_reach_the_database_file_or_logs(
    sqlite_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    app = await build_app(sqlite_settings)
    try:
        codes = await open_round(app)
        await complete_survey(
            Worker(app, RAW_IDS[0], channel="telegram"), codes["KHI-001"], opt_in="yes"
        )
        await complete_survey(
            Worker(app, RAW_IDS[1], channel="whatsapp"), codes["KHI-001"], lang="ur", pay="۳۸۰۰۰"
        )
        w = Worker(app, RAW_IDS[2], channel="whatsapp")  # still answering: address kept
        await w.start(codes["KHI-001"])
        for v in ("sd", "yes", "yes", "helper"):
            await w.press(v)
        async with app.db.transaction() as s:
            assert len((await s.execute(select(ContactAddress))).scalars().all()) == 2
    finally:
        await app.close()
    blob = _database_bytes(sqlite_settings.home)
    with sqlite3.connect(sqlite_settings.home / "wagecheck.db") as conn:
        stored = conn.execute("SELECT count(*) FROM answers").fetchone()[0]
    assert stored == 11 + 11 + 1  # the answers are there (comment skipped); only ids are not
    logs = caplog.text
    for raw in RAW_IDS:
        for form in (raw.encode(), raw.encode("utf-16-le"), raw[::-1].encode()):
            assert form not in blob, f"{raw!r} found in the database file"
        assert raw not in logs, f"{raw!r} found in the logs"
    assert "handled message" in logs  # the logs were captured at all


async def test_contact_addresses_are_encrypted_and_decryptable_only_with_the_key(app: App) -> None:
    codes = await open_round(app)
    w = Worker(app, RAW_IDS[0], channel="telegram")
    await w.start(codes["KHI-001"])
    for v in ("en", "yes", "yes"):
        await w.press(v)
    async with app.db.transaction() as s:
        contact = (await s.execute(select(ContactAddress))).scalar_one()
        respondent = (await s.execute(select(Response.respondent))).scalar_one()
    assert RAW_IDS[0].encode() not in contact.ciphertext
    assert app.keyring.decrypt_address("telegram", contact.ciphertext) == RAW_IDS[0]
    with pytest.raises(AddressDecryptionError):
        app.keyring.decrypt_address("whatsapp", contact.ciphertext)  # channel is bound
    with pytest.raises(AddressDecryptionError):
        Keyring(b"another-instance-" + b"z" * 40).decrypt_address("telegram", contact.ciphertext)
    assert respondent == app.keyring.respondent(1, "telegram", RAW_IDS[0])
    assert len(respondent) == 64 and RAW_IDS[0] not in respondent


def test_pseudonyms_are_keyed_and_differ_per_round_and_purpose() -> None:
    a, b = Keyring(b"a" * 40), Keyring(b"b" * 40)
    assert a.respondent(1, "telegram", "42") == a.respondent(1, "telegram", "42")
    assert a.respondent(1, "telegram", "42") != b.respondent(1, "telegram", "42")
    assert a.respondent(1, "telegram", "42") != a.respondent(2, "telegram", "42")
    assert a.respondent(1, "telegram", "42") != a.respondent(1, "whatsapp", "42")
    assert a.conversation_key("telegram", "42") != a.respondent(1, "telegram", "42")
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring(b"short")


def test_generated_secret_key_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "h", _env_file=None)  # type: ignore[call-arg]
    assert settings.secret_key_text() is None  # reading never makes a key (tests/test_keys.py)
    settings.create_secret_file()
    first = settings.secret_key_text()
    key_file = tmp_path / "h" / "secret.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    settings.create_secret_file()  # a second call keeps the first key
    assert first is not None and settings.secret_key_text() == first and len(first) >= 32
    assert "secret.key" in settings.masked()["secret_key"]


def test_configured_secret_is_masked_and_must_be_long(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        secret_key="s" * 40,
        database_url="postgresql+asyncpg://wc:hunter2@db/wc",
        _env_file=None,
    )  # type: ignore[call-arg]
    shown = settings.masked()
    assert shown["secret_key"] == "********"
    assert "hunter2" not in shown["database_url"] and "wc:********@db" in shown["database_url"]
    with pytest.raises(StartupError, match="32"):
        Settings(home=tmp_path, secret_key="short", _env_file=None).secret_key_text()  # type: ignore[call-arg]


def test_small_cell_threshold_can_never_go_below_five() -> None:
    with pytest.raises(ValueError):
        Settings(k_brand=4, _env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        Settings(k_cso=3, _env_file=None)  # type: ignore[call-arg]
