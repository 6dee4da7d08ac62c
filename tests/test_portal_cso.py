"""The CSO pages of the portal through HTTP (the real ASGI app, a real database): who may see
and change what (logged out, brand, CSO viewer, another CSO), CSRF, and the real flows —
a round created, scheduled, opened, extended and closed through the forms; factories added,
edited, linked and imported from CSV; posters with QR codes that scan; members and invites;
the organisation's audit log; and the results of a closed round with small cells hidden."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from bot.bootstrap import App
from bot.config import Settings
from bot.service import brand_portal, cso_portal
from bot.service.admin import AdminError
from bot.service.cso_portal import DayCount
from bot.storage.models import (
    AuditEntry,
    BrandFactory,
    Factory,
    Invite,
    Member,
    Round,
    WebAccount,
)
from bot.web.cso_chart import day_chart, nice_ceiling
from tests.portal_helpers import login, make_account, portal_client, post_form
from tests.test_reports import Say, answer

KARACHI = ZoneInfo("Asia/Karachi")
CSO = "Karachi Workers Centre"
OTHER = "Lahore Labour Desk"
BRAND = "Noordzee Fashion"
BOT = "WageCheckTestBot"
NUMBER = "923001234567"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Posters need a way in: a bot username and a WhatsApp number."""
    return settings.model_copy(update={"telegram_bot_username": BOT, "whatsapp_number": NUMBER})


@dataclass
class World:
    admin: WebAccount
    viewer: WebAccount
    other: WebAccount  # an admin of another CSO
    brand: WebAccount
    round_id: int  # a draft round of CSO
    rf_id: int  # one of its factories (round_factories.id)
    closed_id: int  # a closed round of CSO
    factory_id: int  # a factory of CSO
    shared_id: int  # a factory of the shared register (command line)
    other_factory_id: int
    other_round_id: int
    member_id: int  # a bot member of CSO
    invite_id: int  # a pending bot invite of CSO

    def ids(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if isinstance(v, int)}


def _future(app: App, days: int) -> datetime:
    return (app.clock() + timedelta(days=days)).replace(microsecond=0)


async def make_world(app: App) -> World:
    admin = await make_account(app, CSO, "cso", "admin")
    viewer = await make_account(app, CSO, "cso", "viewer")
    other = await make_account(app, OTHER, "cso", "admin")
    brand = await make_account(app, BRAND, "brand", "viewer")
    a = app.admin
    own = await a.add_factory("KHI-001", "Korangi Knitwear", "sindh", "Karachi", None, 100, cso=CSO)
    await a.add_factory("KHI-002", "Landhi Denim", "sindh", "Karachi", None, 40, cso=CSO)
    shared = await a.add_factory("SHR-001", "Shared Stitching", "sindh", "Karachi")
    theirs = await a.add_factory("LHE-001", "Ravi Garments", "punjab", "Lahore", cso=OTHER)
    draft = await a.create_round(
        "Round A", CSO, app.survey, ["KHI-001", "KHI-002"], _future(app, 1), _future(app, 20)
    )
    closed = await a.open_round("Round B", CSO, app.survey, ["KHI-001"])
    await a.close_round(closed.id)
    other_round = await a.open_round("Round O", OTHER, app.survey, ["LHE-001"])
    members = app.members
    code, _ = await members.create_invite(CSO, "viewer")
    membership = await members.join("telegram", "555001", code)
    assert membership is not None
    _, pending = await members.create_invite(CSO, "viewer")
    return World(
        admin=admin,
        viewer=viewer,
        other=other,
        brand=brand,
        round_id=draft.id,
        rf_id=min(rf.id for rf in draft.factories),
        closed_id=closed.id,
        factory_id=own.id,
        shared_id=shared.id,
        other_factory_id=theirs.id,
        other_round_id=other_round.id,
        member_id=membership.member_id,
        invite_id=pending.id,
    )


# (method, path, admin only, belongs to the CSO: another CSO gets 404)
ROUTES: list[tuple[str, str, bool, bool]] = [
    ("GET", "/cso", False, False),
    ("GET", "/cso/rounds", False, False),
    ("GET", "/cso/rounds/new", True, False),
    ("POST", "/cso/rounds/new", True, False),
    ("GET", "/cso/rounds/{round_id}", False, True),
    ("GET", "/cso/rounds/{round_id}/counts", False, True),
    ("GET", "/cso/rounds/{round_id}/posters/{rf_id}/pdf", False, True),
    ("GET", "/cso/rounds/{closed_id}/results", False, True),
    ("GET", "/cso/rounds/{closed_id}/results/csv", False, True),
    ("GET", "/cso/rounds/{closed_id}/results/answers", False, True),
    ("POST", "/cso/rounds/{round_id}/schedule", True, True),
    ("POST", "/cso/rounds/{round_id}/unschedule", True, True),
    ("POST", "/cso/rounds/{round_id}/open", True, True),
    ("POST", "/cso/rounds/{round_id}/extend", True, True),
    ("POST", "/cso/rounds/{round_id}/close", True, True),
    ("POST", "/cso/rounds/{round_id}/cancel", True, True),
    ("POST", "/cso/rounds/{round_id}/help", True, True),
    ("GET", "/cso/factories", False, False),
    ("GET", "/cso/factories/new", True, False),
    ("POST", "/cso/factories/new", True, False),
    ("GET", "/cso/factories/import", True, False),
    ("POST", "/cso/factories/import", True, False),
    ("GET", "/cso/factories/{factory_id}", False, True),
    ("POST", "/cso/factories/{factory_id}", True, True),
    ("POST", "/cso/factories/{factory_id}/link", True, True),
    ("POST", "/cso/factories/{factory_id}/unlink", True, True),
    ("GET", "/cso/members", False, False),
    ("POST", "/cso/members/invite/portal", True, False),
    ("POST", "/cso/members/invite/bot", True, False),
    ("POST", "/cso/members/{member_id}/revoke", True, True),
    ("POST", "/cso/accounts/{viewer_id}/disable", True, True),
    ("POST", "/cso/invites/bot/{invite_id}/withdraw", True, True),
    ("GET", "/cso/audit", False, False),
]


