"""Telegram's side of broadcasts: send one outbox message (bot.service.broadcasts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import Forbidden

from bot.channels.telegram.results import report_language, send_report
from bot.reports.model import Audience
from bot.service.broadcasts import BroadcastButton, Outgoing, RecipientBlocked

if TYPE_CHECKING:
    from bot.channels.telegram.adapter import TelegramChannel

# callback_data of the buttons under first messages (ASCII, ≤ 64 bytes).
RESUME = "t:resume"
START_PREFIX = "t:start:"


def callback_data(button: BroadcastButton) -> str:
    return RESUME if button.action == "resume" else f"{START_PREFIX}{button.code}"


class TelegramSender:
    """BroadcastSender for Telegram: the channel's rate limiter paces (about 30/s overall,
    1/s per chat) and retries 429 after retry_after; a 403 means the worker blocked us."""

    channel = "telegram"

    def __init__(self, telegram: TelegramChannel) -> None:
        self.telegram = telegram
        # Worker replies share the overall limit; a broadcast leaves them a little room.
        self.rate: float | None = telegram.app.settings.telegram_rate_overall * 0.98

    async def send(self, message: Outgoing) -> None:
        chat_id = int(message.address)
        try:
            if message.kind == "report":
                audience = Audience(message.payload["audience"], message.payload["org"])
                await send_report(
                    self.telegram,
                    chat_id,
                    message.round_id,
                    audience,
                    report_language(message.language),
                    actor=f"delivery to {message.recipient}",
                )
                return
            markup = None
            if message.button is not None:
                markup = InlineKeyboardMarkup(
                    [
                        [
                            InlineKeyboardButton(
                                message.button.label, callback_data=callback_data(message.button)
                            )
                        ]
                    ]
                )
            sent = await self.telegram.bot.send_message(chat_id, message.text, reply_markup=markup)
        except Forbidden as exc:
            raise RecipientBlocked from exc
        # A reminder or invitation sits in the worker's chat: "clear" deletes it too (the
        # recipient is the conversation's key).
        await self.telegram.app.service.chat.remember_key(message.recipient, [sent.message_id])
