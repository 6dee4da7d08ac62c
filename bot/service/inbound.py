"""Handle one inbound message in one transaction: load the conversation, run the engine, store
what its events change, record the replies. The rooms it uses: the conversation repository
(conversations.py), the event applier (events.py), the reply outbox (replies.py), the retry
policy and in-process lock (retry.py)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import metrics
from bot.clock import Clock
from bot.enums import RoundStatus
from bot.i18n import N_
from bot.privacy import Keyring
from bot.service import chat_trace, conversations, keys
from bot.service.chat_trace import ChatTrace
from bot.service.conversations import StoredConversation, hour
from bot.service.engines import EngineRegistry
from bot.service.events import EventApplier
from bot.service.messages import InboundMessage, Outcome
from bot.service.replies import INSERT_REPLIES, ReplyOutbox, outbox_rows
from bot.service.retry import MAX_ATTEMPTS, InFlight, retryable
from bot.storage import Database
from bot.storage.models import SurveyVersion
from bot.survey import phrases as P
from bot.survey.engine import Engine
from bot.survey.parsing import Command, match_command, normalise_code
from bot.survey.state import ChatCleared, ConversationState, Event, FactoryRef, Input, Reply, Sprint

log = logging.getLogger(__name__)

# A code that no open round has: no factory, engine or help text.
NOT_FOUND: tuple[None, None, None] = (None, None, None)
ROUND_CLOSED = N_("This survey has closed. Thank you for your interest.")
# TRANSLATORS: "delete" after the round closed: the conversation linking this chat to the
# answers is gone, so they cannot be found to erase them; they are kept without name or number.
ROUND_CLOSED_DELETE = N_(
    "This survey has closed. Your answers are no longer linked to this chat, so they cannot "
    "be erased one by one. They are kept without your name or number."
)

__all__ = ["MAX_ATTEMPTS", "InboundMessage", "Outcome", "SurveyService"]


class SurveyService:
    """The single entry point every channel uses for worker messages."""

    def __init__(
        self, db: Database, engines: EngineRegistry, keyring: Keyring, *, clock: Clock
    ) -> None:
        self.db = db
        self.clock = clock
        self.engines = engines
        self.keyring = keyring
        self.events = EventApplier(keyring, ZoneInfo(engines.options.time_zone))
        self.outbox = ReplyOutbox(db, clock, self._write_turn)
        self.chat = ChatTrace(db, keyring, clock=clock)
        self._by_version_id: dict[int, Engine] = {}
        self.in_flight = InFlight()
        # Messages handled at once (Database.writers: one on SQLite); the rest wait their turn
        # here, in order, instead of in SQLAlchemy's pool, whose 30 s checkout timeout failed
        # a quarter of 1,000 simultaneous callers on PostgreSQL (docs/benchmarks.md).
        self._turns = asyncio.Semaphore(db.writers)

    # ------------------------------------------------------------------ what channels call
    # besides `handle`: `outbox.send_replies` (the one way to send replies) and
    # `in_flight.exclusive` (one delivery of a message at a time).
    async def handle(self, msg: InboundMessage) -> Outcome:
        """Handle one message exactly once (a redelivered message id changes nothing)."""
        try:
            outcome = await self._handle_once(msg)
        except Exception:
            metrics.MESSAGES_FAILED.labels(msg.channel).inc()
            raise
        result = "duplicate" if outcome.duplicate else "ok"
        metrics.MESSAGES_HANDLED.labels(msg.channel, result).inc()
        return outcome

    async def _handle_once(self, msg: InboundMessage) -> Outcome:
        dedup = self.keyring.message_key(msg.channel, msg.message_id)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._turns, self.db.transaction() as session:
                    return await self._handle(session, msg, dedup)
            except DBAPIError as exc:
                if not retryable(exc):
                    raise
                # Either this message was handled meanwhile (a redelivery racing the first
                # delivery, or a commit whose answer was lost with the connection), or a lock
                # conflict or a dropped connection: look, then try again.
                if await conversations.handled(self.db, dedup):
                    return await self.outbox.unsent(dedup)
                if attempt == MAX_ATTEMPTS:
                    raise
                log.warning("retrying inbound message after %s", type(exc).__name__)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ one message
    def _write_turn(self) -> AbstractAsyncContextManager[Any]:
        """A turn for a short write outside `handle`: queued with the messages on SQLite."""
        return self._turns if self.db.is_sqlite else nullcontext()

    async def _handle(self, session: AsyncSession, msg: InboundMessage, dedup: str) -> Outcome:
        conn = await session.connection()
        await conversations.record_message(conn, dedup, self.events.local_day(msg))

        key = self.keyring.conversation_key(msg.channel, msg.user_id)
        if len(self.keyring.versions) > 1:  # after a key rotation: move an older conversation
            await keys.move_conversation(session, self.keyring, msg.channel, msg.user_id)
        if msg.chat_message_id is not None:
            await chat_trace.remember_in(conn, key, [msg.chat_message_id], msg.received_at)
        # One query: the conversation (locked against a parallel message of the same worker)
        # and the status of its round.
        conv = await conversations.load(conn, key)
        state = ConversationState.from_json(conv.state) if conv else None
        # A conversation within a round runs that round's pinned survey version.
        engine = (
            await self._engine_for_version(session, conv.survey_version_id)
            if conv and conv.survey_version_id
            else None
        )
        round_status = conv.round_status if conv else None
        if state is not None and state.factory is not None and round_status != RoundStatus.OPEN:
            # The round closed under this conversation: say so once and keep nothing of it;
            # a new link or code starts afresh.
            if msg.kind != "start":
                await conversations.forget(session, key)
                return self._round_closed(msg, state)
            state = None

        inp, factory_engine, factory_help = await self._input(session, msg, state, engine)
        engine = factory_engine or engine or self.engines.default
        # Where to get help: the round of a code just looked up, else the conversation's.
        help_text = factory_help
        if inp.factory is None and conv is not None and state is not None and state.factory:
            help_text = conv.help_text
        if state is None:
            state = engine.new_state(lang=msg.client_language)
            if inp.kind in ("text", "button"):  # a first "hi": greet with the first question
                inp = Input(
                    kind="start",
                    client_language=msg.client_language,
                    language_chosen=msg.language_chosen,
                    chat_clearing=msg.chat_clearing,
                )
        elif state.survey != engine.survey.key:
            state = engine.new_state(lang=state.lang if state.lang_chosen else msg.client_language)
        sprint = engine.resume(state, inp, msg.received_at, help_text=help_text)
        return await self._store(session, msg, key, conv, engine, sprint, state, dedup)

    def _round_closed(self, msg: InboundMessage, state: ConversationState) -> Outcome:
        """The round closed under the conversation: say so. "delete" (or "clear") learns what
        can still be done: the answers cannot be found any more, the chat can be cleared."""
        loc = self.engines.catalogs.get(state.lang)
        command = match_command(msg.text) if msg.kind == "text" else None
        if msg.kind == "button" and msg.payload == f"c:{Command.CLEAR.value}":
            command = Command.CLEAR
        texts, events = [loc.gettext(ROUND_CLOSED)], list[Event]()
        if command is Command.DELETE:
            texts = [loc.gettext(ROUND_CLOSED_DELETE)]
        if command in (Command.DELETE, Command.CLEAR):
            if msg.chat_clearing == "bot":
                events.append(ChatCleared())
                texts.append(loc.gettext(P.CHAT_CLEARED))
            elif msg.chat_clearing == "worker":
                texts.append(loc.gettext(P.CLEAR_CHAT_WHATSAPP))
        reply = Reply("\n\n".join(texts), lang=loc.lang, rtl=loc.rtl)
        return Outcome(replies=[reply], events=events, channel=msg.channel)

    async def _input(
        self,
        session: AsyncSession,
        msg: InboundMessage,
        state: ConversationState | None,
        engine: Engine | None,
    ) -> tuple[Input, Engine | None, dict[str, str] | None]:
        """Translate the message into engine input, resolving factory codes in the database
        (with the engine and help text of the code's round)."""
        common: dict[str, Any] = {
            "client_language": msg.client_language,
            "language_chosen": msg.language_chosen,
            "chat_clearing": msg.chat_clearing,
        }
        if msg.kind == "start":
            code = normalise_code(msg.start_code) if msg.start_code else None
            if msg.start_code is None:
                return Input(kind="start", **common), None, None
            ref, found, help_text = await self._lookup(session, code) if code else NOT_FOUND
            return (
                Input(kind="start", factory=ref, unknown_code=ref is None, **common),
                found,
                help_text,
            )
        if msg.kind == "text" and (engine is None or engine.expects_factory_code(state)):
            code = normalise_code(msg.text)
            ref, found, help_text = await self._lookup(session, code) if code else NOT_FOUND
            if ref is not None:
                if state is None or state.phase in ("done", "declined"):
                    return Input(kind="start", factory=ref, **common), found, help_text
                return Input(kind="text", text=msg.text, factory=ref, **common), found, help_text
        return (
            Input(kind=msg.kind, text=msg.text, payload=msg.payload, media=msg.media, **common),
            None,
            None,
        )

    async def _lookup(
        self, session: AsyncSession, code: str
    ) -> tuple[FactoryRef | None, Engine | None, dict[str, str] | None]:
        found = await conversations.find_factory(session, code)
        if found is None:
            return NOT_FOUND
        ref, version_id, help_text = found
        return ref, await self._engine_for_version(session, version_id), help_text

    async def _engine_for_version(self, session: AsyncSession, version_id: int) -> Engine:
        engine = self._by_version_id.get(version_id)
        if engine is None:
            definition = await session.scalar(
                select(SurveyVersion.definition).where(SurveyVersion.id == version_id)
            )
            if definition is None:  # a foreign key points here: only a broken database
                raise LookupError(f"survey version {version_id} is missing")
            engine = self._by_version_id[version_id] = self.engines.for_definition(definition)
        return engine

    async def _store(
        self,
        session: AsyncSession,
        msg: InboundMessage,
        key: str,
        conv: StoredConversation | None,
        engine: Engine,
        sprint: Sprint,
        previous: ConversationState,
        dedup: str,
    ) -> Outcome:
        conn = await session.connection()
        state = sprint.state
        # Questions that may already have a stored answer; for the others a plain INSERT will do.
        stored = set(previous.answers)
        response_id = await self.events.apply(
            session,
            conn,
            msg,
            key,
            engine,
            sprint.events,
            conv.response_id if conv else None,
            stored,
        )
        values = {
            "state": state.to_json(),
            "response_id": response_id,
            "round_id": state.factory.round_id if state.factory else None,
            "updated_at": hour(msg.received_at),
            # After "stop", a reminder only when the worker asked for one.
            "remind": state.phase != "paused" or state.remind,
        }
        await conversations.save(conn, key, msg.channel, conv, values)
        outbox_ids: list[int] = []
        if msg.outbox and sprint.replies:
            rows = outbox_rows(dedup, msg.channel, enumerate(sprint.replies), msg.received_at)
            result = await conn.execute(INSERT_REPLIES, rows)
            outbox_ids = list(result.scalars())
        log.info(
            "handled message kind=%s events=%s",
            msg.kind,
            ",".join(type(e).__name__ for e in sprint.events) or "-",
        )
        return Outcome(
            replies=sprint.replies,
            echo=sprint.echo,
            events=sprint.events,
            outbox_ids=outbox_ids,
            message_key=dedup,
            channel=msg.channel,
        )