def _paths(world: World) -> list[tuple[str, str, bool, bool]]:
    values = {**world.ids(), "viewer_id": world.viewer.id}
    return [(m, p.format(**values), admin, own) for m, p, admin, own in ROUTES]


async def _call(client: httpx.AsyncClient, method: str, path: str) -> httpx.Response:
    if method == "GET":
        return await client.get(path)
    return await post_form(client, path, {}, page="/login")


async def _round(app: App, round_id: int) -> Round:
    async with app.db.transaction() as s:
        rnd = await s.get(Round, round_id)
        assert rnd is not None
        return rnd


async def _audit(app: App, *actions: str) -> list[AuditEntry]:
    async with app.db.transaction() as s:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if actions:
            query = query.where(AuditEntry.action.in_(actions))
        return list((await s.execute(query)).scalars())


# ------------------------------------------------------------------------------ access
async def test_logged_out_visitors_are_sent_to_the_login_page_from_every_route(app: App) -> None:
    world = await make_world(app)
    async with portal_client(app) as client:
        for method, path, _, _ in _paths(world):
            response = await _call(client, method, path)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/login?next=/cso"), (method, path)
    assert await _round(app, world.round_id) is not None
    assert (await _round(app, world.round_id)).status == "draft"


async def test_a_brand_account_gets_403_on_every_cso_route(app: App) -> None:
    world = await make_world(app)
    async with portal_client(app) as client:
        await login(client, world.brand.email or "")
        for method, path, _, _ in _paths(world):
            response = await _call(client, method, path)
            assert response.status_code == 403, (method, path, response.status_code)


async def test_a_cso_viewer_reads_everything_and_changes_nothing(app: App) -> None:
    world = await make_world(app)
    before = len(await _audit(app))
    async with portal_client(app) as client:
        await login(client, world.viewer.email or "")
        for method, path, admin_only, _ in _paths(world):
            response = await _call(client, method, path)
            expected = 403 if admin_only else 303 if path == "/cso" else 200
            assert response.status_code == expected, (method, path, response.status_code)
            if path == "/cso":
                assert response.headers["location"] == "/cso/rounds"
        # Nothing to press: no change forms on the pages a viewer sees.
        page = (await client.get(f"/cso/rounds/{world.round_id}")).text
        assert "/schedule" not in page and "/extend" not in page
        factory = (await client.get(f"/cso/factories/{world.factory_id}")).text
        assert 'name="region"' not in factory and "/unlink" not in factory
    assert (await _round(app, world.round_id)).status == "draft"
    # Only the log-in and the viewer's downloads were recorded.
    actions = {e.action for e in (await _audit(app))[before:]}
    assert actions <= {"login", "report.download"}, actions


async def test_another_csos_rounds_factories_and_people_are_404(app: App) -> None:
    world = await make_world(app)
    async with portal_client(app) as client:
        await login(client, world.other.email or "")
        for method, path, _, own in _paths(world):
            if own:
                response = await _call(client, method, path)
                assert response.status_code == 404, (method, path, response.status_code)
        listing = (await client.get("/cso/rounds")).text
        assert "Round O" in listing and "Round A" not in listing and "Round B" not in listing
        factories = (await client.get("/cso/factories")).text
        assert "LHE-001" in factories and "SHR-001" in factories and "KHI-001" not in factories
        # A poster of another CSO's round, and a factory of another round in this one: 404.
        mine = await _round(app, world.other_round_id)
        assert (
            await client.get(f"/cso/rounds/{mine.id}/posters/{world.rf_id}/pdf")
        ).status_code == 404
    # The shared factory is readable by both, and changeable by neither in the portal.
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        shared = f"/cso/factories/{world.shared_id}"
        assert (await client.get(shared)).status_code == 200
        edit = await post_form(client, shared, {"name": "X", "region": "sindh"})
        assert edit.status_code == 403
    assert (await _round(app, world.round_id)).status == "draft"


async def test_a_form_without_its_csrf_token_is_refused(app: App) -> None:
    world = await make_world(app)
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        refused = await client.post(f"/cso/rounds/{world.round_id}/schedule", data={})
        assert refused.status_code == 403
        forged = await client.post(
            f"/cso/rounds/{world.round_id}/schedule", data={"csrf_token": "0" * 64}
        )
        assert forged.status_code == 403
    assert (await _round(app, world.round_id)).status == "draft"
    assert not await _audit(app, "round.schedule")


# ------------------------------------------------------------------------------ rounds
def _local(moment: datetime, app: App) -> str:
    return moment.astimezone(ZoneInfo(app.settings.time_zone)).strftime("%Y-%m-%dT%H:%M")


