"""`GET /healthz` for every HTTP server of a process (the webhook servers and the portal):
answers while the database does."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.storage import Database


def health_route(db: Database) -> Route:
    """200 `{"ok": true}` when a trivial query succeeds, else 503."""

    async def healthz(request: Request) -> Response:
        if not await db.ping():
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

    return Route("/healthz", healthz, methods=["GET"])
