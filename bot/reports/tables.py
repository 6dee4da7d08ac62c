"""The report as tables of typed cells: what CSV and XLSX hold, and what HTML and PDF lay out.

Cells keep numbers as numbers (a share is 0.35, not "35%"), so CSV and XLSX stay usable for
analysis; `display` formats a cell for reading. A hidden figure is a `Hidden` cell, which
every format writes as "fewer than k answers".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.enums import RoundStatus
from bot.reports import strings as S
from bot.reports.model import (
    Change,
    Count,
    FactoryReport,
    Figures,
    QualityFlag,
    Report,
    Share,
)
from bot.reports.text import ReportText, method_text

Kind = Literal["text", "int", "pct", "money", "ratio"]


@dataclass(frozen=True)
class Value:
    value: str | int | float
    kind: Kind = "text"


@dataclass(frozen=True)
class Hidden:
    """A figure computed from fewer than k respondents: never a number."""

    k: int


@dataclass(frozen=True)
class Blank:
    """Nothing to say (e.g. no headcount registered, no upper bound)."""


Cell = Value | Hidden | Blank


@dataclass(frozen=True)
class Table:
    key: str  # file / sheet name: ascii, stable across languages
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]


BLANK = Blank()


def display(cell: Cell, tx: ReportText) -> str:
    """A cell as a reader sees it (HTML, PDF)."""
    if isinstance(cell, Hidden):
        return tx.hidden(cell.k)
    if isinstance(cell, Blank):
        return ""
    v = cell.value
    if cell.kind == "pct" and isinstance(v, float | int):
        return tx.pct(float(v))
    if cell.kind == "money" and isinstance(v, float | int):
        return tx.number(float(v))
    if cell.kind == "int" and isinstance(v, float | int):
        return tx.number(float(v))
    if cell.kind == "ratio" and isinstance(v, float | int):
        return tx.pct(float(v))
    return str(v)


def text(value: str) -> Value:
    return Value(value)


def _n(c: Count, k: int, tx: ReportText | None = None) -> Cell:
    if c.n is None and c.withheld and tx is not None:
        return Value(tx.hidden_count(c, k))
    return Hidden(k) if c.n is None else Value(c.n, "int")


def _share(s: Share, k: int, tx: ReportText) -> Cell:
    """A share as a number; a share shown as a range as its words ("at least 94%")."""
    if s.share is None:
        return Value(tx.hidden_share(s, k)) if s.withheld else Hidden(k)
    if s.bound is not None:
        return Value(tx.share(s))
    return Value(round(s.share, 3), "pct")


def _share_n(s: Share, k: int) -> Cell:
    return Hidden(k) if s.n is None else Value(s.n, "int")


def _ci(s: Share, k: int, end: int) -> Cell:
    return Hidden(k) if s.ci95 is None else Value(round(s.ci95[end], 3), "pct")


def _money(v: float | None, k: int) -> Cell:
    return Hidden(k) if v is None else Value(round(v), "money")


def _ident(f: FactoryReport | None, tx: ReportText) -> tuple[Cell, Cell]:
    if f is None:
        return text(""), text(tx(S.ALL_FACTORIES))
    return text(f.code), text(f.name)


def _rows(report: Report) -> list[tuple[FactoryReport | None, Figures]]:
    rows: list[tuple[FactoryReport | None, Figures]] = [(f, f.figures) for f in report.factories]
    rows.append((None, report.overall))
    return rows


def factories_table(report: Report, tx: ReportText) -> Table:
    k = report.k
    rows = []
    for f, fig in _rows(report):
        paid = fig.paid_at_least_minimum
        rate: Cell = BLANK
        if f is not None and f.response_rate is not None:
            rate = Value(round(f.response_rate, 3), "pct")
        elif f is not None and f.suppressed:
            rate = Hidden(k)
        rows.append(
            (
                *_ident(f, tx),
                text(f.city if f else ""),
                text((f.os_id or "") if f else ""),
                Value(f.headcount, "int") if f and f.headcount else BLANK,
                _n(fig.respondents, k),
                rate,
                _share(paid, k, tx),
                _share_n(paid, k),
                _ci(paid, k, 0),
                _ci(paid, k, 1),
                text(tx.verdict(f.verdict)) if f else BLANK,
            )
        )
    return Table(
        "factories",
        tx(S.FACTORY_RESULTS),
        tuple(
            tx(c)
            for c in (
                S.CODE,
                S.NAME,
                S.CITY,
                S.OS_ID,
                S.HEADCOUNT,
                S.RESPONDENTS,
                S.RESPONSE_RATE,
                S.PAID_MINIMUM,
                S.ANSWERS,
                S.INTERVAL_LOW,
                S.INTERVAL_HIGH,
                S.VERDICT,
            )
        ),
        tuple(rows),
    )


def pay_table(report: Report, tx: ReportText) -> Table:
    k = report.k
    rows = []
    for f, fig in _rows(report):
        p = fig.pay
        rows.append(
            (
                *_ident(f, tx),
                Hidden(k) if p.n is None else Value(p.n, "int"),
                _money(p.median, k),
                _money(p.q1, k),
                _money(p.q3, k),
                Hidden(k)
                if p.median_pct_of_minimum is None
                else Value(round(p.median_pct_of_minimum, 1) / 100, "ratio"),
            )
        )
    return Table(
        "pay",
        tx(S.PAY),
        tuple(
            tx(c)
            for c in (S.CODE, S.NAME, S.ANSWERS, S.MEDIAN_PAY, S.Q1_PAY, S.Q3_PAY, S.MEDIAN_PCT)
        ),
        tuple(rows),
    )


def conditions_table(report: Report, tx: ReportText) -> Table:
    k = report.k
    rows = []
    for f, fig in _rows(report):
        rows.append(
            (
                *_ident(f, tx),
                _share(fig.pay_rise, k, tx),
                _share(fig.pay_rise_dont_know, k, tx),
                _share(fig.payslip, k, tx),
                _share(fig.deductions, k, tx),
                _share(fig.deductions_dont_know, k, tx),
                *(_share(fig.payment_methods[m], k, tx) for m, _ in report.payment_methods),
            )
        )
    columns = (
        tx(S.CODE),
        tx(S.NAME),
        tx(S.PAY_RISE),
        tx(S.PAY_RISE_DONT_KNOW),
        tx(S.PAYSLIP),
        tx(S.DEDUCTIONS),
        tx(S.DEDUCTIONS_DONT_KNOW),
        *(tx(S.PAID_BY, method=tx.label(label).lower()) for _, label in report.payment_methods),
    )
    return Table("conditions", tx(S.CONDITIONS), columns, tuple(rows))


def breakdown_table(report: Report, tx: ReportText, by: str) -> Table:
    k = report.k
    rows = []
    for f, fig in _rows(report):
        breakdown = next((b for b in fig.breakdowns if b.by == by), None)
        if breakdown is None:
            continue
        for cell in breakdown.cells:
            paid = cell.paid_at_least_minimum
            rows.append(
                (
                    *_ident(f, tx),
                    text(tx.label(cell.label)),
                    _n(cell.respondents, k, tx),
                    _share(paid, k, tx),
                    _share_n(paid, k),
                    _ci(paid, k, 0),
                    _ci(paid, k, 1),
                )
            )
    title = {"employment": S.BY_EMPLOYMENT, "gender": S.BY_GENDER}.get(by, S.BREAKDOWN)
    return Table(
        by,
        tx(title),
        tuple(
            tx(c)
            for c in (
                S.CODE,
                S.NAME,
                S.GROUP,
                S.RESPONDENTS,
                S.PAID_MINIMUM,
                S.ANSWERS,
                S.INTERVAL_LOW,
                S.INTERVAL_HIGH,
            )
        ),
        tuple(rows),
    )


def distribution_table(report: Report, tx: ReportText) -> Table:
    k = report.k
    rows: list[tuple[Cell, ...]] = []
    for f, fig in _rows(report):
        if fig.distribution is None:
            rows.append((*_ident(f, tx), Hidden(k), Hidden(k), Hidden(k)))
            continue
        for b in fig.distribution:
            rows.append(
                (
                    *_ident(f, tx),
                    Value(b.low, "ratio"),
                    Value(b.high, "ratio") if b.high is not None else text(tx(S.NO_LIMIT)),
                    Value(round(b.share, 3), "pct"),
                )
            )
    return Table(
        "distribution",
        tx(S.DISTRIBUTION),
        tuple(tx(c) for c in (S.CODE, S.NAME, S.FROM_PCT, S.TO_PCT, S.SHARE_OF_ANSWERS)),
        tuple(rows),
    )


def minimums_table(report: Report, tx: ReportText) -> Table:
    rows = tuple(
        (
            text(m.region.capitalize()),
            text(tx.grade(m.grade)),
            text(m.in_force_from.isoformat()),
            Value(m.amount, "money"),
            text(tx.wage_status(m.status)),
            text(m.source),
            text(m.note or ""),
        )
        for m in report.minimums
    )
    return Table(
        "minimum_wages",
        tx(S.MINIMUM_WAGES),
        tuple(
            tx(c)
            for c in (S.REGION, S.GRADE, S.IN_FORCE_FROM, S.AMOUNT, S.WAGE_STATUS, S.SOURCE, S.NOTE)
        ),
        rows,
    )


def quality_table(report: Report, tx: ReportText) -> Table | None:
    if report.quality is None:
        return None
    names = {f.code: f.name for f in report.factories}
    rows = tuple(
        (text(q.factory), text(names.get(q.factory, "")), text(title), text(detail))
        for q in report.quality
        for title, detail in [flag_text(q, report, tx)]
    )
    return Table(
        "quality", tx(S.QUALITY), tuple(tx(c) for c in (S.CODE, S.NAME, S.FLAG, S.DETAIL)), rows
    )


def flag_text(q: QualityFlag, report: Report, tx: ReportText) -> tuple[str, str]:
    """Title and detail of a data-quality flag, counts below k written as such."""
    count = tx(S.HIDDEN_COUNT, k=report.k) if q.count is None else tx.number(q.count)
    share = tx.hidden(report.k) if q.share is None else tx.pct(q.share)
    if q.kind == "burst":
        return tx(S.FLAG_BURST), tx(S.FLAG_BURST_DETAIL, count=count, share=share)
    if q.kind == "identical_pay":
        value = tx(S.NOT_SHOWN) if q.value is None else tx.money(q.value)
        return tx(S.FLAG_IDENTICAL), tx(
            S.FLAG_IDENTICAL_DETAIL, count=count, share=share, value=value
        )
    if q.kind == "implausible_pay":
        low, high = report.plausible_pay or (0, 0)
        return tx(S.FLAG_IMPLAUSIBLE), tx(
            S.FLAG_IMPLAUSIBLE_DETAIL,
            count=count,
            share=share,
            low=tx.money(low),
            high=tx.money(high),
        )
    return tx(S.FLAG_PARTIAL), tx(S.FLAG_PARTIAL_DETAIL, count=count, share=share)


def method_lines(report: Report, tx: ReportText) -> list[tuple[str, str]]:
    """The method sheet: meta data, the verdict rule and the rules in plain words."""
    r = report.round
    names: dict[str, str] = {
        RoundStatus.OPEN: S.STATUS_OPEN,
        RoundStatus.CLOSED: S.STATUS_CLOSED,
        RoundStatus.PUBLISHED: S.STATUS_PUBLISHED,
    }
    status = names.get(r.status)
    period = f"{tx.date(r.opened_on)} – {tx.date(r.closed_on)}" if r.closed_on else ""
    lines = [
        (tx(S.ROUND), r.name),
        (tx(S.PREPARED_BY), r.cso),
        (tx(S.PREPARED_FOR), report.audience.name),
        (tx(S.STATUS), tx(status) if status else r.status),
        (tx(S.ROUND_PERIOD), period or tx.date(r.opened_on)),
        (tx(S.PAY_MONTHS), ", ".join(tx.month(m) for m in r.pay_months)),
        (tx(S.REPORT_DATE), tx.date(report.generated_on)),
        (tx(S.K_LABEL), tx(S.K_VALUE, k=report.k)),
        (tx(S.VERDICT_RULE), verdict_text(report, tx)),
    ]
    lines += [(tx(S.METHOD), p) for p in method_text(report, tx)]
    lines += [(tx(S.DISCLOSURE), p) for p in tx.disclosure_rules(report.k, report.small)]
    lines.append((tx(S.ALL_FACTORIES), tx(S.ALL_FACTORIES_NOTE)))
    return lines


def verdict_text(report: Report, tx: ReportText) -> str:
    rule = report.verdict_rule
    return tx(S.VERDICT_TEXT, ok=tx.pct(rule.ok_lower), below=tx.pct(rule.below_upper), k=report.k)


def trends_table(report: Report, tx: ReportText) -> Table | None:
    """Each factory's rounds and the sides of a raise within one (docs/report-format.md,
    "Trends across rounds"); None when no factory has two points to compare."""
    if not report.has_trend:
        return None
    k = report.k

    def change_cells(c: Change | None) -> tuple[Cell, Cell, Cell]:
        if c is None or c.difference is None or c.ci95 is None:
            return BLANK, BLANK, BLANK
        return (
            Value(round(c.difference, 3), "pct"),
            Value(round(c.ci95[0], 3), "pct"),
            Value(round(c.ci95[1], 3), "pct"),
        )

    rows: list[tuple[Cell, ...]] = []
    for t in report.trends:
        for tr in t.rounds:
            points = [(tr.point, tr.change)] + [
                (side, tr.side_change if i else None) for i, side in enumerate(tr.sides)
            ]
            for p, c in points:
                paid = p.paid_at_least_minimum
                rows.append(
                    (
                        text(t.code),
                        text(t.name),
                        Value(p.round_id, "int"),
                        text(p.round_name),
                        text(", ".join(p.pay_months)),
                        text(p.minimum_from.isoformat()) if p.minimum_from else BLANK,
                        _share(paid, k, tx),
                        _ci(paid, k, 0),
                        _ci(paid, k, 1),
                        BLANK
                        if p.median_pct_of_minimum is None
                        else Value(round(p.median_pct_of_minimum / 100, 3), "ratio"),
                        *change_cells(c),
                    )
                )
            if tr.sides_withheld:
                rows.append(
                    (
                        text(t.code),
                        text(t.name),
                        Value(tr.point.round_id, "int"),
                        text(tx(S.TREND_SIDES_WITHHELD)),
                        *([BLANK] * 9),
                    )
                )
    return Table(
        "trends",
        tx(S.TRENDS),
        tuple(
            tx(c)
            for c in (
                S.CODE,
                S.NAME,
                S.TREND_ROUND,
                S.ROUND,
                S.PAY_MONTHS,
                S.IN_FORCE_FROM,
                S.PAID_MINIMUM_SHORT,
                S.INTERVAL_LOW,
                S.INTERVAL_HIGH,
                S.MEDIAN_PCT,
                S.TREND_CHANGE,
                S.INTERVAL_LOW,
                S.INTERVAL_HIGH,
            )
        ),
        tuple(rows),
    )


def all_tables(report: Report, tx: ReportText) -> list[Table]:
    """Every data table of a report, in reading order (the method comes separately)."""
    tables = [
        factories_table(report, tx),
        pay_table(report, tx),
        conditions_table(report, tx),
        *(breakdown_table(report, tx, by) for by in report.groups),
        distribution_table(report, tx),
        minimums_table(report, tx),
    ]
    trends = trends_table(report, tx)
    if trends is not None:
        tables.append(trends)
    quality = quality_table(report, tx)
    if quality is not None:
        tables.append(quality)
    return tables
