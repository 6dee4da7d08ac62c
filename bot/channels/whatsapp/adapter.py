"""Turn WhatsApp webhook deliveries into InboundMessages for the survey service, and replies
back into Cloud API messages. Nothing here decides what to ask: the engine does.

Who a worker is: the business-scoped user id (`contacts[].user_id`, sent since 2026, and the
only id of a worker who hides the phone number behind a username), else the phone number
(`wa_id`). Either reaches the service as `user_id`, which only ever becomes a keyed pseudonym
or an encrypted address. Message ids ("wamid.…") encode the phone number, so they are never
logged either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from bot.bootstrap import App
from bot.channels.whatsapp import render
from bot.channels.whatsapp.graph import GraphClient, GraphError, Recipient
from bot.service import InboundMessage, Outcome
from bot.survey.state import InputKind, Reply

log = logging.getLogger(__name__)

CHANNEL = "whatsapp"
# Payloads of our own buttons that are not survey answers: "go on where I stopped" (reminders)
# and "start the survey of this poster code" (invitations). Template quick replies carry them
# too, so the same press works inside and outside the 24-hour window.
RESUME = "w:resume"
START_PREFIX = "w:start:"
# Nothing to answer: a changed number or identity, a message the worker deleted.
IGNORED_TYPES = frozenset({"system", "revoke"})
WEBHOOK_OBJECT = "whatsapp_business_account"
# A message dated in the future by more than this is dated now instead (clock skew).
MAX_CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class Incoming:
    """A worker's message as the service takes it, and where the replies go."""

    message: InboundMessage
    recipient: Recipient


def incoming(
    message: dict[str, Any], contacts: list[dict[str, Any]], now: datetime
) -> Incoming | None:
    """The InboundMessage for one webhook message, or None when there is nothing to answer."""
    kind_name = str(message.get("type") or "unknown")
    if kind_name in IGNORED_TYPES or "group_id" in message or not message.get("id"):
        return None
    if kind_name == "reaction" and not _object(message.get("reaction")).get("emoji"):
        return None  # a reaction taken back
    contact = _contact_of(message, contacts)
    user_id = contact.get("user_id") or message.get("from_user_id")
    phone = contact.get("wa_id") or message.get("from")
    if not (user_id or phone) or not _encodable(user_id, phone, message["id"]):
        return None  # no sender, or ids no keyed hash can be made of (lone surrogates)
    fields: dict[str, Any] = {}
    kind: InputKind
    if kind_name == "text":
        kind, fields["text"] = "text", str(_object(message.get("text")).get("body") or "")
    elif kind_name == "interactive":
        interactive = _object(message.get("interactive"))
        reply = interactive.get(str(interactive.get("type")))
        if interactive.get("type") in ("button_reply", "list_reply") and isinstance(reply, dict):
            kind, fields = _pressed(str(reply.get("id") or ""))
        else:  # a Flow or call-permission answer: nothing we asked for
            kind, fields["media"] = "media", f"interactive:{interactive.get('type')}"
    elif kind_name == "button":  # a template's quick-reply button
        kind, fields = _pressed(str(_object(message.get("button")).get("payload") or RESUME))
    elif kind_name == "request_welcome":  # the worker opened the chat for the first time
        kind = "start"
    elif kind_name == "edit":
        kind = "edited"
    else:  # voice, audio, image, sticker, video, document, location, contacts, reaction, ...
        voice = kind_name == "audio" and _object(message.get("audio")).get("voice")
        kind, fields["media"] = "media", "voice" if voice else kind_name
    return Incoming(
        InboundMessage(
            channel=CHANNEL,
            user_id=str(user_id or phone),
            message_id=str(message["id"]),
            kind=kind,
            received_at=_sent_at(message.get("timestamp"), now),
            client_language=None,  # WhatsApp does not tell the phone's language
            outbox=True,
            chat_clearing="worker",  # no API deletes a chat's messages: the worker is told how
            **fields,
        ),
        Recipient(phone=str(phone) if phone else None, user_id=str(user_id) if user_id else None),
    )


def _object(value: Any) -> dict[str, Any]:
    """A JSON object of a delivery, or {} when the field is missing or not an object."""
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of a list field of a delivery (anything else in it is skipped)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _encodable(*values: Any) -> bool:
    try:
        for value in values:
            str(value).encode()
    except UnicodeEncodeError:
        return False
    return True


def _pressed(payload: str) -> tuple[InputKind, dict[str, Any]]:
    if payload == RESUME:
        return "start", {}
    if payload.startswith(START_PREFIX):
        return "start", {"start_code": payload[len(START_PREFIX) :]}
    return "button", {"payload": payload}


