"""Render a disclosed report as bytes: JSON, CSV (a zip of one file per table), XLSX, HTML, PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from bot.reports.model import Report
from bot.reports.text import report_text

Format = Literal["json", "csv", "xlsx", "html", "pdf"]
FORMATS: tuple[Format, ...] = ("json", "csv", "xlsx", "html", "pdf")
SUFFIXES: dict[str, str] = {
    "json": ".json",
    "csv": ".zip",
    "xlsx": ".xlsx",
    "html": ".html",
    "pdf": ".pdf",
}


def render(report: Report, fmt: str, lang: str = "en", *, locales_dir: Path | None = None) -> bytes:
    """The report as a file in `fmt` (one of FORMATS), its text in `lang` (en or nl)."""
    tx = report_text(lang, locales_dir)
    # Each format is imported when asked for: matplotlib, reportlab and openpyxl take about
    # half a second together, which the bot and the portal need not pay at start.
    if fmt == "json":
        from bot.reports.formats.json import render_json

        return render_json(report, tx)
    if fmt == "csv":
        from bot.reports.formats.csv import render_csv

        return render_csv(report, tx)
    if fmt == "xlsx":
        from bot.reports.formats.xlsx import render_xlsx

        return render_xlsx(report, tx)
    if fmt == "html":
        from bot.reports.formats.html import render_html

        return render_html(report, tx)
    if fmt == "pdf":
        from bot.reports.formats.pdf import render_pdf

        return render_pdf(report, tx)
    raise ValueError(f"unknown report format {fmt!r} (one of {', '.join(FORMATS)})")
