"""The Telegram channel: a thin adapter between the Bot API (python-telegram-bot) and the
survey service, plus the staff commands of CSO and brand members."""

import os

# python-telegram-bot 22 warns that RetryAfter.retry_after becomes a timedelta; opt in now.
os.environ.setdefault("PTB_TIMEDELTA", "1")

from bot.channels.telegram.adapter import CHANNEL, TelegramChannel
from bot.channels.telegram.runner import run_polling, run_webhook, webhook_app

__all__ = ["CHANNEL", "TelegramChannel", "run_polling", "run_webhook", "webhook_app"]
