"""The PDF format: an audit-style report (reportlab), with charts drawn from the disclosed data.

Layout: a cover block with the key facts and findings, the summary table and the interval
chart; one page per factory with enough answers (key figures, pay distribution, conditions,
breakdowns); the pooled figures; the legal minimums used; data-quality notes (CSO only);
method and disclosure rules in plain words.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    Image,
    KeepTogether,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from bot.reports import strings as S
from bot.reports.fonts import register_pdf_fonts
from bot.reports.formats import charts
from bot.reports.formats import view as V
from bot.reports.model import FactoryReport, Figures, Report
from bot.reports.tables import flag_text, verdict_text
from bot.reports.text import ReportText, method_text

PAGE_W, PAGE_H = A4
MARGIN = 18 * mm
CONTENT_W = PAGE_W - 2 * MARGIN
CHART_ROWS = 36  # factories per interval chart
TEAL = colors.HexColor("#1F4E5F")
TEAL_LIGHT = colors.HexColor("#E8F0F2")
INK = colors.HexColor("#1D2B36")
MUTED = colors.HexColor("#6B7780")
RULE = colors.HexColor("#C9D2D8")
ZEBRA = colors.HexColor("#F5F7F8")
VERDICT = {
    "likely_met": colors.HexColor("#2E7D32"),
    "likely_not_met": colors.HexColor("#B3261E"),
    "inconclusive": colors.HexColor("#B7791F"),
}


class _Styles:
    def __init__(self) -> None:
        regular, bold = register_pdf_fonts()
        base = ParagraphStyle("base", fontName=regular, fontSize=8.8, leading=12, textColor=INK)
        self.body = base
        self.small = ParagraphStyle("small", parent=base, fontSize=7.6, leading=10)
        self.muted = ParagraphStyle("muted", parent=self.small, textColor=MUTED)
        self.cell = ParagraphStyle("cell", parent=base, fontSize=7.8, leading=9.6)
        self.cell_bold = ParagraphStyle("cell_bold", parent=self.cell, fontName=bold)
        self.cell_right = ParagraphStyle("cell_right", parent=self.cell, alignment=TA_RIGHT)
        self.cell_muted = ParagraphStyle("cell_muted", parent=self.cell, textColor=MUTED)
        self.cell_muted_right = ParagraphStyle(
            "cell_muted_right", parent=self.cell_muted, alignment=TA_RIGHT
        )
        self.head = ParagraphStyle("head", parent=self.cell, fontName=bold, textColor=colors.white)
        self.head_right = ParagraphStyle("head_right", parent=self.head, alignment=TA_RIGHT)
        self.head_small = ParagraphStyle("head_small", parent=self.head, fontSize=7, leading=8.6)
        self.head_small_right = ParagraphStyle(
            "head_small_right", parent=self.head_small, alignment=TA_RIGHT
        )
        self.chip = ParagraphStyle(
            "chip", parent=self.cell, fontName=bold, textColor=colors.white, fontSize=7.4
        )
        self.h1 = ParagraphStyle(
            "h1", parent=base, fontName=bold, fontSize=15, leading=19, spaceAfter=2
        )
        self.h2 = ParagraphStyle(
            "h2",
            parent=base,
            fontName=bold,
            fontSize=11.5,
            leading=15,
            textColor=TEAL,
            spaceBefore=10,
            spaceAfter=5,
        )
        self.h3 = ParagraphStyle(
            "h3", parent=base, fontName=bold, fontSize=9.2, leading=12, spaceBefore=6, spaceAfter=3
        )
        self.kpi_value = ParagraphStyle(
            "kpi_value", parent=base, fontName=bold, fontSize=16, leading=19
        )
        self.kpi_label = ParagraphStyle(
            "kpi_label", parent=self.small, textColor=MUTED, fontName=bold
        )
        self.title = ParagraphStyle(
            "title", parent=base, fontName=bold, fontSize=22, leading=26, textColor=colors.white
        )
        self.title_small = ParagraphStyle(
            "title_small", parent=base, fontSize=9.5, leading=13, textColor=colors.white
        )
        self.title_tag = ParagraphStyle(
            "title_tag",
            parent=base,
            fontName=bold,
            fontSize=7.5,
            leading=10,
            textColor=colors.HexColor("#A9C9D3"),
        )
        self.regular, self.bold = regular, bold


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _table(
    rows: list[list[Any]],
    widths: list[float],
    *,
    header: bool = True,
    right_from: int | None = None,
    extra: list[tuple[Any, ...]] | None = None,
) -> Table:
    t = Table(rows, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 3.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3.2),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
    ]
    if header:
        style += [("BACKGROUND", (0, 0), (-1, 0), TEAL), ("LINEBELOW", (0, 0), (-1, 0), 0, TEAL)]
    first = 1 if header else 0
    for i in range(first, len(rows)):
        if (i - first) % 2 == 1:
            style.append(("BACKGROUND", (0, i), (-1, i), ZEBRA))
    t.setStyle(TableStyle(style + (extra or [])))
    return t


def _image(png: bytes, width: float) -> Image:
    reader = ImageReader(io.BytesIO(png))
    w, h = reader.getSize()
    return Image(io.BytesIO(png), width=width, height=width * h / w)


class _Doc(BaseDocTemplate):
    def __init__(self, buf: io.BytesIO, report: Report, tx: ReportText, st: _Styles) -> None:
        super().__init__(
            buf,
            pagesize=A4,
            leftMargin=MARGIN,
            rightMargin=MARGIN,
            topMargin=MARGIN + 6 * mm,
            bottomMargin=MARGIN + 4 * mm,
            title=f"{tx(S.TITLE)} — {report.round.name}",
            author=report.round.cso,
            subject=tx(S.SUBTITLE),
            creator="WageCheck",
        )
        self.report, self.tx, self.st = report, tx, st
        frame = Frame(
            self.leftMargin, self.bottomMargin, self.width, self.height, id="body", showBoundary=0
        )
        self.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=self._decorate)])

    def _decorate(self, canvas: Canvas, doc: BaseDocTemplate) -> None:
        st, tx, report = self.st, self.tx, self.report
        canvas.saveState()
        canvas.setStrokeColor(RULE)
        canvas.setLineWidth(0.5)
        if canvas.getPageNumber() > 1:
            y = PAGE_H - MARGIN + 1 * mm
            canvas.setFont(st.bold, 7.5)
            canvas.setFillColor(TEAL)
            canvas.drawString(MARGIN, y, "WAGECHECK")
            canvas.setFont(st.regular, 7.5)
            canvas.setFillColor(MUTED)
            canvas.drawString(MARGIN + 19 * mm, y, f"{tx(S.TITLE)} · {report.round.name}"[:95])
            canvas.drawRightString(PAGE_W - MARGIN, y, report.audience.name[:40])
            canvas.line(MARGIN, y - 2.2 * mm, PAGE_W - MARGIN, y - 2.2 * mm)
        y = MARGIN - 2 * mm
        canvas.line(MARGIN, y + 4 * mm, PAGE_W - MARGIN, y + 4 * mm)
        canvas.setFont(st.regular, 7)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, y, tx(S.CONFIDENTIAL if report.for_brand else S.CSO_ONLY))
        canvas.restoreState()


def _numbered(tx: ReportText, font: str) -> type[Canvas]:
    """A canvas that writes "Page n of m" once the number of pages is known."""

    class NumberedCanvas(Canvas):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self.setFont(font, 7)
                self.setFillColor(MUTED)
                self.drawRightString(
                    PAGE_W - MARGIN,
                    MARGIN - 2 * mm,
                    tx(S.PAGE, page=self._pageNumber, pages=total),
                )
                super().showPage()
            super().save()

    return NumberedCanvas


def render_pdf(report: Report, tx: ReportText) -> bytes:
    st = _Styles()
    buf = io.BytesIO()
    doc = _Doc(buf, report, tx, st)
    story: list[Flowable] = []
    story += _cover(report, tx, st)
    story += _summary(report, tx, st)
    if report.has_trend:
        story.append(CondPageBreak(80 * mm))
        story += _trends(report, tx, st)
    shown = [f for f in report.factories if not f.suppressed]
    hidden = [f for f in report.factories if f.suppressed]
    for f in shown:
        story.append(PageBreak())
        story += _factory(report, f, tx, st)
    if hidden:
        story.append(CondPageBreak(60 * mm))
        story.append(_p(tx(S.FACTORY_DETAILS), st.h2))
        rows = [[_p(tx(S.FACTORY), st.head), _p(tx(S.NOTE), st.head)]]
        rows += [
            [_p(f"{f.code}  {f.name}", st.cell_bold), _p(tx(S.NOTHING_SHOWN, k=report.k), st.cell)]
            for f in hidden
        ]
        story.append(_table(rows, [0.38 * CONTENT_W, 0.62 * CONTENT_W]))
    if len(report.factories) > 1:
        story.append(PageBreak())
        story += _block(report, None, report.overall, tx, st)
        story.append(Spacer(1, 2 * mm))
        story.append(_p(tx(S.ALL_FACTORIES_NOTE), st.muted))
    story.append(PageBreak())
    story += _minimums(report, tx, st)
    if report.quality is not None:
        story += _quality(report, tx, st)
    story += _method(report, tx, st)
    doc.build(story, canvasmaker=_numbered(tx, st.regular))
    return buf.getvalue()


def _cover(report: Report, tx: ReportText, st: _Styles) -> list[Flowable]:
    band = Table(
        [
            [_p("WAGECHECK · " + tx(S.TITLE).upper(), st.title_tag)],
            [_p(report.round.name, st.title)],
            [_p(tx(S.SUBTITLE), st.title_small)],
        ],
        colWidths=[CONTENT_W],
    )
    band.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), TEAL),
                ("LEFTPADDING", (0, 0), (-1, -1), 9 * mm),
                ("RIGHTPADDING", (0, 0), (-1, -1), 9 * mm),
                ("TOPPADDING", (0, 0), (-1, 0), 8 * mm),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 8 * mm),
                ("TOPPADDING", (0, 1), (-1, -1), 2),
            ]
        )
    )
    pairs = V.meta(report, tx)
    half = (len(pairs) + 1) // 2
    rows = []
    for i in range(half):
        left = pairs[i]
        right = pairs[i + half] if i + half < len(pairs) else ("", "")
        rows.append(
            [
                _p(left[0], st.kpi_label),
                _p(left[1], st.cell),
                _p(right[0], st.kpi_label),
                _p(right[1], st.cell),
            ]
        )
    facts = Table(rows, colWidths=[0.17 * CONTENT_W, 0.33 * CONTENT_W] * 2, hAlign="LEFT")
    facts.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 3.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    bullets = [[_p("•", st.cell_bold), _p(line, st.body)] for line in V.findings(report, tx)]
    findings = Table(
        [[_p(tx(S.KEY_FINDINGS), st.h3), ""], *bullets],
        colWidths=[5 * mm, CONTENT_W - 5 * mm - 12 * mm],
    )
    findings.setStyle(
        TableStyle(
            [
                ("SPAN", (0, 0), (-1, 0)),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TEXTCOLOR", (0, 1), (0, -1), TEAL),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    box = Table([[findings]], colWidths=[CONTENT_W])
    box.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), TEAL_LIGHT),
                ("LINEBEFORE", (0, 0), (0, -1), 3, TEAL),
                ("LEFTPADDING", (0, 0), (-1, -1), 6 * mm),
                ("TOPPADDING", (0, 0), (-1, -1), 3 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm),
            ]
        )
    )
    return [band, Spacer(1, 5 * mm), facts, Spacer(1, 5 * mm), box]


def _heads(
    tx: ReportText,
    st: _Styles,
    left: Sequence[str],
    right: Sequence[str],
    after: Sequence[str] = (),
) -> list[Any]:
    """A table's header row: text columns on the left, figures right-aligned, text after."""
    return (
        [_p(tx(m), st.head_small) for m in left]
        + [_p(tx(m), st.head_small_right) for m in right]
        + [_p(tx(m), st.head_small) for m in after]
    )


