"""The portal's own pages: home, log-in and log-out, invites, one-time links from the bot,
the account page and the language switch. (CSO pages: bot/web/cso.py; brand pages and the
API: bot/web/brand.py, bot/web/api.py.)"""

from __future__ import annotations

import ipaddress
import math
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.service.accounts import PASSWORD_MIN, AccountError, LoginResult
from bot.web.auth import (
    accounts,
    clear_session_cookie,
    current_user,
    require,
    set_session_cookie,
)
from bot.web.deps import portal
from bot.web.i18n import LANG_COOKIE, LANGUAGES, N_, ntranslate, translate
from bot.web.render import render

# What the pages say when the account service refuses something (by AccountError.code).
ERRORS = {
    "password_short": N_("The password needs at least %(n)s characters."),
    "password_long": N_("The password is too long."),
    "password_is_email": N_("The password must not be your e-mail address."),
    "password_mismatch": N_("The two passwords are not the same."),
    "email_invalid": N_("This does not look like an e-mail address."),
    "email_taken": N_("An account with this e-mail address exists already. Log in instead."),
    "invite_invalid": N_(
        "This invitation cannot be used (unknown, used or expired). "
        "Ask your organisation for a new one."
    ),
    "password_wrong": N_("The current password is not right."),
}
LOGIN_WRONG = N_("The e-mail address or the password is not right.")
LINK_INVALID = N_(
    "This log-in link cannot be used (used, expired or unknown). Send /login to the bot for a "
    "new one."
)
NEXT_MAX = 2000  # a path to go on to after logging in; longer ones are nobody's page
SAVED_PASSWORD = N_("Your new password is saved. Other browsers were logged out.")


def _error(request: Request, code: str) -> str:
    return translate(request, ERRORS.get(code, ERRORS["password_wrong"]), n=PASSWORD_MIN)


def safe_next(value: str | None, default: str = "/") -> str:
    """A local path to go on to after logging in: never another site (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if len(value) > NEXT_MAX or value.startswith("/login"):
        return default
    if any(c == "\\" or ord(c) < 32 or ord(c) == 127 for c in value):  # CR, LF, NUL, ...
        return default
    return value


def home_for(request: Request) -> str:
    user = current_user(request)
    if user is None:
        return "/login"
    return "/cso" if user.is_cso else "/brand"


def client_address(request: Request) -> str:
    """The client's address, as the log-in throttling counts it: the socket's peer, or, when
    that peer is a reverse proxy named in WAGECHECK_WEB_TRUSTED_PROXIES, the address that the
    proxies wrote into X-Forwarded-For: the rightmost one that is not itself a trusted proxy
    (what stands left of it the client wrote, and can be anything)."""
    peer = request.client.host if request.client else "unknown"
    trusted = portal(request).trusted_proxies
    if not trusted or not _among(peer, trusted):
        return peer
    hops = [
        hop.strip()
        for header in request.headers.getlist("x-forwarded-for")
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            return peer  # not written by a proxy we trust: count it as the proxy's own
        if not _among(str(address), trusted):
            return str(address)
    return peer


def _among(
    address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def _go(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    async with request.form() as form:
        return {k: v for k, v in form.items() if isinstance(v, str)}


# ---------------------------------------------------------------- pages
async def home(request: Request) -> Response:
    return _go(home_for(request))


async def login_page(request: Request) -> Response:
    context: dict[str, Any] = {"next": safe_next(request.query_params.get("next"), "")}
    return render(request, "login.html", context)


async def login(request: Request) -> Response:
    form = await _form(request)
    email, password = form.get("email", ""), form.get("password", "")
    next_path = safe_next(form.get("next"), "")
    result = await accounts(request).authenticate(email, password, client_address(request))
    if result.status != "ok" or result.session_token is None:
        return _login_refused(request, result, email, next_path)
    response = _go(next_path or "/")
    set_session_cookie(request, response, result.session_token)
    return response


def _login_refused(request: Request, result: LoginResult, email: str, next_path: str) -> Response:
    """A wrong password (400) or a throttled attempt (429, not checked), with when to try
    again if there is a wait: the same answers whether the account exists or not."""
    messages = [] if result.status == "throttled" else [translate(request, LOGIN_WRONG)]
    seconds = None
    if result.retry_at is not None:
        left = (result.retry_at - portal(request).app.clock()).total_seconds()
        seconds = max(1, math.ceil(left))
        messages.append(
            ntranslate(
                request,
                "Too many failed attempts. Please try again in %(num)s minute.",
                "Too many failed attempts. Please try again in %(num)s minutes.",
                math.ceil(seconds / 60),
            )
        )
    response = render(
        request,
        "login.html",
        {"error": " ".join(messages), "email": email, "next": next_path},
        status_code=429 if result.status == "throttled" else 400,
    )
    if seconds is not None:
        response.headers["Retry-After"] = str(seconds)
    return response


async def logout(request: Request) -> Response:
    token = getattr(request.state, "session_token", None)
    if token:
        await accounts(request).logout(token)
    response = _go("/login")
    clear_session_cookie(request, response)
    return response


async def set_language(request: Request) -> Response:
    """The language switch: a cookie for this browser, and the account's choice if logged in."""
    form = await _form(request)
    lang = form.get("lang", "")
    response = _go(safe_next(form.get("next")))
    if lang not in LANGUAGES:
        return response
    response.set_cookie(
        LANG_COOKIE,
        lang,
        max_age=365 * 24 * 3600,
        path="/",
        secure=portal(request).secure_cookies,
        httponly=True,
        samesite="lax",
    )
    user = current_user(request)
    if user is not None:
        await accounts(request).set_language(user.account_id, lang)
    return response


