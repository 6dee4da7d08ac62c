"""Handle one inbound message in one transaction: load state, run the engine, store, reply."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.clock import Clock
from bot.enums import ContactPurpose, ResponseStatus
from bot.i18n import N_
from bot.privacy import Keyring
from bot.service.delivery import delivery_uncertain
from bot.service.engines import EngineRegistry
from bot.storage import Database
from bot.storage.models import (
    Answer,
    ContactAddress,
    Conversation,
    Factory,
    OutboxMessage,
    ProcessedMessage,
    Response,
    Round,
    RoundFactory,
    SurveyVersion,
)
from bot.survey.engine import Engine
from bot.survey.parsing import normalise_code
from bot.survey.state import (
    AnswerGiven,
    AnswerRetracted,
    AnswersCleared,
    ConversationState,
    Event,
    FactoryRef,
    Input,
    InputKind,
    LanguageChosen,
    Reply,
    ResponseCompleted,
    ResponseDeleted,
    ResponseStarted,
    Sprint,
    reply_from_dict,
    reply_to_dict,
)

log = logging.getLogger(__name__)

ROUND_CLOSED = N_("This survey has closed. Thank you for your interest.")
# Conflicts (two deliveries of one message at once, or two processes) are retried this often.
MAX_ATTEMPTS = 4
# Waits before marking sent replies again while the database is unreachable (about 8 s in all).
MARK_SENT_RETRY_DELAYS = (0.1, 0.5, 1.0, 2.0, 4.0)


# The statements every message runs, built once. A statement built per message costs SQLAlchemy
# its construction and cache key each time, and the ORM its bookkeeping: most of the database
# work's CPU under load (docs/benchmarks.md). These run on the session's connection (Core):
# nothing they touch needs the ORM's identity map.
# (Declarative classes type __table__ as any FromClause; these are tables.)
_conversations = cast(Table, Conversation.__table__)
_rounds = cast(Table, Round.__table__)
_answers = cast(Table, Answer.__table__)
_outbox = cast(Table, OutboxMessage.__table__)
RECORD_MESSAGE = insert(cast(Table, ProcessedMessage.__table__))
# The conversation, locked against a parallel message of the same worker, and its round.
LOAD_CONVERSATION = (
    select(
        _conversations.c.state,
        _conversations.c.response_id,
        _rounds.c.status,
        _rounds.c.survey_version_id,
    )
    .select_from(_conversations.outerjoin(_rounds, _rounds.c.id == _conversations.c.round_id))
    .where(_conversations.c.key == bindparam("conversation"))
    .with_for_update(of=_conversations)
)
INSERT_ANSWER = insert(_answers)
DELETE_ANSWER = delete(_answers).where(
    _answers.c.response_id == bindparam("response"), _answers.c.question_id == bindparam("question")
)
INSERT_CONVERSATION = insert(_conversations)
UPDATE_CONVERSATION = update(_conversations).where(
    _conversations.c.key == bindparam("conversation")
)
GIVE_BACK_REPLIES = insert(_outbox)
INSERT_REPLIES = insert(_outbox).returning(_outbox.c.id, sort_by_parameter_order=True)
TAKE_REPLIES = delete(_outbox).where(_outbox.c.id.in_(bindparam("ids", expanding=True)))


def _retryable(exc: BaseException) -> bool:
    """A conflict, a locked or busy database, or a connection the server dropped (a restart,
    pg_terminate_backend): the same work can succeed on a fresh connection."""
    if isinstance(exc, IntegrityError | OperationalError | OSError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


@dataclass(frozen=True)
class InboundMessage:
    """One message as a channel adapter received it. `user_id` is never stored."""

    channel: str
    user_id: str
    message_id: str
    kind: InputKind
    received_at: datetime
    text: str = ""
    payload: str = ""
    start_code: str | None = None
    media: str = ""
    client_language: str | None = None
    language_chosen: bool = False
    # Channels that send over a network record replies in the outbox (see OutboxMessage),
    # take them (SurveyService.take) just before sending, and give back what a definite
    # failure kept from going out (SurveyService.give_back).
    outbox: bool = False


@dataclass
class Outcome:
    """What to send back, and whether the message had been handled before.

    For a redelivered message, `replies` holds what was recorded but never marked sent.
    """

    replies: list[Reply] = field(default_factory=list)
    duplicate: bool = False
    echo: str | None = None
    events: list[Event] = field(default_factory=list)
    outbox_ids: list[int] = field(default_factory=list)  # one per reply, in order
    message_key: str = ""  # the keyed message id the outbox rows are filed under
    channel: str = ""


def _hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class SurveyService:
    """The single entry point every channel uses for worker messages."""

    def __init__(
        self, db: Database, engines: EngineRegistry, keyring: Keyring, *, clock: Clock
    ) -> None:
        self.db = db
        self.clock = clock
        self.engines = engines
        self.keyring = keyring
        self._by_version_id: dict[int, Engine] = {}
        self._in_flight: dict[str, tuple[asyncio.Lock, list[int]]] = {}
        # Messages handled at once (Database.writers: one on SQLite); the rest wait their turn
        # here, in order, instead of in SQLAlchemy's pool, whose 30 s checkout timeout failed
        # a quarter of 1,000 simultaneous callers on PostgreSQL (docs/benchmarks.md).
        self._turns = asyncio.Semaphore(db.writers)

    @asynccontextmanager
    async def exclusive(self, channel: str, message_id: str) -> AsyncIterator[None]:
        """One delivery of a message at a time in this process, from `handle()` until its
        replies are sent and marked.

        A webhook delivery retried while the first is still sending (Telegram or Meta gave up
        waiting for the 200, or sent it twice) waits here, then finds the message handled and
        its replies gone from the outbox. Without it, both would send the same replies.
        """
        key = f"{channel}|{message_id}"
        lock, holders = self._in_flight.setdefault(key, (asyncio.Lock(), [0]))
        holders[0] += 1
        try:
            async with lock:
                yield
        finally:
            holders[0] -= 1
            if not holders[0]:
                del self._in_flight[key]

    async def handle(self, msg: InboundMessage) -> Outcome:
        """Handle one message exactly once (a redelivered message id changes nothing)."""
        dedup = self.keyring.message_key(msg.channel, msg.message_id)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                async with self._turns, self.db.transaction() as session:
                    return await self._handle(session, msg, dedup)
            except DBAPIError as exc:
                if not _retryable(exc):
                    raise
                # Either this message was handled meanwhile (a redelivery racing the first
                # delivery, or a commit whose answer was lost with the connection), or a lock
                # conflict or a dropped connection: look, then try again.
                if await self._seen(dedup):
                    return await self._unsent(dedup)
                if attempt == MAX_ATTEMPTS:
                    raise
                log.warning("retrying inbound message after %s", type(exc).__name__)
        raise AssertionError("unreachable")

    async def _seen(self, dedup: str) -> bool:
        async with self.db.transaction() as session:
            return await session.get(ProcessedMessage, dedup) is not None

    async def _unsent(self, dedup: str) -> Outcome:
        """A redelivery: nothing changes, but replies still in the outbox (never taken for
        sending, or given back after a definite failure) go out now."""
        async with self.db.transaction() as session:
            rows = (
                await session.execute(
                    select(OutboxMessage.id, OutboxMessage.reply, OutboxMessage.channel)
                    .where(OutboxMessage.message_key == dedup)
                    .order_by(OutboxMessage.position)
                )
            ).all()
        return Outcome(
            duplicate=True,
            replies=[reply_from_dict(r) for _, r, _ in rows],
            outbox_ids=[i for i, _, _ in rows],
            message_key=dedup,
            channel=rows[0][2] if rows else "",
        )

    async def take(self, outcome: Outcome) -> None:
        """Take the replies out of the outbox just before sending them.

        From here on a crash cannot send them a second time: a message handed to the platform
        whose answer never came back (a kill, a timeout) may or may not have arrived, and a
        worker must never get the same question twice. The other side of that choice: a
        crash in the instant between this commit and the send loses the question; the
        worker's next message, whatever it is, gets it again (the engine asks where they are).
        If the database cannot be reached, this raises and nothing is sent: the platform
        delivers the message again later and finds the replies still here.
        """
        if not outcome.outbox_ids:
            return
        for delay in (*MARK_SENT_RETRY_DELAYS, None):
            try:
                async with self._write_turn(), self.db.transaction() as session:
                    conn = await session.connection()
                    await conn.execute(TAKE_REPLIES, {"ids": outcome.outbox_ids})
                return
            except (DBAPIError, OSError) as exc:
                if not _retryable(exc) or delay is None:
                    raise
                await asyncio.sleep(delay)

    def _write_turn(self) -> AbstractAsyncContextManager[Any]:
        """A turn for a short write outside `handle`: queued with the messages on SQLite."""
        return self._turns if self.db.is_sqlite else nullcontext()

    async def send_replies(
        self,
        outcome: Outcome,
        replies: Sequence[Reply],
        send: Callable[[Reply], Awaitable[bool]],
        first: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """A channel's delivery of `replies` (the outcome's, perhaps reworded): take them from
        the outbox, run `first` (e.g. showing the pressed answer), send them in order —
        `send` returning False drops the rest (the worker blocked the bot, a reply refused for
        good). A definite failure gives the unsent ones back for the message's redelivery; a
        failure that may have delivered (bot/service/delivery.py) does not: never twice."""
        await self.take(outcome)
        sent = 0
        try:
            if first is not None:
                await first()
            for reply in replies:
                if not await send(reply):
                    return
                sent += 1
        except Exception as exc:
            if not delivery_uncertain(exc):
                await self.give_back(outcome, sent)
            raise

    async def give_back(self, outcome: Outcome, first_unsent: int) -> None:
        """Put replies `first_unsent`.. back in the outbox: the platform refused them for sure
        (connection refused, an error answer), so the redelivery of the message sends them."""
        rest = list(enumerate(outcome.replies))[first_unsent:]
        if not outcome.outbox_ids or not rest:
            return
        rows = _outbox_rows(outcome.message_key, outcome.channel, rest, self.clock())
        async with self._write_turn(), self.db.transaction() as session:
            conn = await session.connection()
            await conn.execute(GIVE_BACK_REPLIES, rows)

    async def _handle(self, session: AsyncSession, msg: InboundMessage, dedup: str) -> Outcome:
        conn = await session.connection()
        # Recording the message id first makes a redelivery fail here, before any work.
        await conn.execute(RECORD_MESSAGE, {"key": dedup, "processed_on": msg.received_at.date()})

        key = self.keyring.conversation_key(msg.channel, msg.user_id)
        # One query: the conversation (locked against a parallel message of the same worker)
        # and the status of its round.
        row = (await conn.execute(LOAD_CONVERSATION, {"conversation": key})).first()
        conv = _Stored(row[0], row[1]) if row else None
        round_status = row[2] if row else None
        state = ConversationState.from_json(conv.state) if conv else None
        # A conversation within a round runs that round's pinned survey version.
        engine = await self._engine_for_version(session, row[3]) if row and row[3] else None

        if state is not None and state.factory is not None and round_status != "open":
            # The round closed under this conversation: say so once and keep nothing of it;
            # a new link or code starts afresh.
            if msg.kind != "start":
                await session.execute(delete(Conversation).where(Conversation.key == key))
                loc = self.engines.catalogs.get(state.lang)
                text = loc.gettext(ROUND_CLOSED)
                return Outcome(replies=[Reply(text, lang=loc.lang, rtl=loc.rtl)])
            state = None

        inp, factory_engine = await self._input(session, msg, state, engine)
        engine = factory_engine or engine or self.engines.default
        if state is None:
            state = engine.new_state(lang=msg.client_language)
            if inp.kind in ("text", "button"):  # a first "hi": greet with the first question
                inp = Input(
                    kind="start",
                    client_language=msg.client_language,
                    language_chosen=msg.language_chosen,
                )
        elif state.survey != engine.survey.key:
            state = engine.new_state(lang=state.lang if state.lang_chosen else msg.client_language)
        sprint = engine.resume(state, inp, msg.received_at)
        return await self._store(session, conn, msg, key, conv, engine, sprint, state, dedup)

    async def _input(
        self,
        session: AsyncSession,
        msg: InboundMessage,
        state: ConversationState | None,
        engine: Engine | None,
    ) -> tuple[Input, Engine | None]:
        """Translate the message into engine input, resolving factory codes in the database."""
        common: dict[str, Any] = {
            "client_language": msg.client_language,
            "language_chosen": msg.language_chosen,
        }
        if msg.kind == "start":
            code = normalise_code(msg.start_code) if msg.start_code else None
            if msg.start_code is None:
                return Input(kind="start", **common), None
            ref, found = await self._lookup(session, code) if code else (None, None)
            return Input(kind="start", factory=ref, unknown_code=ref is None, **common), found
        if msg.kind == "text" and (engine is None or engine.expects_factory_code(state)):
            code = normalise_code(msg.text)
            ref, found = await self._lookup(session, code) if code else (None, None)
            if ref is not None:
                if state is None or state.phase in ("done", "declined"):
                    return Input(kind="start", factory=ref, **common), found
                return Input(kind="text", text=msg.text, factory=ref, **common), found
        return Input(
            kind=msg.kind, text=msg.text, payload=msg.payload, media=msg.media, **common
        ), None

    async def _lookup(
        self, session: AsyncSession, code: str
    ) -> tuple[FactoryRef | None, Engine | None]:
        row = (
            await session.execute(
                select(
                    RoundFactory.code,
                    Factory.name,
                    Factory.region,
                    Round.id,
                    Factory.id,
                    Round.survey_version_id,
                )
                .join(Round, Round.id == RoundFactory.round_id)
                .join(Factory, Factory.id == RoundFactory.factory_id)
                .where(RoundFactory.code == code, Round.status == "open")
            )
        ).first()
        if row is None:
            return None, None
        ref = FactoryRef(
            code=row[0], name=row[1], region=row[2], round_id=row[3], factory_id=row[4]
        )
        return ref, await self._engine_for_version(session, row[5])

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
        conn: AsyncConnection,
        msg: InboundMessage,
        key: str,
        conv: _Stored | None,
        engine: Engine,
        sprint: Sprint,
        previous: ConversationState | None,
        dedup: str,
    ) -> Outcome:
        state = sprint.state
        response_id = conv.response_id if conv else None
        # Questions that may already have a stored answer; for the others a plain INSERT will do.
        stored = set(previous.answers) if previous is not None else set()
        response: Response | None = None
        for event in sprint.events:
            if isinstance(event, ResponseStarted):
                response = await self._start_response(session, msg, key, event)
                response_id, stored = response.id, set()
            elif response_id is None:
                continue
            elif isinstance(event, AnswerGiven | AnswerRetracted):
                if event.question_id in stored:
                    await conn.execute(
                        DELETE_ANSWER, {"response": response_id, "question": event.question_id}
                    )
                if isinstance(event, AnswerGiven):
                    await conn.execute(
                        INSERT_ANSWER,
                        _answer_values(engine, response_id, event, msg.received_at.date()),
                    )
                    stored.add(event.question_id)
                else:
                    stored.discard(event.question_id)
            else:
                response = response or await session.get(Response, response_id)
                if response is not None:
                    response = await self._apply(session, msg, key, response, event)
                response_id = response.id if response is not None else None
                if isinstance(event, AnswersCleared):
                    stored = set()
        values = {
            "state": state.to_json(),
            "response_id": response_id,
            "round_id": state.factory.round_id if state.factory else None,
            "updated_at": _hour(msg.received_at),
        }
        if conv is None:
            await conn.execute(INSERT_CONVERSATION, {"key": key, "channel": msg.channel, **values})
        else:
            await conn.execute(UPDATE_CONVERSATION, {"conversation": key, **values})
        outbox_ids: list[int] = []
        if msg.outbox and sprint.replies:
            rows = _outbox_rows(dedup, msg.channel, enumerate(sprint.replies), msg.received_at)
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

    async def _apply(
        self,
        session: AsyncSession,
        msg: InboundMessage,
        key: str,
        response: Response,
        event: Event,
    ) -> Response | None:
        """Persist one engine event on the worker's response; None once it is deleted."""
        today = msg.received_at.date()
        if isinstance(event, AnswersCleared):
            await session.execute(delete(Answer).where(Answer.response_id == response.id))
            response.status, response.completed_hour, response.completed_on = (
                ResponseStatus.IN_PROGRESS,
                None,
                None,
            )
        elif isinstance(event, LanguageChosen):
            response.language = event.lang
        elif isinstance(event, ResponseCompleted):
            response.status = ResponseStatus.COMPLETE
            response.completed_hour = _hour(msg.received_at)
            response.completed_on = today
            contact = await session.get(ContactAddress, key)
            if contact is not None:
                if event.contact_opt_in:
                    contact.purpose = ContactPurpose.OPT_IN
                else:
                    await session.delete(contact)
        elif isinstance(event, ResponseDeleted):
            await session.execute(delete(Answer).where(Answer.response_id == response.id))
            await session.delete(response)
            contact = await session.get(ContactAddress, key)
            if contact is not None:
                await session.delete(contact)
            return None
        return response

    async def _start_response(
        self, session: AsyncSession, msg: InboundMessage, key: str, event: ResponseStarted
    ) -> Response:
        """Create the round's response for this worker; a second attempt replaces the first."""
        ref = event.factory
        respondent = self.keyring.respondent(ref.round_id, msg.channel, msg.user_id)
        response = (
            await session.execute(
                select(Response).where(
                    Response.round_id == ref.round_id, Response.respondent == respondent
                )
            )
        ).scalar_one_or_none()
        version_id = await session.scalar(
            select(Round.survey_version_id).where(Round.id == ref.round_id)
        )
        today = msg.received_at.date()
        if response is None:
            response = Response(
                round_id=ref.round_id,
                respondent=respondent,
                channel=msg.channel,
                started_on=today,
                survey_version_id=version_id,
                factory_id=ref.factory_id,
                language=event.lang,
                status="in_progress",
            )
            session.add(response)
            await session.flush()
        else:
            await session.execute(delete(Answer).where(Answer.response_id == response.id))
            response.factory_id, response.language, response.status = (
                ref.factory_id,
                event.lang,
                ResponseStatus.IN_PROGRESS,
            )
            response.completed_hour = response.completed_on = None
            response.started_on = today
        # The address is kept (encrypted, apart from answers) only to remind this worker.
        contact = await session.get(ContactAddress, key)
        blob = self.keyring.encrypt_address(msg.channel, msg.user_id)
        if contact is None:
            session.add(
                ContactAddress(
                    key=key,
                    channel=msg.channel,
                    ciphertext=blob,
                    purpose="active",
                    round_id=ref.round_id,
                    factory_id=ref.factory_id,
                    language=event.lang,
                    created_on=today,
                )
            )
        else:
            contact.ciphertext, contact.round_id, contact.factory_id = (
                blob,
                ref.round_id,
                ref.factory_id,
            )
            contact.purpose, contact.language = ContactPurpose.ACTIVE, event.lang
        return response


def _outbox_rows(
    message_key: str, channel: str, replies: Iterable[tuple[int, Reply]], at: datetime
) -> list[dict[str, Any]]:
    """Outbox rows for replies at their positions in the message's answer."""
    return [
        {
            "message_key": message_key,
            "channel": channel,
            "position": i,
            "reply": reply_to_dict(r),
            "created_at": at,
        }
        for i, r in replies
    ]


def _answer_values(
    engine: Engine, response_id: int, event: AnswerGiven, today: date
) -> dict[str, Any]:
    q = engine.survey.question(event.question_id)
    values: dict[str, Any] = {
        "response_id": response_id,
        "question_id": q.id,
        "kind": q.type,
        "answered_on": today,
        "value_text": None,
        "value_number": None,
        "value_json": None,
    }
    if q.type == "number":
        values["value_number"] = float(event.value)
    elif q.type == "multiple":
        values["value_json"] = list(event.value)
    else:
        values["value_text"] = str(event.value)
    return values


@dataclass(frozen=True)
class _Stored:
    """The stored part of a conversation that handling a message needs."""

    state: str
    response_id: int | None