def _summary(report: Report, tx: ReportText, st: _Styles) -> list[Flowable]:
    rows: list[list[Any]] = [
        _heads(
            tx,
            st,
            [S.FACTORY],
            [S.RESPONDENTS, S.RESPONSE_RATE, S.PAID_MINIMUM_SHORT, S.INTERVAL],
            [S.VERDICT],
        )
    ]
    extra: list[tuple[Any, ...]] = []
    for i, r in enumerate(V.summary_rows(report, tx), start=1):
        name = Paragraph(f"<b>{escape(r.code)}</b>  {escape(r.name)}", st.cell)
        if r.hidden is not None:
            rows.append([name, _p(r.hidden, st.cell_muted), "", "", "", ""])
            extra.append(("SPAN", (1, i), (4, i)))
        elif not r.interval:  # the share is hidden: one note over share and interval
            rows.append(
                [
                    name,
                    _p(r.respondents, st.cell_right),
                    _p(r.rate, st.cell_right),
                    _p(r.share, st.cell_muted_right),
                    "",
                    "",
                ]
            )
            extra.append(("SPAN", (3, i), (4, i)))
        else:
            rows.append(
                [
                    name,
                    _p(r.respondents, st.cell_right),
                    _p(r.rate, st.cell_right),
                    _p(r.share, st.cell_right),
                    _p(r.interval, st.cell_right),
                    "",
                ]
            )
        rows[-1][5] = _p(r.verdict_text, st.chip)
        if r.verdict is not None:
            extra.append(("BACKGROUND", (5, i), (5, i), VERDICT[r.verdict]))
    widths = [0.29, 0.13, 0.1, 0.13, 0.13, 0.22]
    out: list[Flowable] = [
        _p(tx(S.SUMMARY), st.h2),
        _table(rows, [w * CONTENT_W for w in widths], extra=extra),
        Spacer(1, 4 * mm),
    ]
    factories = list(report.factories)
    for start in range(0, len(factories), CHART_ROWS):
        part = factories[start : start + CHART_ROWS]
        out.append(_image(charts.shares_chart(report, tx, part), CONTENT_W))
    out += [Spacer(1, 2 * mm), _p(verdict_text(report, tx), st.muted)]
    return out


