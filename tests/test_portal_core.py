"""The portal's foundation through HTTP (the real ASGI app, a real database): log-in and
log-out, sessions, CSRF, rate limiting, invites, one-time links from the bot, languages,
security headers and the access checks of `require()`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from bot.bootstrap import App
from bot.clock import SetClock
from bot.config import Settings
from bot.service.login_throttle import (
    FORGET_AFTER,
    FREE_PER_ACCOUNT_ADDRESS,
    FREE_PER_ADDRESS,
)
from bot.storage.models import AuditEntry, LoginThrottle, WebAccount, WebSession
from bot.web.app import create_web_app
from bot.web.auth import require
from tests.portal_helpers import (
    PASSWORD,
    csrf_from,
    csrf_token,
    login,
    make_account,
    portal_client,
    post_form,
)
from tests.telegram_standin import TelegramStandin
from tests.test_service import open_round
from tests.test_telegram import TOKEN as TELEGRAM_TOKEN
from tests.test_telegram import Bot, bot  # noqa: F401  (the fixture)
from tests.test_whatsapp import until_up
from tests.whatsapp_standin import WhatsAppStandin


async def _audit(app: App, action: str) -> list[AuditEntry]:
    async with app.db.transaction() as s:
        return list(
            (await s.execute(select(AuditEntry).where(AuditEntry.action == action))).scalars()
        )


# ------------------------------------------------------------------ log-in and sessions
async def test_logged_out_pages_redirect_to_login_with_next(app: App) -> None:
    async with portal_client(app) as client:
        home = await client.get("/")
        assert home.status_code == 303 and home.headers["location"] == "/login"
        account = await client.get("/account?tab=1")
        assert account.status_code == 303
        assert account.headers["location"] == "/login?next=/account%3Ftab%3D1"
        page = await client.get("/login")
        assert page.status_code == 200 and 'name="email"' in page.text


async def test_login_opens_a_session_and_logout_ends_it(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    async with portal_client(app) as client:
        response = await login(client, cso.email or "")
        assert response.headers["location"] == "/"
        cookie = response.headers["set-cookie"]
        assert "wc_session=" in cookie and "httponly" in cookie.lower()
        assert "samesite=lax" in cookie.lower()
        assert (await client.get("/")).headers["location"] == "/cso"
        page = await client.get("/account")
        assert page.status_code == 200 and "Test CSO" in page.text and cso.email in page.text
        out = await post_form(client, "/logout", page="/account")
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert (await client.get("/account")).status_code == 303
    async with app.db.transaction() as s:
        assert (await s.execute(select(WebSession))).first() is None
    assert [e.actor for e in await _audit(app, "login")] == [f"web:{cso.id}"]
    assert [e.actor for e in await _audit(app, "logout")] == [f"web:{cso.id}"]


async def test_login_goes_on_to_next_but_never_to_another_site(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "viewer")
    async with portal_client(app) as client:
        for next_path, expected in (
            ("/account", "/account"),
            ("https://evil.example/", "/"),
            ("//evil.example/", "/"),
            ("/\\evil.example", "/"),
        ):
            page = await client.get("/login", params={"next": next_path})
            response = await client.post(
                "/login",
                data={
                    "email": cso.email,
                    "password": PASSWORD,
                    "next": next_path,
                    "csrf_token": csrf_from(page.text),
                },
            )
            assert response.headers["location"] == expected


async def test_wrong_password_and_unknown_email_get_the_same_answer(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    async with portal_client(app) as client:
        wrong = await post_form(client, "/login", {"email": cso.email, "password": "nope" * 4})
        unknown = await post_form(
            client, "/login", {"email": "nobody@x.example", "password": PASSWORD}
        )
        assert wrong.status_code == unknown.status_code == 400
        assert "not right" in wrong.text and "not right" in unknown.text
        assert "wc_session" not in wrong.headers.get("set-cookie", "")


async def test_session_expires_after_idle_time_and_cookie_is_cleared(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    async with portal_client(app) as client:
        await login(client, cso.email or "")
        assert (await client.get("/account")).status_code == 200
        async with app.db.transaction() as s:
            await s.execute(
                update(WebSession).values(expires_at=app.clock() - timedelta(seconds=1))
            )
        response = await client.get("/account")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        assert "wc_session=" in response.headers.get("set-cookie", "")  # deleted
    async with app.db.transaction() as s:
        assert (await s.execute(select(WebSession))).first() is None


async def test_session_idle_expiry_moves_with_use(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    service = app.accounts
    result = await service.authenticate(cso.email or "", PASSWORD, "10.0.0.1")
    assert result.session_token
    later = app.clock() + timedelta(hours=11)
    assert await service.session_account(result.session_token, now=later) is not None
    # 11 h after that: still alive, because it was used in between.
    assert await service.session_account(result.session_token, now=later + timedelta(hours=11))
    # A session is never older than 7 days, however active.
    assert (
        await service.session_account(result.session_token, now=later + timedelta(days=7)) is None
    )


async def test_disabled_account_loses_its_session_at_once(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    async with portal_client(app) as client:
        await login(client, cso.email or "")
        await app.accounts.disable("Test CSO", cso.id)
        assert (await client.get("/account")).status_code == 303


# ------------------------------------------------------------------ CSRF
async def test_forms_without_a_valid_csrf_token_are_refused(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    async with portal_client(app) as client:
        form = {"email": cso.email, "password": PASSWORD}
        # No cookie and no token yet (a cross-site POST from a fresh browser).
        assert (await client.post("/login", data=form)).status_code == 403
        await client.get("/login")  # now the browser has its cookie
        assert (await client.post("/login", data=form)).status_code == 403
        forged = await client.post("/login", data={**form, "csrf_token": "0" * 64})
        assert forged.status_code == 403 and "expired" in forged.text
        await login(client, cso.email or "")
        token = csrf_from((await client.get("/account")).text)
        # Logged in, a POST without the token still changes nothing.
        refused = await client.post("/logout")
        assert refused.status_code == 403
        assert (await client.get("/account")).status_code == 200
        # The header works as well as the form field (for scripts).
        out = await client.post("/logout", headers={"X-CSRF-Token": token})
        assert out.status_code == 303
    async with portal_client(app) as other:
        # Another browser's token does not fit this browser's cookie.
        await other.get("/login")
        stolen = await other.post("/login", data={**form, "csrf_token": token})
        assert stolen.status_code == 403


async def test_a_planted_csrf_cookie_with_its_own_token_does_not_act_in_the_victims_session(
    app: App,
) -> None:
    """An attacker who can set a cookie on the victim's browser (a sibling subdomain) plants
    their own CSRF cookie and the token they got for it: the token was made for the
    attacker's session, not the victim's, so the victim's session refuses it."""
    attacker = await make_account(app, "Test CSO", "cso", "admin")
    victim = await make_account(app, "Test CSO", "cso", "admin")
    async with portal_client(app) as evil:
        await login(evil, attacker.email or "")
        planted_cookie = evil.cookies.get("wc_csrf")
        planted_token = csrf_from((await evil.get("/account")).text)
    assert planted_cookie and planted_token
    async with portal_client(app) as client:
        await login(client, victim.email or "")
        client.cookies.set("wc_csrf", planted_cookie)  # the planted cookie replaces the victim's
        forged = await client.post(
            "/language", data={"lang": "nl", "next": "/account", "csrf_token": planted_token}
        )
        assert forged.status_code == 403
        assert '<html lang="nl"' not in (await client.get("/account")).text
        # The page now carries a token for this cookie and this session, which works.
        token = csrf_from((await client.get("/account")).text)
        ok = await client.post(
            "/language", data={"lang": "nl", "next": "/account", "csrf_token": token}
        )
        assert ok.status_code == 303
        assert '<html lang="nl"' in (await client.get("/account")).text


