"""The instance key and its database (docs/privacy.md "Keys", docs/operations.md "Keys"): a
missing or wrong key file is refused, never silently replaced; a key is made only for an
empty database; `wagecheck keys rotate` gives new rounds a new pseudonym key and moves what
it can, and a worker in an open round goes on as one person."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.bootstrap import App, build_app, rotate_key
from bot.clock import SetClock
from bot.config import Settings, StartupError
from bot.privacy import Keyring
from bot.privacy.keys import format_secrets, parse_secrets
from bot.service import keys
from bot.storage.models import ContactAddress, KeyFingerprint, Response
from tests.test_service import Worker, open_round


def file_settings(tmp_path: Path, database_url: str) -> Settings:
    """An instance whose key lives in its home folder's key file (not in the setting)."""
    return Settings(home=tmp_path / "home", database_url=database_url, _env_file=None)  # type: ignore[call-arg]


async def start_workers(app: App) -> tuple[dict[str, str], Worker, Worker]:
    """An open round, one worker halfway (their address kept for a reminder), one at the
    first question."""
    codes = await open_round(app)
    halfway = Worker(app, "9230012345", channel="telegram")
    await halfway.start(codes["KHI-001"])
    for value in ("en", "yes", "yes"):
        await halfway.press(value)
    just_started = Worker(app, "9230099999", channel="telegram")
    await just_started.start(codes["KHI-001"])
    return codes, halfway, just_started


async def responses(app: App) -> int:
    async with app.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(Response)) or 0)


async def continues(app: App, w: Worker) -> None:
    """The worker's next answer goes on in the same conversation and the same response."""
    before = await responses(app)
    w.app = app
    question = w.question
    await w.press("helper")
    assert w.question != question and w.question is not None
    assert await responses(app) == before  # not counted twice


async def test_a_missing_key_file_is_refused_not_replaced(
    tmp_path: Path, database_url: str, clock: SetClock
) -> None:
    """Issue 18 §5: start, collect answers, move the key away, start again: a new key was
    made (the worker got a new pseudonym, reminders could not decrypt). Now refused in one
    line that names the key file and how to restore it; no new key file appears."""
    settings = file_settings(tmp_path, database_url)
    app = await build_app(settings, clock=clock)
    try:
        await start_workers(app)
    finally:
        await app.close()
    key_file = settings.key_file
    assert key_file.exists()
    shutil.move(key_file, tmp_path / "moved-away.key")
    with pytest.raises(StartupError) as refused:
        await build_app(settings, clock=clock)
    line = str(refused.value)
    assert "\n" not in line
    assert str(key_file) in line and "missing" in line and "wagecheck restore" in line
    assert not key_file.exists()


async def test_a_key_made_before_fingerprints_is_recorded_and_then_required(
    tmp_path: Path, database_url: str, clock: SetClock
) -> None:
    """A database filled before 0014 has no fingerprint: the first start with its key
    records it; from then on another key is refused, naming both fingerprints."""
    settings = file_settings(tmp_path, database_url)
    app = await build_app(settings, clock=clock)
    try:
        await start_workers(app)
        async with app.db.transaction() as s:
            await s.execute(KeyFingerprint.__table__.delete())
    finally:
        await app.close()
    app = await build_app(settings, clock=clock)
    await app.close()
    stored = await _fingerprints(settings)
    assert stored == {1: Keyring(settings.key_file.read_text().strip().encode()).fingerprints()[1]}
    settings.key_file.write_text("another-key-" + "q" * 40 + "\n")
    with pytest.raises(StartupError, match=r"does not match this database.*fingerprint") as e:
        await build_app(settings, clock=clock)
    assert stored[1][:12] in str(e.value)


async def test_a_wrong_key_is_refused_on_an_instance_with_data(
    tmp_path: Path, database_url: str, clock: SetClock
) -> None:
    settings = file_settings(tmp_path, database_url)
    app = await build_app(settings, clock=clock)
    await app.close()
    other = settings.model_copy(update={"secret_key": SecretStr("s" * 40)})
    with pytest.raises(StartupError, match="WAGECHECK_SECRET_KEY does not match"):
        await build_app(other, clock=clock)


