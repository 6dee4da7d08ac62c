"""The brand's pages: its factories, the closed rounds covering them with each factory's
verdict, interval and charts, the report downloads, and its API tokens.

Every figure on these pages comes from the brand's `Report` (bot.reports.build_report for
"brand:<name>"), the object the PDF, XLSX, CSV and JSON files are rendered from: the pages
pass exactly the disclosure control of the files (k = 10 by default, "fewer than k answers",
complementary suppression, pooled figures over shown factories only). Display strings come
from bot/reports/formats/view.py and the charts from bot/reports/formats/charts.py, as in the
HTML and PDF reports; nothing is computed here.

Access: only brand accounts (a CSO account gets 403, a visitor the log-in page); a factory
not linked to the brand, or a round the brand may not see, is 404 whether it exists or not.
Creating and revoking API tokens needs the brand's "admin" role: a token hands the brand's
results to a machine outside the portal's log-in, for as long as it lives, so that is an
administrator's decision; viewers see the list (docs/portal.md).
"""

from __future__ import annotations

import base64
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.bootstrap import App
from bot.enums import OrgKind, Role
from bot.reports import Report
from bot.reports import strings as S
from bot.reports.build import audit_generation
from bot.reports.formats import charts
from bot.reports.formats import view as V
from bot.reports.model import Bin, FactoryReport, Figures
from bot.reports.tables import verdict_text
from bot.reports.text import ReportText, report_text
from bot.service import brand_portal as D
from bot.service.api_tokens import NAME_MAX, ApiTokenError, TokenNotFound
from bot.web import convertors  # noqa: F401  (the {…:id} route parameter)
from bot.web.api import api_base_url, token_service
from bot.web.auth import WebUser, require
from bot.web.deps import portal
from bot.web.i18n import N_, request_language, translate
from bot.web.params import query_choice, query_int
from bot.web.render import render
from bot.web.trends import trend_tables

CHART_ROWS = 36  # factories per interval chart, as in the PDF and HTML reports
FORMAT_LABELS = {
    "pdf": N_("PDF (to read and print)"),
    "xlsx": N_("Excel (XLSX)"),
    "csv": N_("CSV (a zip of one file per table)"),
    "json": N_("JSON (for your own systems)"),
}
LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}
TOKEN_ERRORS = {
    "name": N_("Give the token a name, for example the system that will use it."),
    "name_long": N_("A token name has at most %(n)s characters."),
    "too_many": N_(
        "Your organisation has the most active tokens it may have. Revoke one you no longer use."
    ),
    "not_brand": N_("Only brands have API tokens."),
    "name_control": N_("A token name is one line of text, without control characters."),
}
# The verdicts in the portal's own languages (the report's text is English or Dutch only), for
# the overview pages; the same words as the reports.
VERDICT_NAMES = {
    "likely_met": N_("Minimum likely met"),
    "likely_not_met": N_("Minimum likely not met"),
    "inconclusive": N_("Inconclusive"),
}
HIDDEN = N_("fewer than %(k)s answers")
TOKEN_REVOKED = N_("The token %(name)s is revoked. Programs using it are refused from now on.")


class ReportStrings:
    """Report strings by constant name, in the report's language ({{ t.SUMMARY }})."""

    def __init__(self, tx: ReportText) -> None:
        self._tx = tx

    def __getattr__(self, name: str) -> str:
        return self._tx(getattr(S, name))


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


async def _brand(request: Request) -> WebUser:
    return await require(request, kind=OrgKind.BRAND)


def _app(request: Request) -> App:
    return portal(request).app


def _report_lang(request: Request) -> str:
    return D.report_language(request_language(request))


def _text(request: Request, lang: str) -> ReportText:
    return report_text(lang, _app(request).settings.locales_dir)


def verdict_symbol(verdict: str) -> str:
    """A shape next to the verdict's words and colour: readable without colour."""
    return {"likely_met": "✓", "likely_not_met": "✗"}.get(verdict, "?")


# ------------------------------------------------------------------------- charts


def distribution_rows(bins: tuple[Bin, ...], tx: ReportText) -> list[tuple[str, str, bool]]:
    """The pay distribution chart as text: (bar, share of answers, below the minimum)."""
    return [
        (charts.bin_label(b, tx), tx.pct(b.share), b.high is not None and b.high <= 1.0)
        for b in bins
    ]