async def test_a_round_is_created_scheduled_opened_extended_and_closed_through_the_forms(
    app: App,
) -> None:
    world = await make_world(app)
    actor = f"web:{world.admin.id}"
    opens, closes = _future(app, 2), _future(app, 16)
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        form = await client.get("/cso/rounds/new")
        assert "KHI-001" in form.text and "SHR-001" in form.text and "LHE-001" not in form.text
        # A mistake first: no factory, bad reminder number → 400, the form keeps what was typed.
        bad = await post_form(
            client,
            "/cso/rounds/new",
            {
                "name": "December",
                "survey": app.survey.key,
                "max_reminders": "9",
                "reminder_delay_hours": "24",
            },
        )
        assert bad.status_code == 400
        assert "Choose at least one factory." in bad.text and 'value="December"' in bad.text
        created = await post_form(
            client,
            "/cso/rounds/new",
            {
                "name": "December",
                "survey": app.survey.key,
                "factory": ["KHI-001", "SHR-001"],
                "opens_at": _local(opens, app),
                "closes_at": _local(closes, app),
                "max_reminders": "2",
                "reminder_delay_hours": "36",
                "then": "draft",
            },
        )
        assert created.status_code == 303, created.text[:2000]
        location = created.headers["location"]
        round_id = int(re.search(r"/cso/rounds/(\d+)", location).group(1))  # type: ignore[union-attr]
        rnd = await _round(app, round_id)
        assert (rnd.status, rnd.cso_id, rnd.max_reminders, rnd.reminder_delay_minutes) == (
            "draft",
            world.admin.org_id,
            2,
            36 * 60,
        )
        assert rnd.opens_at == opens.replace(second=0)
        assert rnd.closes_at == closes.replace(second=0)
        page = await client.get(location)
        assert page.status_code == 200 and "created as a draft" in page.text
        assert "SHR-001" in page.text and f"/cso/rounds/{round_id}/posters/" in page.text

        url = f"/cso/rounds/{round_id}"
        assert (await post_form(client, f"{url}/schedule", page=url)).status_code == 303
        assert (await _round(app, round_id)).status == "scheduled"
        # The lifecycle refuses what it does not allow, and the page says why.
        again = await post_form(client, f"{url}/schedule", page=url)
        assert again.status_code == 400 and "cannot become scheduled" in again.text
        # No 2026-27 wage line for Sindh yet: the page says so, and opening needs the box ticked.
        scheduled = (await client.get(url)).text
        assert "The minimum wages may be out of date" in scheduled
        assert "Sindh: latest notified minimum from 1 Jul 2025" in scheduled
        assert 'name="accept_stale_wages"' in scheduled
        refused = await post_form(client, f"{url}/open", page=url)
        assert refused.status_code == 400
        assert "sindh (latest line from 2025-07-01)" in refused.text
        assert (await _round(app, round_id)).status == "scheduled"
        opened = await post_form(client, f"{url}/open", {"accept_stale_wages": "yes"}, page=url)
        assert opened.status_code == 303
        assert (await _round(app, round_id)).status == "open"
        live = (await client.get(url)).text
        assert f'data-live-src="/cso/rounds/{round_id}/counts"' in live
        assert "cso-live.js" in live
        later = closes + timedelta(days=7)
        extended = await post_form(
            client, f"{url}/extend", {"closes_at": _local(later, app)}, page=url
        )
        assert extended.status_code == 303
        assert (await _round(app, round_id)).closes_at == later.replace(second=0)
        unconfirmed = await post_form(client, f"{url}/close", page=url)
        assert unconfirmed.status_code == 400 and "Tick the box" in unconfirmed.text
        assert (await _round(app, round_id)).status == "open"
        closed = await post_form(client, f"{url}/close", {"confirm": "yes"}, page=url)
        assert closed.status_code == 303 and closed.headers["location"] == f"{url}?done=close"
        assert (await _round(app, round_id)).status == "closed"
        assert f"{url}/results" in (await client.get(url)).text
    entries = [e for e in await _audit(app) if e.target == f"round {round_id}" and e.actor == actor]
    assert [e.action for e in entries] == [
        "round.create",
        "round.schedule",
        "round.open",
        "round.extend",
        "round.close",
        "round.purge",
    ]
    assert entries[0].details["factories"] == ["KHI-001", "SHR-001"]


async def test_create_and_open_at_once_and_cancel(app: App) -> None:
    world = await make_world(app)
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        created = await post_form(
            client,
            "/cso/rounds/new",
            {
                "name": "Now",
                "survey": app.survey.key,
                "factory": "KHI-002",
                "closes_at": _local(_future(app, 10), app),
                "max_reminders": "0",
                "reminder_delay_hours": "24",
                "then": "open",
                "accept_stale_wages": "yes",
            },
        )
        assert created.status_code == 303 and created.headers["location"].endswith("done=open")
        round_id = int(created.headers["location"].split("/")[3].split("?")[0])
        assert (await _round(app, round_id)).status == "open"
        url = f"/cso/rounds/{round_id}"
        cancelled = await post_form(client, f"{url}/cancel", {"confirm": "yes"}, page=url)
        assert cancelled.status_code == 303
        assert (await _round(app, round_id)).status == "cancelled"
        # Scheduling a draft without dates is refused with the service's reason.
        draft = await post_form(
            client,
            "/cso/rounds/new",
            {
                "name": "Undated",
                "survey": app.survey.key,
                "factory": "KHI-001",
                "max_reminders": "1",
                "reminder_delay_hours": "24",
                "then": "schedule",
            },
        )
        assert draft.status_code == 400 and "needs an opening and a closing time" in draft.text
        undated = max(r.id for r in await cso_portal.cso_rounds(app.db, world.admin.org_id))
        assert (await _round(app, undated)).status == "draft"


async def test_live_counts_and_the_chart_show_counts_only(app: App) -> None:
    world = await make_world(app)
    rnd = await app.admin.open_round("Live", CSO, app.survey, ["KHI-001", "KHI-002"])
    codes = {rf.factory.code: rf.code for rf in rnd.factories}
    # Started and completed on one Karachi day, whatever the hour the suite runs (a survey
    # takes minutes: begun at 23:59 it ends the next day).
    now = app.clock().astimezone(KARACHI).replace(hour=10, minute=0)
    for _ in range(3):
        await answer(app, codes["KHI-001"], Say(pay="41234"), clock=now)
    async with portal_client(app) as client:
        await login(client, world.viewer.email or "")
        fragment = await client.get(f"/cso/rounds/{rnd.id}/counts")
        assert fragment.status_code == 200 and "<html" not in fragment.text
        row = re.search(r"KHI-001</bdi>.*?</tr>", fragment.text, re.S)
        assert row and re.findall(r'<td class="num">([^<]*)</td>', row.group(0))[:4] == [
            "3",
            "3",
            "100",
            "3%",
        ]
        page = (await client.get(f"/cso/rounds/{rnd.id}")).text
        svg = re.search(r"<svg viewBox.*?</svg>", page, re.S)
        assert svg and 'role="img"' in svg.group(0) and "<desc" in svg.group(0)
        assert "3 started, 3 completed" in svg.group(0)
        assert f'fill="url(#round-{rnd.id}-hatch)"' in svg.group(0)  # a pattern, not a colour
        assert "The numbers as a table" in page
        assert "41234" not in page and "41,234" not in page  # never an answer
        home = (await client.get("/cso/rounds")).text
        assert "Responses per day in all your rounds" in home and "41,234" not in home


