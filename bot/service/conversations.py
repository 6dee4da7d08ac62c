"""The conversation repository: where a worker is in the survey (their conversation row, keyed
by a keyed hash of channel and user id, never the raw id), which message ids were handled,
and which factory a poster code opens.

The statements every message runs are built once, here. A statement built per message costs
SQLAlchemy its construction and cache key each time, and the ORM its bookkeeping: most of
the database work's CPU under load (docs/benchmarks.md). They run on the session's connection
(Core): nothing they touch needs the ORM's identity map."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.enums import RoundStatus
from bot.storage import Database
from bot.storage.models import Conversation, Factory, ProcessedMessage, Round, RoundFactory
from bot.survey.state import FactoryRef

# (Declarative classes type __table__ as any FromClause; these are tables.)
_conversations = cast(Table, Conversation.__table__)
_rounds = cast(Table, Round.__table__)
RECORD_MESSAGE = insert(cast(Table, ProcessedMessage.__table__))
# The conversation, locked against a parallel message of the same worker, and its round.
LOAD_CONVERSATION = (
    select(
        _conversations.c.state,
        _conversations.c.response_id,
        _rounds.c.status,
        _rounds.c.survey_version_id,
        _rounds.c.help_text,
    )
    .select_from(_conversations.outerjoin(_rounds, _rounds.c.id == _conversations.c.round_id))
    .where(_conversations.c.key == bindparam("conversation"))
    .with_for_update(of=_conversations)
)
INSERT_CONVERSATION = insert(_conversations)
UPDATE_CONVERSATION = update(_conversations).where(
    _conversations.c.key == bindparam("conversation")
)


@dataclass(frozen=True)
class StoredConversation:
    """The stored part of a conversation that handling a message needs, and its round."""

    state: str
    response_id: int | None
    round_status: str | None  # None: no round (yet)
    survey_version_id: int | None  # the round's pinned survey version
    help_text: dict[str, str] | None = None  # the round's, by language (None: the default)


def hour(moment: datetime) -> datetime:
    """A moment kept to the hour (when a worker last wrote, when they finished)."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


async def record_message(conn: AsyncConnection, dedup: str, day: date) -> None:
    """Note the message as handled; a redelivery fails here (IntegrityError), before any
    work."""
    await conn.execute(RECORD_MESSAGE, {"key": dedup, "processed_on": day})


async def handled(db: Database, dedup: str) -> bool:
    """Whether the message with this keyed id was handled (and committed)."""
    async with db.transaction() as session:
        return await session.get(ProcessedMessage, dedup) is not None


async def load(conn: AsyncConnection, key: str) -> StoredConversation | None:
    """The worker's conversation, locked until the transaction ends; None if there is none."""
    row = (await conn.execute(LOAD_CONVERSATION, {"conversation": key})).first()
    return StoredConversation(row[0], row[1], row[2], row[3], row[4]) if row else None


async def save(
    conn: AsyncConnection,
    key: str,
    channel: str,
    stored: StoredConversation | None,
    values: dict[str, Any],
) -> None:
    """Write the conversation (`values`: state, response_id, round_id, updated_at)."""
    if stored is None:
        await conn.execute(INSERT_CONVERSATION, {"key": key, "channel": channel, **values})
    else:
        await conn.execute(UPDATE_CONVERSATION, {"conversation": key, **values})


async def forget(session: AsyncSession, key: str) -> None:
    """Delete the worker's conversation (its round closed under it)."""
    await session.execute(delete(Conversation).where(Conversation.key == key))


async def find_factory(
    session: AsyncSession, code: str
) -> tuple[FactoryRef, int, dict[str, str] | None] | None:
    """The factory and round an open round's poster code stands for, the round's survey
    version and its help text; None for a code no open round has."""
    row = (
        await session.execute(
            select(
                RoundFactory.code,
                Factory.name,
                Factory.region,
                Round.id,
                Factory.id,
                Round.survey_version_id,
                Round.help_text,
            )
            .join(Round, Round.id == RoundFactory.round_id)
            .join(Factory, Factory.id == RoundFactory.factory_id)
            .where(RoundFactory.code == code, Round.status == RoundStatus.OPEN)
        )
    ).first()
    if row is None:
        return None
    ref = FactoryRef(code=row[0], name=row[1], region=row[2], round_id=row[3], factory_id=row[4])
    return ref, row[5], row[6]
