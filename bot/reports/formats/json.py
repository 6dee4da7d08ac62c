"""The JSON format: data with stable keys, documented in docs/report-format.md and validated
against docs/report.schema.json. Suppressed figures carry no number, only a note."""

from __future__ import annotations

import json
from typing import Any

from bot.reports import strings as S
from bot.reports.model import (
    FORMAT_VERSION,
    Breakdown,
    Change,
    Count,
    FactoryReport,
    Figures,
    PayFigures,
    Report,
    Share,
    TrendPoint,
    TrendRound,
)
from bot.reports.nogc import no_gc_pauses
from bot.reports.tables import flag_text, verdict_text
from bot.reports.text import ReportText, method_text

SCHEMA_ID = "https://github.com/wagecheck/wagecheck/docs/report.schema.json"


def _r(value: float) -> float:
    return round(value, 3)


def share_json(s: Share, k: int, tx: ReportText) -> dict[str, Any]:
    if s.share is None or s.ci95 is None or s.n is None:
        return {"suppressed": True, "note": tx.hidden_share(s, k)}  # (cached per k)
    shown = {"suppressed": False, "n": s.n, "share": _r(s.share), "ci95": [_r(c) for c in s.ci95]}
    if s.bound is not None:
        shown["bound"] = s.bound
    return shown


def _count(c: Count) -> int | None:
    return c.n


def _pay(p: PayFigures, k: int, tx: ReportText) -> dict[str, Any]:
    if p.n is None or p.median is None or p.q1 is None or p.q3 is None:
        return {"suppressed": True, "note": tx.hidden(k)}
    assert p.median_pct_of_minimum is not None
    return {
        "suppressed": False,
        "n": p.n,
        "median": round(p.median),
        "q1": round(p.q1),
        "q3": round(p.q3),
        "median_pct_of_minimum": round(p.median_pct_of_minimum, 1),
    }


def _breakdown(b: Breakdown, k: int, tx: ReportText) -> list[dict[str, Any]]:
    return [
        {
            "group": c.group,
            "label": tx.label(c.label),
            "respondents": _count(c.respondents),
            "paid_at_least_minimum": share_json(c.paid_at_least_minimum, k, tx),
        }
        for c in b.cells
    ]


def figures_json(f: Figures, k: int, tx: ReportText) -> dict[str, Any]:
    return {
        "respondents": _count(f.respondents),
        "paid_at_least_minimum": share_json(f.paid_at_least_minimum, k, tx),
        "pay": _pay(f.pay, k, tx),
        "distribution": None
        if f.distribution is None
        else [
            {"from": _r(b.low), "to": None if b.high is None else _r(b.high), "share": _r(b.share)}
            for b in f.distribution
        ],
        "pay_rise": share_json(f.pay_rise, k, tx),
        "pay_rise_dont_know": share_json(f.pay_rise_dont_know, k, tx),
        "payslip": share_json(f.payslip, k, tx),
        "deductions_not_agreed": share_json(f.deductions, k, tx),
        "deductions_dont_know": share_json(f.deductions_dont_know, k, tx),
        "payment_methods": {m: share_json(s, k, tx) for m, s in f.payment_methods.items()},
        "breakdowns": {b.by: _breakdown(b, k, tx) for b in f.breakdowns},
    }


def _factory(f: FactoryReport, k: int, tx: ReportText) -> dict[str, Any]:
    figures = figures_json(f.figures, k, tx)
    paid = figures["paid_at_least_minimum"]
    paid["verdict"] = f.verdict
    paid["verdict_text"] = tx.verdict(f.verdict)
    out: dict[str, Any] = {
        "code": f.code,
        "name": f.name,
        "region": f.region,
        "city": f.city,
        "os_id": f.os_id,
        "headcount": f.headcount,
        "suppressed": f.suppressed,
        "response_rate": None if f.response_rate is None else _r(f.response_rate),
    }
    if f.suppressed:
        out["note"] = tx(S.NOTHING_SHOWN, k=k)
    out.update(figures)
    return out


