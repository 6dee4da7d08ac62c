"""The portal as one ASGI app: `create_web_app(app)`.

Layers, outside in: security headers on every response; the session (user and language in
`request.state`); CSRF on every form; then the routes of bot/web/core.py, bot/web/cso.py,
bot/web/brand.py and bot/web/api.py, /static and /healthz. A 401 on a page becomes a redirect
to /login?next=<path>; other errors get a page in the user's language that says what is wrong
(a query parameter out of its bounds names it: bot/web/params.py), or under /api/ the API's
JSON error, {"error": code, "message": text}. tests/test_portal_fuzz.py holds every route to
that.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

import fontpkg_noto_sans_arabic
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.bootstrap import App
from bot.health import health_route
from bot.web import core
from bot.web.auth import SessionMiddleware
from bot.web.csrf import CSRFMiddleware
from bot.web.deps import Portal, UsernameLookup, once, username_from_settings
from bot.web.i18n import N_, load_catalogs, translate
from bot.web.params import QueryError
from bot.web.render import STATIC_DIR, render

log = logging.getLogger(__name__)

PAGE_MODULES = ("bot.web.cso", "bot.web.brand", "bot.web.api")

# default-src 'self': no third-party script, style, font or image, and no inline script. SVG
# charts use presentation attributes; QR codes may come as data: images.
CSP = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

MESSAGES = {
    403: N_("You do not have access to this page."),
    404: N_("This page does not exist, or it is not yours to see."),
    405: N_("This page does not do that."),
    413: N_("That is too large."),
    429: N_("Too many requests. Please wait a moment and try again."),
    500: N_("Something went wrong on our side. Please try again later."),
}
CSRF_REFUSED = N_("This form had expired. Go back, reload the page and send it again.")
# The JSON API's errors: (code, message) by status; the API speaks English.
API_ERRORS = {
    400: ("bad_request", "A parameter has a value it cannot have."),
    401: ("unauthorized", "Send an API token: Authorization: Bearer <token>."),
    403: ("forbidden", "This token may not see this."),
    404: ("not_found", "No such endpoint; see /api/docs."),
    405: ("method_not_allowed", "The API is read-only: only GET is answered here."),
    413: ("too_large", "The request is too large."),
    429: ("rate_limited", "Too many requests; wait a moment and try again."),
    500: ("server_error", "Something went wrong on our side. Please try again later."),
}


class SecurityHeaders:
    """CSP, no framing, no referrer, no sniffing; nothing but static files may be cached (pages
    show results and personal data)."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                extra = {
                    b"content-security-policy": CSP.encode(),
                    b"x-frame-options": b"DENY",
                    b"referrer-policy": b"no-referrer",
                    b"x-content-type-options": b"nosniff",
                    b"cross-origin-opener-policy": b"same-origin",
                    b"permissions-policy": b"camera=(), microphone=(), geolocation=()",
                }
                if self.hsts:
                    extra[b"strict-transport-security"] = b"max-age=31536000"
                if not static:
                    extra[b"cache-control"] = b"no-store"
                    headers = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
                    names.discard(b"cache-control")
                headers += [(n, v) for n, v in extra.items() if n not in names]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def api_error(
    status: int, message: str | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The API's JSON error (bot/web/api.py answers its own errors the same way)."""
    code, default = API_ERRORS.get(status, ("error", "The request could not be answered."))
    return JSONResponse(
        {"error": code, "message": message or default},
        status_code=status,
        headers={"Cache-Control": "no-store", **(headers or {})},
    )


async def http_error(request: Request, exc: Exception) -> Response:
    """401 → the log-in page (pages) or a JSON 401 (API); other codes → a page or JSON, both
    with a message that says what is wrong."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 401 and not _is_api(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)
    if _is_api(request):
        specific = exc.detail if isinstance(exc, QueryError) else None
        return api_error(status, specific, exc.headers)
    if isinstance(exc, QueryError):
        message = translate(request, exc.msgid, **exc.params)
    elif status in MESSAGES:
        message = translate(request, MESSAGES[status])
    else:  # e.g. 400 with what Starlette found wrong in a form ("Part exceeded maximum size")
        message = exc.detail
    return render(request, "error.html", {"status": status, "message": message}, status_code=status)


async def server_error(request: Request, exc: Exception) -> Response:
    # The exception's text may quote database parameters: its type is enough here.
    log.error("portal request failed (%s)", type(exc).__name__)
    log.debug("portal failure", exc_info=True)
    if _is_api(request):
        return api_error(500)
    try:
        return render(
            request,
            "error.html",
            {"status": 500, "message": translate(request, MESSAGES[500])},
            status_code=500,
        )
    except Exception:
        return Response("Internal Server Error", status_code=500, media_type="text/plain")


async def csrf_refused(request: Request, status: int) -> Response:
    message = CSRF_REFUSED if status == 403 else MESSAGES.get(status, MESSAGES[500])
    return render(
        request,
        "error.html",
        {"status": status, "message": translate(request, message)},
        status_code=status,
    )


class StaticFolder(StaticFiles):
    """The portal's static files. A path no file can have (a NUL character: the operating
    system refuses it with ValueError) is 404 like any other missing file."""

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if "\x00" in path:
            return "", None
        return super().lookup_path(path)


def page_routes() -> list[BaseRoute]:
    """Routes of the CSO, brand and API modules that exist (each exports `routes`)."""
    found: list[BaseRoute] = []
    for name in PAGE_MODULES:
        if importlib.util.find_spec(name) is not None:
            found += list(importlib.import_module(name).routes)
    return found


def arabic_font_route() -> list[BaseRoute]:
    """Noto Sans Arabic from its Python package (a dependency), for Urdu pages; cached long."""
    files = Path(fontpkg_noto_sans_arabic.__file__).parent / "files"
    found = sorted(files.glob("NotoSansArabic*.ttf"))
    if not found:
        return []

    async def font(request: Request) -> Response:
        return FileResponse(
            found[0],
            media_type="font/ttf",
            headers={"cache-control": "public, max-age=2592000"},
        )

    return [Route("/static/fonts/noto-sans-arabic.ttf", font, methods=["GET"])]


def create_web_app(
    app: App, *, secure_cookies: bool = True, bot_username: UsernameLookup | None = None
) -> Starlette:
    """The portal for one WageCheck instance. `secure_cookies=False` only for plain-HTTP
    tests and a portal on the local machine (cookies then travel without the Secure flag).
    `bot_username` finds the Telegram bot's name for posters (default: the setting alone)."""
    key = app.keyring.subkey("portal-csrf")
    web = Starlette(
        routes=[
            *core.routes,
            *page_routes(),
            *arabic_font_route(),
            Mount("/static", app=StaticFolder(directory=STATIC_DIR), name="static"),
            health_route(app.db),
            app.metrics_route(),
        ],
        middleware=[
            Middleware(SecurityHeaders, hsts=secure_cookies),
            Middleware(SessionMiddleware),
            Middleware(CSRFMiddleware, key=key, secure=secure_cookies, refuse=csrf_refused),
        ],
        exception_handlers={HTTPException: http_error, 500: server_error},
    )
    web.state.portal = Portal(
        app=app,
        accounts=app.accounts.acting_as("web"),
        catalogs=load_catalogs(app.settings.locales_dir),
        secure_cookies=secure_cookies,
        bot_username=once(bot_username or username_from_settings(app)),
        trusted_proxies=app.settings.trusted_proxy_networks(),
    )
    return web
