"""Who is asking: the session cookie, the logged-in user, and `require()` for page code.

The session cookie `wc_session` carries a random token; the database keeps only its hash
(web_sessions). The middleware here looks the session up once per request and leaves the user
and the page language in `request.state`; `require()` then checks kind and role. Objects are
checked by the pages themselves (their organisation, or a brand's linked factories).
"""

from __future__ import annotations

from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.enums import OrgKind, Role
from bot.service.accounts import SESSION_MAX, AccountService
from bot.web.deps import portal
from bot.web.i18n import language_for

SESSION_COOKIE = "wc_session"
SECURE_SESSION_COOKIE = "__Host-wc_session"  # under HTTPS: Secure, Path=/, no Domain


def session_cookie_name(conn: HTTPConnection) -> str:
    return SECURE_SESSION_COOKIE if portal(conn).secure_cookies else SESSION_COOKIE


# Paths that never use the session: static files, the bearer-token API, the health check.
NO_SESSION_PREFIXES = ("/static/", "/api/", "/healthz")


@dataclass(frozen=True)
class WebUser:
    """The logged-in person, as every page sees them."""

    account_id: int
    org_id: int
    org_name: str
    org_kind: OrgKind
    role: Role
    email: str | None
    language: str | None

    @property
    def is_cso(self) -> bool:
        return self.org_kind == OrgKind.CSO

    @property
    def is_cso_admin(self) -> bool:
        return self.org_kind == OrgKind.CSO and self.role == Role.ADMIN

    @property
    def is_brand(self) -> bool:
        return self.org_kind == OrgKind.BRAND

    @property
    def actor(self) -> str:
        """How this user appears in the audit log."""
        return f"web:{self.account_id}"


def current_user(request: HTTPConnection) -> WebUser | None:
    """The logged-in user of this request, or None."""
    return getattr(request.state, "user", None)


async def require(request: Request, *, kind: str | None = None, admin: bool = False) -> WebUser:
    """The logged-in user, or HTTPException: 401 when logged out (pages redirect to /login),
    403 for the wrong kind of organisation ("cso"/"brand") or a viewer where admin is needed."""
    user = current_user(request)
    if user is None:
        raise HTTPException(401)
    if kind is not None and user.org_kind != kind:
        raise HTTPException(403)
    if admin and user.role != Role.ADMIN:
        raise HTTPException(403)
    return user


def accounts(request: HTTPConnection) -> AccountService:
    """The account service of this portal."""
    return portal(request).accounts


def set_session_cookie(request: HTTPConnection, response: Response, token: str) -> None:
    response.set_cookie(
        session_cookie_name(request),
        token,
        # The server ends the session after 12 idle hours; the cookie may live as long as the
        # longest session, so an active user is not logged out by the browser.
        max_age=int(SESSION_MAX.total_seconds()),
        path="/",
        secure=portal(request).secure_cookies,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(request: HTTPConnection, response: Response) -> None:
    response.delete_cookie(
        session_cookie_name(request),
        path="/",
        secure=portal(request).secure_cookies,
        httponly=True,
        samesite="lax",
    )


class SessionMiddleware:
    """Looks up the session (if any) and the page language before the route runs; a cookie
    that no longer opens a session is deleted in the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NO_SESSION_PREFIXES):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        state = scope.setdefault("state", {})
        user: WebUser | None = None
        name = session_cookie_name(conn)
        token = conn.cookies.get(name)
        if token:
            found = await accounts(conn).session_account(token)
            if found is not None:
                account, org = found
                user = WebUser(
                    account_id=account.id,
                    org_id=org.id,
                    org_name=org.name,
                    org_kind=org.kind,
                    role=account.role,
                    email=account.email,
                    language=account.language,
                )
                state["session_token"] = token
        state["user"] = user
        state["lang"] = language_for(Request(scope), user.language if user else None)
        if not token or user is not None:
            await self.app(scope, receive, send)
            return

        secure = portal(conn).secure_cookies

        async def send_clearing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if not any(
                    name + "=" in v for v in headers.getlist("set-cookie")
                ):  # a log-in in this response sets a new one
                    headers.append("set-cookie", _expired_cookie(name, secure))
            await send(message)

        await self.app(scope, receive, send_clearing)


def _expired_cookie(name: str, secure: bool) -> str:
    cookie: SimpleCookie = SimpleCookie()
    cookie[name] = ""
    morsel: Any = cookie[name]
    morsel["path"] = "/"
    morsel["max-age"] = 0
    morsel["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
    morsel["httponly"] = True
    morsel["samesite"] = "lax"
    if secure:
        morsel["secure"] = True
    return morsel.OutputString()
