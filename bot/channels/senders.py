"""The broadcast senders of the channels that are set up, for the scheduler and for
`wagecheck round remind`: the entry point builds them here and hands them over (the scheduler
knows no channel)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Protocol

from bot.bootstrap import App
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram.broadcast import TelegramSender
from bot.channels.whatsapp.adapter import WhatsAppChannel
from bot.channels.whatsapp.broadcast import WhatsAppSender
from bot.service.broadcasts import BroadcastSender


class Client(Protocol):
    async def stop(self) -> None: ...


async def channel_senders(app: App) -> tuple[list[BroadcastSender], list[Client]]:
    """Senders for the channels configured (Telegram when its token is set, WhatsApp when its
    token and phone number id are), and the clients to stop afterwards."""
    senders: list[BroadcastSender] = []
    clients: list[Client] = []
    if app.settings.telegram_token is not None:
        telegram = TelegramChannel.build(app)
        await telegram.application.initialize()
        senders.append(TelegramSender(telegram))
        clients.append(telegram)
    if app.settings.whatsapp_token is not None and app.settings.whatsapp_phone_number_id:
        whatsapp = WhatsAppChannel.build(app)
        await whatsapp.start()
        senders.append(WhatsAppSender(whatsapp))
        clients.append(whatsapp)
    return senders, clients


@contextlib.asynccontextmanager
async def configured_senders(app: App) -> AsyncIterator[list[BroadcastSender]]:
    """The senders of `channel_senders`, their clients stopped when the block ends."""
    senders, clients = await channel_senders(app)
    try:
        yield senders
    finally:
        for client in clients:
            await client.stop()