def _trends(report: Report, tx: ReportText, st: _Styles) -> list[Flowable]:
    """Each factory's rounds (and the sides of a raise within one) with the change."""
    rows: list[list[Any]] = [
        _heads(
            tx,
            st,
            [S.FACTORY, S.TREND_ROUND],
            [
                S.PAID_MINIMUM_SHORT,
                S.INTERVAL,
                S.MEDIAN_PCT,
                S.TREND_CHANGE,
                S.TREND_CHANGE_INTERVAL,
            ],
        )
    ]
    extra: list[tuple[Any, ...]] = []
    for i, r in enumerate(V.trend_rows(report, tx), start=1):
        name = "" if r.side else Paragraph(f"<b>{escape(r.code)}</b>  {escape(r.name)}", st.cell)
        label = _p(("↳ " if r.side else "") + r.label, st.cell_muted if r.side else st.cell)
        share_style = st.cell_muted_right if r.share and not r.interval else st.cell_right
        rows.append(
            [
                name,
                label,
                _p(r.share, share_style),
                _p(r.interval, st.cell_right),
                _p(r.median_pct, st.cell_right),
                _p(r.change, st.cell_right),
                _p(r.change_interval, st.cell_right),
            ]
        )
        if r.side:
            extra.append(("LINEABOVE", (1, i), (-1, i), 0, RULE))
    widths = [0.2, 0.24, 0.1, 0.12, 0.1, 0.1, 0.14]
    return [
        _p(tx(S.TRENDS), st.h2),
        _p(tx(S.TRENDS_INTRO), st.body),
        Spacer(1, 2 * mm),
        _table(rows, [w * CONTENT_W for w in widths], extra=extra),
        Spacer(1, 2 * mm),
        _p(tx(S.TRENDS_METHOD), st.muted),
    ]


