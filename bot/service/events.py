"""The event applier: what the survey engine's events (bot/survey/state.py) change in the
database — the worker's response, its answers (typed, dated to the day) and the contact
address kept apart from them, encrypted, only to remind this worker (docs/privacy.md)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, bindparam, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from bot.enums import ContactPurpose, ResponseStatus
from bot.privacy import Keyring
from bot.service.conversations import hour
from bot.service.messages import InboundMessage
from bot.storage.models import Answer, ContactAddress, Response, Round
from bot.survey.engine import Engine
from bot.survey.state import (
    AnswerGiven,
    AnswerRetracted,
    AnswersCleared,
    Event,
    LanguageChosen,
    ResponseCompleted,
    ResponseDeleted,
    ResponseStarted,
)

_answers = cast(Table, Answer.__table__)  # declarative classes type it as any FromClause
INSERT_ANSWER = insert(_answers)
DELETE_ANSWER = delete(_answers).where(
    _answers.c.response_id == bindparam("response"), _answers.c.question_id == bindparam("question")
)


def answer_values(
    engine: Engine, response_id: int, event: AnswerGiven, today: date
) -> dict[str, Any]:
    """The answers row of one given answer, typed by its question."""
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


class EventApplier:
    def __init__(self, keyring: Keyring, zone: ZoneInfo) -> None:
        self.keyring = keyring
        self.zone = zone

    def local_day(self, msg: InboundMessage) -> date:
        """The day a message came, in the factories' time zone: a worker who answers at 2 a.m.
        in Karachi (21:00 UTC the evening before) answered that morning, and the CSO's chart
        of responses per day counts it there."""
        return msg.received_at.astimezone(self.zone).date()

    async def apply(
        self,
        session: AsyncSession,
        conn: AsyncConnection,
        msg: InboundMessage,
        key: str,
        engine: Engine,
        events: Sequence[Event],
        response_id: int | None,
        stored: set[str],
    ) -> int | None:
        """Persist `events` in order on the worker's response (`response_id`, whose answered
        questions are `stored`); returns the response's id afterwards (None: none, or
        deleted). Events other than ResponseStarted need a response."""
        response: Response | None = None
        for event in events:
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
                        answer_values(engine, response_id, event, self.local_day(msg)),
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
        return response_id

    async def _apply(
        self,
        session: AsyncSession,
        msg: InboundMessage,
        key: str,
        response: Response,
        event: Event,
    ) -> Response | None:
        """Persist one engine event on the worker's response; None once it is deleted."""
        today = self.local_day(msg)
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
            response.completed_hour = hour(msg.received_at)
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
        today = self.local_day(msg)
        if response is None:
            response = Response(
                round_id=ref.round_id,
                respondent=respondent,
                channel=msg.channel,
                started_on=today,
                survey_version_id=version_id,
                factory_id=ref.factory_id,
                language=event.lang,
                status=ResponseStatus.IN_PROGRESS,
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
                    purpose=ContactPurpose.ACTIVE,
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
