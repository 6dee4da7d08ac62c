"""The WhatsApp webhook: an ASGI app Meta calls, and the server that runs it.

GET  <path>  Meta's verification handshake: echo hub.challenge when hub.verify_token matches.
POST <path>  a delivery: checked against X-Hub-Signature-256 (HMAC-SHA256 of the raw body with
             the app secret) before anything else, handled completely, then answered 200. A
             failure answers 500 and Meta delivers it again; a delivery handled before changes
             nothing (the service remembers message ids).
GET  /healthz  200 while the database answers.

`serve` runs the app with uvicorn and, in the same process and on the same port, other
channels: the Telegram webhook's routes, or the Telegram long-polling loop as a task.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import signal
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from bot.channels.whatsapp.adapter import WhatsAppChannel
from bot.health import health_route

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
SIGNATURE_PREFIX = "sha256="
# Meta's deliveries are a few kilobytes; refuse anything far larger before reading it.
MAX_BODY_BYTES = 1 << 20

Task = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def signature_ok(body: bytes, header: str, app_secret: str) -> bool:
    """Whether `header` is "sha256=" + the hex HMAC-SHA256 of `body` with the app secret."""
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len(SIGNATURE_PREFIX) :] if header.startswith(SIGNATURE_PREFIX) else ""
    return hmac.compare_digest(given.lower().encode(), expected.encode())


def routes(channel: WhatsAppChannel, path: str) -> list[BaseRoute]:
    """The webhook (GET verification, POST deliveries) and /healthz."""
    s = channel.app.settings
    assert s.whatsapp_app_secret is not None and s.whatsapp_verify_token is not None
    app_secret = s.whatsapp_app_secret.get_secret_value()
    verify_token = s.whatsapp_verify_token.get_secret_value()

    async def verify(request: Request) -> Response:
        q = request.query_params
        token = q.get("hub.verify_token", "")
        if q.get("hub.mode") == "subscribe" and hmac.compare_digest(
            token.encode(), verify_token.encode()
        ):
            log.info("webhook verified by Meta")
            return PlainTextResponse(q.get("hub.challenge", ""))
        return PlainTextResponse("forbidden", status_code=403)

    async def receive(request: Request) -> Response:
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return JSONResponse({"ok": False}, status_code=413)
        body = await request.body()
        if not signature_ok(body, request.headers.get(SIGNATURE_HEADER, ""), app_secret):
            log.warning("webhook delivery with a wrong or missing signature refused")
            return JSONResponse({"ok": False}, status_code=403)
        try:
            payload = json.loads(body)
        except ValueError:
            return JSONResponse({"ok": False, "error": "not JSON"}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"ok": False, "error": "not a delivery"}, status_code=400)
        try:
            await channel.process(payload)
        except Exception as exc:
            # The exception's text may quote database parameters: its type is enough here.
            log.error(
                "webhook delivery failed (%s); Meta will deliver it again", type(exc).__name__
            )
            log.debug("webhook failure", exc_info=True)
            return JSONResponse({"ok": False}, status_code=500)
        return JSONResponse({"ok": True})

    return [
        Route(path, verify, methods=["GET"]),
        Route(path, receive, methods=["POST"]),
        health_route(channel.app.db),
        channel.app.metrics_route(),
    ]


def webhook_app(
    channel: WhatsAppChannel, path: str | None = None, also: Sequence[Starlette] = ()
) -> Starlette:
    """The ASGI app; `also` are other channels' apps served under their own paths (their
    lifespans run inside this one's)."""
    path = path or channel.app.settings.whatsapp_webhook_path

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await channel.start()
            stack.push_async_callback(channel.stop)
            for other in also:
                await stack.enter_async_context(other.router.lifespan_context(other))
            yield

    mounted: list[BaseRoute] = [Mount("", app=other) for other in also]
    return Starlette(routes=[*routes(channel, path), *mounted], lifespan=lifespan)


class _Server(uvicorn.Server):
    """uvicorn that leaves SIGINT/SIGTERM to `serve`, which also stops the other tasks."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield


async def serve(
    channel: WhatsAppChannel,
    listen: str,
    *,
    also: Sequence[Starlette] = (),
    tasks: Sequence[Task] = (),
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
) -> None:
    """`wagecheck run whatsapp [telegram]`: serve until SIGINT/SIGTERM (or `stop` is set).

    `tasks` run alongside (e.g. Telegram long polling) and get the stop event; if one ends
    with an error, everything stops and the error is raised.
    """
    stop = stop or asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
    host, _, port = listen.rpartition(":")
    server = _Server(
        uvicorn.Config(
            webhook_app(channel, also=also),
            host=host or "127.0.0.1",
            port=int(port),
            log_level="warning",
            access_log=False,  # request lines would show nothing useful, and no ids either
            log_config=None,  # uvicorn's lines go through our formatter (configure_logging)
            lifespan="on",
        )
    )
    running = [asyncio.create_task(server.serve(), name="whatsapp-webhook")]
    running += [asyncio.create_task(task(stop)) for task in tasks]
    stopping = asyncio.create_task(stop.wait())
    log.info("whatsapp webhook listening on %s", listen)
    try:
        await asyncio.wait([*running, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        server.should_exit = True
        done = await asyncio.gather(*running, return_exceptions=True)
        stopping.cancel()
        log.info("whatsapp webhook stopped")
    for result in done:
        if isinstance(result, BaseException):
            raise result
