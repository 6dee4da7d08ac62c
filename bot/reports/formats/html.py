"""The HTML format: one self-contained file (inline CSS, charts as embedded PNG images),
laid out like the PDF and printable from a browser."""

from __future__ import annotations

import base64
from typing import Any

from jinja2 import Environment, select_autoescape

from bot.reports import strings as S
from bot.reports.formats import charts
from bot.reports.formats import view as V
from bot.reports.model import FactoryReport, Figures, Report
from bot.reports.tables import flag_text, verdict_text
from bot.reports.text import ReportText, method_text

CHART_ROWS = 36

TEMPLATE = """<!DOCTYPE html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ t.TITLE }} — {{ r.round.name }}</title>
<style>
:root { --teal:#1F4E5F; --ink:#1D2B36; --muted:#6B7780; --rule:#C9D2D8; --zebra:#F5F7F8;
        --met:#2E7D32; --notmet:#B3261E; --inconclusive:#B7791F; }
* { box-sizing: border-box; }
body { margin:0; background:#EEF1F3; color:var(--ink);
       font:14px/1.45 "Noto Sans","Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:980px; margin:24px auto; background:#fff; padding:0 0 32px;
       box-shadow:0 1px 4px rgba(0,0,0,.12); }
section { padding:0 40px; }
.band { background:var(--teal); color:#fff; padding:32px 40px 28px; }
.band .tag { font-size:11px; letter-spacing:.08em; font-weight:700; color:#A9C9D3; }
.band h1 { margin:6px 0 4px; font-size:30px; line-height:1.2; }
.band p { margin:0; opacity:.92; }
.facts { display:grid; grid-template-columns:repeat(2,1fr); column-gap:32px; margin:20px 0; }
.facts div { display:flex; gap:12px; border-bottom:1px solid var(--rule); padding:6px 0; }
.facts dt { width:42%; color:var(--muted); font-size:12px; font-weight:700; }
.facts dd { margin:0; width:58%; }
.findings { background:#E8F0F2; border-left:4px solid var(--teal); padding:12px 20px;
            margin:8px 0 8px; }
.findings h3 { margin:0 0 6px; }
.findings ul { margin:0; padding-left:18px; }
h2 { color:var(--teal); font-size:19px; margin:28px 0 10px; }
h3 { font-size:15px; margin:18px 0 6px; }
table { border-collapse:collapse; width:100%; font-size:13px; margin:4px 0 8px; }
th { background:var(--teal); color:#fff; text-align:left; font-weight:600; padding:6px 8px; }
td { padding:5px 8px; border-bottom:1px solid var(--rule); }
tbody tr:nth-child(even) td { background:var(--zebra); }
td.num, th.num { text-align:right; white-space:nowrap; }
table.summary td:first-child { min-width:16em; }
td.hidden { color:var(--muted); font-style:italic; }
tr.side td { color:var(--muted); font-size:12px; }
.chip { display:inline-block; color:#fff; font-weight:700; font-size:12px; padding:2px 8px;
        border-radius:3px; white-space:nowrap; }
.likely_met { background:var(--met); } .likely_not_met { background:var(--notmet); }
.inconclusive { background:var(--inconclusive); }
img { max-width:100%; display:block; }
.muted { color:var(--muted); font-size:12px; }
.factory { border-top:3px solid var(--teal); margin-top:36px; padding-top:4px; }
.factory h2 { color:var(--ink); font-size:22px; margin:12px 0 2px; }
.kpis { display:grid; grid-template-columns:repeat(4,1fr); gap:6px; margin:14px 0; }
.kpis.pooled { grid-template-columns:repeat(3,1fr); }
.kpi { background:var(--zebra); padding:10px 14px; }
.kpi .label { color:var(--muted); font-size:12px; font-weight:700; }
.kpi .value { font-size:24px; font-weight:700; line-height:1.25; }
.kpi .value.long { font-size:15px; }
.kpi .detail { color:var(--muted); font-size:12px; }
.kpi.verdict { color:#fff; } .kpi.verdict .label { color:#fff; }
.kpi.likely_met { background:var(--met); } .kpi.likely_not_met { background:var(--notmet); }
.kpi.inconclusive { background:var(--inconclusive); }
.kpi.verdict .value { font-size:17px; }
.two { display:grid; grid-template-columns:56% 42%; gap:2%; align-items:start; }
footer { padding:16px 40px 0; color:var(--muted); font-size:12px; border-top:1px solid var(--rule);
         margin-top:28px; }
@media print { body { background:#fff; } main { box-shadow:none; margin:0; max-width:none; }
               .factory { break-before:page; } }
</style>
</head>
<body>
<main>
<header class="band">
  <div class="tag">WAGECHECK · {{ t.TITLE | upper }}</div>
  <h1>{{ r.round.name }}</h1>
  <p>{{ t.SUBTITLE }}</p>
</header>
<section>
  <dl class="facts">
  {% for label, value in meta %}<div><dt>{{ label }}</dt><dd>{{ value }}</dd></div>
  {% endfor %}</dl>
  <div class="findings"><h3>{{ t.KEY_FINDINGS }}</h3><ul>
  {% for line in findings %}<li>{{ line }}</li>{% endfor %}
  </ul></div>

  <h2>{{ t.SUMMARY }}</h2>
  <table class="summary">
    <thead><tr><th>{{ t.FACTORY }}</th><th class="num">{{ t.RESPONDENTS }}</th>
    <th class="num">{{ t.RESPONSE_RATE }}</th><th class="num">{{ t.PAID_MINIMUM_SHORT }}</th>
    <th class="num">{{ t.INTERVAL }}</th><th>{{ t.VERDICT }}</th></tr></thead>
    <tbody>
    {% for row in summary %}<tr data-factory="{{ row.code }}">
      <td><b>{{ row.code }}</b> {{ row.name }}</td>
      {% if row.hidden %}<td class="hidden" colspan="4">{{ row.hidden }}</td>
      {% else %}<td class="num">{{ row.respondents }}</td><td class="num">{{ row.rate }}</td>
      <td class="num">{{ row.share }}</td><td class="num">{{ row.interval }}</td>{% endif %}
      <td><span class="chip {{ row.verdict }}">{{ row.verdict_text }}</span></td>
    </tr>
    {% endfor %}</tbody>
  </table>
  {% for chart in shares_charts %}<img src="{{ chart }}" alt="{{ t.CHART_SHARES }}">{% endfor %}
  <p class="muted">{{ verdict_rule }}</p>
</section>

{% if trends %}
<section class="trends">
  <h2>{{ t.TRENDS }}</h2>
  <p>{{ t.TRENDS_INTRO }}</p>
  <table class="trends">
    <thead><tr><th>{{ t.FACTORY }}</th><th>{{ t.TREND_ROUND }}</th>
    <th class="num">{{ t.PAID_MINIMUM_SHORT }}</th><th class="num">{{ t.INTERVAL }}</th>
    <th class="num">{{ t.MEDIAN_PCT }}</th><th class="num">{{ t.TREND_CHANGE }}</th>
    <th class="num">{{ t.TREND_CHANGE_INTERVAL }}</th></tr></thead>
    <tbody>
    {% for row in trends %}
    <tr data-factory="{{ row.code }}"{% if row.side %} class="side"{% endif %}>
      <td>{% if not row.side %}<b>{{ row.code }}</b> {{ row.name }}{% endif %}</td>
      <td>{% if row.side %}&nbsp;&nbsp;↳ {% endif %}{{ row.label }}</td>
      <td class="num{% if row.interval == '' and row.share %} hidden{% endif %}">
        {{ row.share }}</td>
      <td class="num">{{ row.interval }}</td><td class="num">{{ row.median_pct }}</td>
      <td class="num">{{ row.change }}</td><td class="num">{{ row.change_interval }}</td>
    </tr>
    {% endfor %}</tbody>
  </table>
  <p class="muted">{{ t.TRENDS_METHOD }}</p>
</section>
{% endif %}

{% macro block(b) %}
  <div class="kpis{% if not b.factory %} pooled{% endif %}">
  {% for kpi in b.kpis %}<div class="kpi"><div class="label">{{ kpi.label }}</div>
    <div class="value{% if kpi.value|length > 15 %} long{% endif %}">{{ kpi.value }}</div>
    <div class="detail">{{ kpi.detail }}</div></div>
  {% endfor %}
  {% if b.factory %}<div class="kpi verdict {{ b.factory.verdict }}"><div class="label">
    {{ t.VERDICT }}</div><div class="value">{{ b.verdict_text }}</div></div>{% endif %}
  </div>
  <div class="two">
    <div><h3>{{ t.CHART_DISTRIBUTION }}</h3>
    {% if b.distribution %}<img src="{{ b.distribution }}" alt="{{ t.CHART_DISTRIBUTION }}">
    <p class="muted">{{ b.bar_note }}</p>
    {% else %}<p class="muted">{{ b.hidden }}</p>{% endif %}</div>
    <div><h3>{{ t.PAY }}</h3><table><thead><tr><th>{{ t.FIGURE }}</th>
    <th class="num">{{ t.VALUE }}</th></tr></thead><tbody>
    {% for label, value in b.pay %}<tr><td>{{ label }}</td>
      <td class="num{% if value == b.hidden %} hidden{% endif %}">{{ value }}</td></tr>
    {% endfor %}</tbody></table></div>
  </div>
  <h3>{{ t.CONDITIONS }}</h3>
  <table><thead><tr><th>{{ t.FIGURE }}</th><th class="num">{{ t.SHARE_OF_ANSWERS }}</th>
  <th class="num">{{ t.INTERVAL }}</th></tr></thead><tbody>
  {% for label, share, interval in b.conditions %}<tr><td>{{ label }}</td>
    <td class="num{% if share == b.hidden %} hidden{% endif %}">{{ share }}</td>
    <td class="num">{{ interval }}</td></tr>
  {% endfor %}</tbody></table>
  {% for title, rows in b.breakdowns %}
  <h3>{{ title }}</h3>
  <table><thead><tr><th>{{ t.GROUP }}</th><th class="num">{{ t.RESPONDENTS }}</th>
  <th class="num">{{ t.PAID_MINIMUM_SHORT }}</th><th class="num">{{ t.INTERVAL }}</th></tr>
  </thead><tbody>
  {% for group, n, share, interval in rows %}<tr><td>{{ group }}</td>
    <td class="num{% if n == b.hidden %} hidden{% endif %}">{{ n }}</td>
    <td class="num{% if share == b.hidden %} hidden{% endif %}">{{ share }}</td>
    <td class="num">{{ interval }}</td></tr>
  {% endfor %}</tbody></table>
  {% endfor %}
{% endmacro %}

{% for b in blocks %}
<section class="factory" data-factory="{{ b.factory.code }}">
  <h2>{{ b.factory.code }} · {{ b.factory.name }}</h2>
  <div class="muted">{{ b.place }}</div>
  {{ block(b) }}
</section>
{% endfor %}

{% if hidden_factories %}
<section>
  <h2>{{ t.FACTORY_DETAILS }}</h2>
  <table><thead><tr><th>{{ t.FACTORY }}</th><th>{{ t.NOTE }}</th></tr></thead><tbody>
  {% for f in hidden_factories %}<tr data-factory="{{ f.code }}"><td><b>{{ f.code }}</b>
    {{ f.name }}</td><td class="hidden">{{ nothing_shown }}</td></tr>
  {% endfor %}</tbody></table>
</section>
{% endif %}

{% if overall %}
<section class="factory">
  <h2>{{ t.ALL_FACTORIES }}</h2>
  <div class="muted">{{ overall.place }}</div>
  {{ block(overall) }}
  <p class="muted">{{ t.ALL_FACTORIES_NOTE }}</p>
</section>
{% endif %}

<section>
  <h2>{{ t.MINIMUM_WAGES }}</h2>
  <table><thead><tr><th>{{ t.REGION }}</th><th>{{ t.GRADE }}</th>
  <th>{{ t.IN_FORCE_FROM }}</th><th class="num">{{ t.AMOUNT }}</th><th>{{ t.WAGE_STATUS }}</th>
  <th>{{ t.SOURCE }}</th></tr></thead>
  <tbody>{% for m in minimums %}<tr>{% for v in m %}<td{% if loop.index == 4 %} class="num"
  {% endif %}>{{ v }}</td>{% endfor %}</tr>{% endfor %}</tbody></table>

  {% if quality is not none %}
  <h2>{{ t.QUALITY }}</h2>
  <p>{{ t.QUALITY_INTRO }}</p>
  {% if quality %}<table><thead><tr><th>{{ t.FACTORY }}</th><th>{{ t.FLAG }}</th>
  <th>{{ t.DETAIL }}</th></tr></thead><tbody>
  {% for code, name, title, detail in quality %}<tr><td><b>{{ code }}</b> {{ name }}</td>
    <td><b>{{ title }}</b></td><td>{{ detail }}</td></tr>{% endfor %}</tbody></table>
  {% else %}<p>{{ t.QUALITY_NONE }}</p>{% endif %}
  {% endif %}

  <h2>{{ t.METHOD }}</h2>
  {% for p in method %}<p>{{ p }}</p>{% endfor %}
  <h3>{{ t.VERDICT_RULE }}</h3>
  <p>{{ verdict_rule }}</p>
  <h2>{{ t.DISCLOSURE }}</h2>
  <ul>{% for p in disclosure %}<li>{{ p }}</li>{% endfor %}</ul>
</section>
<footer>{{ confidential }} · {{ t.GENERATED_BY }}</footer>
</main>
</body>
</html>
"""