def distribution_alt(bins: tuple[Bin, ...], tx: ReportText) -> str:
    rows = distribution_rows(bins, tx)
    return f"{tx(S.CHART_DISTRIBUTION)}: " + "; ".join(f"{bar}: {share}" for bar, share, _ in rows)


def shares_alt(factories: list[FactoryReport], report: Report, tx: ReportText) -> str:
    parts = []
    for f in factories:
        s = f.figures.paid_at_least_minimum
        value = (
            tx.hidden(report.k)
            if s.share is None or s.ci95 is None
            else f"{tx.share(s)} ({tx.interval(s.ci95)}), {tx.verdict(f.verdict)}"
        )
        parts.append(f"{f.code}: {value}")
    return f"{tx(S.CHART_SHARES)}. " + "; ".join(parts)


async def _distribution_chart(fig: Figures, tx: ReportText) -> dict[str, Any] | None:
    if fig.distribution is None:
        return None
    png = await D.in_thread(charts.distribution_chart, fig.distribution, tx)
    return {
        "src": _data_uri(png),
        "alt": distribution_alt(fig.distribution, tx),
        "rows": distribution_rows(fig.distribution, tx),
    }


async def _shares_charts(report: Report, tx: ReportText) -> list[dict[str, str]]:
    factories = list(report.factories)
    out = []
    for i in range(0, len(factories), CHART_ROWS):
        part = factories[i : i + CHART_ROWS]
        png = await D.in_thread(charts.shares_chart, report, tx, part)
        out.append({"src": _data_uri(png), "alt": shares_alt(part, report, tx)})
    return out


async def _block(
    report: Report, f: FactoryReport | None, fig: Figures, tx: ReportText
) -> dict[str, Any]:
    """One factory's (or the pooled) figures as display rows, as the HTML report shows them."""
    k = report.k
    paid = fig.paid_at_least_minimum
    return {
        "factory": f,
        "place": V.place(f, tx) if f else tx(S.POOLED_OVER, n=tx.number(report.overall_factories)),
        "kpis": V.kpis(f, fig, tx, k),
        "verdict": f.verdict if f else None,
        "verdict_text": tx.verdict(f.verdict) if f else "",
        "share": V.share_text(paid, tx, k),
        "interval": V.interval_text(paid, tx),
        "distribution": await _distribution_chart(fig, tx),
        "bar_note": tx(S.CHART_BAR_NOTE, k=k),
        "hidden": tx.hidden(k),
        "pay": V.pay_rows(fig, tx, k),
        "conditions": V.condition_rows(report, fig, tx),
        "breakdowns": [
            (V.breakdown_title(b.by, tx), V.breakdown_rows(b, tx, k)) for b in fig.breakdowns
        ],
    }


def _downloads(request: Request, round_id: int, lang: str) -> list[dict[str, Any]]:
    """Each format with a link per report language, the page's report language first."""
    langs = sorted(D.REPORT_LANGUAGES, key=lambda code: code != lang)
    return [
        {
            "format": fmt,
            "label": translate(request, FORMAT_LABELS[fmt]),
            "links": [
                (
                    code,
                    LANGUAGE_NAMES[code],
                    request.url_for("brand.download", round_id=round_id, fmt=fmt).path
                    + f"?lang={code}",
                )
                for code in langs
            ],
        }
        for fmt in D.DOWNLOAD_FORMATS
    ]


# ------------------------------------------------------------------------- pages


async def home(request: Request) -> Response:
    """/brand: what is there, and the newest round's verdicts at a glance."""
    user = await _brand(request)
    app = _app(request)
    factories = await D.linked_factories(app, user.org_id)
    rounds = await D.visible_rounds(app, user.org_id)
    latest = None
    if rounds:
        report = await D.round_report(app, user.org_id, rounds[0].id)
        if report is not None:
            verdicts = [f.verdict for f in report.factories]
            latest = {
                "round": rounds[0],
                "met": verdicts.count("likely_met"),
                "not_met": verdicts.count("likely_not_met"),
                "inconclusive": verdicts.count("inconclusive"),
                "factories": len(verdicts),
            }
    return render(
        request,
        "brand/home.html",
        {"factories": factories, "rounds": rounds, "latest": latest},
    )


