"""The scheduler sends reminders and invitations on every configured channel."""

from __future__ import annotations

from pydantic import SecretStr

from bot.bootstrap import App
from bot.channels.senders import channel_senders
from tests.telegram_standin import TelegramStandin


async def test_senders_follow_the_configured_channels(app: App) -> None:
    assert await channel_senders(app) == ([], [])
    async with TelegramStandin("1:A") as api:
        app.settings = app.settings.model_copy(
            update={
                "telegram_token": SecretStr("1:A"),
                "telegram_api_url": api.url,
                "whatsapp_token": SecretStr("t"),
                "whatsapp_phone_number_id": "123",
                "whatsapp_app_secret": SecretStr("s"),
                "whatsapp_verify_token": SecretStr("v"),
            }
        )
        senders, clients = await channel_senders(app)
        try:
            assert sorted(s.channel for s in senders) == ["telegram", "whatsapp"]
        finally:
            for client in clients:
                await client.stop()  # type: ignore[attr-defined]
