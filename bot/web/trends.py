"""Each factory's trend across rounds as portal tables (issue 19, part 2).

The rows are those of the reports' "Trends across rounds" section (bot/reports/trends.py
through `bot.reports.formats.view.trend_rows`): each round's figure exactly as that round's
own report shows it to this audience (same k, same ranges, the same withheld wording), and
the change from the round before with Newcombe's interval. Nothing is computed here; the
rows are only grouped by factory for a compact table per factory.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.reports import Report
from bot.reports.formats import view as V
from bot.reports.model import FactoryTrend
from bot.reports.text import ReportText


@dataclass(frozen=True)
class TrendTable:
    code: str
    name: str
    rows: tuple[V.TrendRow, ...]

    @property
    def id(self) -> str:
        return "trend-" + "".join(c if c.isalnum() else "-" for c in self.code)


def _compares(t: FactoryTrend) -> bool:
    """Whether a factory's trend has two points to compare (two rounds, or two sides)."""
    return len(t.rounds) > 1 or any(r.sides or r.sides_withheld for r in t.rounds)


def trend_tables(report: Report, tx: ReportText, code: str | None = None) -> list[TrendTable]:
    """One table per factory of the report (or only `code`) whose trend compares anything."""
    wanted = {t.code for t in report.trends if _compares(t) and code in (None, t.code)}
    tables: dict[str, TrendTable] = {}
    for row in V.trend_rows(report, tx):
        if row.code not in wanted:
            continue
        known = tables.get(row.code)
        rows = (*known.rows, row) if known else (row,)
        tables[row.code] = TrendTable(row.code, row.name, rows)
    return list(tables.values())


def withheld(row: V.TrendRow) -> bool:
    """A cell shown as words ("fewer than 10 answers"), not as a figure with an interval."""
    return bool(row.share) and not row.interval