# ------------------------------------------------------------------------------ posters
def _decode(image: Image.Image) -> set[str]:
    return {b.text for b in zxingcpp.read_barcodes(image)}


async def test_posters_are_real_pdf_and_png_with_codes_that_scan(app: App) -> None:
    world = await make_world(app)
    rnd = await _round(app, world.round_id)
    async with app.db.transaction() as s:
        rnd = await s.get(Round, world.round_id)
        assert rnd is not None
        rf = next(rf for rf in rnd.factories if rf.id == world.rf_id)
    expected = {f"https://t.me/{BOT}?start={rf.code}", f"https://wa.me/{NUMBER}?text={rf.code}"}
    async with portal_client(app) as client:
        await login(client, world.viewer.email or "")
        pdf = await client.get(f"/cso/rounds/{world.round_id}/posters/{world.rf_id}/pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"
        assert (
            f"poster-round-{world.round_id}-{rf.factory.code}.pdf"
            in pdf.headers["content-disposition"]
        )
        (page,) = PdfReader(io.BytesIO(pdf.content)).pages
        (image,) = page.images
        assert _decode(image.image) == expected
        assert f"Code: {rf.code}" in page.extract_text()
        png = await client.get(f"/cso/rounds/{world.round_id}/posters/{world.rf_id}/png")
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(png.content)) as picture:
            assert picture.text["Poster code"] == rf.code
            assert _decode(picture) == expected
        assert (
            await client.get(f"/cso/rounds/{world.round_id}/posters/{world.rf_id}/svg")
        ).status_code == 404


# ------------------------------------------------------------------------------ results
async def test_results_of_a_closed_round_show_counts_and_hide_small_cells(app: App) -> None:
    world = await make_world(app)
    rnd = await app.admin.open_round("Results", CSO, app.survey, ["KHI-001", "KHI-002"])
    codes = {rf.factory.code: rf.code for rf in rnd.factories}
    for i in range(6):
        await answer(app, codes["KHI-001"], Say(pay="41000" if i < 4 else "38000"))
    for _ in range(2):
        await answer(app, codes["KHI-002"], Say(pay="30000", comment="the supervisor shouts"))
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        url = f"/cso/rounds/{rnd.id}"
        assert (await client.get(f"{url}/results")).status_code == 404  # still open
        assert (
            await post_form(client, f"{url}/close", {"confirm": "yes"}, page=url)
        ).status_code == 303
        page = await client.get(f"{url}/results")
        assert page.status_code == 200
        html = page.text
        assert "Figures from fewer than 5 answers are not shown" in html
        summary = html.split('id="summary-heading"')[1].split("</table>")[0]
        big = re.search(r'dir="ltr">KHI-001</th>.*?</tr>', summary, re.S)
        small = re.search(r'dir="ltr">KHI-002</th>.*?</tr>', summary, re.S)
        assert big and small
        assert '<td class="num">6</td>' in big.group(0) and "67%" in big.group(0)
        assert "fewer than 5 answers" in small.group(0)
        assert not re.search(r">\s*2\s*<", small.group(0))  # the 2 answers are not shown
        assert "30,000" not in html and "30000" not in html  # nor their pay
        assert "the supervisor shouts" not in html  # comments only in the answer-level file
        quality = html.split('id="quality-heading"')[1]
        assert "Many answers within one hour" in quality  # six completions in one hour
        # Downloads: the CSO formats and the answer-level CSV, each audited.
        zipped = await client.get(f"{url}/results/csv?lang=nl")
        assert zipped.status_code == 200
        with zipfile.ZipFile(io.BytesIO(zipped.content)) as z:
            assert any(name.startswith("factories") for name in z.namelist())
        pdf = await client.get(f"{url}/results/pdf")
        assert pdf.content.startswith(b"%PDF")
        answers = await client.get(f"{url}/results/answers")
        assert answers.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(answers.content.decode("utf-8-sig"))))
        assert len(rows) == 8
        assert {r["factory_code"] for r in rows} == {"KHI-001", "KHI-002"}
        assert sum(r.get("comment") == "the supervisor shouts" for r in rows) == 2
        assert (await client.get(f"{url}/results/docx")).status_code == 404
    downloads = await _audit(app, "report.download")
    assert {e.target for e in downloads} == {f"round {rnd.id}"}
    assert {e.details["audience"] for e in downloads} == {f"cso:{CSO}"}
    assert [(e.actor, e.details["format"]) for e in downloads] == [
        (f"web:{world.admin.id}", "csv"),
        (f"web:{world.admin.id}", "pdf"),
        (f"web:{world.admin.id}", "answers"),
    ]


# ------------------------------------------------------------------------------ factories
async def test_factories_are_added_edited_and_linked_to_brands(app: App) -> None:
    world = await make_world(app)
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        added = await post_form(
            client,
            "/cso/factories/new",
            {
                "code": "KHI-009",
                "name": "Site Nine",
                "region": "sindh",
                "city": "Karachi",
                "os_id": "PK2024000NINE",
                "headcount": "250",
            },
        )
        assert added.status_code == 303
        factory_url = added.headers["location"].split("?")[0]
        async with app.db.transaction() as s:
            f = (await s.execute(select(Factory).where(Factory.code == "KHI-009"))).scalar_one()
        assert (f.cso_id, f.headcount, f.os_id) == (world.admin.org_id, 250, "PK2024000NINE")
        duplicate = await post_form(
            client, "/cso/factories/new", {"code": "KHI-009", "name": "Again", "region": "sindh"}
        )
        assert duplicate.status_code == 400 and "is taken" in duplicate.text
        same_os = await post_form(
            client,
            "/cso/factories/new",
            {"code": "KHI-010", "name": "Ten", "region": "sindh", "os_id": "PK2024000NINE"},
        )
        assert (
            same_os.status_code == 400
            and "already that of factory &#39;KHI-009&#39;" in same_os.text
        )
        bad = await post_form(
            client, factory_url, {"name": "Site 9", "region": "mars", "headcount": "many"}
        )
        assert bad.status_code == 400
        assert "Choose the region." in bad.text and "Headcount: a whole number" in bad.text
        saved = await post_form(
            client,
            factory_url,
            {
                "name": "Site 9",
                "region": "sindh",
                "city": "Karachi",
                "os_id": "PK2024000NINE",
                "headcount": "260",
            },
        )
        assert saved.status_code == 303
        linked = await post_form(client, f"{factory_url}/link", {"brand": BRAND}, page=factory_url)
        assert linked.status_code == 303
        page = (await client.get(factory_url)).text
        assert BRAND in page and "/unlink" in page
        listing = (await client.get("/cso/factories")).text
        assert "Site 9" in listing and BRAND in listing
        unknown = await post_form(client, f"{factory_url}/link", {"brand": OTHER}, page=factory_url)
        assert unknown.status_code == 400 and "Choose a brand." in unknown.text
        unlinked = await post_form(
            client, f"{factory_url}/unlink", {"brand": BRAND}, page=factory_url
        )
        assert unlinked.status_code == 303
    async with app.db.transaction() as s:
        f = (await s.execute(select(Factory).where(Factory.code == "KHI-009"))).scalar_one()
        assert (f.name, f.headcount) == ("Site 9", 260)
        assert (await s.execute(select(BrandFactory))).first() is None
    actions = [
        (e.action, e.actor)
        for e in await _audit(app, "factory.add", "factory.edit", "brand.link", "brand.unlink")
        if e.actor.startswith("web:")
    ]
    actor = f"web:{world.admin.id}"
    assert actions == [
        ("factory.add", actor),
        ("factory.edit", actor),
        ("brand.link", actor),
        ("brand.unlink", actor),
    ]


