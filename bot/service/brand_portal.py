"""What a brand may see in the portal and the API, as plain data (no HTTP here).

Three rules, the same as for the report files a brand receives (docs/report-format.md):
only factories linked to the brand (brand_factories), and of those only the rounds of a CSO a
link is for (`BrandFactory.carries`: the CSO that made it, or every CSO for a link made on the
command line); only closed or published rounds that cover one of them; and every figure comes
from `bot.reports.build_report` for the brand, so the portal and the API pass exactly the
disclosure control of the PDF, XLSX, CSV and JSON files. Nothing here computes a figure; it
only finds rounds and factories and picks from the disclosed `Report`.

Every lookup takes the brand's organisation id from the logged-in account (or the API token)
and returns None for what the brand may not see, whether it exists or not, so callers answer
404 and never reveal another brand's factories or rounds.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select

from bot.enums import OrgKind
from bot.reports import DisclosureError, Report, build_report, render
from bot.reports.build import App
from bot.reports.disclosure import BRAND_ROUND_STATUSES
from bot.reports.files import file_name
from bot.reports.formats import SUFFIXES
from bot.reports.model import Audience, FactoryReport
from bot.storage.models import BrandFactory, Factory, Organisation, Round, RoundFactory

DOWNLOAD_FORMATS = ("pdf", "xlsx", "csv", "json")  # what the portal offers brands
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "application/zip",  # the CSV format is a zip of one CSV per table
    "json": "application/json",
    "html": "text/html; charset=utf-8",
}
REPORT_LANGUAGES = ("en", "nl")  # report text exists in English and Dutch only


@dataclass(frozen=True)
class BrandFactoryRow:
    """A factory the brand sources from, with how many released rounds cover it."""

    id: int
    code: str
    name: str
    region: str
    city: str
    os_id: str | None
    headcount: int | None
    rounds: int  # closed or published rounds that include it


@dataclass(frozen=True)
class BrandRoundRow:
    """A closed or published round that covers at least one of the brand's factories."""

    id: int
    name: str
    cso: str
    status: str
    opened_on: date | None
    closed_on: date | None
    factories: tuple[str, ...]  # codes of the brand's factories in the round, sorted


def report_language(lang: str | None) -> str:
    """Reports are written in English or Dutch: Dutch for Dutch readers, otherwise English."""
    return "nl" if (lang or "").lower().startswith("nl") else "en"


def _day(moment: datetime | None) -> date | None:
    return moment.date() if moment else None


async def brand_name(app: App, org_id: int) -> str | None:
    """The organisation's name when it is a brand (reports are addressed by name)."""
    async with app.db.transaction() as s:
        org = await s.get(Organisation, org_id)
    return org.name if org is not None and org.kind == OrgKind.BRAND else None


async def linked_factories(app: App, org_id: int) -> list[BrandFactoryRow]:
    """The brand's factories (linked in brand_factories), by code."""
    # Rounds whose results of the factory reach the brand: released, and run by a CSO that
    # one of the brand's links to it is for (or every CSO).
    released = (
        select(
            RoundFactory.factory_id,
            func.count(func.distinct(RoundFactory.round_id)).label("n"),
        )
        .join(Round, Round.id == RoundFactory.round_id)
        .join(BrandFactory, BrandFactory.factory_id == RoundFactory.factory_id)
        .where(
            Round.status.in_(BRAND_ROUND_STATUSES),
            BrandFactory.brand_id == org_id,
            BrandFactory.carries(Round.cso_id),
        )
        .group_by(RoundFactory.factory_id)
        .subquery()
    )
    linked = select(BrandFactory.factory_id).where(BrandFactory.brand_id == org_id)
    async with app.db.transaction() as s:
        rows = (
            await s.execute(
                select(Factory, func.coalesce(released.c.n, 0))
                .outerjoin(released, released.c.factory_id == Factory.id)
                .where(Factory.id.in_(linked))
                .order_by(Factory.code)
            )
        ).all()
    return [
        BrandFactoryRow(
            id=f.id,
            code=f.code,
            name=f.name,
            region=f.region,
            city=f.city,
            os_id=f.os_id,
            headcount=f.headcount,
            rounds=int(n),
        )
        for f, n in rows
    ]


async def linked_factory(app: App, org_id: int, code: str) -> BrandFactoryRow | None:
    """One of the brand's factories by code; None when it is not linked to the brand."""
    return next((f for f in await linked_factories(app, org_id) if f.code == code), None)


