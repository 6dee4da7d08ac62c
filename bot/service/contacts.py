"""Contact addresses: where a worker who asked to be written to can be reached, in which
language, and when they last wrote (WhatsApp lets a business write freely only within 24 hours
of the worker's last message). Addresses are stored encrypted and decrypted only here, for the
channel that sends (docs/privacy.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import N_
from bot.privacy import Keyring
from bot.storage import Database
from bot.storage.models import ContactAddress, Conversation, Organisation, Round

# TRANSLATORS: who a reminder is from when the organisation is not known ("… from us").
SENDER_UNKNOWN = N_("us")


async def sender_name(session: AsyncSession, round_id: int | None) -> str:
    """How messages a worker gets first name the round's CSO: its short name, else its name;
    "" when there is no round (the text then says "us")."""
    if round_id is None:
        return ""
    name = await session.scalar(
        select(func.coalesce(Organisation.short_name, Organisation.name))
        .join(Round, Round.cso_id == Organisation.id)
        .where(Round.id == round_id)
    )
    return name or ""


@dataclass(frozen=True)
class Contact:
    key: str  # the keyed hash the worker is known by (never the raw id)
    channel: str
    address: str  # decrypted: a chat id or a phone number
    language: str
    sender: str = ""  # the round's CSO as reminders name it (sender_name)


class Contacts:
    def __init__(self, db: Database, keyring: Keyring) -> None:
        self.db = db
        self.keyring = keyring

    async def find(self, key: str, channel: str) -> Contact | None:
        """The worker's address on `channel`; None when there is none (or it is another
        channel's)."""
        async with self.db.transaction() as session:
            row = await session.get(ContactAddress, key)
            if row is None or row.channel != channel:
                return None
            sender = await sender_name(session, row.round_id)
        address = self.keyring.decrypt_address(channel, row.ciphertext)
        return Contact(key, channel, address, row.language, sender)

    async def last_message_hour(self, key: str) -> datetime | None:
        """The hour of the worker's last message (their conversation's `updated_at`, kept to
        the hour), if there is a conversation."""
        async with self.db.transaction() as session:
            return await session.scalar(
                select(Conversation.updated_at).where(Conversation.key == key)
            )
