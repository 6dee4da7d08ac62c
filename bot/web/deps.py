"""What the portal's handlers work with, typed. `create_web_app` builds one `Portal` from the
composition root's `App` (bot/bootstrap.py) and what the entry point hands it, and keeps it on
the Starlette app; a handler reads it back with `portal(request)`. Starlette's `app.state` is
untyped: this module is the one place that looks there."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network

from starlette.requests import HTTPConnection

from bot.bootstrap import App
from bot.i18n import Catalogs
from bot.service.accounts import AccountService

# The Telegram bot's username, for the posters' links (may ask the Bot API: the entry point
# that knows the channels hands it over; the portal never imports a channel).
UsernameLookup = Callable[[], Awaitable[str | None]]


def username_from_settings(app: App) -> UsernameLookup:
    """The username as configured (WAGECHECK_TELEGRAM_BOT_USERNAME), without asking anyone."""

    async def lookup() -> str | None:
        name = app.settings.telegram_bot_username
        return name.lstrip("@") if name else None

    return lookup


@dataclass
class once:
    """A lookup asked once per process; its answer (None included) is kept."""

    lookup: UsernameLookup
    asked: bool = False
    answer: str | None = None

    async def __call__(self) -> str | None:
        if not self.asked:
            self.answer, self.asked = await self.lookup(), True
        return self.answer


@dataclass(frozen=True)
class Portal:
    """The portal's dependencies."""

    app: App
    accounts: AccountService  # acting as "web" where no portal account acts
    catalogs: Catalogs  # the portal's own translations (domain "portal")
    secure_cookies: bool
    bot_username: UsernameLookup  # asked once per process (`once`)
    # Reverse proxies whose X-Forwarded-For is believed (WAGECHECK_WEB_TRUSTED_PROXIES).
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = ()


def portal(conn: HTTPConnection) -> Portal:
    """The portal's dependencies, from a request (or a websocket/ASGI connection)."""
    found = getattr(conn.app.state, "portal", None)
    if not isinstance(found, Portal):
        raise RuntimeError("not a WageCheck portal: build it with bot.web.app.create_web_app")
    return found