_env = Environment(autoescape=select_autoescape(default=True), trim_blocks=True, lstrip_blocks=True)
_template = _env.from_string(TEMPLATE)


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


class _Texts:
    """Report strings by constant name, translated, for the template ({{ t.SUMMARY }})."""

    def __init__(self, tx: ReportText) -> None:
        self._tx = tx

    def __getattr__(self, name: str) -> str:
        return self._tx(getattr(S, name))


def _block(report: Report, f: FactoryReport | None, fig: Figures, tx: ReportText) -> dict[str, Any]:
    k = report.k
    return {
        "factory": f,
        "place": V.place(f, tx) if f else tx(S.POOLED_OVER, n=tx.number(report.overall_factories)),
        "kpis": V.kpis(f, fig, tx, k),
        "verdict_text": tx.verdict(f.verdict) if f else "",
        "distribution": _data_uri(charts.distribution_chart(fig.distribution, tx))
        if fig.distribution is not None
        else None,
        "bar_note": tx(S.CHART_BAR_NOTE, k=k),
        "hidden": tx.hidden(k),
        "pay": V.pay_rows(fig, tx, k),
        "conditions": V.condition_rows(report, fig, tx),
        "breakdowns": [
            (V.breakdown_title(b.by, tx), V.breakdown_rows(b, tx, k)) for b in fig.breakdowns
        ],
    }