def _contact_of(message: dict[str, Any], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    """The contact entry of the message's sender (one per sender in a delivery)."""
    for contact in contacts:
        if (message.get("from") and contact.get("wa_id") == message.get("from")) or (
            message.get("from_user_id") and contact.get("user_id") == message.get("from_user_id")
        ):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _sent_at(timestamp: Any, now: datetime) -> datetime:
    """When the worker sent it (the 24-hour window counts from then), never in the future."""
    try:
        sent = datetime.fromtimestamp(int(timestamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return now
    return now if (sent - now).total_seconds() > MAX_CLOCK_SKEW_SECONDS else min(sent, now)


class WhatsAppChannel:
    """The adapter. `process(payload)` handles one webhook delivery completely, or raises."""

    def __init__(self, app: App, graph: GraphClient, phone_number_id: str) -> None:
        self.app = app
        self.graph = graph
        self.phone_number_id = phone_number_id

    @classmethod
    def build(cls, app: App, **graph_options: Any) -> WhatsAppChannel:
        """The channel for the configured number; `graph_options` go to GraphClient."""
        s = app.settings
        missing = [
            f"WAGECHECK_WHATSAPP_{name.upper()}"
            for name in ("token", "phone_number_id", "app_secret", "verify_token")
            if not getattr(s, f"whatsapp_{name}")
        ]
        if missing:
            raise ValueError(f"set {', '.join(missing)} to run WhatsApp (docs/whatsapp.md)")
        assert s.whatsapp_token is not None and s.whatsapp_phone_number_id is not None
        options: dict[str, Any] = {
            "per_second": s.whatsapp_rate,
            "per_recipient_per_second": s.whatsapp_rate_per_recipient,
            "max_retries": s.whatsapp_max_retries,
        } | graph_options
        graph = GraphClient(
            s.whatsapp_api_url,
            s.whatsapp_phone_number_id,
            s.whatsapp_token.get_secret_value(),
            **options,
        )
        return cls(app, graph, s.whatsapp_phone_number_id)

    async def start(self) -> None:
        log.info("whatsapp channel ready")

    async def stop(self) -> None:
        await self.graph.aclose()

    # ------------------------------------------------------------------ dispatch
    async def process(self, payload: dict[str, Any]) -> None:
        """Handle every message of one webhook delivery; raises if one could not be handled
        (Meta then delivers it again, and the ones already handled change nothing)."""
        if payload.get("object") != WEBHOOK_OBJECT:
            return
        # A part that is not shaped as documented is skipped, not raised: Meta would deliver
        # it again for days and it would never succeed.
        for entry in _objects(payload.get("entry")):
            for change in _objects(entry.get("changes")):
                value = _object(change.get("value"))
                if change.get("field") != "messages":
                    continue  # account, template and quality updates need nothing from us
                if _object(value.get("metadata")).get("phone_number_id") != self.phone_number_id:
                    log.info("webhook for another business number ignored")
                    continue
                contacts = _objects(value.get("contacts"))
                for message in _objects(value.get("messages")):
                    await self._on_message(message, contacts)
                for status in _objects(value.get("statuses")):
                    _on_status(status)
                for error in _objects(value.get("errors")):
                    log.warning("WhatsApp reported error %s", _code(error))

    async def _on_message(self, message: dict[str, Any], contacts: list[dict[str, Any]]) -> None:
        found = incoming(message, contacts, self.app.clock())
        if found is None:
            log.info("webhook message of type %s needs no answer", message.get("type"))
            return
        # Meta may deliver a message again while it is still being handled: one at a time.
        async with self.app.service.in_flight.exclusive(CHANNEL, found.message.message_id):
            outcome = await self.app.service.handle(found.message)
            await self.deliver(found.recipient, outcome, typed=found.message.kind == "text")

    async def deliver(self, to: Recipient, outcome: Outcome, *, typed: bool = False) -> None:
        """Send the replies in order, taken from the outbox first: a crash or a lost answer
        never sends one twice (bot/service/delivery.py).

        A transient failure (a rate limit that outlasted the retries, a Graph API fault)
        gives the unsent replies back and raises, so the webhook fails and Meta delivers the
        message again: the outbox then holds what was not sent. A reply WhatsApp refuses for
        good is logged and dropped with the rest (a question after a missing one makes no
        sense; the worker's next message gets the question again).
        """
        replies = list(outcome.replies)
        if typed and outcome.echo and not outcome.duplicate and replies:
            # What a typed "۲" was taken as; a pressed button already shows in the chat.
            replies[0] = replace(replies[0], text=f"✓ {outcome.echo}\n\n{replies[0].text}")
        await self.app.service.outbox.send_replies(
            outcome, replies, lambda reply: self._send(to, reply)
        )

    async def _send(self, to: Recipient, reply: Reply) -> bool:
        loc = self.app.catalogs.get(reply.lang)
        for message in render.messages(reply, loc):
            try:
                await self.graph.send(to, message)
            except GraphError as exc:
                if exc.transient:
                    raise
                if exc.invalid_parameter and message["type"] == "interactive":
                    # Buttons the API would not take: the options as numbered text instead.
                    log.warning("WhatsApp refused buttons (error %s); sent as text", exc.code)
                    text = render.text_with_options(_body(message), list(reply.buttons))
                    return await self._send(to, Reply(text, lang=reply.lang, rtl=reply.rtl))
                log.warning("WhatsApp refused a reply (error %s); dropped", exc.code)
                return False
        return True


def _body(message: dict[str, Any]) -> str:
    return str(message["interactive"]["body"]["text"])


def _on_status(status: dict[str, Any]) -> None:
    """sent / delivered / read / failed (and newer ones): only a failure needs a log line."""
    if status.get("status") == "failed":
        codes = ",".join(_code(e) for e in status.get("errors") or []) or "?"
        log.warning("WhatsApp could not deliver a message (error %s)", codes)
    else:
        log.debug("message status %s", status.get("status"))


def _code(error: Any) -> str:
    return str(error.get("code")) if isinstance(error, dict) else "?"


__all__ = [
    "CHANNEL",
    "RESUME",
    "START_PREFIX",
    "Incoming",
    "WhatsAppChannel",
    "incoming",
]