async def test_csv_import_with_a_bad_row_imports_nothing_and_names_the_line(app: App) -> None:
    world = await make_world(app)
    good = (
        "code,name,region,city,os_id,headcount\n"
        "KHI-101,Alpha Apparel,sindh,Karachi,PK2025000AAA,120\n"
        "LHR-102,Beta Bags,Punjab,Lahore,,\n"
    )
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        bad = await post_form(
            client,
            "/cso/factories/import",
            {"text": good + "KHI-103,Gamma,moon,Karachi,,50\n"},
        )
        assert bad.status_code == 400
        assert "line 4: region must be one of sindh, punjab, islamabad" in bad.text
        assert "KHI-103,Gamma,moon" in bad.text  # the text stays in the form, to be fixed
        not_number = await post_form(
            client, "/cso/factories/import", {"text": good.replace(",120", ",lots")}
        )
        assert not_number.status_code == 400 and "line 2" in not_number.text
        theirs = await post_form(
            client,
            "/cso/factories/import",
            {"text": "code,name,region\nLHE-001,Mine now,punjab\n"},
        )
        assert theirs.status_code == 400 and "is taken" in theirs.text
        async with app.db.transaction() as s:
            codes = set((await s.execute(select(Factory.code))).scalars())
            assert codes == {"KHI-001", "KHI-002", "SHR-001", "LHE-001"}
            assert (await s.get(Factory, world.other_factory_id)).name == "Ravi Garments"  # type: ignore[union-attr]
        uploaded = await post_form(
            client,
            "/cso/factories/import",
            files={"file": ("factories.csv", ("\ufeff" + good).encode(), "text/csv")},
        )
        assert uploaded.status_code == 200 and "2 added, 0 updated" in uploaded.text
        again = await post_form(
            client, "/cso/factories/import", {"text": good.replace("120", "130")}
        )
        assert again.status_code == 200 and "0 added, 2 updated" in again.text
        latin1 = await post_form(
            client,
            "/cso/factories/import",
            files={"file": ("f.csv", "code,name,region\nK,Caf\xe9,sindh\n".encode("latin-1"))},
        )
        assert latin1.status_code == 400 and "not UTF-8" in latin1.text
    async with app.db.transaction() as s:
        imported = {
            f.code: (f.cso_id, f.region, f.headcount)
            for f in (
                await s.execute(select(Factory).where(Factory.code.in_(["KHI-101", "LHR-102"])))
            ).scalars()
        }
    assert imported == {
        "KHI-101": (world.admin.org_id, "sindh", 130),
        "LHR-102": (world.admin.org_id, "punjab", None),
    }


# ------------------------------------------------------------------------------ another CSO's work
SECRET_OS_ID = "PK2025SECRET01"


async def test_what_a_csos_factory_refusals_tell_of_another_csos_factories(app: App) -> None:
    """A code of another CSO's factory is "taken", in the same words as a code of the shared
    register, and nothing more: not whose, not its name, not its OS ID. An OS ID another CSO
    registered is no reason to refuse; one of the shared register (which every CSO sees) is."""
    world = await make_world(app)
    await app.admin.add_factory(
        "LHE-777", "Secret Stitching", "punjab", "Lahore", SECRET_OS_ID, 90, cso=OTHER
    )
    await app.admin.update_factory(
        "SHR-001", name="Shared Stitching", region="sindh", os_id="PK2025SHARED1"
    )
    hidden = ("Secret Stitching", SECRET_OS_ID, OTHER, "Ravi Garments", "Lahore Labour Desk")

    def tell_nothing(response: httpx.Response) -> None:
        assert not any(word in response.text for word in hidden), response.text[-3000:]

    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        answers = {}
        for code in ("LHE-777", "SHR-001"):
            imported = await post_form(
                client, "/cso/factories/import", {"text": f"code,name,region\n{code},Mine,sindh\n"}
            )
            added = await post_form(
                client, "/cso/factories/new", {"code": code, "name": "Mine", "region": "sindh"}
            )
            for response in (imported, added):
                assert response.status_code == 400 and "is taken" in response.text
                tell_nothing(response)
            answers[code] = _error_text(imported.text).replace(code, "CODE")
        assert answers["LHE-777"] == answers["SHR-001"]
        tell_nothing(await client.get("/cso/factories"))
        # Another CSO's OS ID: the factory is registered, as this CSO's own.
        same_os = await post_form(
            client,
            "/cso/factories/import",
            {"text": f"code,name,region,os_id\nKHI-300,Our name for it,punjab,{SECRET_OS_ID}\n"},
        )
        assert same_os.status_code == 200 and "1 added" in same_os.text
        tell_nothing(same_os)
        by_form = await post_form(
            client,
            "/cso/factories/new",
            {"code": "KHI-301", "name": "Again", "region": "punjab", "os_id": SECRET_OS_ID},
        )
        assert (
            by_form.status_code == 400
            and "already that of factory &#39;KHI-300&#39;" in by_form.text
        )
        # The shared register's OS ID: refused, naming the shared factory it sees anyway.
        shared_os = await post_form(
            client,
            "/cso/factories/new",
            {"code": "KHI-302", "name": "Dup", "region": "sindh", "os_id": "PK2025SHARED1"},
        )
        assert shared_os.status_code == 400 and "SHR-001" in shared_os.text
    async with app.db.transaction() as s:
        owners = {
            f.code: f.cso_id
            for f in (
                await s.execute(select(Factory).where(Factory.os_id == SECRET_OS_ID))
            ).scalars()
        }
    assert owners == {"LHE-777": world.other.org_id, "KHI-300": world.admin.org_id}