async def factories(request: Request) -> Response:
    """/brand/factories: the brand's factories with their latest verdict."""
    user = await _brand(request)
    app = _app(request)
    rows = await D.linked_factories(app, user.org_id)
    tx = _text(request, _report_lang(request))  # numbers only: Latin digits, as in the files
    latest = {}
    for code, (rnd, report, part) in (await D.latest_results(app, user.org_id, rows)).items():
        paid = part.figures.paid_at_least_minimum
        latest[code] = {
            "round": rnd,
            "verdict": part.verdict,
            "verdict_text": translate(request, VERDICT_NAMES[part.verdict]),
            "share": None if paid.share is None else tx.share(paid),
            "hidden": translate(request, HIDDEN, k=report.k),
            "interval": V.interval_text(paid, tx),
        }
    return render(request, "brand/factories.html", {"factories": rows, "latest": latest})


async def factory(request: Request) -> Response:
    """/brand/factories/{code}: one factory's results in every released round."""
    user = await _brand(request)
    app = _app(request)
    row = await D.linked_factory(app, user.org_id, request.path_params["code"])
    if row is None:
        raise HTTPException(404)
    lang = _report_lang(request)
    tx = _text(request, lang)
    history = []
    trends = []
    seen_csos: set[str] = set()
    for rnd, report, part in await D.factory_history(app, user.org_id, row):
        if rnd.cso not in seen_csos:  # the newest report of each CSO holds its whole trend
            seen_csos.add(rnd.cso)
            trends += trend_tables(report, tx, row.code)
        block = await _block(report, part, part.figures, tx)
        block["round"] = rnd
        block["k"] = report.k
        block["nothing_shown"] = tx(S.NOTHING_SHOWN, k=report.k)
        if not part.suppressed:  # the interval chart of the report, this factory's row
            png = await D.in_thread(charts.shares_chart, report, tx, [part])
            block["interval_chart"] = {"src": _data_uri(png), "alt": shares_alt([part], report, tx)}
        history.append(block)
    return render(
        request,
        "brand/factory.html",
        {
            "factory": row,
            "history": history,
            "trend_tables": trends,
            "t": ReportStrings(tx),
            "report_lang": lang,
        },
    )


async def results(request: Request) -> Response:
    """/brand/results: closed rounds that cover the brand's factories."""
    user = await _brand(request)
    rounds = await D.visible_rounds(_app(request), user.org_id)
    return render(request, "brand/results.html", {"rounds": rounds})


async def round_results(request: Request) -> Response:
    """/brand/results/{round_id}: the brand's report of a round, as a page."""
    user = await _brand(request)
    app = _app(request)
    round_id = request.path_params["round_id"]
    report = await D.round_report(app, user.org_id, round_id)
    if report is None:
        raise HTTPException(404)
    lang = _report_lang(request)
    tx = _text(request, lang)
    factories = list(report.factories)
    context = {
        "report": report,
        "report_lang": lang,
        "t": ReportStrings(tx),
        "meta": V.meta(report, tx),
        "findings": V.findings(report, tx),
        "summary": V.summary_rows(report, tx),
        "shares_charts": await _shares_charts(report, tx),
        "verdict_rule": verdict_text(report, tx),
        "blocks": [await _block(report, f, f.figures, tx) for f in factories if not f.suppressed],
        "hidden_factories": [f for f in factories if f.suppressed],
        "nothing_shown": tx(S.NOTHING_SHOWN, k=report.k),
        "overall": await _block(report, None, report.overall, tx) if len(factories) > 1 else None,
        "minimums": [
            (
                m.region.capitalize(),
                tx.grade(m.grade),
                tx.date(m.in_force_from),
                tx.number(m.amount),
                tx.wage_status(m.status),
                m.source + (f" — {m.note}" if m.note else ""),
            )
            for m in report.minimums
        ],
        "method": [tx(p) for p in S.METHOD_TEXT],
        "disclosure": tx.disclosure_rules(report.k, report.small),
        "confidential": tx(S.CONFIDENTIAL),
        "downloads": _downloads(request, round_id, lang),
        "trend_tables": trend_tables(report, tx),
    }
    return render(request, "brand/round.html", context)


