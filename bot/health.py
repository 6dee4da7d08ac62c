"""`GET /healthz` and `GET /metrics` of every HTTP server of a process (the webhook servers,
the portal, the scheduler's metrics port): the first answers while the database does, the
second gives Prometheus this process's counters and the database's figures
(docs/operations.md)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable

from pydantic import SecretStr
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.storage import Database

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def health_route(db: Database) -> Route:
    """200 `{"ok": true}` when a trivial query succeeds, else 503."""

    async def healthz(request: Request) -> Response:
        if not await db.ping():
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

    return Route("/healthz", healthz, methods=["GET"])


def metrics_route(token: SecretStr | None, render: Callable[[], Awaitable[bytes]]) -> Route:
    """`/metrics` for a caller with `Authorization: Bearer <token>` (compared in constant
    time); 401 otherwise. Without a token configured the route does not exist (404): the
    figures are never open to whoever finds the port."""

    expected = f"Bearer {token.get_secret_value()}".encode() if token else None

    async def metrics(request: Request) -> Response:
        if expected is None:  # as every unknown address of the app (the portal: its page)
            raise HTTPException(404)
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):  # a scraper, not a person: no log-in page
            return PlainTextResponse(
                "Unauthorized", status_code=401, headers={"www-authenticate": "Bearer"}
            )
        return Response(
            await render(),
            media_type=METRICS_CONTENT_TYPE,
            headers={"cache-control": "no-store"},
        )

    return Route("/metrics", metrics, methods=["GET"])