async def test_a_key_is_made_only_for_an_empty_database(
    tmp_path: Path, empty_database_url: str, clock: SetClock
) -> None:
    """`wagecheck init` on a new instance: the schema, a private key file, its fingerprint."""
    settings = file_settings(tmp_path, empty_database_url)
    app = await build_app(settings, clock=clock)
    await app.close()
    assert settings.key_file.stat().st_mode & 0o777 == 0o600
    fingerprint = await _fingerprints(settings)
    assert fingerprint == app.keyring.fingerprints()
    # The fingerprint tells nothing of the key: not the key, nor any subkey's HMAC of it.
    secret = settings.key_file.read_text().strip()
    assert secret not in fingerprint[1] and len(fingerprint[1]) == 64


async def _fingerprints(settings: Settings) -> dict[int, str]:
    from bot.storage import Database

    db = Database(settings.effective_database_url)
    try:
        return {v: fp for v, (fp, _) in (await keys.stored_fingerprints(db)).items()}
    finally:
        await db.dispose()


def test_a_key_file_holds_versions_and_version_one_is_the_old_format() -> None:
    old = "a" * 43
    assert parse_secrets(old + "\n") == {1: old.encode()}
    text = format_secrets({1: old.encode(), 2: b"b" * 43})
    assert text.splitlines() == [old, "wagecheck-key-v2:" + "b" * 43]
    assert parse_secrets(text) == {1: old.encode(), 2: b"b" * 43}
    with pytest.raises(ValueError, match="32"):
        parse_secrets(old + "\nwagecheck-key-v2:short")
    with pytest.raises(ValueError, match="twice"):
        parse_secrets(old + "\n" + old)


async def test_rotation_moves_addresses_and_conversations_and_new_rounds_use_the_new_key(
    tmp_path: Path, database_url: str, clock: SetClock
) -> None:
    settings = file_settings(tmp_path, database_url)
    app = await build_app(settings, clock=clock)
    try:
        codes, halfway, just_started = await start_workers(app)
        code, _ = await app.members.create_invite("Test CSO", "admin", 7)
        await app.members.join("telegram", "5550001", code)
        old = app.keyring
        old_respondent = old.respondent(1, "telegram", halfway.user_id)
        async with app.db.transaction() as s:
            before = (await s.execute(select(ContactAddress))).scalars().all()
        rotation, _ = await rotate_key(app)
        assert (rotation.version, rotation.addresses, rotation.members) == (2, 1, 1)
        assert rotation.unreadable == 0
    finally:
        await app.close()
    assert list(parse_secrets(settings.key_file.read_text())) == [1, 2]
    app = await build_app(settings, clock=clock)
    try:
        kr = app.keyring
        assert kr.current == 2 and kr.version_for_round(1) == 1
        async with app.db.transaction() as s:
            after = (await s.execute(select(ContactAddress))).scalars().all()
            respondents = set((await s.execute(select(Response.respondent))).scalars())
        # Re-encrypted under the new key (another ciphertext), under the new pseudonym.
        assert [c.ciphertext for c in after] != [c.ciphertext for c in before]
        assert [c.key for c in after] == [kr.conversation_key("telegram", halfway.user_id)]
        contact = await app.contacts.find(after[0].key, "telegram")
        assert contact is not None and contact.address == halfway.user_id  # a reminder
        assert old_respondent in respondents  # the open round keeps its respondents
        await continues(app, halfway)  # moved at rotation (an address was kept)
        await continues_from_first_question(app, just_started)  # moved on its next message
        # A CSO member is still recognised.
        assert await app.members.memberships("telegram", "5550001")
        # A round made after the rotation uses the new key for its respondents.
        rnd = await app.admin.open_round("Round 2", "Test CSO", app.survey, ["KHI-001"])
        assert kr.version_for_round(rnd.id) == 2
        assert kr.respondent(rnd.id, "telegram", "1") != old.respondent(rnd.id, "telegram", "1")
    finally:
        await app.close()
    del codes


async def continues_from_first_question(app: App, w: Worker) -> None:
    w.app = app
    question = w.question
    await w.press("en")
    assert w.question != question and w.question is not None


async def test_a_key_file_without_the_rotated_version_is_refused(
    tmp_path: Path, database_url: str, clock: SetClock
) -> None:
    """Restoring the key file from before a rotation: refused, naming the missing version."""
    settings = file_settings(tmp_path, database_url)
    app = await build_app(settings, clock=clock)
    old_text = settings.key_file.read_text()
    try:
        await rotate_key(app)
    finally:
        await app.close()
    settings.key_file.write_text(old_text)
    with pytest.raises(StartupError, match=r"lacks a key .*version 2"):
        await build_app(settings, clock=clock)
