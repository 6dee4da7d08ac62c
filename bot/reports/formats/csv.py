"""The CSV format: a zip archive with one CSV file per table, and method.csv.

Numbers are plain (a share is 0.35, pay is whole rupees) so that the files load into any
analysis tool; a hidden figure is the text "fewer than k answers". UTF-8 with a byte-order
mark, so that Excel opens names and labels correctly.
"""

from __future__ import annotations

import csv
import io
import zipfile

from bot.reports import spreadsheet
from bot.reports.model import Report
from bot.reports.tables import Blank, Cell, Hidden, Table, all_tables, method_lines
from bot.reports.text import ReportText


def csv_value(cell: Cell, tx: ReportText) -> str:
    """A cell as CSV text: numbers as plain numbers, text neutralised (spreadsheet.py)."""
    if isinstance(cell, Hidden):
        return spreadsheet.neutralise(tx.hidden(cell.k))
    if isinstance(cell, Blank):
        return ""
    v = cell.value
    if isinstance(v, float) and cell.kind in ("pct", "ratio"):
        return f"{v:.3f}"
    if isinstance(v, float):
        return str(round(v))
    if isinstance(v, int):
        return str(v)
    return spreadsheet.neutralise(str(v))


def table_csv(table: Table, tx: ReportText) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(spreadsheet.row(table.columns))
    for row in table.rows:
        writer.writerow([csv_value(c, tx) for c in row])
    return out.getvalue().encode("utf-8-sig")


def render_csv(report: Report, tx: ReportText) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for table in all_tables(report, tx):
            archive.writestr(f"{table.key}.csv", table_csv(table, tx))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerows(spreadsheet.row(line) for line in method_lines(report, tx))
        archive.writestr("method.csv", out.getvalue().encode("utf-8-sig"))
    return buf.getvalue()