def _error_text(html: str) -> str:
    """The refusal a CSO page shows."""
    found = re.search(r'<div class="notice notice-error" role="alert">(.*?)</div>', html, re.S)
    assert found, html[-2000:]
    return found.group(1)


async def test_a_cso_sees_only_the_brand_links_that_carry_its_results(app: App) -> None:
    """On a factory of the shared register: the other CSO links a brand; this CSO does not
    see it (not the name, not a count) and cannot unlink it, and the brand gets none of this
    CSO's results through it. A link made on the command line for every CSO carries this
    CSO's results too, so it is shown (without unlink). When this CSO links the brand itself,
    the brand gets its results, and each CSO's unlinking touches its own link only."""
    world = await make_world(app)
    a = app.admin
    await a.add_org("Everyone's Brand", "brand")
    await a.link("Everyone's Brand", ["SHR-001"])  # the command line, every CSO
    ours = await a.open_round("Round S", CSO, app.survey, ["SHR-001"])
    await a.close_round(ours.id)
    theirs = await a.open_round("Round T", OTHER, app.survey, ["SHR-001"])
    await a.close_round(theirs.id)
    shared = f"/cso/factories/{world.shared_id}"
    async with portal_client(app) as other:
        await login(other, world.other.email or "")
        linked = await post_form(other, f"{shared}/link", {"brand": BRAND}, page=shared)
        assert linked.status_code == 303
        page = (await other.get(shared)).text
        assert BRAND in page and "/unlink" in page
    brand_rounds = {r.name for r in await brand_portal.visible_rounds(app, world.brand.org_id)}
    assert brand_rounds == {"Round T"}  # the other CSO's results only

    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        page = (await client.get(shared)).text
        section = page[page.index('id="brands-heading"') :]
        assert f"<li>{BRAND}" not in section and "/unlink" not in section
        assert "<li>Everyone&#39;s Brand</li>" in section
        assert f'<option value="{BRAND}">' in section  # offered: it has no link of ours
        listing = (await client.get("/cso/factories")).text
        row = listing[listing.index("SHR-001") :].split("</tr>")[0]
        assert "Everyone&#39;s Brand" in row and BRAND not in row
        audit = (await client.get("/cso/audit")).text
        assert "brand.link" not in audit  # the other CSO's link is not in our log
        # Unlinking the other CSO's link is refused, and it stays.
        refused = await post_form(client, f"{shared}/unlink", {"brand": BRAND}, page=shared)
        assert refused.status_code == 400 and "Choose a brand." in refused.text
        assert BRAND not in refused.text.split('id="brands-heading"')[1].split("<form")[0]
        # Linking it ourselves: our results reach the brand too.
        mine = await post_form(client, f"{shared}/link", {"brand": BRAND}, page=shared)
        assert mine.status_code == 303
        page = (await client.get(shared)).text
        assert BRAND in page and "/unlink" in page
    brand_rounds = {r.name for r in await brand_portal.visible_rounds(app, world.brand.org_id)}
    assert brand_rounds == {"Round S", "Round T"}
    factories = await brand_portal.linked_factories(app, world.brand.org_id)
    assert [(f.code, f.rounds) for f in factories] == [("SHR-001", 2)]
    async with portal_client(app) as other:
        await login(other, world.other.email or "")
        gone = await post_form(other, f"{shared}/unlink", {"brand": BRAND}, page=shared)
        assert gone.status_code == 303
    brand_rounds = {r.name for r in await brand_portal.visible_rounds(app, world.brand.org_id)}
    assert brand_rounds == {"Round S"}
    async with app.db.transaction() as s:
        links = {
            (bf.brand_id, bf.cso_id) for bf in (await s.execute(select(BrandFactory))).scalars()
        }
    assert (world.brand.org_id, world.admin.org_id) in links
    assert (world.brand.org_id, world.other.org_id) not in links


async def test_another_csos_factory_cannot_be_linked_even_by_code(app: App) -> None:
    world = await make_world(app)
    with pytest.raises(AdminError, match="no factory with code 'LHE-001'"):
        await app.admin.link(BRAND, ["LHE-001"], cso=CSO)
    with pytest.raises(AdminError, match="no factory with code 'LHE-001'"):
        await app.admin.unlink(BRAND, ["LHE-001"], cso=CSO)
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        url = f"/cso/factories/{world.other_factory_id}/link"
        assert (
            await post_form(client, url, {"brand": BRAND}, page="/cso/factories")
        ).status_code == 404
    async with app.db.transaction() as s:
        assert (await s.execute(select(BrandFactory))).first() is None


