"""What goes into the survey service and what comes out: one worker's message as a channel
received it, and the outcome to send back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bot.survey.state import ChatClearing, Event, InputKind, Reply


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
    # Channels that send over a network record replies in the outbox (bot/service/replies.py),
    # take them just before sending, and give back what a definite failure kept from going out.
    outbox: bool = False
    # Who can remove the chat's messages from the phone (the engine offers or explains it).
    chat_clearing: ChatClearing = "none"
    # The message's id within the chat, where the bot may later delete it (Telegram).
    chat_message_id: int | None = None


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