async def invite_page(request: Request) -> Response:
    code = request.path_params["code"]
    info = await accounts(request).invite_info(code)
    if info is None:
        return render(
            request,
            "error.html",
            {"status": 404, "message": translate(request, ERRORS["invite_invalid"])},
            status_code=404,
        )
    if request.method == "GET":
        return render(request, "invite.html", {"invite": info, "password_min": PASSWORD_MIN})
    form = await _form(request)
    email = form.get("email", "")
    error = None
    if form.get("password", "") != form.get("password2", ""):
        error = translate(request, ERRORS["password_mismatch"])
    else:
        try:
            _, token = await accounts(request).accept_invite(
                code, email, form.get("password", ""), language=request.state.lang
            )
        except AccountError as exc:
            error = _error(request, exc.code)
        else:
            response = _go("/")
            set_session_cookie(request, response, token)
            return response
    return render(
        request,
        "invite.html",
        {"invite": info, "password_min": PASSWORD_MIN, "error": error, "email": email},
        status_code=400,
    )


async def login_link_page(request: Request) -> Response:
    """GET asks to confirm, POST logs in: a link preview or a mail scanner that fetches the
    URL does not use up the link."""
    token = request.path_params["token"]
    service = accounts(request)
    if request.method == "GET":
        org_name = await service.login_link_valid(token)
        if org_name is None:
            return render(
                request,
                "error.html",
                {"status": 404, "message": translate(request, LINK_INVALID)},
                status_code=404,
            )
        return render(request, "login_link.html", {"org_name": org_name})
    used = await service.use_login_link(token)
    if used is None:
        return render(
            request,
            "error.html",
            {"status": 404, "message": translate(request, LINK_INVALID)},
            status_code=404,
        )
    _, session = used
    response = _go("/")
    set_session_cookie(request, response, session)
    return response


async def account_page(request: Request) -> Response:
    user = await require(request)
    context: dict[str, Any] = {"password_min": PASSWORD_MIN, "notice": None, "error": None}
    status = 200
    if request.method == "POST":
        form = await _form(request)
        if form.get("password", "") != form.get("password2", ""):
            context["error"] = translate(request, ERRORS["password_mismatch"])
        else:
            try:
                await accounts(request).change_password(
                    user.account_id,
                    form.get("current") or None,
                    form.get("password", ""),
                    keep_session=getattr(request.state, "session_token", None),
                )
            except AccountError as exc:
                context["error"] = _error(request, exc.code)
            else:
                context["notice"] = translate(request, SAVED_PASSWORD)
        status = 400 if context["error"] else 200
    has_password = await accounts(request).has_password(user.account_id)
    context["has_password"] = has_password
    return render(request, "account.html", context, status_code=status)


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET"], name="home"),
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login", login, methods=["POST"], name="login_post"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/language", set_language, methods=["POST"], name="language"),
    Route("/invite/{code}", invite_page, methods=["GET", "POST"], name="invite"),
    Route("/login/link/{token}", login_link_page, methods=["GET", "POST"], name="login_link"),
    Route("/account", account_page, methods=["GET", "POST"], name="account"),
]
