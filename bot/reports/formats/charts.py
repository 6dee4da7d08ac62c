"""Charts for HTML and PDF (matplotlib, no global state: Figure + Agg canvas, PNG bytes).

Charts are drawn from the disclosed report only: a hidden share has no point, and the pay
distribution uses the disclosed bars (each of at least k answers), never the raw values.
"""

from __future__ import annotations

import io
from contextlib import AbstractContextManager
from functools import lru_cache

import matplotlib
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MultipleLocator

from bot.reports import strings as S
from bot.reports.fonts import chart_font_family
from bot.reports.model import Bin, FactoryReport, Report
from bot.reports.text import ReportText

INK = "#1D2B36"
MUTED = "#6B7780"
GRID = "#E3E7EA"
TEAL = "#1F4E5F"
BELOW = "#B3261E"
VERDICT_COLOURS = {"likely_met": "#2E7D32", "likely_not_met": "#B3261E", "inconclusive": "#B7791F"}
# The verdict is also in the marker's shape and in words beside the row: readable without
# colour (colour-blind readers, black-and-white prints).
VERDICT_MARKERS = {"likely_met": "o", "likely_not_met": "X", "inconclusive": "D"}
DPI = 200
# HTML and PDF of one report draw the same charts: keep the last ones (bytes, small).
CACHE_SIZE = 256
_shares_cache: dict[object, bytes] = {}


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.patch.set_facecolor("white")
    fig.set_layout_engine("constrained")
    return fig


def _fonts() -> AbstractContextManager[None]:
    """Our font for the texts created inside, without touching matplotlib's global settings."""
    return matplotlib.rc_context({"font.family": chart_font_family()})


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


def _style(ax: Axes) -> None:
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.spines["bottom"].set_color(MUTED)
    ax.tick_params(colors=INK, labelsize=7.5, length=0)
    ax.grid(axis="x", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def shares_chart(
    report: Report,
    tx: ReportText,
    factories: list[FactoryReport] | None = None,
    width: float = 7.0,
) -> bytes:
    """Per factory: the share paid at least the minimum and its 95% interval (a forest plot)."""
    rows = report.factories if factories is None else factories
    key = (
        tuple((f.code, f.name, f.verdict, f.figures.paid_at_least_minimum) for f in rows),
        report.verdict_rule,
        report.k,
        tx,
        width,
    )
    if key not in _shares_cache:
        _shares_cache[key] = _shares_png(report, tx, list(rows), width)
        while len(_shares_cache) > CACHE_SIZE:
            _shares_cache.pop(next(iter(_shares_cache)))
    return _shares_cache[key]


def _shares_png(
    report: Report, tx: ReportText, factories: list[FactoryReport], width: float
) -> bytes:
    with _fonts():
        return _shares_chart(report, tx, factories, width)


def _shares_chart(
    report: Report, tx: ReportText, factories: list[FactoryReport], width: float
) -> bytes:
    rows = len(factories)
    fig = _figure(width, 0.36 * rows + 1.0)
    ax = fig.add_subplot()
    _style(ax)
    rule = report.verdict_rule
    for threshold in sorted({rule.ok_lower, rule.below_upper}):
        ax.axvline(threshold, color=MUTED, linestyle=(0, (4, 3)), linewidth=0.9)
        ax.text(
            threshold,
            rows - 0.35,
            tx(S.CHART_THRESHOLD, share=tx.pct(threshold)),
            fontsize=6.5,
            color=MUTED,
            ha="center",
            va="bottom",
        )
    for i, f in enumerate(factories):
        y = rows - 1 - i
        s = f.figures.paid_at_least_minimum
        if s.share is None or s.ci95 is None:
            ax.text(0.01, y, tx.hidden(report.k), fontsize=7, color=MUTED, va="center")
            continue
        colour = VERDICT_COLOURS[f.verdict]
        ax.plot(s.ci95, [y, y], color=colour, linewidth=2.4, solid_capstyle="butt", alpha=0.55)
        marker = VERDICT_MARKERS[f.verdict]
        ax.plot([s.share], [y], marker=marker, markersize=6.5, color=colour, markeredgecolor=INK)
        ax.text(
            1.02,
            y,
            f"{tx.share(s)}  ({tx.interval(s.ci95)})  {tx.verdict(f.verdict)}",
            fontsize=7,
            color=INK,
            va="center",
            transform=ax.get_yaxis_transform(),
        )
    ax.set_yticks(range(rows))
    ax.set_yticklabels([_short(f"{f.code}  {f.name}") for f in reversed(factories)])
    ax.set_ylim(-0.6, rows - 0.1)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_locator(MultipleLocator(0.2))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: tx.pct(v)))
    ax.set_xlabel(tx(S.CHART_SHARES), fontsize=7.5, color=INK)
    return _png(fig)


