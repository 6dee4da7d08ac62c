"""The serialisable conversation state and the engine's inputs, outputs and events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

Phase = Literal[
    "asking", "confirm_number", "confirm_delete", "confirm_restart", "paused", "done", "declined"
]
# Who can remove the chat's messages from the worker's phone: the bot itself (Telegram's
# deleteMessages), only the worker (WhatsApp: the bot is told how), or nobody (the terminal).
ChatClearing = Literal["bot", "worker", "none"]


class FactoryRef(BaseModel, frozen=True):
    """The factory (within a round) a conversation is about; opaque ids for the service."""

    code: str
    name: str
    region: str
    round_id: int
    factory_id: int


class ConversationState(BaseModel):
    """Everything the engine needs to continue a conversation; stored as JSON between messages."""

    survey: str
    lang: str = "en"
    lang_chosen: bool = False
    phase: Phase = "asking"
    step: str | None = None
    # Where to return after the worker changed language, or cancelled a delete/pause.
    resume_step: str | None = None
    resume_phase: Phase | None = None
    answers: dict[str, Any] = Field(default_factory=dict)
    # Survey questions answered since the response started, in order (for "back").
    history: list[str] = Field(default_factory=list)
    # A number awaiting confirmation, or the options ticked so far on a multiple-choice question.
    pending: Any = None
    factory: FactoryRef | None = None
    factory_confirmed: bool = False
    started: bool = False
    last_seen: datetime | None = None
    invalid_streak: int = 0
    # Answering a finished survey again: the finished answers stay stored (and counted) until
    # the new ones are complete, then the new ones replace them at once (ResponseCompleted).
    redo: bool = False
    # After "stop", reminders only if the worker asked for them (the pause message offers it).
    remind: bool = False
    # The worker was told once how to clear the chat (WhatsApp, where the bot cannot).
    clear_advised: bool = False

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, data: str) -> ConversationState:
        return cls.model_validate_json(data)


InputKind = Literal["text", "button", "start", "media", "unknown_command", "edited"]


@dataclass(frozen=True)
class Input:
    """One thing the worker did: typed text, pressed a button, opened a link, or sent media."""

    kind: InputKind
    text: str = ""
    payload: str = ""
    # For kind="start" (or a typed code the service resolved): the factory, or None if unknown.
    factory: FactoryRef | None = None
    # A code was given but matched no open round (so the engine can say so).
    unknown_code: bool = False
    media: str = ""
    client_language: str | None = None
    # The worker picked the language outside the chat (e.g. `wagecheck chat --lang ur`).
    language_chosen: bool = False
    chat_clearing: ChatClearing = "none"


@dataclass(frozen=True)
class Button:
    """A choice the channel shows as a button; payload is ASCII and at most 64 bytes."""

    payload: str
    label: str


InputHint = Literal["choice", "multi", "number", "text", "none"]


@dataclass(frozen=True)
class Reply:
    """One channel-neutral message to send."""

    text: str
    buttons: tuple[Button, ...] = ()
    expects: InputHint = "none"
    question_id: str | None = None
    lang: str = "en"
    rtl: bool = False
    # The message re-renders the previous question (ticks on a multiple choice): edit, don't add.
    replaces_previous: bool = False


def reply_to_dict(reply: Reply) -> dict[str, Any]:
    """A reply as JSON-ready data (for the outbox)."""
    data = asdict(reply)
    data["buttons"] = [[b.payload, b.label] for b in reply.buttons]
    return data


def reply_from_dict(data: dict[str, Any]) -> Reply:
    """The reply that reply_to_dict stored."""
    fields = dict(data)
    fields["buttons"] = tuple(Button(p, label) for p, label in data.get("buttons", []))
    return Reply(**fields)


# Events: what the host must persist. Each sprint's events are applied in one transaction.
@dataclass(frozen=True)
class ResponseStarted:
    factory: FactoryRef
    lang: str


@dataclass(frozen=True)
class AnswerGiven:
    question_id: str
    value: Any


@dataclass(frozen=True)
class AnswerRetracted:
    question_id: str


@dataclass(frozen=True)
class AnswersCleared:
    """The worker restarted: the stored answers of the current response are dropped."""


@dataclass(frozen=True)
class LanguageChosen:
    lang: str


@dataclass(frozen=True)
class ResponseCompleted:
    contact_opt_in: bool


@dataclass(frozen=True)
class ResponseDeleted:
    """The worker asked to erase everything stored for them in this round."""


@dataclass(frozen=True)
class ChatCleared:
    """The worker asked to remove the chat's messages from their phone (nothing stored changes;
    the channel deletes what it can)."""


Event = (
    ResponseStarted
    | AnswerGiven
    | AnswerRetracted
    | AnswersCleared
    | LanguageChosen
    | ResponseCompleted
    | ResponseDeleted
    | ChatCleared
)


@dataclass
class Sprint:
    """The result of one step: the new state, what to say, and what happened."""

    state: ConversationState
    replies: list[Reply] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # The recorded answer, for display ("✓ Helper"); channels may edit the question with it.
    echo: str | None = None
