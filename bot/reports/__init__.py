"""Aggregated, disclosure-controlled results of a round, for brands and CSOs.

    report = await build_report(app, round_id, "brand:Noordzee Fashion")   # -> Report
    pdf = render(report, "pdf", "nl")                                       # -> bytes
    csv = await export_answers(app, round_id, "cso:Karachi Workers Centre")  # CSO only

`build_report` raises `DisclosureError` when the audience may not receive the round's
results (docs/report-format.md). Formats: json, csv (zip), xlsx, html, pdf.
"""

from bot.reports.build import build_report, export_answers
from bot.reports.disclosure import DisclosureError, ReportError
from bot.reports.figures import FactoryResult, RoundResults, compute_round_results
from bot.reports.files import write_reports
from bot.reports.formats import FORMATS, render
from bot.reports.intervals import wilson_interval
from bot.reports.model import Audience, Report

__all__ = [
    "FORMATS",
    "Audience",
    "DisclosureError",
    "FactoryResult",
    "Report",
    "ReportError",
    "RoundResults",
    "build_report",
    "compute_round_results",
    "export_answers",
    "render",
    "wilson_interval",
    "write_reports",
]