def render_html(report: Report, tx: ReportText) -> bytes:
    factories = list(report.factories)
    names = {f.code: f.name for f in factories}
    html = _template.render(
        lang=tx.lang,
        t=_Texts(tx),
        r=report,
        meta=V.meta(report, tx),
        findings=V.findings(report, tx),
        summary=V.summary_rows(report, tx),
        trends=V.trend_rows(report, tx) if report.has_trend else [],
        shares_charts=[
            _data_uri(charts.shares_chart(report, tx, factories[i : i + CHART_ROWS]))
            for i in range(0, len(factories), CHART_ROWS)
        ],
        verdict_rule=verdict_text(report, tx),
        blocks=[_block(report, f, f.figures, tx) for f in factories if not f.suppressed],
        hidden_factories=[f for f in factories if f.suppressed],
        nothing_shown=tx(S.NOTHING_SHOWN, k=report.k),
        overall=_block(report, None, report.overall, tx) if len(factories) > 1 else None,
        minimums=[
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
        quality=None
        if report.quality is None
        else [
            (q.factory, names.get(q.factory, ""), *flag_text(q, report, tx)) for q in report.quality
        ],
        method=method_text(report, tx),
        disclosure=tx.disclosure_rules(report.k, report.small),
        confidential=tx(S.CONFIDENTIAL if report.for_brand else S.CSO_ONLY),
    )
    return html.encode("utf-8")