def _kpi_row(
    f: FactoryReport | None, fig: Figures, report: Report, tx: ReportText, st: _Styles
) -> Table:
    cells = []
    for kpi in V.kpis(f, fig, tx, report.k):
        value_style = st.kpi_value if len(kpi.value) < 16 else st.h3
        cells.append(
            [_p(kpi.label, st.kpi_label), _p(kpi.value, value_style), _p(kpi.detail, st.muted)]
        )
    verdict_cell: list[Any] = []
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, -1), ZEBRA),
        ("LEFTPADDING", (0, 0), (-1, -1), 4 * mm),
        ("TOPPADDING", (0, 0), (-1, -1), 3 * mm),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3 * mm),
    ]
    if f is not None:
        verdict_cell = [
            _p(tx(S.VERDICT), ParagraphStyle("v", parent=st.kpi_label, textColor=colors.white)),
            _p(tx.verdict(f.verdict), ParagraphStyle("vv", parent=st.h3, textColor=colors.white)),
        ]
        style.append(("BACKGROUND", (3, 0), (3, 0), VERDICT[f.verdict]))
    widths = [0.24, 0.28, 0.24, 0.24] if f is not None else [0.3, 0.4, 0.3]
    row = [*cells, verdict_cell] if f is not None else cells
    t = Table([row], colWidths=[w * CONTENT_W for w in widths], hAlign="LEFT")
    for i in range(len(row)):
        style.append(("LINEBEFORE", (i, 0), (i, 0), 2.5, colors.white))
    t.setStyle(TableStyle(style))
    return t