def test_under_https_the_cookies_carry_the_host_prefix() -> None:
    """`__Host-` cookies must be Secure, for path /, without a Domain: no sibling subdomain
    can set or overwrite them."""
    from bot.web.csrf import csrf_cookie_name

    assert csrf_cookie_name(True) == "__Host-wc_csrf" and csrf_cookie_name(False) == "wc_csrf"


async def test_multipart_forms_carry_the_token_too(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    async with portal_client(app) as client:
        await login(client, cso.email or "")
        token = csrf_from((await client.get("/account")).text)
        response = await client.post(
            "/language",
            data={"lang": "nl", "next": "/account", "csrf_token": token},
            files={"unused": ("a.csv", b"code,name\n", "text/csv")},
        )
        assert response.status_code == 303
        assert '<html lang="nl"' in (await client.get("/account")).text


# ------------------------------------------------------------------ log-in throttling
ATTACKER = "203.0.113.9"
USER = "198.51.100.20"
WRONG = "not the password at all"


async def _throttle_rows(app: App) -> list[LoginThrottle]:
    async with app.db.transaction() as s:
        return list((await s.execute(select(LoginThrottle))).scalars())


async def test_an_attacker_elsewhere_cannot_lock_the_real_user_out(
    app: App, clock: SetClock
) -> None:
    """50 wrong passwords from one address: that address waits (1 minute after the fifth
    failure, then 2, 4 … for each further one); the real user, at another address, logs in at
    once. The right password from the attacker's address is refused while it waits."""
    cso = await make_account(app, "Test CSO", "cso", "admin")
    async with portal_client(app, ATTACKER) as attacker:
        answers = [
            await post_form(attacker, "/login", {"email": cso.email, "password": WRONG})
            for _ in range(50)
        ]
        assert [a.status_code for a in answers] == [400] * 5 + [429] * 45
        assert all("try again" not in a.text for a in answers[:4])
        assert "not right" in answers[4].text and "try again in 1 minute." in answers[4].text
        assert all("try again in 1 minute." in a.text for a in answers[5:])
        assert "not right" not in answers[5].text  # a refused attempt is not checked
        assert 0 < int(answers[5].headers["retry-after"]) <= 60
        # The real user, elsewhere, is not kept out.
        async with portal_client(app, USER) as user:
            await login(user, cso.email or "")
        # The right password from the attacker's address still waits.
        right = await post_form(attacker, "/login", {"email": cso.email, "password": PASSWORD})
        assert right.status_code == 429 and "wc_session" not in right.headers.get("set-cookie", "")
        # Progressively: after the minute, one more failure means 2 minutes, then 4.
        for wait in (2, 4):
            clock.advance(timedelta(minutes=wait // 2, seconds=1))
            wrong = await post_form(attacker, "/login", {"email": cso.email, "password": WRONG})
            assert wrong.status_code == 400 and f"try again in {wait} minutes." in wrong.text
            again = await post_form(attacker, "/login", {"email": cso.email, "password": PASSWORD})
            assert again.status_code == 429 and f"in {wait} minutes." in again.text
        clock.advance(timedelta(minutes=4, seconds=1))
        await login(attacker, cso.email or "")  # the wait has passed: the password is taken
    entries = await _audit(app, "login.throttled")
    assert [(e.actor, e.target, e.ok, e.details["by"], e.details["minutes"]) for e in entries] == [
        ("web:-", "Test CSO", False, "account and address", 1),
        ("web:-", "Test CSO", False, "account and address", 2),
        ("web:-", "Test CSO", False, "account and address", 4),
    ]
    assert {e.details["account"] for e in entries} == {cso.id}
    assert ATTACKER not in str([e.details for e in entries])
    # Rows hold keyed hashes only, and the successful log-in forgot the attacker's pair.
    rows = await _throttle_rows(app)
    assert rows and all(cso.email not in r.key and ATTACKER not in r.key for r in rows)
    assert [r.failures for r in rows] == [7]  # the address's count over every account


async def test_the_throttled_answer_is_the_same_for_an_unknown_account(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    texts = []
    for email in (cso.email, "nobody@nowhere.example"):
        async with portal_client(app, ATTACKER) as client:
            answers = [
                await post_form(client, "/login", {"email": email, "password": WRONG})
                for _ in range(6)
            ]
        assert [a.status_code for a in answers] == [400] * 5 + [429]
        texts.append(
            [
                re.sub(r'name="csrf_token" value="[^"]+"', "", a.text).replace(email or "", "@")
                for a in answers
            ]
        )
    assert texts[0] == texts[1]


async def test_waits_double_up_to_an_hour_and_a_success_starts_afresh(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    service, email, t = app.accounts, cso.email or "", app.clock()
    for _ in range(FREE_PER_ACCOUNT_ADDRESS - 1):
        assert (await service.authenticate(email, WRONG, ATTACKER, now=t)).retry_at is None
    waits = []
    for _ in range(10):
        failed = await service.authenticate(email, WRONG, ATTACKER, now=t)
        assert failed.status == "wrong" and failed.retry_at is not None
        waits.append(failed.retry_at - t)
        # Inside the wait every attempt is refused and counts for nothing.
        inside = await service.authenticate(
            email, PASSWORD, ATTACKER, now=failed.retry_at - timedelta(seconds=1)
        )
        assert (inside.status, inside.retry_at) == ("throttled", failed.retry_at)
        t = failed.retry_at
    assert waits == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60, 60, 60)]
    assert (await service.authenticate(email, PASSWORD, ATTACKER, now=t)).status == "ok"
    # The pair starts afresh: four failures go without a wait again.
    for _ in range(FREE_PER_ACCOUNT_ADDRESS - 1):
        assert (await service.authenticate(email, WRONG, ATTACKER, now=t)).retry_at is None


async def test_one_address_trying_many_accounts_waits_too(app: App) -> None:
    """Credential stuffing: one guess for each of many accounts. After FREE_PER_ADDRESS
    failures the address waits, for every account; others do not; a log-in that works from
    that address does not wipe its count."""
    cso = await make_account(app, "Test CSO", "cso", "admin")
    stuffer = await make_account(app, "Test CSO", "cso", "viewer")
    service, t = app.accounts, app.clock()
    for i in range(FREE_PER_ADDRESS - 1):
        result = await service.authenticate(f"guess{i}@x.example", WRONG, ATTACKER, now=t)
        assert (result.status, result.retry_at) == ("wrong", None)
    last = await service.authenticate("guess-last@x.example", WRONG, ATTACKER, now=t)
    assert last.retry_at == t + timedelta(minutes=1)
    refused = await service.authenticate(cso.email or "", PASSWORD, ATTACKER, now=t)
    assert refused.status == "throttled"
    assert (await service.authenticate(cso.email or "", PASSWORD, USER, now=t)).status == "ok"
    t += timedelta(minutes=1)
    assert (
        await service.authenticate(stuffer.email or "", PASSWORD, ATTACKER, now=t)
    ).status == "ok"
    again = await service.authenticate("guess-more@x.example", WRONG, ATTACKER, now=t)
    assert again.retry_at == t + timedelta(minutes=2)
    by = [e.details["by"] for e in await _audit(app, "login.throttled")]
    assert by == ["address", "address"]


async def test_attempts_sent_at_once_are_all_counted(app: App) -> None:
    """Each attempt is counted before its password is checked: twenty at once from one
    address get five "wrong" answers and fifteen refusals, not twenty guesses."""
    cso = await make_account(app, "Test CSO", "cso", "admin")
    t = app.clock()
    results = await asyncio.gather(
        *(app.accounts.authenticate(cso.email or "", WRONG, ATTACKER, now=t) for _ in range(20))
    )
    statuses = sorted(r.status for r in results)
    assert statuses == ["throttled"] * 15 + ["wrong"] * 5


async def test_throttling_rows_are_pruned(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    service, t = app.accounts, app.clock()
    for address in ("192.0.2.1", "192.0.2.2"):
        await service.authenticate(cso.email or "", WRONG, address, now=t)
    assert len(await _throttle_rows(app)) == 4  # two (account, address) pairs, two addresses
    # A failure a day later deletes what counts for nothing any more.
    later = t + FORGET_AFTER + timedelta(minutes=1)
    await service.authenticate(cso.email or "", WRONG, "192.0.2.3", now=later)
    rows = await _throttle_rows(app)
    assert len(rows) == 2 and {r.last_failure_at for r in rows} == {later}
    # And so does the nightly prune.
    pruned = await app.admin.prune(later.date() + timedelta(days=2))
    assert pruned["login_throttles"] == 2 and await _throttle_rows(app) == []


async def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(
    app: App, settings: Settings
) -> None:
    """Behind a trusted proxy the client is the rightmost address the proxies wrote; what
    the client wrote itself (left of it) does not let it pass for the real user. Without the
    setting X-Forwarded-For is ignored."""
    cso = await make_account(app, "Test CSO", "cso", "admin")

    async def attempt(client: httpx.AsyncClient, forwarded: str, password: str) -> int:
        token = await csrf_token(client)
        response = await client.post(
            "/login",
            data={"email": cso.email, "password": password, "csrf_token": token},
            headers={"X-Forwarded-For": forwarded},
        )
        return response.status_code

    async with portal_client(app, "10.0.0.1") as direct:  # no proxy is trusted
        for i in range(FREE_PER_ACCOUNT_ADDRESS):
            assert await attempt(direct, f"192.0.2.{i}", WRONG) == 400
        assert await attempt(direct, USER, PASSWORD) == 429  # counted as 10.0.0.1 itself
    app.settings = settings.model_copy(update={"web_trusted_proxies": "10.0.0.0/24"})
    async with portal_client(app, "10.0.0.1") as proxied:
        for _ in range(FREE_PER_ACCOUNT_ADDRESS):
            assert await attempt(proxied, f"{USER}, {ATTACKER}", WRONG) == 400
        assert await attempt(proxied, ATTACKER, PASSWORD) == 429
        assert await attempt(proxied, f"{ATTACKER}, 10.0.0.7", PASSWORD) == 429  # two proxies
        assert await attempt(proxied, USER, PASSWORD) == 303


# ------------------------------------------------------------------ invites
async def test_an_invite_creates_an_account_once(app: App) -> None:
    await app.admin.add_org("Brand A", "brand")
    service = app.accounts
    code, _ = await service.create_invite("Brand A", "viewer")
    async with portal_client(app) as client:
        page = await client.get(f"/invite/{code}")
        assert page.status_code == 200 and "Brand A" in page.text and "viewer" in page.text
        mismatch = await post_form(
            client,
            f"/invite/{code}",
            {"email": "Ana@Brand.example", "password": PASSWORD, "password2": PASSWORD + "x"},
        )
        assert mismatch.status_code == 400 and "not the same" in mismatch.text
        short = await post_form(
            client,
            f"/invite/{code}",
            {"email": "ana@brand.example", "password": "short", "password2": "short"},
        )
        assert short.status_code == 400 and "at least 10 characters" in short.text
        accepted = await post_form(
            client,
            f"/invite/{code}",
            {"email": "Ana@Brand.example", "password": PASSWORD, "password2": PASSWORD},
        )
        assert accepted.status_code == 303 and "wc_session=" in accepted.headers["set-cookie"]
        assert (await client.get("/")).headers["location"] == "/brand"
    async with portal_client(app) as client:
        used = await client.get(f"/invite/{code}")
        assert used.status_code == 404 and "cannot be used" in used.text
        await login(client, "ana@brand.example")  # stored lower-cased
    async with app.db.transaction() as s:
        account = (await s.execute(select(WebAccount))).scalar_one()
    assert account.role == "viewer" and account.password_hash.startswith("$argon2id$")  # type: ignore[union-attr]
    assert [e.actor for e in await _audit(app, "web_invite.accept")] == [f"web:{account.id}"]
    assert [e.actor for e in await _audit(app, "web_invite.create")] == ["cli"]
    assert "ana@" not in str([e.details for e in await _audit(app, "web_invite.accept")])


async def test_an_expired_invite_is_refused(app: App) -> None:
    await app.admin.add_org("Test CSO", "cso")
    code, _ = await app.accounts.create_invite("Test CSO", "admin", days=1)
    info = await app.accounts.invite_info(code, now=app.clock() + timedelta(days=2))
    assert info is None


# ------------------------------------------------------------------ one-time links from the bot
async def test_a_login_link_works_once_and_follows_the_membership(app: App) -> None:
    await app.admin.add_org("Test CSO", "cso")
    members = app.members
    code, _ = await members.create_invite("Test CSO", "admin")
    membership = await members.join("telegram", "777", code)
    assert membership is not None
    service = app.accounts
    token = await service.create_login_link(membership.member_id)
    async with portal_client(app) as client:
        page = await client.get(f"/login/link/{token}")
        assert page.status_code == 200 and "Test CSO" in page.text
        # Opening the link (a link preview does this) does not use it up.
        page = await client.get(f"/login/link/{token}")
        response = await client.post(
            f"/login/link/{token}", data={"csrf_token": csrf_from(page.text)}
        )
        assert response.status_code == 303
        account_page = await client.get("/account")
        assert "log in with a link from the bot" in account_page.text
        assert "Change your password" not in account_page.text
        again = await post_form(client, f"/login/link/{token}", page="/account")
        assert again.status_code == 404
        # Revoked in the bot: the portal session ends too.
        await members.revoke("Test CSO", membership.member_id)
        assert (await client.get("/account")).status_code == 303
    with pytest.raises(ValueError):
        await service.create_login_link(membership.member_id)


async def test_a_login_link_expires_after_ten_minutes(app: App) -> None:
    await app.admin.add_org("Test CSO", "cso")
    members = app.members
    code, _ = await members.create_invite("Test CSO", "viewer")
    membership = await members.join("telegram", "778", code)
    assert membership is not None
    service = app.accounts
    token = await service.create_login_link(membership.member_id)
    late = app.clock() + timedelta(minutes=11)
    assert await service.login_link_valid(token, now=late) is None
    assert await service.use_login_link(token, now=late) is None
    used = await service.use_login_link(token)
    assert used is not None and used[0].role == "viewer" and used[0].email is None


# ------------------------------------------------------------------ account page
async def test_changing_the_password_logs_out_other_browsers(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    new = "a brand new passphrase"
    async with portal_client(app) as first, portal_client(app) as second:
        await login(first, cso.email or "")
        await login(second, cso.email or "")
        wrong = await post_form(
            first, "/account", {"current": "wrong-password", "password": new, "password2": new}
        )
        assert wrong.status_code == 400 and "current password is not right" in wrong.text
        done = await post_form(
            first, "/account", {"current": PASSWORD, "password": new, "password2": new}
        )
        assert done.status_code == 200 and "new password is saved" in done.text
        assert (await first.get("/account")).status_code == 200
        assert (await second.get("/account")).status_code == 303
        await login(second, cso.email or "", new)


# ------------------------------------------------------------------ languages
async def test_language_from_browser_cookie_and_account(app: App) -> None:
    cso = await make_account(app, "Test CSO", "cso", "admin")
    async with portal_client(app) as client:
        urdu = await client.get("/login", headers={"Accept-Language": "ur-PK,ur;q=0.9,en;q=0.5"})
        assert '<html lang="ur" dir="rtl">' in urdu.text
        dutch = await client.get("/login", headers={"Accept-Language": "de, nl;q=0.8"})
        assert '<html lang="nl" dir="ltr">' in dutch.text
        assert '<html lang="en" dir="ltr">' in (await client.get("/login")).text
        # The switch before logging in: a cookie that wins over the browser.
        await post_form(client, "/language", {"lang": "ur", "next": "/login"})
        page = await client.get("/login", headers={"Accept-Language": "nl"})
        assert 'lang="ur"' in page.text
        # Logged in, the account's choice wins over the cookie, in any browser.
        await login(client, cso.email or "")
        await post_form(client, "/language", {"lang": "nl", "next": "/account"})
    async with portal_client(app) as other:
        await login(other, cso.email or "")
        page = await other.get("/account", headers={"Accept-Language": "ur"})
        assert '<html lang="nl" dir="ltr">' in page.text


# ------------------------------------------------------------------ headers and access
async def test_security_headers_and_no_caching_of_pages(app: App) -> None:
    async with portal_client(app) as client:
        page = await client.get("/login")
        assert page.headers["content-security-policy"].startswith("default-src 'self'")
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["x-content-type-options"] == "nosniff"
        css = await client.get("/static/portal.css")
        assert css.status_code == 200 and "no-store" not in css.headers.get("cache-control", "")
        assert css.headers["content-security-policy"].startswith("default-src 'self'")
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json()["ok"] is True


async def test_require_checks_kind_and_role(app: App) -> None:
    web = create_web_app(app, secure_cookies=False)

    async def cso_admin_only(request: Request) -> PlainTextResponse:
        user = await require(request, kind="cso", admin=True)
        return PlainTextResponse(f"hello {user.account_id}")

    async def brand_only(request: Request) -> PlainTextResponse:
        user = await require(request, kind="brand")
        return PlainTextResponse(f"hello {user.org_name}")

    web.router.routes += [Route("/t/admin", cso_admin_only), Route("/t/brand", brand_only)]
    admin = await make_account(app, "Test CSO", "cso", "admin")
    viewer = await make_account(app, "Test CSO", "cso", "viewer")
    brand = await make_account(app, "Brand A", "brand", "viewer")
    transport = httpx.ASGITransport(app=web)
    expected = {
        None: (303, 303),
        admin.email: (200, 403),
        viewer.email: (403, 403),
        brand.email: (403, 200),
    }
    for email, (admin_page, brand_page) in expected.items():
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            if email:
                await login(client, email)
            assert (await client.get("/t/admin")).status_code == admin_page, email
            assert (await client.get("/t/brand")).status_code == brand_page, email
            forbidden = await client.get("/t/brand" if admin_page == 200 else "/t/admin")
            if forbidden.status_code == 403:
                assert "do not have access" in forbidden.text


# ------------------------------------------------------------------ /login in the Telegram bot
async def test_telegram_login_sends_members_a_one_time_link(bot: Bot) -> None:  # noqa: F811
    app = bot.app
    await app.admin.add_org("Brand A", "brand")
    code, _ = await app.members.create_invite("Brand A", "viewer")
    chat = 8700
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, code))
    sent = await bot.text(chat, "/login")
    text = sent.text or ""
    found = re.search(r"http://127\.0\.0\.1:8000/login/link/(\S+)", text)
    assert found and "works once" in text and "Brand A" in text, text
    assert sent.params["link_preview_options"]["is_disabled"] is True
    async with portal_client(app) as client:
        page = await client.get(f"/login/link/{found.group(1)}")
        assert page.status_code == 200
        response = await client.post(
            f"/login/link/{found.group(1)}", data={"csrf_token": csrf_from(page.text)}
        )
        assert response.status_code == 303
        assert (await client.get("/")).headers["location"] == "/brand"
    # A worker, not a member: the same answer as an unknown command.
    worker = await bot.text(8701, "/login")
    assert "do not know that command" in (worker.text or "")
    assert [e.actor for e in await _audit(app, "login")] == [
        e.actor for e in await _audit(app, "login") if e.details.get("method") == "bot link"
    ]


# ------------------------------------------------------------------ the real processes
def _free_port() -> int:
    return _free_ports(1)[0]


def _free_ports(n: int) -> list[int]:
    """n different ports free now: held open together, so no two are the same."""
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    env.update(
        WAGECHECK_HOME=str(settings.home),
        WAGECHECK_DATABASE_URL=settings.effective_database_url,
        WAGECHECK_SECRET_KEY=settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        WAGECHECK_LOG_LEVEL="INFO",
        COLUMNS="240",
        **extra,
    )
    return env


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


@contextlib.asynccontextmanager
async def _browser_login(base: str, email: str) -> AsyncIterator[httpx.AsyncClient]:
    """A logged-in client of a portal served over real HTTP."""
    async with httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/login")
        response = await client.post(
            "/login",
            data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(page.text)},
        )
        assert response.status_code == 303, response.text
        yield client


async def test_wagecheck_run_web_serves_the_portal_and_stops_on_sigterm(
    app: App, settings: Settings
) -> None:
    await app.admin.add_org("Test CSO", "cso")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(settings, WAGECHECK_WEB_BASE_URL=base)
    invite = _cli(env, "portal", "invite", "Test CSO", "--role", "admin")
    url = re.search(rf"{re.escape(base)}/invite/\S+", invite)
    assert url, invite
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        "web",
        "--listen",
        f"127.0.0.1:{port}",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await until_up(f"{base}/healthz", process)
        async with httpx.AsyncClient() as browser:
            page = await browser.get(url.group(0))
            assert page.status_code == 200 and "Test CSO" in page.text
            accepted = await browser.post(
                url.group(0),
                data={
                    "email": "lead@cso.example",
                    "password": PASSWORD,
                    "password2": PASSWORD,
                    "csrf_token": csrf_from(page.text),
                },
            )
            assert accepted.status_code == 303
        async with _browser_login(base, "lead@cso.example") as client:
            account = await client.get("/account")
            assert account.status_code == 200 and "lead@cso.example" in account.text
            assert account.headers["x-frame-options"] == "DENY"
            assert "server" not in account.headers
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    logs = stderr.decode()
    assert process.returncode == 0, logs
    assert "web portal listening" in logs and "web portal stopped" in logs
    # Each process does one thing by default: the scheduler runs only with --scheduler.
    assert "scheduler running" not in logs
    assert "lead@cso.example" not in logs and "/invite/" not in logs
    listing = _cli(env, "portal", "accounts", "Test CSO")
    assert "lead@cso.example" in listing and "admin" in listing


async def test_wagecheck_run_telegram_whatsapp_web_in_one_process(
    app: App, settings: Settings
) -> None:
    from tests.test_whatsapp import (
        APP_SECRET,
        PHONE_NUMBER_ID,
        VERIFY_TOKEN,
        WEBHOOK_PATH,
    )
    from tests.test_whatsapp import TOKEN as WA_TOKEN

    codes = await open_round(app)
    member = await make_account(app, "Test CSO", "cso", "viewer")
    async with (
        TelegramStandin(TELEGRAM_TOKEN) as tg,
        WhatsAppStandin(WA_TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api,
    ):
        # Chosen once the stand-ins listen: a port picked before could be theirs by now.
        hooks, web = _free_ports(2)
        env = _env(
            settings,
            WAGECHECK_TELEGRAM_TOKEN=TELEGRAM_TOKEN,
            WAGECHECK_TELEGRAM_API_URL=tg.url,
            WAGECHECK_WHATSAPP_TOKEN=WA_TOKEN,
            WAGECHECK_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
            WAGECHECK_WHATSAPP_APP_SECRET=APP_SECRET,
            WAGECHECK_WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
            WAGECHECK_WHATSAPP_API_URL=api.url,
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "telegram",
            "whatsapp",
            "web",
            "--listen",
            f"127.0.0.1:{hooks}",
            "--web-listen",
            f"127.0.0.1:{web}",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            api.webhook_url = f"http://127.0.0.1:{hooks}{WEBHOOK_PATH}"
            await until_up(f"http://127.0.0.1:{hooks}/healthz", process)
            await until_up(f"http://127.0.0.1:{web}/healthz", process)
            [first] = await api.text(api.worker("Sana"), codes["KHI-001"])
            assert "choose your language" in first.text
            tg.user_sends_start(9950, codes["KHI-001"])
            await tg.wait_for_messages(9950, 1, timeout=30)
            async with _browser_login(f"http://127.0.0.1:{web}", member.email or "") as client:
                assert (await client.get("/account")).status_code == 200
            # The portal is not served on the webhook port, nor the webhooks on the portal's.
            async with httpx.AsyncClient() as other:
                assert (await other.get(f"http://127.0.0.1:{hooks}/login")).status_code == 404
                wrong = await other.post(f"http://127.0.0.1:{web}{WEBHOOK_PATH}")
                assert wrong.status_code in (403, 404)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
    logs = stderr.decode()
    assert process.returncode == 0, logs
    for line in ("whatsapp webhook stopped", "telegram bot stopped", "web portal stopped"):
        assert line in logs
    assert (member.email or "@") not in logs


# ------------------------------------------------------------------ translations
PLACEHOLDER = re.compile(r"%\((\w+)\)s|\{(\w+)\}")
# Urdu spelling, not Arabic (the worker catalogs' test has the same rule).
NOT_URDU = {"\u064a": "Arabic yeh", "\u0643": "Arabic kaf", "\u0647": "Arabic heh"}


def _portal_msgids() -> set[str | tuple[str, ...]]:
    """The portal's texts as `make extract-portal` finds them in the code, now."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_keywords

    from bot.config import PROJECT_ROOT

    keywords = {**DEFAULT_KEYWORDS, **parse_keywords(["N_", "translate:2", "ntranslate:2,3"])}
    found = extract_from_dir(
        PROJECT_ROOT,
        method_map=[("bot/web/**.py", "python"), ("bot/web/templates/**.html", "jinja2")],
        options_map={
            "bot/web/templates/**.html": {"extensions": "jinja2.ext.i18n", "trimmed": "true"}
        },
        keywords=keywords,
    )
    return {message if isinstance(message, str) else tuple(message) for _, _, message, *_ in found}


def test_every_portal_text_is_translated_into_dutch_and_urdu() -> None:
    from babel.messages.pofile import read_po

    from bot.config import PROJECT_ROOT

    wanted = _portal_msgids()
    assert "Log in" in wanted and len(wanted) > 50
    for lang in ("nl", "ur"):
        path = PROJECT_ROOT / "locales" / lang / "LC_MESSAGES" / "portal.po"
        with path.open("rb") as fh:
            catalog = read_po(fh)
        entries = {(m.id if isinstance(m.id, str) else tuple(m.id)): m for m in catalog if m.id}
        missing = sorted(map(str, wanted - set(entries)))
        assert not missing, f"{lang}: run `make extract-portal`; not in portal.po: {missing[:5]}"
        for key in wanted:
            message = entries[key]
            sources = [key] if isinstance(key, str) else list(key)
            targets = [message.string] if isinstance(key, str) else list(message.string)
            assert all(targets) and not message.fuzzy, f"{lang}: untranslated {key!r}"
            expected = {m for s in sources for m in PLACEHOLDER.findall(s)}
            for target in targets:
                assert {m for m in PLACEHOLDER.findall(target)} <= expected, (lang, key)
                if lang == "ur":
                    bad = [name for letter, name in NOT_URDU.items() if letter in target]
                    assert not bad, f"ur: {bad} in {target!r}"
            if len(sources) == 1:  # every value the page passes in is shown
                assert {m for m in PLACEHOLDER.findall(targets[0])} == expected, (lang, key)
