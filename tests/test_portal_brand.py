"""The brand's portal pages on a real database: who may open what (logged out, a CSO, another
brand), only linked factories and only closed rounds, figures exactly as in the brand's
report files (suppressed cells as text), and the downloads (PDF text, XLSX, CSV zip, JSON)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime

import openpyxl
import pytest
from sqlalchemy import select

from benchmarks.synthetic import Answers, insert_responses, set_up_round
from bot.bootstrap import App
from bot.reports import build_report, render
from bot.storage.models import AuditEntry
from tests.portal_helpers import login, make_account, portal_client, post_form
from tests.test_reports_formats import pdf_text, visible_text

CSO = "Karachi Workers Centre"
BRAND = "Noordzee Fashion"
OTHER = "Other Brand"
CANARY = "Supervisor Rashid takes our money"  # free text: never on a brand's page or file


@dataclass(frozen=True)
class World:
    closed: int  # closed: KHI-001 (30 answers), KHI-002 (12), KHI-003 (4), KHI-004 (15)
    open: int  # still open: KHI-001 and KHI-002
    pilot: int  # closed, KHI-001 only (12 answers, all below the minimum)
    ids: dict[str, int]


async def make_world(app: App) -> World:
    """A CSO, two brands and four factories. Noordzee Fashion sources from KHI-001 and KHI-003
    (too few answers to show), Other Brand from KHI-002; KHI-004 belongs to nobody."""
    closed, ids = await set_up_round(
        app,
        [("KHI-001", 300), ("KHI-002", 120), ("KHI-003", 40), ("KHI-004", 50)],
        cso=CSO,
        brands={BRAND: ["KHI-001", "KHI-003"], OTHER: ["KHI-002"]},
        name="Sindh wages 2026",
    )
    hour = datetime(2026, 11, 20, 9, tzinfo=UTC)
    employment = ["permanent"] * 15 + ["contractor"] * 10 + ["piece_rate"] * 5
    workers = [
        (
            ids["KHI-001"],
            Answers(
                pay=38_000 if i % 3 == 0 else 41_000 + 100 * i,
                employment=employment[i],
                gender=("woman", "man")[i % 2],
                comment=CANARY if i == 0 else None,
                completed_hour=hour,
            ),
        )
        for i in range(30)
    ]
    workers += [(ids["KHI-002"], Answers(pay=36_000 + 500 * i)) for i in range(12)]
    workers += [(ids["KHI-003"], Answers(pay=52_000, comment=CANARY)) for _ in range(4)]
    workers += [(ids["KHI-004"], Answers(pay=45_000)) for _ in range(15)]
    await insert_responses(app, closed, workers)
    await app.admin.close_round(closed)
    pilot = await app.admin.open_round("Korangi pilot", CSO, app.survey, ["KHI-001"])
    await insert_responses(app, pilot.id, [(ids["KHI-001"], Answers(pay=30_000))] * 12)
    await app.admin.close_round(pilot.id)
    second = await app.admin.open_round("Sindh wages 2027", CSO, app.survey, ["KHI-001", "KHI-002"])
    await insert_responses(app, second.id, [(ids["KHI-001"], Answers()) for _ in range(12)])
    return World(closed=closed, open=second.id, pilot=pilot.id, ids=ids)


PEOPLE = {
    "admin": (BRAND, "brand", "admin"),
    "viewer": (BRAND, "brand", "viewer"),
    "other": (OTHER, "brand", "admin"),  # an administrator of Other Brand
    "cso_admin": (CSO, "cso", "admin"),
    "cso_viewer": (CSO, "cso", "viewer"),
}


async def person(app: App, who: str) -> str:
    """The e-mail address of a new account (argon2 makes each one slow: only as needed)."""
    account = await make_account(app, *PEOPLE[who])
    assert account.email
    return account.email


@pytest.fixture
async def world(app: App) -> World:
    return await make_world(app)


def brand_pages(w: World) -> list[str]:
    """Every GET page and download of the brand section, with objects Noordzee may see."""
    return [
        "/brand",
        "/brand/factories",
        "/brand/factories/KHI-001",
        "/brand/results",
        f"/brand/results/{w.closed}",
        f"/brand/results/{w.closed}/download/pdf",
        f"/brand/results/{w.closed}/download/xlsx?lang=nl",
        f"/brand/results/{w.closed}/download/csv",
        f"/brand/results/{w.closed}/download/json",
        "/brand/tokens",
    ]


def text_of(html: str) -> str:
    return visible_text(html)


# ----------------------------------------------------------------------------- access


async def test_a_logged_out_visitor_is_sent_to_log_in(app: App, world: World) -> None:
    w = world
    async with portal_client(app) as client:
        for url in brand_pages(w):
            response = await client.get(url)
            assert response.status_code == 303, url
            assert response.headers["location"].startswith("/login?next=/brand"), url
        # A form sent without a session: the CSRF check, then the log-in, refuse it.
        response = await post_form(client, "/brand/tokens", {"name": "x"}, page="/login")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


@pytest.mark.parametrize("who", ["cso_admin", "cso_viewer"])
async def test_a_cso_account_gets_403_on_every_brand_page(app: App, world: World, who: str) -> None:
    w = world
    async with portal_client(app) as client:
        await login(client, await person(app, who))
        for url in brand_pages(w):
            response = await client.get(url)
            assert response.status_code == 403, url
            assert "Factory KHI-001" not in response.text
        response = await post_form(client, "/brand/tokens", {"name": "x"}, page="/cso")
        assert response.status_code == 403
        assert (await client.get("/brand/", follow_redirects=True)).status_code == 403


async def test_another_brands_factories_rounds_and_downloads_are_404(
    app: App, world: World
) -> None:
    w = world
    async with portal_client(app) as client:
        await login(client, await person(app, "other"))  # Other Brand: KHI-002 only
        for url in (
            "/brand/factories/KHI-001",
            "/brand/factories/KHI-003",
            "/brand/factories/KHI-004",  # linked to nobody
            "/brand/factories/NOPE",
            f"/brand/results/{w.pilot}",  # KHI-001 only
            f"/brand/results/{w.pilot}/download/pdf",
            f"/brand/results/{w.pilot}/download/json",
            f"/brand/results/{w.open}",  # includes KHI-002, but open
            f"/brand/results/{w.open}/download/pdf",
            "/brand/results/999",
            "/brand/results/999/download/csv",
            f"/brand/results/{w.closed}/download/html",  # not offered
            f"/brand/results/{w.closed}/download/answers",
        ):
            response = await client.get(url)
            assert response.status_code == 404, url
            # (The page repeats the asked path in its language switch; nothing more.)
            assert "Factory KHI-001" not in response.text and "Korangi" not in response.text
        # A report language there is none of: 400, saying which there are (and nothing else).
        response = await client.get(f"/brand/results/{w.closed}/download/pdf?lang=ur")
        assert response.status_code == 400 and "must be one of: en, nl" in response.text
        assert "Factory KHI-001" not in response.text and "Korangi" not in response.text
        # The round both brands have factories in: Other Brand sees its own factory only.
        page = text_of((await client.get(f"/brand/results/{w.closed}")).text)
        assert "KHI-002" in page
        assert not {"KHI-001", "KHI-003", "KHI-004"} & set(re.findall(r"KHI-\d+", page))
        pdf = (await client.get(f"/brand/results/{w.closed}/download/pdf")).content
        assert set(re.findall(r"KHI-\d+", pdf_text(pdf))) == {"KHI-002"}
        listed = text_of((await client.get("/brand/factories")).text)
        assert set(re.findall(r"KHI-\d+", listed)) == {"KHI-002"}


async def test_only_linked_factories_and_closed_rounds_are_listed(app: App, world: World) -> None:
    w = world
    async with portal_client(app) as client:
        await login(client, await person(app, "viewer"))
        factories = await client.get("/brand/factories")
        assert factories.status_code == 200
        assert re.findall(r'data-factory="([^"]+)"', factories.text) == ["KHI-001", "KHI-003"]
        results = await client.get("/brand/results")
        assert re.findall(r'data-round="(\d+)"', results.text) == [str(w.pilot), str(w.closed)]
        assert "Sindh wages 2027" not in results.text  # the open round
        home = text_of((await client.get("/brand")).text)
        assert "Korangi pilot" in home  # the newest closed round: KHI-001 likely not met
        assert "Minimum likely not met 1" in home


async def test_the_round_page_shows_the_brand_report_with_hidden_cells_as_text(
    app: App, world: World
) -> None:
    w = world
    report = json.loads(render(await build_report(app, w.closed, f"brand:{BRAND}"), "json"))
    khi1 = next(f for f in report["factories"] if f["code"] == "KHI-001")
    assert khi1["paid_at_least_minimum"]["ci95"] == [0.488, 0.808]
    employment = {c["group"]: c for c in khi1["breakdowns"]["employment"]}
    # 15 permanent, 10 contractor, 5 piece rate: piece rate is below k, so the next smallest
    # (contractor) is hidden as well (complementary suppression).
    assert employment["permanent"]["respondents"] == 15
    assert employment["contractor"]["respondents"] is None
    async with portal_client(app) as client:
        await login(client, await person(app, "viewer"))
        response = await client.get(f"/brand/results/{w.closed}")
    assert response.status_code == 200
    html = response.text
    page = text_of(html)
    summary = re.search(r'<tr data-factory="KHI-001">(.*?)</tr>', html, re.S)
    assert summary is not None
    row = text_of(summary.group(1))
    assert "30" in row and "10%" in row and "67%" in row and "49%–81%" in row
    assert "Inconclusive" in row
    hidden = re.search(r'<tr data-factory="KHI-003">(.*?)</tr>', html, re.S)
    assert hidden is not None and "fewer than 10 answers" in text_of(hidden.group(1))
    section = re.search(r'<section[^>]*id="factory-KHI-001".*?</section>', html, re.S)
    assert section is not None
    rows = {
        text_of(m.group(1)).strip(): text_of(m.group(2))
        for m in re.finditer(r"<tr><th scope=\"row\">(.*?)</th>(.*?)</tr>", section.group(0), re.S)
    }
    assert rows["Permanent"].split()[0] == "15"
    # Contractors (10) are hidden only to protect piece rate (5): the page does not claim
    # they were fewer than 10, it says why they are not shown.
    assert rows["Through a contractor"].count("not shown: it could point to a few workers") == 2
    assert rows["Piece rate"].count("fewer than 10 answers") == 2
    assert 'class="num suppressed">fewer than 10 answers<' in section.group(0)
    assert "Factory KHI-003" in page and 'id="factory-KHI-003"' not in html  # no figures
    assert not {"KHI-002", "KHI-004"} & set(re.findall(r"KHI-\d+", page))
    assert CANARY not in html
    # Charts come from the reports package, with text alternatives.
    images = re.findall(r"<img ([^>]*)>", html)
    assert len(images) >= 3
    for attrs in images:
        assert 'src="data:image/png;base64,' in attrs
        alt = re.search(r'alt="([^"]+)"', attrs)
        assert alt and len(alt.group(1)) > 20
    assert "KHI-001: 67% (49%–81%), Inconclusive" in html
    assert "The chart as a table" in page


async def test_the_report_follows_the_page_language_in_dutch(app: App, world: World) -> None:
    w = world
    async with portal_client(app) as client:
        await login(client, await person(app, "viewer"))
        client.cookies.set("wc_lang", "nl")
        html = (await client.get(f"/brand/results/{w.pilot}")).text
    assert 'lang="nl"' in html and "Samenvatting" in html
    assert "Minimum waarschijnlijk niet gehaald" in html
    assert f"/brand/results/{w.pilot}/download/pdf?lang=nl" in html


async def test_a_factory_page_shows_each_closed_round_with_verdict_interval_and_charts(
    app: App, world: World
) -> None:
    async with portal_client(app) as client:
        await login(client, await person(app, "viewer"))
        html = (await client.get("/brand/factories/KHI-001")).text
        small = text_of((await client.get("/brand/factories/KHI-003")).text)
    page = text_of(html)
    rounds = text_of(re.sub(r'<section class="trends".*?</section>', "", html, flags=re.S))
    assert rounds.index("Korangi pilot") < rounds.index("Sindh wages 2026")  # newest first
    assert "Minimum likely not met" in page and "Inconclusive" in page
    assert "49%–81%" in page  # the interval of round 1
    assert "Sindh wages 2027" not in page  # open
    assert html.count("data:image/png;base64,") == 4  # interval and pay charts, two rounds
    assert "fewer than 10 workers of this factory answered".lower() in small.lower()
    assert "data:image" not in small


# ----------------------------------------------------------------------------- downloads


async def test_downloads_hold_the_brands_report_and_only_its_factories(
    app: App, world: World
) -> None:
    w = world
    async with portal_client(app) as client:
        await login(client, await person(app, "viewer"))
        pdf = await client.get(f"/brand/results/{w.closed}/download/pdf")
        xlsx = await client.get(f"/brand/results/{w.closed}/download/xlsx?lang=nl")
        csv = await client.get(f"/brand/results/{w.closed}/download/csv")
        data = await client.get(f"/brand/results/{w.closed}/download/json")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="round-{w.closed}-brand-noordzee-fashion-en.pdf"'
    )
    assert pdf.headers["cache-control"] == "no-store"
    text = pdf_text(pdf.content)
    assert {"KHI-001", "KHI-003"} == set(re.findall(r"KHI-\d+", text))
    assert "Noordzee Fashion" in text and CANARY not in text

    book = openpyxl.load_workbook(io.BytesIO(xlsx.content))
    assert "factories" in book.sheetnames
    codes = {row[0] for row in book["factories"].iter_rows(min_row=2, values_only=True)}
    assert {"KHI-001", "KHI-003"} <= codes and not {"KHI-002", "KHI-004"} & codes
    assert xlsx.headers["content-disposition"].endswith('-nl.xlsx"')

    with zipfile.ZipFile(io.BytesIO(csv.content)) as archive:
        assert "factories.csv" in archive.namelist() and "quality.csv" not in archive.namelist()
        factories_csv = archive.read("factories.csv").decode("utf-8-sig")
    assert "KHI-001" in factories_csv and "KHI-002" not in factories_csv

    expected = json.loads(render(await build_report(app, w.closed, f"brand:{BRAND}"), "json"))
    assert data.json() == expected
    assert "quality_flags" not in data.json()
    async with app.db.transaction() as s:
        audited = (
            await s.execute(
                select(AuditEntry)
                .where(AuditEntry.action == "report.download")
                .order_by(AuditEntry.id)
            )
        ).scalars()
        rows = [(e.target, e.details) for e in audited]
    assert rows == [
        (f"round {w.closed}", {"audience": f"brand:{BRAND}", "format": fmt, "lang": lang})
        for fmt, lang in (("pdf", "en"), ("xlsx", "nl"), ("csv", "en"), ("json", "en"))
    ]


# ----------------------------------------------------------------------------- tokens


async def test_a_viewer_sees_the_tokens_but_cannot_make_or_revoke_them(
    app: App, world: World
) -> None:
    async with portal_client(app) as client:
        await login(client, await person(app, "admin"))
        made = await post_form(client, "/brand/tokens", {"name": "ERP import"})
        token_id = re.search(r'data-token="(\d+)"', made.text)
    assert token_id is not None
    async with portal_client(app) as client:
        await login(client, await person(app, "viewer"))
        page = await client.get("/brand/tokens")
        assert page.status_code == 200 and "ERP import" in page.text
        assert 'name="name"' not in page.text and "/revoke" not in page.text
        assert "Only an administrator" in page.text
        create = await post_form(client, "/brand/tokens", {"name": "mine"})
        revoke = await post_form(client, f"/brand/tokens/{token_id.group(1)}/revoke")
        assert (create.status_code, revoke.status_code) == (403, 403)
        assert "mine" not in (await client.get("/brand/tokens")).text


async def test_an_administrator_makes_sees_once_and_revokes_a_token(app: App, world: World) -> None:
    async with portal_client(app) as client:
        await login(client, await person(app, "admin"))
        empty = await post_form(client, "/brand/tokens", {"name": "   "})
        assert empty.status_code == 400 and "Give the token a name" in empty.text
        made = await post_form(client, "/brand/tokens", {"name": "ERP import"})
        assert made.status_code == 201
        secret = re.search(r'value="(wcb_[A-Za-z0-9_-]{32})"', made.text)
        assert secret is not None
        listing = await client.get("/brand/tokens")
        assert secret.group(1) not in listing.text  # shown once only
        assert secret.group(1)[:12] + "…" in listing.text and "ERP import" in listing.text
        assert "never" in text_of(listing.text)
        used = await client.get(
            "/api/v1/factories", headers={"Authorization": f"Bearer {secret.group(1)}"}
        )
        assert used.status_code == 200
        assert "never" not in text_of((await client.get("/brand/tokens")).text)
        token_id = re.search(r'data-token="(\d+)"', listing.text)
        assert token_id is not None
        revoked = await post_form(
            client, f"/brand/tokens/{token_id.group(1)}/revoke", page="/brand/tokens"
        )
        assert revoked.status_code == 303
        after = await client.get(revoked.headers["location"])
        assert "The token ERP import is revoked" in text_of(after.text)
        assert "revoked on" in text_of(after.text)
        refused = await client.get(
            "/api/v1/factories", headers={"Authorization": f"Bearer {secret.group(1)}"}
        )
        assert refused.status_code == 401
    # Another brand's administrator cannot revoke Noordzee's token: 404, not 403.
    async with portal_client(app) as client:
        await login(client, await person(app, "other"))
        response = await post_form(
            client, f"/brand/tokens/{token_id.group(1)}/revoke", page="/brand/tokens"
        )
        assert response.status_code == 404


# ----------------------------------------------------------------------------- trends


def trend_table(html: str, code: str) -> list[list[str]] | None:
    """The rows (round, share and interval, change and interval) of a factory's trend table."""
    found = re.search(rf'<table class="compact trend" id="trend-{code}".*?</table>', html, re.S)
    if found is None:
        return None
    body = found.group(0).split("<tbody", 1)[1]
    cells = re.compile(r"<t[hd][^>]*>(.*?)</t[hd]>", re.S)
    return [
        [" ".join(text_of(cell).split()) for cell in cells.findall(row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    ]


def expected_rows(report: dict[str, object], code: str) -> list[list[object]]:
    """The same rows from the brand's JSON report: every figure as the report has it."""
    trend = next(t for t in report["trends"] if t["code"] == code)  # type: ignore[index,union-attr]

    def pct(x: float) -> str:
        return f"{round(100 * x)}%"

    rows = []
    for r in trend["rounds"]:
        paid = r["paid_at_least_minimum"]
        if paid["suppressed"]:
            share = paid["note"]
        else:
            share = f"{pct(paid['ci95'][0])}–{pct(paid['ci95'][1])}"  # the interval line
        c = r["change"]
        change: object = "" if c is None else ("–" if not c["shown"] else
            (c["difference"], *c["ci95"]))  # fmt: skip
        rows.append([r["round_name"], share, change])
    return rows


def assert_same(page_rows: list[list[str]], report_rows: list[list[object]]) -> None:
    """The page's rows hold the report's figures (the JSON's are rounded to 0.001, the
    page's whole points from the exact figure: each within half a point)."""
    assert [r[0] for r in page_rows] == [r[0] for r in report_rows]
    for page, report in zip(page_rows, report_rows, strict=True):
        assert page[1].endswith(str(report[1])), (page, report)  # share (or bound), interval
        if isinstance(report[2], tuple):
            assert re.fullmatch(r"[+−]?\d+ points [+−]?\d+ to [+−]?\d+ points", page[2]), page
            shown = [int(x.replace("−", "-")) for x in re.findall(r"[+−]?\d+", page[2])]
            assert all(
                abs(n - 100 * x) <= 0.5 + 1e-6 for n, x in zip(shown, report[2], strict=True)
            ), (page, report)
        else:
            assert page[2] == report[2], (page, report)


async def test_a_factory_page_shows_the_trend_of_its_closed_rounds_as_the_json_report(
    app: App, world: World
) -> None:
    w = world
    report = json.loads(render(await build_report(app, w.pilot, f"brand:{BRAND}"), "json"))
    # The newest closed round's report holds the whole trend: both closed rounds of KHI-001.
    expected = expected_rows(report, "KHI-001")
    assert [r[0] for r in expected] == ["Sindh wages 2026", "Korangi pilot"]
    async with portal_client(app) as client:
        await login(client, await person(app, "viewer"))
        html = (await client.get("/brand/factories/KHI-001")).text
        round_html = (await client.get(f"/brand/results/{w.pilot}")).text
    for page in (html, round_html):
        rows = trend_table(page, "KHI-001")
        assert rows is not None, page
        assert_same(rows, expected)
        assert rows[0][1].startswith("67%") and rows[0][2] == ""  # the first round: no change
        assert rows[1][2]  # the change to the pilot is shown (or "–" for a range)
        assert "Trend across rounds" in text_of(page)
        # The open round and unlinked factories never appear in a trend.
        tables = re.findall(r'<table class="compact trend".*?</table>', page, re.S)
        assert "Sindh wages 2027" not in "".join(tables)
        assert set(re.findall(r'data-factory="(KHI-\d+)"', "".join(tables))) == {"KHI-001"}
    assert "KHI-002" not in text_of(round_html) and "KHI-004" not in text_of(round_html)


async def test_a_trend_never_holds_an_open_round_or_another_brands_factory(
    app: App, world: World
) -> None:
    w = world
    async with portal_client(app) as client:
        await login(client, await person(app, "other"))  # Other Brand: KHI-002 only
        html = (await client.get("/brand/factories/KHI-002")).text
        round_html = (await client.get(f"/brand/results/{w.closed}")).text
    # KHI-002 is in one closed round only (its second round is open): nothing to compare.
    assert trend_table(html, "KHI-002") is None and "Sindh wages 2027" not in html
    assert "trend-KHI-001" not in round_html and "trend-KHI-004" not in round_html


async def test_a_withheld_trend_cell_shows_the_withheld_wording_not_a_number(
    app: App, world: World
) -> None:
    w = world
    ids = w.ids
    third = await app.admin.open_round("Sindh wages 2027 spot check", CSO, app.survey, ["KHI-001"])
    await insert_responses(app, third.id, [(ids["KHI-001"], Answers())] * 4)  # below k = 10
    await app.admin.close_round(third.id)
    report = json.loads(render(await build_report(app, third.id, f"brand:{BRAND}"), "json"))
    expected = expected_rows(report, "KHI-001")
    assert expected[-1][1] == "fewer than 10 answers"
    async with portal_client(app) as client:
        await login(client, await person(app, "viewer"))
        html = (await client.get("/brand/factories/KHI-001")).text
    rows = trend_table(html, "KHI-001")
    assert rows is not None and len(rows) == 3
    assert_same(rows, expected)
    assert rows[-1][1] == "fewer than 10 answers" and rows[-1][2] == "–"
    assert not re.search(r"\d", rows[-1][1].replace("10", ""))
    assert 'class="num suppressed">fewer than 10 answers<' in html
