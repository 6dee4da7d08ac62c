"""Helpers for the portal tests (tests/test_portal_*.py): an HTTP client over the real ASGI app,
accounts, logging in, and forms with their CSRF token."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy import select

from bot.bootstrap import App
from bot.storage.models import Organisation, WebAccount
from bot.web.app import create_web_app

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_numbers = itertools.count(1)


@asynccontextmanager
async def portal_client(app: App, address: str = "127.0.0.1") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the portal in-process (no redirects followed), from the
    client address `address` (the socket's peer the portal sees)."""
    web = create_web_app(app, secure_cookies=False)
    transport = httpx.ASGITransport(app=web, client=(address, 50123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def make_account(
    app: App,
    org_name: str,
    kind: str,
    role: str,
    email: str | None = None,
    password: str = PASSWORD,
) -> WebAccount:
    """A portal account in `org_name` (a "cso" or "brand", created if missing)."""
    async with app.db.transaction() as s:
        exists = (
            await s.execute(select(Organisation).where(Organisation.name == org_name))
        ).scalar()
    if exists is None:
        await app.admin.add_org(org_name, kind)
    email = (
        email or f"{role}{next(_numbers)}@{re.sub(r'[^a-z0-9]+', '-', org_name.lower())}.example"
    )
    return await app.accounts.create_account(org_name, role, email, password)


def csrf_from(html: str) -> str:
    """The CSRF token of a page's forms."""
    found = _CSRF.search(html)
    assert found, "no csrf_token field in the page"
    return found.group(1)


async def csrf_token(client: httpx.AsyncClient, page: str = "/login") -> str:
    """A CSRF token for this client's cookie (any page with a form carries it)."""
    response = await client.get(page)
    if response.status_code == 200 and _CSRF.search(response.text):
        return csrf_from(response.text)
    return csrf_from((await client.get("/login")).text)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Log in through the log-in form; asserts that it worked (303 to the home page)."""
    token = await csrf_token(client)
    response = await client.post(
        "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    assert response.status_code == 303, (response.status_code, response.text[:500])
    return response


async def post_form(
    client: httpx.AsyncClient,
    url: str,
    data: dict[str, Any] | None = None,
    files: dict[str, Any] | None = None,
    page: str | None = None,
) -> httpx.Response:
    """POST a form the way a browser does: with the CSRF token of a page (`page`, else `url`
    itself, else the log-in page)."""
    token = await csrf_token(client, page or url)
    return await client.post(url, data={**(data or {}), "csrf_token": token}, files=files)
