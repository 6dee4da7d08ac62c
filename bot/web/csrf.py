"""CSRF protection for every form: a POST/PUT/PATCH/DELETE needs a `csrf_token` form field (or
an `X-CSRF-Token` header) that matches this browser's CSRF cookie and its session, else 403.

The cookie holds a random value (HttpOnly, SameSite=Lax; named `__Host-wc_csrf` under HTTPS,
so that no sibling subdomain can set it); the token in the page is an HMAC, with the instance
secret, of that value and of the session the page was made for. Another site can neither read
the page nor compute the token; an attacker who plants a cookie of their own, with a token
they got for it, still fails: the token was made for their session, not the victim's. The
bearer-token API under /api/ uses no cookies and is exempt.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_COOKIE = "wc_csrf"
SECURE_CSRF_COOKIE = "__Host-wc_csrf"  # under HTTPS: Secure, Path=/, no Domain
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXEMPT_PREFIXES = ("/api/",)
# Forms carry at most a CSV of factories; refuse anything far larger before buffering it.
MAX_FORM_BYTES = 20 * 1024 * 1024

Refusal = Callable[[Request, int], Awaitable[Response]]


def csrf_token_for(key: bytes, cookie_value: str, session_token: str = "") -> str:
    """The page token: bound to the browser's CSRF cookie and to its session (if any)."""
    message = f"csrf|{cookie_value}|{session_token}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def csrf_cookie_name(secure: bool) -> str:
    return SECURE_CSRF_COOKIE if secure else CSRF_COOKIE


class CSRFMiddleware:
    """Sets the cookie when missing, puts the page token in `request.state.csrf_token`, and
    refuses unsafe requests without a valid token (`refuse` renders the 403 page)."""

    def __init__(self, app: ASGIApp, key: bytes, secure: bool, refuse: Refusal | None = None):
        self.app = app
        self.key = key
        self.secure = secure
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        value = conn.cookies.get(csrf_cookie_name(self.secure), "")
        fresh = not (16 <= len(value) <= 100 and value.replace("-", "").replace("_", "").isalnum())
        if fresh:
            value = secrets.token_urlsafe(32)
        state = scope.setdefault("state", {})
        # The session middleware runs first: a valid session's token is in the state.
        expected = csrf_token_for(self.key, value, state.get("session_token") or "")
        state["csrf_token"] = expected

        if scope["method"] in UNSAFE_METHODS:
            given, receive, status = await self._given_token(scope, receive)
            if status or not given or fresh or not hmac.compare_digest(given, expected):
                await self._refuse(scope, status or 403, send, value if fresh else None)
                return

        if not fresh:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).append("set-cookie", self._cookie(value))
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _given_token(self, scope: Scope, receive: Receive) -> tuple[str, Receive, int]:
        """The token from the header, or from the form (the body is read once and replayed
        to the route). A non-zero status refuses the request (413: too large)."""
        request = Request(scope, receive)
        header = request.headers.get(CSRF_HEADER)
        if header:
            return header, receive, 0
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")
        ):
            return "", receive, 0
        if int(request.headers.get("content-length") or 0) > MAX_FORM_BYTES:
            return "", receive, 413
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return "", receive, 400
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_FORM_BYTES:
                return "", receive, 413
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)

        def replay() -> Receive:
            sent = False

            async def again() -> Message:
                nonlocal sent
                if sent:
                    return await receive()  # a disconnect, eventually
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}

            return again

        try:
            async with Request(scope, replay()).form() as form:
                value = form.get(CSRF_FIELD)
                given = value if isinstance(value, str) else ""
        except Exception:  # a malformed body: no token can be found in it
            given = ""
        return given, replay(), 0

    async def _refuse(self, scope: Scope, status: int, send: Send, new_cookie: str | None) -> None:
        async def empty() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        request = Request(scope, empty)
        if self.refuse is not None:
            response = await self.refuse(request, status)
        else:
            response = PlainTextResponse("CSRF check failed", status_code=status)
        if new_cookie:
            response.headers.append("set-cookie", self._cookie(new_cookie))
        await response(scope, empty, send)

    def _cookie(self, value: str) -> str:
        response = Response()
        response.set_cookie(
            csrf_cookie_name(self.secure),
            value,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )
        return response.headers["set-cookie"]
