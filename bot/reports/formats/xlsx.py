"""The XLSX format: one sheet per table, numbers as numbers with display formats, and a
"method" sheet with the round, the verdict rule and the disclosure rules in plain words."""

from __future__ import annotations

import io

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from bot.reports import spreadsheet
from bot.reports import strings as S
from bot.reports.model import Report
from bot.reports.tables import Blank, Hidden, all_tables, method_lines
from bot.reports.text import ReportText

HEADER_FILL = PatternFill("solid", fgColor="1F4E5F")
HEADER_FONT = Font(bold=True, color="FFFFFF")
HIDDEN_FONT = Font(italic=True, color="7F7F7F")
NUMBER_FORMATS = {"pct": "0%", "ratio": "0%", "money": "#,##0", "int": "#,##0"}


def render_xlsx(report: Report, tx: ReportText) -> bytes:
    wb = Workbook()
    first = wb.active
    assert first is not None
    wb.remove(first)
    for table in all_tables(report, tx):
        ws = wb.create_sheet(table.key)
        ws.append(spreadsheet.row(table.columns))
        for cell in ws[1]:
            cell.fill, cell.font = HEADER_FILL, HEADER_FONT
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in table.rows:
            values: list[object] = []
            for c in row:
                if isinstance(c, Hidden):
                    values.append(tx.hidden(c.k))
                elif isinstance(c, Blank):
                    values.append(None)
                else:
                    values.append(c.value)
            values = spreadsheet.row(values)  # text never becomes a formula
            ws.append(values)
            for c, xl in zip(row, ws[ws.max_row], strict=True):
                if isinstance(c, Hidden):
                    xl.font = HIDDEN_FONT
                elif not isinstance(c, Blank) and c.kind in NUMBER_FORMATS:
                    xl.number_format = NUMBER_FORMATS[c.kind]
        for i, name in enumerate(table.columns, start=1):
            longest = max(
                [
                    len(name) // 2,
                    *(len(str(r[i - 1].__dict__.get("value", ""))) for r in table.rows),
                ],
                default=8,
            )
            ws.column_dimensions[get_column_letter(i)].width = min(max(10, longest + 2), 48)
        ws.freeze_panes = "C2" if table.key not in ("minimum_wages",) else "A2"
    ws = wb.create_sheet("method")
    ws.append([tx(S.FIGURE), tx(S.VALUE)])
    for cell in ws[1]:
        cell.fill, cell.font = HEADER_FILL, HEADER_FONT
    for key, value in [(tx(S.TITLE), report.round.name), *method_lines(report, tx)]:
        ws.append(spreadsheet.row([key, value]))
        ws.cell(ws.max_row, 2).alignment = Alignment(wrap_text=True, vertical="top")
        ws.cell(ws.max_row, 1).alignment = Alignment(vertical="top")
    ws.column_dimensions["A"].width = 30
    ws.column_dimensions["B"].width = 100
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
