"""Property test: for random rounds, no output format shows a figure derived from 1 to k-1
respondents, for brands (k = 10) and CSOs (k = 5).

Each example writes a random round into the real database (bulk inserts, shaped as the
service stores answers), closes it, builds the brand's and the CSO's report and renders every
format. Then:
- the JSON is checked against the truth worked out here from the generated answers: every
  figure whose group has fewer than k answers is hidden, hidden breakdown cells hold 0 or at
  least k answers together, pooled totals add up only shown factories, pay bars hold >= k;
- CSV, XLSX, HTML and PDF text may contain no number that the disclosed JSON does not
  explain (a leaked small count or share would be such a number), the rows of hidden
  factories carry no number at all, and a brand's files carry no free text.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import os
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import openpyxl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from benchmarks.synthetic import Answers, insert_responses, set_up_round
from bot.bootstrap import App
from bot.reports import build_report, render
from bot.reports.text import report_text
from tests.test_reports_formats import pdf_text, visible_text

CANARY = "Foreman Kashif hits workers"
MINIMUM = {"helper": 40_000, "operator": 41_380}  # Sindh, October 2026
EMPLOYMENT = ("permanent", "contractor", "piece_rate", "daily")
GENDER = ("woman", "man", "unsaid")
NUMBER = re.compile(r"\d+(?:[.,]\d+)*%?")
_rounds = itertools.count(1)

worker = st.builds(
    Answers,
    job=st.sampled_from(tuple(MINIMUM)),
    employment=st.sampled_from(EMPLOYMENT),
    gender=st.sampled_from(GENDER),
    full_month=st.sampled_from((True, True, True, False)),
    pay=st.integers(20_000, 80_000),
    pay_rise=st.sampled_from(("yes", "no", "dont_know")),
    payslip=st.sampled_from(("yes", "no")),
    deductions=st.sampled_from(("yes", "no", "dont_know")),
    methods=st.sampled_from((("cash",), ("bank",), ("cash", "wallet"))),
    comment=st.sampled_from((None, None, CANARY)),
    complete=st.sampled_from((True, True, True, True, True, False)),
)
# Factory sizes around both thresholds: 0..24 workers, so 1..k-1 cells are common.
rounds = st.tuples(
    st.lists(st.lists(worker, max_size=24), min_size=1, max_size=4),
    st.lists(st.booleans(), min_size=4, max_size=4),
)


@dataclass
class Truth:
    """What the generated answers of one factory really hold."""

    n: int = 0  # complete responses
    m: int = 0  # assessed: full month with a pay figure
    ok: int = 0
    cells: dict[str, Counter[str]] = field(default_factory=dict)  # by -> group -> n
    assessed_cells: dict[str, Counter[str]] = field(default_factory=dict)


def truth(workers: list[Answers]) -> Truth:
    t = Truth(cells={"employment": Counter(), "gender": Counter()})
    t.assessed_cells = {"employment": Counter(), "gender": Counter()}
    for a in workers:
        if not a.complete:
            continue
        t.n += 1
        t.cells["employment"][a.employment] += 1
        t.cells["gender"][a.gender] += 1
        if a.full_month and a.pay is not None:
            t.m += 1
            t.ok += a.pay >= MINIMUM[a.job]
            t.assessed_cells["employment"][a.employment] += 1
            t.assessed_cells["gender"][a.gender] += 1
    return t


def shown_counts(value: Any) -> list[int]:
    """Every count of answers in a JSON report: n, respondents and flag counts."""
    found: list[int] = []
    if isinstance(value, dict):
        for key, v in value.items():
            if key in ("n", "respondents", "count") and isinstance(v, int):
                found.append(v)
            found += shown_counts(v)
    elif isinstance(value, list):
        for v in value:
            found += shown_counts(v)
    return found


def check_json(data: dict[str, Any], facts: dict[str, Truth], k: int, small: int) -> None:
    assert all(n >= k for n in shown_counts(data)), "a count below k is shown"
    hidden_share = {"suppressed": True, "note": f"fewer than {k} answers"}
    for f in data["factories"]:
        t = facts[f["code"]]
        assert f["suppressed"] == (t.n < k)
        assert f["respondents"] == (t.n if t.n >= k else None)
        paid = f["paid_at_least_minimum"]
        if t.m < k:
            assert paid["suppressed"] and "share" not in paid and f["distribution"] is None
            assert f["pay"]["suppressed"]
        elif small and min(t.ok, t.m - t.ok) < small:  # a brand's range (0, 1 or 2 behind it)
            assert paid["n"] == t.m and paid["bound"] == ("at_most" if t.ok < small else "at_least")
            check_bars(f["distribution"], t.m, k, crossing=True)
        else:
            assert (paid["n"], paid["share"]) == (t.m, round(t.ok / t.m, 3))
            assert "bound" not in paid
            check_bars(f["distribution"], t.m, k)
        for key in ("payslip", "pay_rise", "deductions_not_agreed", "deductions_dont_know"):
            assert f[key]["suppressed"] == (t.n < k)
            if t.n < k:
                assert f[key] == hidden_share
        for by, cells in f["breakdowns"].items():
            for measure, total, truth_cells, get in (
                ("respondents", t.n, t.cells[by], lambda c: c["respondents"]),
                (
                    "assessed",
                    t.m,
                    t.assessed_cells[by],
                    lambda c: c["paid_at_least_minimum"].get("n"),
                ),
            ):
                shown = {c["group"]: get(c) for c in cells if get(c) is not None}
                for group, n in shown.items():
                    assert n == truth_cells[group] >= k, (by, measure, group)
                if total < k:  # the total is hidden: so is every cell
                    assert not shown, (by, measure)
                    continue
                # The total is shown: the hidden cells together must not be a small figure.
                hidden = sum(n for g, n in truth_cells.items() if g not in shown)
                assert hidden == 0 or hidden >= k, (by, measure, "complementary suppression")
    shown_factories = [facts[f["code"]] for f in data["factories"]]
    overall = data["overall"]
    total_n = sum(t.n for t in shown_factories if t.n >= k)
    assert overall["respondents"] == (total_n if total_n >= k else None)
    total_m = sum(t.m for t in shown_factories if t.m >= k and min(t.ok, t.m - t.ok) >= small)
    assert overall["paid_at_least_minimum"].get("n") == (total_m if total_m >= k else None)


def check_bars(bars: list[dict[str, Any]], m: int, k: int, crossing: bool = False) -> None:
    """Each bar holds >= k answers, unless it is a whole side of the minimum line; next to a
    share shown as a range exactly one bar crosses the line, else none."""
    crossed = 0
    for bar in bars:
        count = round(bar["share"] * m)
        whole_side = (bar["from"], bar["to"]) in ((0.0, 1.0), (1.0, None))
        crosses = bar["from"] < 1.0 and (bar["to"] is None or bar["to"] > 1.0)
        crossed += crosses
        assert count >= k or whole_side or crosses, bar
    assert crossed == (1 if crossing else 0), bars


def explained_numbers(data: dict[str, Any], lang: str = "en") -> set[str]:
    """Every way the renderers may write a number that the disclosed JSON holds."""
    tx = report_text(lang)
    out: set[str] = set()

    def add_text(text: str) -> None:
        out.update(NUMBER.findall(text))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            out.update(NUMBER.findall(tx.date(date.fromisoformat(text))))
        if re.fullmatch(r"\d{4}-\d{2}", text):
            out.update(NUMBER.findall(tx.month(text)))

    def walk(value: Any) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, int | float):
            v = float(value)
            # JSON rounds shares to 3 decimals; the reading formats round the exact value.
            for near in (v - 0.0005, v + 0.0005):
                add_text(tx.pct(near))
            for text in (
                str(value),
                tx.number(v),
                tx.pct(v),
                f"{v:.3f}",
                f"{v / 100:.3f}",
                str(v / 100),
                tx.pct(v / 100),
                tx.number(v * 100),
                tx.money(v),
            ):
                add_text(text)
        elif isinstance(value, str):
            add_text(value)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(data)
    verdicts = Counter(f["paid_at_least_minimum"]["verdict"] for f in data["factories"])
    hidden = sum(f["paid_at_least_minimum"]["suppressed"] for f in data["factories"])
    ranged = sum("bound" in f["paid_at_least_minimum"] for f in data["factories"])
    for n in (len(data["factories"]), hidden, ranged, *verdicts.values(), 0):
        out.add(str(n))
    return out


def wrapped_citation_numbers(app: App) -> set[str]:
    """The numbers of the wage table's citations (dates, notification numbers, addresses) as
    the PDF may break them over two lines: each split into a head and a tail of at least
    two digits. Constants of the table, never a figure of the answers."""
    out: set[str] = set()
    for entry in app.wages.entries:
        for number in NUMBER.findall(entry.source):
            digits = number.replace(",", "")
            out.add(number)
            # Never a single digit: counts below k are what this test guards.
            out.update(digits[:i] for i in range(2, len(digits)))
            out.update(digits[i:] for i in range(1, len(digits) - 1))
    return out


def unexplained(text: str, allowed: set[str]) -> set[str]:
    text = re.sub(r"Page \d+ of \d+", "", text)
    return {t for t in NUMBER.findall(text) if t not in allowed and t.rstrip("%") not in allowed}


def readable(fmt: str, data: bytes) -> str:
    if fmt == "csv":  # one cell a line, so that the commas between cells join no numbers
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(
                cell
                for name in archive.namelist()
                for row in csv.reader(io.StringIO(archive.read(name).decode("utf-8-sig")))
                for cell in row
            )
    if fmt == "xlsx":
        wb = openpyxl.load_workbook(io.BytesIO(data))
        return "\n".join(
            str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row if v
        )
    if fmt == "html":
        return visible_text(data.decode())
    return pdf_text(data)


def check_rows_of_hidden_factories(fmt: str, data: bytes, report: dict[str, Any]) -> None:
    """A hidden factory's row in the factories table (CSV, XLSX) or the summary (HTML) has no
    number besides those in its code and name."""
    hidden = {f["code"]: f["name"] for f in report["factories"] if f["suppressed"]}
    headcounts = {f["code"]: str(f["headcount"] or "") for f in report["factories"]}
    if not hidden:
        return
    if fmt == "csv":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            rows = list(csv.reader(io.StringIO(archive.read("factories.csv").decode("utf-8-sig"))))
    elif fmt == "xlsx":
        ws = openpyxl.load_workbook(io.BytesIO(data))["factories"]
        rows = [[str(v) for v in r if v is not None] for r in ws.iter_rows(values_only=True)]
    elif fmt == "html":
        html = data.decode()
        rows = [
            [visible_text(m.group(2))]
            for m in re.finditer(r'<tr data-factory="([^"]+)">(.*?)</tr>', html, re.S)
            if m.group(1) in hidden
        ]
    else:
        return
    k = report["disclosure"]["k"]
    for row in rows:
        if not row or row[0].split(" ")[0] not in hidden:
            continue
        code = row[0].split(" ")[0]
        rest = " ".join(row).replace(hidden[code], "").replace(code, "")
        rest = re.sub(rf"\b{k}\b", "", rest.replace(headcounts[code], ""))  # k is no figure
        assert not re.search(r"\d", rest), (fmt, code, rest)


async def one_round(app: App, factories: list[list[Answers]], linked: list[bool]) -> None:
    n = next(_rounds)
    codes = [f"R{n}-{i}" for i in range(len(factories))]
    brand_codes = [c for c, keep in zip(codes, linked, strict=False) if keep] or codes[:1]
    round_id, ids = await set_up_round(
        app,
        [(c, 100) for c in codes],
        cso=f"CSO {n}",
        brands={f"Brand {n}": brand_codes},
        name=f"Round {n}",
    )
    await insert_responses(
        app,
        round_id,
        [(ids[c], a) for c, workers in zip(codes, factories, strict=True) for a in workers],
    )
    await app.admin.close_round(round_id)
    facts = {c: truth(workers) for c, workers in zip(codes, factories, strict=True)}
    for audience, k, small, visible in (
        (f"brand:Brand {n}", 10, 3, brand_codes),
        (f"cso:CSO {n}", 5, 0, codes),
    ):
        report = await build_report(app, round_id, audience, today=date(2026, 11, 30))
        data = json.loads(render(report, "json"))
        assert [f["code"] for f in data["factories"]] == visible
        assert data["disclosure"]["k"] == k
        check_json(data, facts, k, small)
        allowed = explained_numbers(data) | wrapped_citation_numbers(app)
        for fmt in ("csv", "xlsx", "html", "pdf"):
            output = render(report, fmt)
            text = readable(fmt, output)
            assert not unexplained(text, allowed), (audience, fmt, unexplained(text, allowed))
            check_rows_of_hidden_factories(fmt, output, data)
            if audience.startswith("brand"):
                assert CANARY not in text
        if audience.startswith("brand"):
            assert "quality_flags" not in data and CANARY not in json.dumps(data)


async def test_no_output_shows_a_figure_of_fewer_than_k_respondents(app: App) -> None:
    loop = asyncio.get_running_loop()

    @settings(
        max_examples=int(os.environ.get("WAGECHECK_PROPERTY_EXAMPLES", "20")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        derandomize="WAGECHECK_PROPERTY_EXAMPLES" not in os.environ,
        phases=[Phase.generate],
    )
    @given(rounds)
    def check(spec: tuple[list[list[Answers]], list[bool]]) -> None:
        factories, linked = spec
        asyncio.run_coroutine_threadsafe(one_round(app, factories, linked), loop).result()

    await asyncio.to_thread(check)