# ------------------------------------------------------------------------------ people
async def test_members_invites_and_revoking(app: App) -> None:
    world = await make_world(app)
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        page = (await client.get("/cso/members")).text
        assert world.viewer.email in page and f"member {world.member_id}" in page
        portal = await post_form(
            client,
            "/cso/members/invite/portal",
            {"role": "viewer", "days": "3"},
            page="/cso/members",
        )
        assert portal.status_code == 200
        link = re.search(r'value="(http[^"]+/invite/([^"]+))"', portal.text)
        assert link, portal.text[:2000]
        bot = await post_form(
            client, "/cso/members/invite/bot", {"role": "admin", "days": "7"}, page="/cso/members"
        )
        code = re.search(r"<code dir=\"ltr\">(join_[A-Z0-9]+)</code>", bot.text)
        assert code and f"https://t.me/{BOT}?start={code.group(1)}" in bot.text
        too_long = await post_form(
            client,
            "/cso/members/invite/portal",
            {"role": "viewer", "days": "45"},
            page="/cso/members",
        )
        assert too_long.status_code == 400 and "from 1 to 30" in too_long.text
        withdrawn = await post_form(
            client, f"/cso/invites/bot/{world.invite_id}/withdraw", page="/cso/members"
        )
        assert withdrawn.status_code == 303
        assert (
            await post_form(
                client, f"/cso/invites/bot/{world.invite_id}/withdraw", page="/cso/members"
            )
        ).status_code == 404  # not pending any more
        revoked = await post_form(
            client, f"/cso/members/{world.member_id}/revoke", page="/cso/members"
        )
        assert revoked.status_code == 303
        myself = await post_form(
            client, f"/cso/accounts/{world.admin.id}/disable", page="/cso/members"
        )
        assert myself.status_code == 400
        async with portal_client(app) as viewer_client:
            await login(viewer_client, world.viewer.email or "")
            assert (await viewer_client.get("/cso/members")).status_code == 200
            disabled = await post_form(
                client, f"/cso/accounts/{world.viewer.id}/disable", page="/cso/members"
            )
            assert disabled.status_code == 303
            assert (await viewer_client.get("/cso/members")).status_code == 303  # logged out
    account, _ = await app.accounts.accept_invite(
        link.group(2), "new.person@kwc.example", "a long enough password"
    )
    assert (account.org_id, account.role) == (world.admin.org_id, "viewer")
    members = app.members
    joined = await members.join("telegram", "777", code.group(1))
    assert joined is not None and (joined.org_name, joined.role) == (CSO, "admin")
    async with app.db.transaction() as s:
        assert (await s.get(Member, world.member_id)).revoked_at is not None  # type: ignore[union-attr]
        assert (await s.get(WebAccount, world.viewer.id)).disabled_at is not None  # type: ignore[union-attr]
        invite = await s.get(Invite, world.invite_id)
        assert invite is not None and invite.used_at is None
    actor = f"web:{world.admin.id}"
    assert {
        (e.action, e.actor)
        for e in await _audit(
            app,
            "web_invite.create",
            "invite.create",
            "invite.withdraw",
            "member.revoke",
            "web_account.disable",
        )
        if e.actor == actor
    } == {
        ("web_invite.create", actor),
        ("invite.create", actor),
        ("invite.withdraw", actor),
        ("member.revoke", actor),
        ("web_account.disable", actor),
    }


# ------------------------------------------------------------------------------ audit log
async def test_the_audit_log_shows_the_organisations_entries_only_and_pages(app: App) -> None:
    world = await make_world(app)
    for i in range(55):
        await cso_portal.audit(
            app.db, app.clock(), f"web:{world.admin.id}", "test.entry", f"thing {i}"
        )
    await cso_portal.audit(
        app.db, app.clock(), f"web:{world.other.id}", "test.other", "their thing"
    )
    async with portal_client(app) as client:
        await login(client, world.viewer.email or "")
        first = (await client.get("/cso/audit")).text
        assert first.count('<td class="cso-nowrap">') == 50  # rows of the first page
        assert "login" in first and first.count("test.entry") == 49 and "thing 54" in first
        assert world.admin.email in first  # the actor by e-mail, within the organisation
        assert "Page 1 of 2" in first and 'href="/cso/audit?page=2"' in first
        second = (await client.get("/cso/audit?page=2")).text
        assert "round.create" in second and "member.join" in second and "org.add" in second
        assert f"round {world.round_id}" in second and f"round {world.closed_id}" in second
        everything = first + second
        assert "test.other" not in everything
        assert f"round {world.other_round_id}<" not in everything
        assert "LHE-001" not in everything and OTHER not in everything
        assert (await client.get("/cso/audit?page=99")).status_code == 200


async def test_audit_attribution_rule(app: App) -> None:
    world = await make_world(app)
    page = await cso_portal.audit_page(app.db, world.admin.org_id, CSO, 1, size=500)
    targets = {(e.action, e.target) for e in page.entries}
    assert ("round.create", f"round {world.round_id}") in targets  # its round, by the CLI
    assert ("round.close", f"round {world.closed_id}") in targets
    assert ("factory.add", "KHI-001") in targets  # its own factory
    assert ("factory.add", "SHR-001") not in targets  # the shared register's
    assert ("member.join", CSO) in targets and ("org.add", CSO) in targets
    assert ("web_account.create", CSO) in targets
    assert not any(t in (OTHER, "LHE-001", f"round {world.other_round_id}") for _, t in targets)


# ------------------------------------------------------------------------------ units
def test_chart_geometry_and_axis() -> None:
    assert [nice_ceiling(v) for v in (0, 1, 2, 3, 7, 10, 11, 60, 101)] == [
        1,
        1,
        2,
        5,
        10,
        10,
        20,
        100,
        200,
    ]
    days = [
        DayCount(date(2026, 11, 1) + timedelta(days=i), started=s, completed=c)
        for i, (s, c) in enumerate([(4, 2), (0, 0), (10, 7)])
    ]
    chart = day_chart(days, lambda d: d.strftime("%d"))
    assert chart is not None
    assert [t.value for t in chart.ticks] == [0, 5, 10]
    tallest = chart.bars[2]
    assert tallest.started_y == chart.top and tallest.started_y + tallest.started_h == chart.base
    assert chart.bars[1].started_h == 0 and chart.bars[1].completed_h == 0
    assert chart.busiest == days[2] and (chart.total_started, chart.total_completed) == (14, 9)
    assert all(b.show_value == (b.completed > 0) for b in chart.bars)
    lefts = [b.x for b in chart.bars]
    assert lefts == sorted(lefts) and chart.bars[-1].x + 2 * chart.bars[-1].width <= chart.right
    month = [DayCount(date(2026, 11, 1) + timedelta(days=i), 1, 1) for i in range(30)]
    long = day_chart(month, str)
    assert long is not None and sum(b.label is not None for b in long.bars) <= 8
    assert not any(b.show_value for b in long.bars)
    assert day_chart([], str) is None


