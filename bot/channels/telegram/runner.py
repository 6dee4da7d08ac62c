"""Running the Telegram bot: long polling, or a webhook behind our own ASGI endpoint.

Both are at-least-once. python-telegram-bot's Updater confirms updates when it fetches them and
its webhook server answers 200 before handlers run; an update in flight when the process dies
would be lost. Here an update is confirmed (next getUpdates offset, or the HTTP 200) only after
`TelegramChannel.process` returned, and a redelivered update_id changes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import signal
from collections import Counter, OrderedDict
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import Update
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.channels.telegram.adapter import ALLOWED_UPDATES, TelegramChannel
from bot.health import health_route
from bot.service.faults import database_unavailable

log = logging.getLogger(__name__)

POLL_TIMEOUT = 25  # seconds a getUpdates call waits for news
RETRY_DELAYS = (1, 2, 5, 10, 30)  # after a failed update or a network error
# Polling cannot confirm later updates while one is being retried, so an update that fails for
# a reason time does not cure (Telegram refused the request itself, a bug with this one update)
# is given up after this many attempts instead of holding up every chat for ever.
MAX_ATTEMPTS_WHEN_REFUSED = 3
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def passes(exc: Exception) -> bool:
    """A fault that passes and is retried as long as it lasts: the network, the Bot API's own
    trouble (timeouts, 5xx, 429), the database (a restart, dropped connections, a lock)."""
    if isinstance(exc, BadRequest):  # a NetworkError, but the request itself was refused
        return False
    return database_unavailable(exc) or isinstance(
        exc, NetworkError | RetryAfter | InvalidToken | OSError
    )


async def process_batch(
    channel: TelegramChannel, updates: list[Update], attempts: Counter[int] | None = None
) -> list[Update]:
    """Handle updates: one chat's in order, different chats concurrently. Returns the failed,
    except those given up (`attempts` counts the failures per update_id across calls)."""
    attempts = Counter() if attempts is None else attempts
    by_chat: OrderedDict[int, list[Update]] = OrderedDict()
    for update in updates:
        chat = update.effective_chat
        by_chat.setdefault(chat.id if chat else 0, []).append(update)

    failed: list[Update] = []

    async def one_chat(chat_updates: list[Update]) -> None:
        for i, update in enumerate(chat_updates):
            try:
                await channel.process(update)
            except Exception as exc:
                # The exception's text may quote database parameters: its type is enough.
                name = type(exc).__name__
                log.debug("update failure", exc_info=True)
                if not passes(exc):
                    attempts[update.update_id] += 1
                    if attempts[update.update_id] >= MAX_ATTEMPTS_WHEN_REFUSED:
                        log.error(
                            "update failed (%s) %d times; given up", name, MAX_ATTEMPTS_WHEN_REFUSED
                        )
                        continue
                log.error("update failed (%s); it will be tried again", name)
                failed.extend(chat_updates[i:])  # keep this chat's order
                return

    await asyncio.gather(*(one_chat(u) for u in by_chat.values()))
    return sorted(failed, key=lambda u: u.update_id)


async def poll(
    channel: TelegramChannel, stop: asyncio.Event, poll_seconds: int = POLL_TIMEOUT
) -> None:
    """Long polling that confirms a batch only after every update in it was handled."""
    bot = channel.bot
    await bot.delete_webhook(drop_pending_updates=False)
    offset: int | None = None
    attempt = 0
    while not stop.is_set():
        fetch = asyncio.ensure_future(
            bot.get_updates(
                offset=offset,
                timeout=poll_seconds,
                allowed_updates=ALLOWED_UPDATES,
                read_timeout=poll_seconds + 10,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if fetch not in done:
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError, TelegramError):
                await fetch
            break
        stopping.cancel()
        try:
            updates = list(fetch.result())
        except RetryAfter as exc:
            wait = exc.retry_after
            await _sleep(stop, wait.total_seconds() if isinstance(wait, timedelta) else wait)
            continue
        except (NetworkError, TelegramError) as exc:
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            attempt += 1
            log.warning("getUpdates failed (%s); again in %s s", type(exc).__name__, delay)
            await _sleep(stop, delay)
            continue
        attempt = 0
        pending = updates
        retry = 0
        attempts: Counter[int] = Counter()
        while pending and not stop.is_set():
            pending = await process_batch(channel, pending, attempts)
            if pending:
                await _sleep(stop, RETRY_DELAYS[min(retry, len(RETRY_DELAYS) - 1)])
                retry += 1
        if pending:
            break  # stopping: leave them unconfirmed, Telegram keeps them for the next start
        if updates:
            offset = updates[-1].update_id + 1
    if offset is not None:
        # Confirm what was handled, so a restart does not fetch it again (it would be a no-op).
        with contextlib.suppress(TelegramError):
            await bot.get_updates(offset=offset, timeout=0, allowed_updates=ALLOWED_UPDATES)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def _on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)


async def run_polling(
    channel: TelegramChannel, stop: asyncio.Event | None = None, handle_signals: bool = True
) -> None:
    """`wagecheck run telegram`: poll until SIGINT/SIGTERM (or `stop` is set)."""
    stop = stop or asyncio.Event()
    if handle_signals:
        _on_signals(stop)
    await channel.start()
    log.info("telegram bot running (long polling)")
    try:
        await poll(channel, stop)
    finally:
        await channel.stop()
        log.info("telegram bot stopped")


def webhook_app(
    channel: TelegramChannel, path: str, secret: str, public_url: str | None = None
) -> Starlette:
    """The ASGI app: POST `path` (updates) and GET /healthz."""

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return JSONResponse({"ok": False}, status_code=403)
        try:
            data = json.loads(await request.body())
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an update")
            update = Update.de_json(data, channel.bot)
        except (ValueError, TypeError, KeyError, AttributeError):
            # Malformed (a 4xx: retrying it cannot help), never a 500 that Telegram repeats.
            return JSONResponse({"ok": False, "error": "not an update"}, status_code=400)
        if update is None:
            return JSONResponse({"ok": False, "error": "not an update"}, status_code=400)
        try:
            # A retry of this update arriving while it is still being handled waits for it.
            async with channel.app.service.in_flight.exclusive("telegram", str(update.update_id)):
                await channel.process(update)
        except Exception as exc:
            log.error("update failed (%s); Telegram will deliver it again", type(exc).__name__)
            log.debug("update failure", exc_info=True)
            return JSONResponse({"ok": False}, status_code=500)
        return JSONResponse({"ok": True})

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await channel.start()
        if public_url:
            await channel.bot.set_webhook(
                public_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
            )
        yield
        await channel.stop()

    return Starlette(
        routes=[
            Route(path, receive, methods=["POST"]),
            health_route(channel.app.db),
            channel.app.metrics_route(),
        ],
        lifespan=lifespan,
    )


async def run_webhook(channel: TelegramChannel, listen: str) -> None:
    """`wagecheck run telegram --webhook`: serve until SIGINT/SIGTERM (uvicorn handles them)."""
    s = channel.app.settings
    if not s.telegram_webhook_url or s.telegram_webhook_secret is None:
        raise ValueError(
            "webhook mode needs WAGECHECK_TELEGRAM_WEBHOOK_URL and "
            "WAGECHECK_TELEGRAM_WEBHOOK_SECRET"
        )
    path = urlsplit(s.telegram_webhook_url).path or "/"
    host, _, port = listen.rpartition(":")
    app = webhook_app(
        channel, path, s.telegram_webhook_secret.get_secret_value(), s.telegram_webhook_url
    )
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host=host or "127.0.0.1",
            port=int(port),
            log_level="warning",
            access_log=False,  # the webhook's path is a secret of a kind
            log_config=None,  # uvicorn's lines go through our formatter (configure_logging)
            lifespan="on",
        )
    )
    await server.serve()