def _block(
    report: Report, f: FactoryReport | None, fig: Figures, tx: ReportText, st: _Styles
) -> list[Flowable]:
    k = report.k
    out: list[Flowable] = []
    if f is None:
        out.append(_p(tx(S.ALL_FACTORIES), st.h1))
        out.append(_p(f"{tx(S.FACTORY_RESULTS)}: {tx.number(report.overall_factories)}", st.muted))
    else:
        out.append(Paragraph(f"{escape(f.code)}  ·  {escape(f.name)}", st.h1))
        out.append(_p(V.place(f, tx), st.muted))
    out += [Spacer(1, 4 * mm), _kpi_row(f, fig, report, tx, st), Spacer(1, 3 * mm)]
    # Pay: distribution chart next to the pay table.
    pay_rows = [[_p(tx(S.FIGURE), st.head), _p(tx(S.VALUE), st.head_right)]]
    pay_rows += [[_p(a, st.cell), _p(b, st.cell_right)] for a, b in V.pay_rows(fig, tx, k)]
    pay_table = _table(pay_rows, [0.25 * CONTENT_W, 0.19 * CONTENT_W])
    if fig.distribution is not None:
        left: Flowable = _image(charts.distribution_chart(fig.distribution, tx), 0.54 * CONTENT_W)
        caption = _p(tx(S.CHART_BAR_NOTE, k=k), st.muted)
    else:
        left = _p(tx.hidden(k), st.cell_muted)
        caption = Spacer(1, 1)
    pay = Table(
        [[[_p(tx(S.CHART_DISTRIBUTION), st.h3), left, caption], [_p(tx(S.PAY), st.h3), pay_table]]],
        colWidths=[0.56 * CONTENT_W, 0.44 * CONTENT_W],
        hAlign="LEFT",
    )
    pay.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    out.append(pay)
    cond = [
        [
            _p(tx(S.FIGURE), st.head),
            _p(tx(S.SHARE_OF_ANSWERS), st.head_right),
            _p(tx(S.INTERVAL), st.head_right),
        ]
    ]
    cond += [
        [_p(a, st.cell), _p(b, st.cell_right), _p(c, st.cell_right)]
        for a, b, c in V.condition_rows(report, fig, tx)
    ]
    out.append(
        KeepTogether(
            [
                _p(tx(S.CONDITIONS), st.h3),
                _table(cond, [0.52 * CONTENT_W, 0.24 * CONTENT_W, 0.24 * CONTENT_W]),
            ]
        )
    )
    # Breakdowns side by side, two to a row, so that a factory fits on one page.
    half = (CONTENT_W - 4 * mm) / 2
    tables: list[list[Flowable]] = []
    for b in fig.breakdowns:
        rows = [
            [
                _p(tx(S.GROUP), st.head_small),
                _p(tx(S.RESPONDENTS), st.head_small_right),
                _p(tx(S.PAID_MINIMUM_SHORT), st.head_small_right),
                _p(tx(S.INTERVAL), st.head_small_right),
            ]
        ]
        spans: list[tuple[Any, ...]] = []
        hidden = tx.hidden(k)
        for row_no, (a, n, s, ci) in enumerate(V.breakdown_rows(b, tx, k), start=1):
            if n == s == hidden:  # one note across the figures, not three wrapped ones
                rows.append([_p(a, st.cell), _p(hidden, st.cell_muted_right), "", ""])
                spans.append(("SPAN", (1, row_no), (3, row_no)))
            else:
                rows.append(
                    [
                        _p(a, st.cell),
                        _p(n, st.cell_right),
                        _p(s, st.cell_right),
                        _p(ci, st.cell_right),
                    ]
                )
        tables.append(
            [
                _p(V.breakdown_title(b.by, tx), st.h3),
                _table(rows, [w * half for w in (0.3, 0.24, 0.22, 0.24)], extra=spans),
            ]
        )
    for i in range(0, len(tables), 2):
        pair: list[Any] = tables[i : i + 2]
        grid = Table([pair + [""] * (2 - len(pair))], colWidths=[half + 4 * mm, half])
        grid.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), 0),
                    ("RIGHTPADDING", (0, 0), (0, -1), 4 * mm),
                    ("RIGHTPADDING", (1, 0), (1, -1), 0),
                ]
            )
        )
        out.append(grid)
    return out


