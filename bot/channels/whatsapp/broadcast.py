"""WhatsApp's side of broadcasts (bot.service.broadcasts): reminders and invitations from the
durable outbox, under the 24-hour rule.

The words are WhatsApp's own (bot/channels/whatsapp/texts.py), not the outbox's rendering:
outside the window only the template Meta approved can go out, and inside it the worker should
read the same sentence with the same button.
"""

from __future__ import annotations

import logging

from bot.channels.whatsapp.adapter import CHANNEL, WhatsAppChannel
from bot.channels.whatsapp.graph import GraphError, Recipient
from bot.channels.whatsapp.outreach import last_message_hour, send_invitation, send_reminder
from bot.service.broadcasts import Outgoing, RecipientBlocked

log = logging.getLogger(__name__)

# "Message undeliverable": no WhatsApp account, or the worker blocked the number.
UNREACHABLE_CODES = frozenset({131026})


class WhatsAppSender:
    """BroadcastSender for WhatsApp. The channel's GraphClient paces sending (throughput and
    pair rate) and waits out rate-limit answers itself, so the broadcaster need not."""

    channel = CHANNEL
    rate: float | None = None

    def __init__(self, whatsapp: WhatsAppChannel) -> None:
        self.whatsapp = whatsapp

    async def send(self, message: Outgoing) -> None:
        if message.kind not in ("reminder", "invitation"):
            # Staff join through Telegram; a WhatsApp member would be a mistake upstream.
            log.warning("no %s messages on WhatsApp; skipped", message.kind)
            return
        to = Recipient.from_address(message.address)
        last = await last_message_hour(self.whatsapp, message.recipient)
        try:
            sender = str(message.payload.get("sender") or "")
            if message.kind == "reminder":
                await send_reminder(self.whatsapp, to, message.language, last, sender)
            else:
                code = message.button.code if message.button else None
                code = code or str(message.payload["code"])
                await send_invitation(self.whatsapp, to, message.language, code, last, sender)
        except GraphError as exc:
            if exc.code in UNREACHABLE_CODES:
                raise RecipientBlocked(str(exc)) from None
            raise


__all__ = ["WhatsAppSender"]
