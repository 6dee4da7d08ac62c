"""The portal in a real browser: Debian's chromium, headless, driven by Playwright (Python),
against the portal served by uvicorn on a free 127.0.0.1 port (same event loop as the test, so
it shares the test's database).

Skipped only when no chromium binary exists (`apt-get install chromium` enables them).
Screenshots go to $WAGECHECK_PORTAL_SHOTS when set (e.g. /tmp/portal-shots), else to the
test's temporary folder.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

from bot.bootstrap import App
from bot.web.app import create_web_app
from bot.web.server import serve_asgi
from tests.portal_helpers import PASSWORD, make_account

CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium") or "") if p and Path(p).exists()),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="browser tests need Debian's chromium: apt-get install chromium",
)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def portal(app: App) -> AsyncIterator[str]:
    """The portal's base URL, served over real HTTP for the length of the test."""
    port = _free_port()
    stop = asyncio.Event()
    web = create_web_app(app, secure_cookies=False)
    task = asyncio.create_task(serve_asgi(web, f"127.0.0.1:{port}", stop, "test-portal"))
    base = f"http://127.0.0.1:{port}"
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(200):
            try:
                if (await client.get(f"{base}/healthz")).status_code == 200:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError("the portal did not come up")
    try:
        yield base
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM is not None
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("WAGECHECK_PORTAL_SHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _page(browser: Browser, base: str, locale: str, viewport: dict[str, int]) -> Page:
    context = await browser.new_context(base_url=base, locale=locale, viewport=viewport)  # type: ignore[arg-type]
    return await context.new_page()


async def _log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    await page.goto("/login")
    await page.locator("#email").fill(email)
    await page.locator("#password").fill(password)
    await page.locator("#password").press("Enter")
    await page.wait_for_url(lambda url: "/login" not in url)


async def _overflow(page: Page) -> int:
    """How many pixels the page is wider than the window (a phone page must not scroll
    sideways)."""
    return int(
        await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


async def _style(page: Page, selector: str, prop: str) -> str:
    return str(
        await page.eval_on_selector(
            selector, f"el => getComputedStyle(el).getPropertyValue('{prop}')"
        )
    )


async def test_urdu_pages_render_right_to_left(
    app: App, portal: str, browser: Browser, shots: Path
) -> None:
    cso = await make_account(app, "Karachi Workers Support", "cso", "admin")
    for lang, size_name, viewport in (
        ("ur-PK", "desktop", DESKTOP),
        ("en-GB", "desktop", DESKTOP),
        ("ur-PK", "phone", PHONE),
        ("en-GB", "phone", PHONE),
    ):
        page = await _page(browser, portal, lang, viewport)
        await page.goto("/login")
        rtl = lang.startswith("ur")
        assert await page.get_attribute("html", "lang") == lang[:2]
        assert await _style(page, "body", "direction") == ("rtl" if rtl else "ltr")
        assert await page.locator("h1").inner_text() == ("لاگ ان" if rtl else "Log in")
        await page.screenshot(path=str(shots / f"login-{lang[:2]}-{size_name}.png"), full_page=True)

        await _log_in(page, cso.email or "")
        await page.goto("/account")
        nav = page.locator(".main-nav li").first
        box = await nav.bounding_box()
        wordmark = await page.locator(".wordmark").bounding_box()
        assert box is not None and wordmark is not None
        width = viewport["width"]
        if rtl:  # the first link and the name start at the right edge
            assert box["x"] + box["width"] > width * 0.75, box
            assert wordmark["x"] > width / 2, wordmark
        else:
            assert box["x"] < width * 0.25, box
            assert wordmark["x"] < width / 2, wordmark
        # E-mail addresses stay left-to-right inside the Urdu page.
        assert await _style(page, "dd bdi[dir=ltr]", "direction") == "ltr"
        # Nothing is wider than the screen (no sideways scrolling on a phone).
        overflow = await _overflow(page)
        assert overflow <= 0, f"{lang} {size_name}: {overflow}px wider than the screen"
        await page.screenshot(
            path=str(shots / f"account-{lang[:2]}-{size_name}.png"), full_page=True
        )
        await page.context.close()


async def test_log_in_with_the_keyboard_and_see_where_the_focus_is(
    app: App, portal: str, browser: Browser, shots: Path
) -> None:
    cso = await make_account(app, "Test CSO", "cso", "viewer")
    page = await _page(browser, portal, "en-GB", DESKTOP)
    await page.goto("/login")
    # The e-mail field has the focus on arrival, with a visible outline; type, Tab, type, Enter.
    assert await page.evaluate("document.activeElement.id") == "email"
    await _visible_focus(page)
    await page.keyboard.type(cso.email or "")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.id") == "password"
    await _visible_focus(page)
    await page.screenshot(path=str(shots / "focus-password-en-desktop.png"))
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(lambda url: "/login" not in url)
    assert "/cso" in page.url
    # On a page without autofocus, the first Tab shows the skip link, outlined and on screen.
    await page.goto("/account")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.className") == "skip-link"
    await _visible_focus(page)
    skip = await page.locator(".skip-link").bounding_box()
    assert skip is not None and skip["y"] >= 0
    await page.screenshot(path=str(shots / "focus-skip-link-en-desktop.png"))
    # Tab on to "Log out" (every control on the way shows its focus) and press Enter.
    for _ in range(20):
        await page.keyboard.press("Tab")
        await _visible_focus(page)
        if await page.evaluate("document.activeElement.textContent.trim()") == "Log out":
            break
    else:
        raise AssertionError("Log out is not reachable with Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(lambda url: url.endswith("/login"))


async def _visible_focus(page: Page) -> None:
    """The focused element has a solid outline at least 2 px wide, in a colour that differs
    from the page background."""
    style = await page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
                   return [s.outlineStyle, s.outlineWidth, s.outlineColor]; }"""
    )
    outline, width, colour = style
    assert outline == "solid" and float(width.removesuffix("px")) >= 2, style
    assert colour not in ("rgb(247, 246, 242)", "rgba(0, 0, 0, 0)"), style


async def test_a_wrong_password_shows_a_readable_error(
    app: App, portal: str, browser: Browser
) -> None:
    cso = await make_account(app, "Test CSO", "cso", "viewer")
    page = await _page(browser, portal, "nl-NL", PHONE)
    await page.goto("/login")
    await page.locator("#email").fill(cso.email or "")
    await page.locator("#password").fill("not the password")
    await page.locator("button.primary").click()
    alert = page.get_by_role("alert")
    assert "klopt niet" in await alert.inner_text()
    assert await page.locator("#email").input_value() == cso.email


# ------------------------------------------------------------------ CSO and brand scenarios
async def test_a_cso_admin_creates_a_round_and_downloads_a_poster(
    app: App, portal: str, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    import zxingcpp
    from PIL import Image
    from sqlalchemy import select

    from bot.storage.models import RoundFactory

    app.settings = app.settings.model_copy(update={"telegram_bot_username": "WageCheckTestBot"})
    await app.admin.add_factory("KHI-001", "Korangi Knitwear", "sindh", "Karachi", None, 320)
    await app.admin.add_factory("KHI-002", "Site Apparel", "sindh", "Karachi", None, 150)
    admin = await make_account(app, "Sindh Labour Support Network", "cso", "admin")
    for lang, size_name, viewport in (("en-GB", "desktop", DESKTOP), ("ur-PK", "phone", PHONE)):
        page = await _page(browser, portal, lang, viewport)
        await _log_in(page, admin.email or "")
        await page.goto("/cso/rounds/new")
        await page.screenshot(
            path=str(shots / f"cso-round-new-{lang[:2]}-{size_name}.png"), full_page=True
        )
        await page.locator("#name").fill(f"Karachi, December 2026 ({lang})")
        await page.locator("label[for^=factory-]", has_text="KHI-001").click()
        await page.locator("button.primary[type=submit]").click()
        await page.wait_for_url(re.compile(r"/cso/rounds/\d+"))
        round_id = int(re.search(r"/cso/rounds/(\d+)", page.url).group(1))  # type: ignore[union-attr]
        assert f"({lang})" in await page.locator("h1").inner_text()
        assert await _overflow(page) <= 0, f"{lang} {size_name}: the page scrolls sideways"
        await page.screenshot(
            path=str(shots / f"cso-round-{lang[:2]}-{size_name}.png"), full_page=True
        )
        async with page.expect_download() as pdf_download:
            await page.locator(f"a[href^='/cso/rounds/{round_id}/posters/'][href$='/pdf']").click()
        pdf = tmp_path / f"poster-{lang}.pdf"
        await (await pdf_download.value).save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 5_000
        assert (await pdf_download.value).suggested_filename.endswith("KHI-001.pdf")
        async with page.expect_download() as png_download:
            await page.locator(f"a[href^='/cso/rounds/{round_id}/posters/'][href$='/png']").click()
        png = tmp_path / f"poster-{lang}.png"
        await (await png_download.value).save_as(png)
        async with app.db.transaction() as s:
            code = (
                await s.execute(select(RoundFactory.code).where(RoundFactory.round_id == round_id))
            ).scalar_one()
        links = {r.text for r in zxingcpp.read_barcodes(Image.open(png))}
        assert f"https://t.me/WageCheckTestBot?start={code}" in links
        await page.context.close()


async def test_a_brand_sees_only_its_factories_and_downloads_the_pdf(
    app: App, portal: str, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    from pypdf import PdfReader

    from tests.test_service import Worker, complete_survey, open_round

    await open_round(app)  # "Test CSO", factory KHI-001 (Factory 0)
    await app.admin.add_factory("KHI-002", "Other Mills", "sindh", "Karachi", None, 200)
    rnd = await app.admin.get_round(1)
    code = rnd.factories[0].code
    for i in range(12):
        await complete_survey(Worker(app, f"brand-test-{i}"), code)
    await app.admin.close_round(1)
    await app.admin.add_org("Noordzee Fashion", "brand")
    await app.admin.link("Noordzee Fashion", ["KHI-001"])
    await app.admin.add_org("Other Brand", "brand")
    await app.admin.link("Other Brand", ["KHI-002"])
    brand = await make_account(app, "Noordzee Fashion", "brand", "viewer")
    for lang, size_name, viewport in (("nl-NL", "desktop", DESKTOP), ("ur-PK", "phone", PHONE)):
        page = await _page(browser, portal, lang, viewport)
        await _log_in(page, brand.email or "")
        await page.goto("/brand/factories")
        text = await page.locator("main").inner_text()
        assert "KHI-001" in text and "KHI-002" not in text and "Other Mills" not in text
        await page.screenshot(
            path=str(shots / f"brand-factories-{lang[:2]}-{size_name}.png"), full_page=True
        )
        assert await _overflow(page) <= 0, f"{lang} {size_name}: factories scroll sideways"
        await page.goto("/brand/results/1")
        assert await _overflow(page) <= 0, f"{lang} {size_name}: results scroll sideways"
        await page.screenshot(
            path=str(shots / f"brand-results-{lang[:2]}-{size_name}.png"), full_page=True
        )
        async with page.expect_download() as download:
            await page.locator("a[href*='/download/pdf']").first.click()
        pdf = tmp_path / f"brand-{lang}.pdf"
        await (await download.value).save_as(pdf)
        assert pdf.read_bytes().startswith(b"%PDF")
        words = "".join(p.extract_text() for p in PdfReader(pdf).pages)
        assert "KHI-001" in words and "KHI-002" not in words
        # Another brand's factory does not exist, as far as this brand can tell.
        other = await page.goto("/brand/factories/KHI-002")
        assert other is not None and other.status == 404
        await page.context.close()