def _factory(report: Report, f: FactoryReport, tx: ReportText, st: _Styles) -> list[Flowable]:
    return _block(report, f, f.figures, tx, st)


def _minimums(report: Report, tx: ReportText, st: _Styles) -> list[Flowable]:
    rows = [
        [
            _p(tx(S.REGION), st.head),
            _p(tx(S.GRADE), st.head),
            _p(tx(S.IN_FORCE_FROM), st.head),
            _p(tx(S.AMOUNT), st.head_right),
            _p(tx(S.WAGE_STATUS), st.head),
            _p(tx(S.SOURCE), st.head),
        ]
    ]
    for m in report.minimums:
        source = m.source + (f" — {m.note}" if m.note else "")
        rows.append(
            [
                _p(m.region.capitalize(), st.cell),
                _p(tx.grade(m.grade), st.cell),
                _p(tx.date(m.in_force_from), st.cell),
                _p(tx.number(m.amount), st.cell_right),
                _p(tx.wage_status(m.status), st.cell),
                _p(source, ParagraphStyle("src", parent=st.cell, fontSize=6.8, leading=8.4)),
            ]
        )
    widths = [0.1, 0.12, 0.13, 0.11, 0.1, 0.44]
    return [
        _p(tx(S.MINIMUM_WAGES), st.h2),
        _table(rows, [w * CONTENT_W for w in widths]),
    ]


def _quality(report: Report, tx: ReportText, st: _Styles) -> list[Flowable]:
    assert report.quality is not None
    out: list[Flowable] = [_p(tx(S.QUALITY), st.h2), _p(tx(S.QUALITY_INTRO), st.small)]
    if not report.quality:
        out += [Spacer(1, 2 * mm), _p(tx(S.QUALITY_NONE), st.body)]
        return out
    names = {f.code: f.name for f in report.factories}
    rows = [[_p(tx(S.FACTORY), st.head), _p(tx(S.FLAG), st.head), _p(tx(S.DETAIL), st.head)]]
    for q in report.quality:
        title, detail = flag_text(q, report, tx)
        rows.append(
            [
                Paragraph(
                    f"<b>{escape(q.factory)}</b> {escape(names.get(q.factory, ''))}", st.cell
                ),
                _p(title, st.cell_bold),
                _p(detail, st.cell),
            ]
        )
    out += [Spacer(1, 2 * mm), _table(rows, [w * CONTENT_W for w in (0.3, 0.25, 0.45)])]
    return out


def _method(report: Report, tx: ReportText, st: _Styles) -> list[Flowable]:
    out: list[Flowable] = [_p(tx(S.METHOD), st.h2)]
    out += [_p(p, st.body) for p in method_text(report, tx)]
    out += [_p(tx(S.VERDICT_RULE), st.h3), _p(verdict_text(report, tx), st.body)]
    out.append(_p(tx(S.DISCLOSURE), st.h2))
    out += [_p("•  " + p, st.body) for p in tx.disclosure_rules(report.k, report.small)]
    out += [Spacer(1, 6 * mm), _p(tx(S.GENERATED_BY), st.muted)]
    for p in out:
        if isinstance(p, Paragraph):
            p.style = ParagraphStyle("spaced", parent=p.style, spaceAfter=4)
    return out


__all__ = ["render_pdf"]