async def visible_rounds(
    app: App, org_id: int, *, factory_id: int | None = None
) -> list[BrandRoundRow]:
    """Closed or published rounds covering the brand's factories (or one of them), newest
    first, each with the codes of the brand's factories it includes."""
    query = (
        select(Round.id, Round.name, Organisation.name, Round.status, Round.opens_at,
               Round.closes_at, Factory.code)
        .join(Organisation, Organisation.id == Round.cso_id)
        .join(RoundFactory, RoundFactory.round_id == Round.id)
        .join(Factory, Factory.id == RoundFactory.factory_id)
        .join(BrandFactory, BrandFactory.factory_id == RoundFactory.factory_id)
        .where(BrandFactory.brand_id == org_id, Round.status.in_(BRAND_ROUND_STATUSES),
               BrandFactory.carries(Round.cso_id))
    )  # fmt: skip
    if factory_id is not None:
        inside = select(RoundFactory.round_id).where(RoundFactory.factory_id == factory_id)
        query = query.where(Round.id.in_(inside))
    async with app.db.transaction() as s:
        rows = (await s.execute(query)).all()
    rounds: dict[int, BrandRoundRow] = {}
    for rid, name, cso, status, opens, closes, code in rows:
        known = rounds.get(rid)
        codes = tuple(sorted({*(known.factories if known else ()), code}))
        rounds[rid] = BrandRoundRow(rid, name, cso, status, _day(opens), _day(closes), codes)
    return sorted(rounds.values(), key=lambda r: (r.closed_on or date.min, r.id), reverse=True)


async def latest_round_ids(app: App, org_id: int, limit: int) -> list[int]:
    """The newest closed (or published) rounds that include a factory of this brand."""
    async with app.db.transaction() as s:
        rows = await s.execute(
            select(Round.id)
            .distinct()
            .join(RoundFactory, RoundFactory.round_id == Round.id)
            .join(BrandFactory, BrandFactory.factory_id == RoundFactory.factory_id)
            .where(
                BrandFactory.brand_id == org_id,
                Round.status.in_(BRAND_ROUND_STATUSES),
                BrandFactory.carries(Round.cso_id),
            )
            .order_by(Round.id.desc())
            .limit(limit)
        )
        return list(rows.scalars())


async def visible_round(app: App, org_id: int, round_id: int) -> BrandRoundRow | None:
    """One round the brand may see; None otherwise (open, another brand's, or none)."""
    return next((r for r in await visible_rounds(app, org_id) if r.id == round_id), None)


async def round_report(app: App, org_id: int, round_id: int) -> Report | None:
    """The brand's report of a round, exactly as `build_report` makes it for the files (the
    Telegram /report path); None when the brand may not have it."""
    name = await brand_name(app, org_id)
    if name is None or await visible_round(app, org_id, round_id) is None:
        return None
    try:
        return await build_report(app, round_id, Audience("brand", name))
    except DisclosureError:  # e.g. the link was removed in between: nothing to show
        return None


def factory_in(report: Report, code: str) -> FactoryReport | None:
    return next((f for f in report.factories if f.code == code), None)


async def factory_history(
    app: App, org_id: int, factory: BrandFactoryRow
) -> list[tuple[BrandRoundRow, Report, FactoryReport]]:
    """Per released round covering one of the brand's factories (newest first): the brand's
    report of that round and the factory's part of it."""
    out = []
    for rnd in await visible_rounds(app, org_id, factory_id=factory.id):
        report = await round_report(app, org_id, rnd.id)
        if report is not None and (part := factory_in(report, factory.code)) is not None:
            out.append((rnd, report, part))
    return out


# Rendering a PDF or a chart takes a CPU for up to a second or so: it runs in a worker thread,
# so the portal and the bot channels in the same process keep answering, and one at a time,
# because reportlab and matplotlib keep some module-level state.
_render_lock = threading.Lock()


def _render_locked(report: Report, fmt: str, lang: str, app: App) -> bytes:
    with _render_lock:
        return render(report, fmt, lang, locales_dir=app.settings.locales_dir)


async def render_download(app: App, report: Report, fmt: str, lang: str) -> tuple[bytes, str, str]:
    """(bytes, media type, file name) of the brand's report in `fmt`, as the files of the
    command line and of Telegram's /report."""
    if fmt not in SUFFIXES:
        raise ValueError(f"unknown report format {fmt!r}")
    lang = report_language(lang)
    data = await asyncio.to_thread(_render_locked, report, fmt, lang, app)
    return data, MEDIA_TYPES[fmt], file_name(report.round.id, report.audience, fmt, lang)


async def in_thread(fn: object, *args: object) -> bytes:
    """Run a chart function of bot.reports.formats.charts in the render thread."""

    def call() -> bytes:
        with _render_lock:
            return fn(*args)  # type: ignore[operator]  # fn: a chart function (untyped object)

    return await asyncio.to_thread(call)


async def latest_results(
    app: App, org_id: int, factories: list[BrandFactoryRow]
) -> dict[str, tuple[BrandRoundRow, Report, FactoryReport]]:
    """Per factory code: its part of the newest released round that includes it. Builds one
    report per round, newest first, and stops once every factory has its latest result."""
    wanted = {f.code for f in factories if f.rounds}
    found: dict[str, tuple[BrandRoundRow, Report, FactoryReport]] = {}
    for rnd in await visible_rounds(app, org_id):
        if not wanted - found.keys():
            break
        if not (set(rnd.factories) & (wanted - found.keys())):
            continue
        report = await round_report(app, org_id, rnd.id)
        if report is None:
            continue
        for part in report.factories:
            if part.code in wanted and part.code not in found:
                found[part.code] = (rnd, report, part)
    return found