def _change(c: Change | None) -> dict[str, Any] | None:
    if c is None:
        return None
    if c.difference is None or c.ci95 is None:
        return {"shown": False}
    return {"shown": True, "difference": _r(c.difference), "ci95": [_r(x) for x in c.ci95]}


def _point(p: TrendPoint, k: int, tx: ReportText) -> dict[str, Any]:
    out: dict[str, Any] = {
        "round_id": p.round_id,
        "round_name": p.round_name,
        "pay_months": list(p.pay_months),
        "paid_at_least_minimum": share_json(p.paid_at_least_minimum, k, tx),
        "median_pct_of_minimum": None
        if p.median_pct_of_minimum is None
        else round(p.median_pct_of_minimum, 1),
    }
    if p.minimum_from is not None:
        out["minimum_from"] = p.minimum_from.isoformat()
    return out


def _trend_round(tr: TrendRound, k: int, tx: ReportText) -> dict[str, Any]:
    return {
        **_point(tr.point, k, tx),
        "change": _change(tr.change),
        "sides": [_point(p, k, tx) for p in tr.sides],
        "side_change": _change(tr.side_change),
        "sides_withheld": tr.sides_withheld,
    }


def trends_json(report: Report, tx: ReportText) -> list[dict[str, Any]]:
    return [
        {
            "code": t.code,
            "name": t.name,
            "rounds": [_trend_round(tr, report.k, tx) for tr in t.rounds],
        }
        for t in report.trends
    ]


def report_json(report: Report, tx: ReportText) -> dict[str, Any]:
    """The report as a JSON-ready dict."""
    k = report.k
    r = report.round
    out: dict[str, Any] = {
        "$schema": SCHEMA_ID,
        "format": "wagecheck-report",
        "version": FORMAT_VERSION,
        "language": tx.lang,
        "generated_on": report.generated_on.isoformat(),
        "audience": {"kind": report.audience.kind, "name": report.audience.name},
        "round": {
            "id": r.id,
            "name": r.name,
            "cso": r.cso,
            "status": r.status,
            "opened_on": r.opened_on.isoformat() if r.opened_on else None,
            "closed_on": r.closed_on.isoformat() if r.closed_on else None,
            "pay_months": list(r.pay_months),
        },
        "disclosure": {
            "k": k,
            "rules": tx.disclosure_rules(k, report.small),
        },
        "verdict_rule": {
            "likely_ok_lower": report.verdict_rule.ok_lower,
            "likely_below_upper": report.verdict_rule.below_upper,
            "text": verdict_text(report, tx),
        },
        "method": method_text(report, tx),
        "groups": {
            by: [{"group": g, "label": tx.label(label)} for g, label in groups]
            for by, groups in report.groups.items()
        },
        "payment_methods": [
            {"method": m, "label": tx.label(label)} for m, label in report.payment_methods
        ],
        "minimum_wages": [
            {
                "region": m.region,
                "grade": m.grade,
                "in_force_from": m.in_force_from.isoformat(),
                "amount_pkr": m.amount,
                "status": m.status,
                "source": m.source,
                "note": m.note,
                "stale_months": list(m.stale_months),
            }
            for m in report.minimums
        ],
        "overall": {"factories": report.overall_factories, **figures_json(report.overall, k, tx)},
        "factories": [_factory(f, k, tx) for f in report.factories],
        "trends": trends_json(report, tx),
    }
    if report.quality is not None:
        out["quality_flags"] = [
            {
                "factory": q.factory,
                "kind": q.kind,
                "count": q.count,
                "share": None if q.share is None else _r(q.share),
                "title": title,
                "detail": detail,
            }
            for q in report.quality
            for title, detail in [flag_text(q, report, tx)]
        ]
    return out


def render_json(report: Report, tx: ReportText) -> bytes:
    """Compact UTF-8 JSON (one line; `python -m json.tool` shows it indented)."""
    with no_gc_pauses():
        data = report_json(report, tx)
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
