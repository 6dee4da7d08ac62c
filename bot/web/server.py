"""Serving the portal with uvicorn, in its own server, stoppable by an event: alone
(`wagecheck run web`) or beside the bot channels in one process (`wagecheck run telegram
whatsapp web`).

The portal listens on its own address, apart from the webhooks: the pages for people (with
sessions, cookies and a strict CSP) and the endpoints Meta and Telegram call are separate
servers, so a reverse proxy can expose them under different names, and neither app's routes or
middleware touch the other's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from bot.bootstrap import App
from bot.health import health_route
from bot.web.app import create_web_app
from bot.web.deps import UsernameLookup

log = logging.getLogger(__name__)

DEFAULT_WEB_LISTEN = "127.0.0.1:8000"
Task = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def parse_listen(listen: str) -> tuple[str, int]:
    """ "HOST:PORT" (or ":PORT") -> (host, port); ValueError with a plain message otherwise."""
    host, _, port = listen.rpartition(":")
    if not port.isdecimal() or not 0 < int(port) < 65536:
        raise ValueError(f"--listen must be HOST:PORT, not {listen!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class _Server(uvicorn.Server):
    """uvicorn that leaves SIGINT/SIGTERM to us (it would re-raise them after stopping)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _Contained:
    """Starlette answers an error with the 500 page, logs its type, then raises it again for
    the server to log, with a traceback that may quote database parameters. Stop it here."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        except Exception:
            pass  # answered (500) and logged (exception type only) by the portal


async def serve_asgi(asgi: ASGIApp, listen: str, stop: asyncio.Event, name: str) -> None:
    """Run one uvicorn server until `stop` is set (or it fails: then the error is raised).

    uvicorn reads no proxy headers: the client is the socket's peer, and the portal itself
    believes X-Forwarded-For only from the proxies WAGECHECK_WEB_TRUSTED_PROXIES names
    (bot/web/core.py, `client_address`)."""
    host, port = parse_listen(listen)
    server = _Server(
        uvicorn.Config(
            asgi,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,  # request lines carry one-time tokens in their paths
            log_config=None,  # uvicorn's lines go through our formatter (configure_logging)
            lifespan="auto",
            proxy_headers=False,
            server_header=False,
        )
    )
    running = asyncio.create_task(server.serve(), name=name)
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([running, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        await asyncio.gather(running, return_exceptions=True)
    failure = running.exception() if running.done() and not running.cancelled() else None
    if failure is not None:
        raise failure
    if not stop.is_set() and not server.started:
        raise RuntimeError(f"the {name} server could not start on {listen}")


def metrics_app(app: App) -> Starlette:
    """Only /metrics and /healthz: for a process that serves nothing else over HTTP (the
    scheduler, `wagecheck scheduler --metrics-listen`)."""
    return Starlette(routes=[app.metrics_route(), health_route(app.db)])


def secure_cookies_for(app: App) -> bool:
    """Cookies carry the Secure flag when the portal's public URL is HTTPS."""
    return app.settings.web_base_url.lower().startswith("https://")


async def serve_web(
    app: App, listen: str, stop: asyncio.Event, bot_username: UsernameLookup | None = None
) -> None:
    """The portal until `stop` is set."""
    secure = secure_cookies_for(app)
    if not secure:
        log.warning(
            "WAGECHECK_WEB_BASE_URL is not https://: portal cookies are sent without the Secure "
            "flag (fine on this machine; use HTTPS anywhere else)"
        )
    web = create_web_app(app, secure_cookies=secure, bot_username=bot_username)
    log.info("web portal listening on %s", listen)
    try:
        await serve_asgi(_Contained(web), listen, stop, "web-portal")
    finally:
        log.info("web portal stopped")


async def run_together(tasks: Sequence[Task], handle_signals: bool = True) -> None:
    """Run tasks that share one stop event until SIGINT/SIGTERM, or until one of them ends:
    then the others are stopped too, and the first error is raised."""
    stop = asyncio.Event()
    if handle_signals:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
    running = [asyncio.create_task(task(stop)) for task in tasks]
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([*running, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.set()
        results = await asyncio.gather(*running, return_exceptions=True)
        stopping.cancel()
    for result in results:
        if isinstance(result, BaseException):
            raise result