def _short(text: str, limit: int = 34) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bin_label(b: Bin, tx: ReportText) -> str:
    """ "< 70%", "90–100%", "170%+", or "any pay" for one bar that holds every answer."""
    if b.low == 0 and b.high is None:
        return tx(S.ANY_PAY)
    if b.low == 0 and b.high is not None:
        return f"< {tx.pct(b.high)}"
    if b.high is None:
        return f"{tx.pct(b.low)}+"
    return f"{tx.number(b.low * 100)}–{tx.pct(b.high)}"


@lru_cache(maxsize=CACHE_SIZE)
def distribution_chart(
    bins: tuple[Bin, ...], tx: ReportText, width: float = 3.4, height: float = 1.85
) -> bytes:
    """Disclosed pay bars (share of answers), with the legal-minimum line between the bars
    below and at-or-above the minimum."""
    with _fonts():
        return _distribution_chart(bins, tx, width, height)


def _distribution_chart(
    bins: tuple[Bin, ...], tx: ReportText, width: float, height: float
) -> bytes:
    fig = _figure(width, height)
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(axis="x", visible=False)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    xs = range(len(bins))
    # A bar that crosses the minimum (next to a share shown as a range) is neither colour,
    # and the line is drawn through it.
    colours = [MUTED if b.crosses_minimum else BELOW if b.low < 1.0 else TEAL for b in bins]
    ax.bar(xs, [b.share for b in bins], width=0.78, color=colours)
    for x, b in zip(xs, bins, strict=True):
        ax.text(x, b.share, tx.pct(b.share), ha="center", va="bottom", fontsize=6.5, color=INK)
    crossing = next((i for i, b in enumerate(bins) if b.crosses_minimum), None)
    first_above = next((i for i, b in enumerate(bins) if b.low >= 1.0), len(bins))
    line = float(crossing) if crossing is not None else first_above - 0.5
    ax.axvline(
        line, color=INK, linewidth=1.1, linestyle=(0, (2, 2)) if crossing is not None else "-"
    )
    ax.text(
        line,
        1.02,
        tx(S.CHART_MINIMUM_INSIDE if crossing is not None else S.CHART_MINIMUM),
        transform=ax.get_xaxis_transform(),
        fontsize=6.5,
        color=INK,
        ha="center",
        va="bottom",
        clip_on=False,
    )
    ax.set_xticks(list(xs))
    ax.set_xticklabels(
        [bin_label(b, tx) for b in bins],
        fontsize=6.2,
        rotation=30 if len(bins) > 5 else 0,
        ha="right" if len(bins) > 5 else "center",
    )
    ax.set_xlim(-0.6, max(len(bins), 2) - 0.4)
    top = max((b.share for b in bins), default=1.0)
    ax.set_ylim(0, min(1.05, top * 1.18 + 0.03))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: tx.pct(v)))
    ax.tick_params(axis="y", labelsize=6.5)
    ax.set_xlabel(tx(S.CHART_X_PCT), fontsize=7, color=INK)
    return _png(fig)