async def test_responses_per_day_fills_empty_days(app: App) -> None:
    world = await make_world(app)
    rnd = await app.admin.open_round("Days", CSO, app.survey, ["KHI-001"])
    code = rnd.factories[0].code
    # Days are Karachi days: a worker who starts at 04:50 Karachi (23:50 UTC the day before)
    # and finishes at 05:05 started and finished that morning; one at 23:55 Karachi who
    # finishes after midnight started one day and completed the next.
    today = app.clock().astimezone(KARACHI).date()
    dawn = datetime.combine(today, time(4, 50), KARACHI)
    await answer(app, code, Say(), clock=dawn - timedelta(days=2))
    await answer(app, code, Say(), clock=dawn)
    await answer(app, code, Say(), clock=dawn.replace(hour=23, minute=58) - timedelta(days=1))
    days = await cso_portal.responses_per_day(
        app.db, [rnd.id, world.other_round_id], today - timedelta(days=3), today
    )
    assert [(d.started, d.completed) for d in days] == [(0, 0), (1, 1), (1, 0), (1, 2)]
    assert await cso_portal.responses_per_day(app.db, [], today, today) == [DayCount(today, 0, 0)]


# ------------------------------------------------------------------------------ help text
async def test_where_workers_get_help_is_set_on_the_round_page_and_the_new_round_form(
    app: App,
) -> None:
    world = await make_world(app)
    url = f"/cso/rounds/{world.round_id}"
    async with portal_client(app) as client:
        await login(client, world.admin.email or "")
        page = (await client.get(url)).text
        assert "Where workers get help" in page
        assert "No text of your own in en, ur, sd" in page
        assert "the default text will be used for en, ur, sd" in page  # by the "Open now" button
        assert 'name="help_ur"' in page and 'dir="rtl" lang="ur"' in page
        assert "محکمہ محنت سندھ" in page  # the Urdu default, as the placeholder
        assert "Sindh Labour Department" in page
        urdu = "ہماری ہیلپ لائن: 0300-1234567\nمحکمہ محنت سندھ، لیبر آفیسر"
        saved = await post_form(
            client, f"{url}/help", {"help_en": "", "help_ur": urdu, "help_sd": "  "}, page=url
        )
        assert saved.status_code == 303 and saved.headers["location"].endswith("done=help")
        assert (await _round(app, world.round_id)).help_text == {"ur": urdu}
        page = (await client.get(url)).text
        assert "ہماری ہیلپ لائن" in page and "No text of your own in en, sd" in page
        # The same texts again change nothing and audit nothing.
        await post_form(client, f"{url}/help", {"help_ur": urdu.replace("\n", "\r\n")}, page=url)
        entries = await _audit(app, "round.help")
        assert [e.details["lang"] for e in entries] == ["ur"]
        assert entries[0].actor == f"web:{world.admin.id}"
        too_long = await post_form(client, f"{url}/help", {"help_en": "x" * 501}, page=url)
        assert too_long.status_code == 400 and "longer than 500 characters" in too_long.text
        assert 'name="help_en"' in too_long.text and "x" * 501 in too_long.text  # kept
        control = await post_form(client, f"{url}/help", {"help_sd": "a\x07b"}, page=url)
        assert control.status_code == 400 and "control characters" in control.text
        assert (await _round(app, world.round_id)).help_text == {"ur": urdu}

        form = (await client.get("/cso/rounds/new")).text
        assert 'name="help_sd"' in form and "محنت کاتي" in form  # the Sindhi default
        created = await post_form(
            client,
            "/cso/rounds/new",
            {
                "name": "With help",
                "survey": app.survey.key,
                "factory": "KHI-002",
                "max_reminders": "1",
                "reminder_delay_hours": "24",
                "help_sd": "هيلپ لائين: 0300-1234567",
                "then": "draft",
            },
        )
        assert created.status_code == 303
        round_id = int(created.headers["location"].split("/")[3].split("?")[0])
        assert (await _round(app, round_id)).help_text == {"sd": "هيلپ لائين: 0300-1234567"}
    async with portal_client(app) as client:
        await login(client, world.viewer.email or "")
        page = (await client.get(url)).text
        assert "ہماری ہیلپ لائن" in page and 'name="help_ur"' not in page


# ------------------------------------------------------------------------------ trends
async def test_the_results_page_shows_each_factorys_trend_as_the_cso_json_report(
    app: App,
) -> None:
    """Two closed rounds of KHI-001 (the brand tests' world): the pilot's results page shows
    both rounds and the change, every figure as the CSO's JSON report has it."""
    import json

    from bot.reports import build_report, render
    from tests.test_portal_brand import (
        CSO as WORLD_CSO,
    )
    from tests.test_portal_brand import (
        assert_same,
        expected_rows,
        make_world,
        text_of,
        trend_table,
    )

    w = await make_world(app)
    account = await make_account(app, WORLD_CSO, "cso", "viewer")
    assert account.email
    report = json.loads(render(await build_report(app, w.pilot, f"cso:{WORLD_CSO}"), "json"))
    expected = expected_rows(report, "KHI-001")
    assert [r[0] for r in expected] == ["Sindh wages 2026", "Korangi pilot"]
    async with portal_client(app) as client:
        await login(client, account.email)
        html = (await client.get(f"/cso/rounds/{w.pilot}/results")).text
        first = (await client.get(f"/cso/rounds/{w.closed}/results")).text
    rows = trend_table(html, "KHI-001")
    assert rows is not None
    assert_same(rows, expected)
    assert rows[1][2] and rows[1][2] != "–"  # CSOs see exact shares: the change is a figure
    assert "Trend across rounds" in text_of(html)
    assert "Sindh wages 2027" not in html  # the open round
    assert "trend-" not in first  # the first round has nothing to compare yet
