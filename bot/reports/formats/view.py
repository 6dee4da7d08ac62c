"""What the reading formats (HTML, PDF) show, as display strings: one place for both layouts."""

from __future__ import annotations

from dataclasses import dataclass

from bot.enums import RoundStatus
from bot.reports import strings as S
from bot.reports.model import (
    Breakdown,
    Change,
    FactoryReport,
    FactoryTrend,
    Figures,
    Report,
    Share,
    TrendPoint,
    Verdict,
)
from bot.reports.text import ReportText


@dataclass(frozen=True)
class Kpi:
    label: str
    value: str
    detail: str


@dataclass(frozen=True)
class SummaryRow:
    code: str
    name: str
    hidden: str | None  # the whole row is one note when the factory is suppressed
    respondents: str
    rate: str
    share: str
    interval: str
    verdict: Verdict | None
    verdict_text: str


def share_text(s: Share, tx: ReportText, k: int) -> str:
    return tx.hidden_share(s, k) if s.share is None else tx.share(s)


def interval_text(s: Share, tx: ReportText) -> str:
    return "" if s.ci95 is None else tx.interval(s.ci95)


def n_text(n: int | None, tx: ReportText, k: int) -> str:
    return tx.hidden(k) if n is None else tx.number(n)


def meta(report: Report, tx: ReportText) -> list[tuple[str, str]]:
    r = report.round
    names: dict[str, str] = {
        RoundStatus.OPEN: S.STATUS_OPEN,
        RoundStatus.CLOSED: S.STATUS_CLOSED,
        RoundStatus.PUBLISHED: S.STATUS_PUBLISHED,
    }
    status = names.get(r.status)
    period = tx.date(r.opened_on)
    if r.closed_on and r.closed_on != r.opened_on:
        period += f" – {tx.date(r.closed_on)}"
    return [
        (tx(S.PREPARED_FOR), report.audience.name),
        (tx(S.PREPARED_BY), r.cso),
        (tx(S.ROUND), r.name),
        (tx(S.ROUND_PERIOD), period),
        (tx(S.STATUS), tx(status) if status else r.status),
        (tx(S.PAY_MONTHS), ", ".join(tx.month(m) for m in r.pay_months) or "–"),
        (tx(S.REPORT_DATE), tx.date(report.generated_on)),
        (tx(S.K_LABEL), tx(S.K_VALUE, k=report.k)),
    ]


def findings(report: Report, tx: ReportText) -> list[str]:
    verdicts = [f.verdict for f in report.factories]
    hidden = sum(f.figures.paid_at_least_minimum.suppressed for f in report.factories)
    lines = [
        tx(S.FINDING_FACTORIES, n=tx.number(len(report.factories))),
        tx(S.FINDING_MET, n=tx.number(verdicts.count("likely_met"))),
        tx(S.FINDING_NOT_MET, n=tx.number(verdicts.count("likely_not_met"))),
        tx(
            S.FINDING_INCONCLUSIVE_HIDDEN if hidden else S.FINDING_INCONCLUSIVE,
            n=tx.number(verdicts.count("inconclusive")),
            hidden=tx.number(hidden),
            k=report.k,
        ),
    ]
    paid = report.overall.paid_at_least_minimum
    if paid.share is not None and paid.ci95 is not None and paid.n is not None:
        lines.append(
            tx(
                S.FINDING_OVERALL,
                share=tx.share(paid),
                interval=tx.interval(paid.ci95),
                n=tx.number(paid.n),
            )
        )
        ranged = sum(f.figures.paid_at_least_minimum.bound is not None for f in report.factories)
        if ranged:
            lines.append(tx(S.FINDING_RANGED, n=tx.number(ranged)))
    return lines


def summary_rows(report: Report, tx: ReportText) -> list[SummaryRow]:
    k = report.k
    rows = []
    for f in report.factories:
        fig = f.figures
        paid = fig.paid_at_least_minimum
        rows.append(
            SummaryRow(
                code=f.code,
                name=f.name,
                hidden=tx.hidden(k) if f.suppressed else None,
                respondents=n_text(fig.respondents.n, tx, k),
                rate="–" if f.response_rate is None else tx.pct(f.response_rate),
                share=share_text(paid, tx, k),
                interval=interval_text(paid, tx),
                verdict=f.verdict,
                verdict_text=tx.verdict(f.verdict),
            )
        )
    return rows


def kpis(f: FactoryReport | None, fig: Figures, tx: ReportText, k: int) -> list[Kpi]:
    paid = fig.paid_at_least_minimum
    rate = f.response_rate if f else None
    pay = fig.pay
    return [
        Kpi(
            tx(S.RESPONDENTS),
            n_text(fig.respondents.n, tx, k),
            f"{tx(S.RESPONSE_RATE)} {tx.pct(rate)}" if rate is not None else "",
        ),
        Kpi(
            tx(S.PAID_MINIMUM),
            share_text(paid, tx, k),
            ""
            if paid.ci95 is None or paid.n is None
            else f"{tx(S.INTERVAL)} {tx.interval(paid.ci95)} · {tx(S.ANSWERS).lower()} "
            f"{tx.number(paid.n)}",
        ),
        Kpi(
            tx(S.MEDIAN_PAY),
            tx.hidden(k) if pay.median is None else tx.number(pay.median),
            ""
            if pay.median_pct_of_minimum is None
            else f"{tx(S.MEDIAN_PCT)}: {tx.pct(pay.median_pct_of_minimum / 100)}",
        ),
    ]


