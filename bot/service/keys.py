"""The instance key and the database: fingerprints, the empty-database rule, rotation.

A database remembers the fingerprint of each key version it was written with
(`key_fingerprints`, migration 0014). A start with a key that does not match is refused in
one line; a key is generated only for a database that holds nothing written with one
(docs/privacy.md "Keys", docs/operations.md "Keys")."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, inspect, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import StartupError
from bot.privacy import Keyring
from bot.privacy.keys import AddressDecryptionError
from bot.storage import Database, rowcount
from bot.storage.models import (
    Base,
    BroadcastMessage,
    ChatMessage,
    ContactAddress,
    Conversation,
    KeyFingerprint,
    Member,
    Round,
)

RESTORE_HINT = "restore it from your backup: wagecheck restore, or a copy of the key file"
# Tables whose rows were made with the key (pseudonyms, encrypted addresses, dedup keys).
KEYED_TABLES = (
    "responses",
    "conversations",
    "contact_addresses",
    "members",
    "processed_messages",
    "chat_messages",
    "broadcast_messages",
)
# Tables that are not data: their rows do not make a database non-empty.
BOOKKEEPING_TABLES = frozenset({"alembic_version", "key_fingerprints"})


async def _table_names(db: Database) -> set[str]:
    async with db.engine.connect() as conn:
        return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))


async def rows_in(db: Database, tables: set[str] | None = None) -> dict[str, int]:
    """Row counts of the application's tables present in the database (or of `tables`)."""
    present = await _table_names(db)
    wanted = [t for t in Base.metadata.sorted_tables if t.name in present]
    if tables is not None:
        wanted = [t for t in wanted if t.name in tables]
    async with db.engine.connect() as conn:
        return {
            t.name: int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
            for t in wanted
        }


async def holds_keyed_data(db: Database) -> bool:
    """Whether anything in the database was made with a key (or a key was recorded)."""
    if await stored_fingerprints(db):
        return True
    return any((await rows_in(db, set(KEYED_TABLES))).values())


async def is_empty(db: Database) -> bool:
    """No row in any table but the schema's own bookkeeping (restore needs this)."""
    counts = await rows_in(db)
    return not any(n for name, n in counts.items() if name not in BOOKKEEPING_TABLES)


async def stored_fingerprints(db: Database) -> dict[int, tuple[str, int]]:
    """version -> (fingerprint, first round) as stored; empty before migration 0014 or a key."""
    if "key_fingerprints" not in await _table_names(db):
        return {}
    async with db.engine.connect() as conn:
        rows = (
            await conn.execute(
                select(
                    KeyFingerprint.version, KeyFingerprint.fingerprint, KeyFingerprint.rounds_from
                )
            )
        ).all()
    return {r.version: (r.fingerprint, r.rounds_from) for r in rows}


def _short(fp: str) -> str:
    return fp[:12]


def mismatch(source: str, stored: dict[int, tuple[str, int]], keyring: Keyring) -> str | None:
    """What is wrong between the key and the database's fingerprints, in one line, or None."""
    have = keyring.fingerprints()
    for version, (fp, _) in sorted(stored.items()):
        if version not in have:
            newer = f" (version {version}, made by `wagecheck keys rotate`)" if version > 1 else ""
            return (
                f"the secret key in {source} lacks a key this database was written with"
                f"{newer}, fingerprint {_short(fp)}: {RESTORE_HINT}; see docs/operations.md "
                "'Keys'"
            )
        if have[version] != fp:
            return (
                f"the secret key in {source} does not match this database (it expects key "
                f"version {version} with fingerprint {_short(fp)}, the file has "
                f"{_short(have[version])}): use the key file this database was written with, "
                f"{RESTORE_HINT}"
            )
    return None


async def check_and_record(db: Database, keyring: Keyring, source: str, clock: Clock) -> None:
    """Refuse a key that does not match the database; record the fingerprints of versions
    the database does not know yet (the first start with a key, or an older database that
    predates fingerprints); tell the keyring which rounds each version serves."""
    if "key_fingerprints" not in await _table_names(db):
        return  # a database not yet at 0014 (build_app without upgrade): nothing to compare
    stored = await stored_fingerprints(db)
    problem = mismatch(source, stored, keyring)
    if problem:
        raise StartupError(problem)
    missing = [v for v in keyring.versions if v not in stored]
    if missing:
        try:
            async with db.transaction() as s:
                first_round = await _next_round_id(s)
                for version in missing:
                    s.add(
                        KeyFingerprint(
                            version=version,
                            fingerprint=keyring.fingerprints()[version],
                            # Version 1 covers every round; a version recorded here rather
                            # than by `keys rotate` serves the rounds made from now on.
                            rounds_from=0 if version == 1 else first_round,
                            created_at=clock(),
                        )
                    )
        except IntegrityError:
            pass  # another process recorded them at the same moment: compare with theirs
        stored = await stored_fingerprints(db)
        problem = mismatch(source, stored, keyring)
        if problem:
            raise StartupError(problem)
    keyring.use_from_round({v: first for v, (_, first) in stored.items()})


