"""`GET /healthz` for the webhook servers: answers while the database does."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.storage import Database


def health_route(db: Database) -> Route:
    """200 `{"ok": true}` when a trivial query succeeds, else 503."""

    async def healthz(request: Request) -> Response:
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return JSONResponse({"ok": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ok": True, "database": "ok"})

    return Route("/healthz", healthz, methods=["GET"])