def pay_rows(fig: Figures, tx: ReportText, k: int) -> list[tuple[str, str]]:
    p = fig.pay

    def money(v: float | None) -> str:
        return tx.hidden(k) if v is None else tx.number(v)

    return [
        (tx(S.ANSWERS), n_text(p.n, tx, k)),
        (tx(S.MEDIAN_PAY), money(p.median)),
        (tx(S.Q1_PAY), money(p.q1)),
        (tx(S.Q3_PAY), money(p.q3)),
        (
            tx(S.MEDIAN_PCT),
            tx.hidden(k)
            if p.median_pct_of_minimum is None
            else tx.pct(p.median_pct_of_minimum / 100),
        ),
    ]


def condition_rows(report: Report, fig: Figures, tx: ReportText) -> list[tuple[str, str, str]]:
    """(figure, share, 95% interval) for the yes/no questions and the payment methods."""
    k = report.k
    items: list[tuple[str, Share]] = [
        (tx(S.PAY_RISE), fig.pay_rise),
        (tx(S.PAY_RISE_DONT_KNOW), fig.pay_rise_dont_know),
        (tx(S.PAYSLIP), fig.payslip),
        (tx(S.DEDUCTIONS), fig.deductions),
        (tx(S.DEDUCTIONS_DONT_KNOW), fig.deductions_dont_know),
        *(
            (tx(S.PAID_BY, method=tx.label(label).lower()), fig.payment_methods[m])
            for m, label in report.payment_methods
        ),
    ]
    return [(label, share_text(s, tx, k), interval_text(s, tx)) for label, s in items]


def breakdown_rows(b: Breakdown, tx: ReportText, k: int) -> list[tuple[str, str, str, str]]:
    """(group, respondents, share paid at least the minimum, interval)."""
    return [
        (
            tx.label(c.label),
            tx.hidden_count(c.respondents, k)
            if c.respondents.n is None
            else tx.number(c.respondents.n),
            share_text(c.paid_at_least_minimum, tx, k),
            interval_text(c.paid_at_least_minimum, tx),
        )
        for c in b.cells
    ]


def breakdown_title(by: str, tx: ReportText) -> str:
    return tx({"employment": S.BY_EMPLOYMENT, "gender": S.BY_GENDER}.get(by, S.BREAKDOWN))


def place(f: FactoryReport, tx: ReportText) -> str:
    parts = [p for p in (f.city, f.region.capitalize()) if p]
    if f.os_id:
        parts.append(f"{tx(S.OS_ID)} {f.os_id}")
    if f.headcount:
        parts.append(f"{tx(S.HEADCOUNT)} {tx.number(f.headcount)}")
    return " · ".join(parts)


@dataclass(frozen=True)
class TrendRow:
    """One line of the trends table: a round, or one side of a raise within it."""

    code: str
    name: str
    label: str
    side: bool  # a side of a raise (indented under its round)
    share: str
    interval: str
    median_pct: str
    change: str
    change_interval: str


def points(value: float) -> str:
    """A signed change in whole percentage points: "+12", "−33", "0"."""
    n = round(100 * value)
    return f"+{n}" if n > 0 else (f"−{-n}" if n < 0 else "0")


def change_texts(c: Change | None, tx: ReportText) -> tuple[str, str]:
    if c is None or c.difference is None or c.ci95 is None:
        return ("", "") if c is None else ("–", "")
    return (
        tx(S.TREND_POINTS, change=points(c.difference)),
        tx(S.TREND_POINTS_RANGE, low=points(c.ci95[0]), high=points(c.ci95[1])),
    )


def trend_rows(report: Report, tx: ReportText) -> list[TrendRow]:
    """Every factory's rounds, oldest first, with the sides of a raise under their round."""
    k = report.k
    rows: list[TrendRow] = []

    def row(t: FactoryTrend, label: str, p: TrendPoint, c: Change | None, side: bool) -> None:
        paid = p.paid_at_least_minimum
        change, change_interval = change_texts(c, tx)
        rows.append(
            TrendRow(
                code=t.code,
                name=t.name,
                label=label,
                side=side,
                share=share_text(paid, tx, k),
                interval=interval_text(paid, tx),
                median_pct=""
                if p.median_pct_of_minimum is None
                else tx.pct(p.median_pct_of_minimum / 100),
                change=change,
                change_interval=change_interval,
            )
        )

    for t in report.trends:
        for tr in t.rounds:
            row(t, tr.point.round_name, tr.point, tr.change, False)
            for i, side in enumerate(tr.sides):
                label = tx(
                    S.TREND_SIDE,
                    months=", ".join(tx.month(m) for m in side.pay_months),
                    date=tx.date(side.minimum_from),
                )
                row(t, label, side, tr.side_change if i else None, True)
            if tr.sides_withheld:
                rows.append(
                    TrendRow(t.code, t.name, tx(S.TREND_SIDES_WITHHELD), True, "", "", "", "", "")
                )
    return rows