async def _next_round_id(s: AsyncSession) -> int:
    return int((await s.scalar(select(func.max(Round.id)))) or 0) + 1


# ------------------------------------------------------------------ rotation
@dataclass
class Rotation:
    version: int
    rounds_from: int
    addresses: int  # contact addresses re-encrypted (and their conversations re-keyed)
    members: int  # member accounts re-keyed and addresses re-encrypted
    unreadable: int  # addresses that did not decrypt (left as they were)


async def rotate(db: Database, old: Keyring, new: Keyring, clock: Clock) -> Rotation:
    """Record the new key version and move what can be moved to it, in one transaction:
    every contact address and member address re-encrypted, the conversations of workers
    whose address is kept re-keyed (pseudonym under the new key), member accounts re-keyed.
    Conversations without a kept address move on the worker's next message
    (`move_conversation`). Rounds made from now on use the new version for respondent
    pseudonyms; existing rounds keep theirs, so a worker in an open round stays one person."""
    if new.current != old.current + 1 or set(old.versions) - set(new.versions):
        raise ValueError("the new keyring must be the old one plus the next version")
    addresses = members = unreadable = 0
    async with db.transaction() as s:
        stored = await s.scalar(
            select(func.count())
            .select_from(KeyFingerprint)
            .where(KeyFingerprint.version == new.current)
        )
        if stored:
            raise StartupError(f"key version {new.current} is already recorded in the database")
        rounds_from = await _next_round_id(s)
        s.add(
            KeyFingerprint(
                version=new.current,
                fingerprint=new.fingerprints()[new.current],
                rounds_from=rounds_from,
                created_at=clock(),
            )
        )
        for contact in (await s.execute(select(ContactAddress))).scalars().all():
            try:
                user_id = old.decrypt_address(contact.channel, contact.ciphertext)
            except AddressDecryptionError:
                unreadable += 1
                continue
            new_key = new.conversation_key(contact.channel, user_id)
            ciphertext = new.encrypt_address(contact.channel, user_id)
            old_key = contact.key
            await s.execute(
                update(ContactAddress)
                .where(ContactAddress.key == old_key)
                .values(key=new_key, ciphertext=ciphertext)
            )
            await _rename_conversation(s, [old_key], new_key)
            addresses += 1
        for member in (await s.execute(select(Member))).scalars().all():
            try:
                user_id = old.decrypt_address(member.channel, member.address)
            except AddressDecryptionError:
                unreadable += 1
                continue
            member.account = new.conversation_key(f"member:{member.channel}", user_id)
            member.address = new.encrypt_address(member.channel, user_id)
            members += 1
    return Rotation(new.current, rounds_from, addresses, members, unreadable)


async def _rename_conversation(s: AsyncSession, old_keys: list[str], new_key: str) -> int:
    """Move a conversation and what hangs on its key from older keys to `new_key`."""
    moved = await s.execute(
        update(Conversation).where(Conversation.key.in_(old_keys)).values(key=new_key)
    )
    await s.execute(
        update(ChatMessage)
        .where(ChatMessage.conversation_key.in_(old_keys))
        .values(conversation_key=new_key)
    )
    await s.execute(
        update(BroadcastMessage)
        .where(BroadcastMessage.recipient.in_(old_keys))
        .values(recipient=new_key)
    )
    return rowcount(moved)


async def move_conversation(s: AsyncSession, keyring: Keyring, channel: str, user_id: str) -> None:
    """After a rotation: a conversation still under an older key moves to the current one
    (with its contact address row, chat message ids and queued messages). Nothing to do on an
    instance that never rotated."""
    old_keys = keyring.older_conversation_keys(channel, user_id)
    if not old_keys:
        return
    new_key = keyring.conversation_key(channel, user_id)
    if await _rename_conversation(s, old_keys, new_key):
        await s.execute(
            update(ContactAddress).where(ContactAddress.key.in_(old_keys)).values(key=new_key)
        )