async def download(request: Request) -> Response:
    """/brand/results/{round_id}/download/{fmt}?lang=en|nl: the brand's report file, the same
    bytes as `wagecheck report` and Telegram's /report make (another lang: 400, saying so)."""
    user = await _brand(request)
    app = _app(request)
    fmt = request.path_params["fmt"]
    lang = query_choice(request, "lang", D.REPORT_LANGUAGES, _report_lang(request))
    if fmt not in D.DOWNLOAD_FORMATS:
        raise HTTPException(404)
    report = await D.round_report(app, user.org_id, request.path_params["round_id"])
    if report is None:
        raise HTTPException(404)
    data, media_type, name = await D.render_download(app, report, fmt, lang)
    await audit_generation(
        app,
        user.actor,
        report.round.id,
        report.audience,
        fmt,
        lang,
        action="report.download",
    )
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# ------------------------------------------------------------------------- API tokens


async def _tokens_page(
    request: Request,
    user: WebUser,
    *,
    new: Any = None,
    error: str | None = None,
    notice: str | None = None,
    name: str = "",
    status_code: int = 200,
) -> Response:
    tokens = await token_service(request).list(user.org_id)
    return render(
        request,
        "brand/tokens.html",
        {
            "tokens": tokens,
            "new_token": new,
            "error": error,
            "notice": notice,
            "name": name,
            "name_max": NAME_MAX,
            "can_manage": user.role == Role.ADMIN,
            "api_base": api_base_url(request),
        },
        status_code=status_code,
    )


async def tokens(request: Request) -> Response:
    """/brand/tokens: the brand's API tokens (name, prefix, created, last used)."""
    user = await _brand(request)
    notice = None
    revoked = query_int(request, "revoked", 1, 999_999_999, default=0)
    if revoked:
        found = next(
            (t for t in await token_service(request).list(user.org_id) if t.id == revoked),
            None,
        )
        if found is not None and not found.active:
            notice = translate(request, TOKEN_REVOKED, name=found.name)
    return await _tokens_page(request, user, notice=notice)


async def create_token(request: Request) -> Response:
    """POST /brand/tokens: make a token and show it this once (administrators only)."""
    user = await require(request, kind=OrgKind.BRAND, admin=True)
    async with request.form() as form:
        value = form.get("name")
        name = value if isinstance(value, str) else ""
    try:
        made = await token_service(request).create(user.org_id, name, account_id=user.account_id)
    except ApiTokenError as exc:
        message = translate(request, TOKEN_ERRORS.get(exc.code, TOKEN_ERRORS["name"]), n=NAME_MAX)
        return await _tokens_page(request, user, error=message, name=name[:200], status_code=400)
    return await _tokens_page(request, user, new=made, status_code=201)


async def revoke_token(request: Request) -> Response:
    """POST /brand/tokens/{token_id}/revoke (administrators only)."""
    user = await require(request, kind=OrgKind.BRAND, admin=True)
    token_id = request.path_params["token_id"]
    try:
        await token_service(request).revoke(user.org_id, token_id, account_id=user.account_id)
    except TokenNotFound:
        raise HTTPException(404) from None
    return RedirectResponse(
        request.url_for("brand.tokens").path + f"?revoked={token_id}", status_code=303
    )


routes: list[BaseRoute] = [
    Route("/brand", home, methods=["GET"], name="brand.home"),
    Route("/brand/factories", factories, methods=["GET"], name="brand.factories"),
    Route("/brand/factories/{code}", factory, methods=["GET"], name="brand.factory"),
    Route("/brand/results", results, methods=["GET"], name="brand.results"),
    Route("/brand/results/{round_id:id}", round_results, methods=["GET"], name="brand.round"),
    Route(
        "/brand/results/{round_id:id}/download/{fmt}",
        download,
        methods=["GET"],
        name="brand.download",
    ),
    Route("/brand/tokens", tokens, methods=["GET"], name="brand.tokens"),
    Route("/brand/tokens", create_token, methods=["POST"], name="brand.tokens_create"),
    Route(
        "/brand/tokens/{token_id:id}/revoke",
        revoke_token,
        methods=["POST"],
        name="brand.tokens_revoke",
    ),
]
