"""The attacker: a brand that adds and subtracts every number it can receive (issue 16).

A brand gets a report of a closed round for the factories linked to it, in every format and
through the API, and may get it again after its links change. Everything it learns is in the
JSON (the other formats are rendered from the same released report; tests/
test_reports_property.py checks that they hold no number the JSON does not explain). This
test generates rounds whose factories sit on the thresholds (0, 1 or 2 workers below the
minimum, cells just under k, one worker in a group), builds the brand's reports for a
sequence of link sets, and searches, as an attacker would:

- pooled ("all factories shown") minus the factories shown exactly, figure by figure, for
  group sizes, counts behind shares and their complements;
- the same between two reports of the round after a link was added or removed;
- pooled pay bars, and the pay below any bar edge, minus the factories' own bars;
- a factory's total minus its shown breakdown cells;
- "no" = n - yes - don't know;
- a share shown as a range next to bars that give the count below the minimum line.

It fails on any derived group of 1 to k-1 answers, and on any derived count behind a share,
or its rest, of 0 to 2 when the group is not empty (rule 5 of bot/reports/disclosure.py).
The reproduction of the issue (P: 40 answers; Q: 10 with one far below the minimum) is a
fixed example.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.reports import render
from bot.reports.disclosure import SMALL, Scope, disclose
from bot.reports.figures import FactoryFigures, Group, RoundFigures, Tally
from bot.reports.model import Audience, Share, VerdictRule
from bot.wages import WageEntry

K = 10
MINIMUM = 40_000
LINE = ("sindh", "unskilled", date(2025, 7, 1))
ENTRY = WageEntry.model_validate(
    {
        "region": "sindh",
        "grade": "unskilled",
        "from": "2025-07-01",
        "amount": MINIMUM,
        "status": "notified",
        "sources": ["test"],
        "confirmed_by": "none",
    }
)
EMPLOYMENT = ("permanent", "contractor")
GENDER = ("woman", "man")
METHODS = ("cash", "bank")
SHARES = ("pay_rise", "pay_rise_dont_know", "payslip", "deductions", "deductions_dont_know")
BRAND = Audience("brand", "Noordzee Fashion")


@dataclass(frozen=True)
class W:
    """One respondent: pay relative to the minimum (None: not assessed) and other answers."""

    ratio: float | None
    employment: str
    gender: str
    pay_rise: str  # yes, no, dont_know
    payslip: bool
    deductions: str
    methods: tuple[str, ...]


def factory(fid: int, workers: list[W]) -> FactoryFigures:
    """The raw tallies of a factory, as bot.reports.figures makes them from the database."""
    f = FactoryFigures(fid, f"F{fid}", f"Factory {fid}", "sindh", "Karachi", None, None)
    f.by = {"employment": {}, "gender": {}}
    for w in workers:
        cells = [
            f.total,
            f.by["employment"].setdefault(w.employment, Tally()),
            f.by["gender"].setdefault(w.gender, Tally()),
        ]
        for t in cells:
            t.respondents += 1
            if w.ratio is not None:
                t.assessed += 1
                t.at_least_minimum += w.ratio >= 1.0
        t = f.total
        if w.ratio is not None:
            t.pays.append(w.ratio * MINIMUM)
            t.ratios.append(w.ratio)
            t.minimums.add(LINE)
            t.months.add("2026-10")
        for tally, answer in ((t.pay_rise, w.pay_rise), (t.deductions, w.deductions)):
            tally.n += 1
            tally.yes += answer == "yes"
            tally.dont_know += answer == "dont_know"
        t.payslip.n += 1
        t.payslip.yes += w.payslip
        t.methods_n += 1
        for m in w.methods:
            t.methods[m] = t.methods.get(m, 0) + 1
    return f


def round_figures(factories: list[list[W]]) -> RoundFigures:
    return RoundFigures(
        round_id=1,
        name="Round",
        status="closed",
        cso="Karachi Workers Centre",
        opened_on=date(2026, 10, 1),
        closed_on=date(2026, 11, 1),
        survey=None,  # type: ignore[arg-type]  # disclosure does not read the survey
        factories=[factory(i + 1, ws) for i, ws in enumerate(factories)],
        groups={
            "employment": [Group(g, g.title()) for g in EMPLOYMENT],
            "gender": [Group(g, g.title()) for g in GENDER],
        },
        payment_methods=[Group(m, m.title()) for m in METHODS],
        pay_question=None,
        wage_entries={LINE: ENTRY},
    )


def brand_json(figures: RoundFigures, linked: frozenset[int]) -> dict[str, Any]:
    scope = Scope(BRAND, 1, K, linked)
    report = disclose(figures, scope, VerdictRule(), date(2026, 11, 30))
    return json.loads(render(report, "json"))


# ------------------------------------------------------------------------ what it reads
Pair = tuple[int, int]  # (n, count)


def pair(share: dict[str, Any]) -> Pair | None:
    """(n, count) of a share shown exactly; None when hidden or a range."""
    if share["suppressed"] or "bound" in share:
        return None
    return share["n"], round(share["share"] * share["n"])


def figures_of(block: dict[str, Any]) -> dict[str, Pair | None]:
    """Every exact (n, count) pair in one factory's (or the pooled) figures."""
    out: dict[str, Pair | None] = {
        "respondents": None if block["respondents"] is None else (block["respondents"], 0),
        "paid": pair(block["paid_at_least_minimum"]),
    }
    for name in SHARES:
        out[name] = pair(block[_key(name)])
    for m, s in block["payment_methods"].items():
        out[f"method:{m}"] = pair(s)
    for by, cells in block["breakdowns"].items():
        for c in cells:
            out[f"{by}:{c['group']}:n"] = (
                None if c["respondents"] is None else (c["respondents"], 0)
            )
            out[f"{by}:{c['group']}:paid"] = pair(c["paid_at_least_minimum"])
    return out


def _key(name: str) -> str:
    return {"deductions": "deductions_not_agreed"}.get(name, name)


Bar = tuple[float, float | None, int]


def bars_of(block: dict[str, Any]) -> list[Bar]:
    """A factory's (or the pool's) pay bars as counts."""
    if not block["distribution"]:
        return []
    total = block["_bar_total"]
    return [(b["from"], b["to"], round(b["share"] * total)) for b in block["distribution"]]


# ------------------------------------------------------------------------ the attacks
class Leak(AssertionError):
    pass


def judge(what: str, n: int, count: int | None) -> None:
    """A group the attacker isolated: n answers, of which `count` (if known) said yes."""
    if n == 0:
        return
    if n < K:
        raise Leak(f"{what}: a group of {n} answers (k = {K})")
    if count is not None and min(count, n - count) < SMALL:
        raise Leak(f"{what}: {count} of {n} (a count or rest below {SMALL})")


def is_size(name: str) -> bool:
    """A group size (respondents), not a count behind a share."""
    return name == "respondents" or name.endswith(":n")


def sub(a: Pair, b: Pair) -> Pair:
    return a[0] - b[0], a[1] - b[1]


def below(bars: list[Bar], edge: float) -> int | None:
    """Answers below `edge` by these bars; None when a bar straddles it."""
    if any(lo < edge and (hi is None or hi > edge) for lo, hi, _ in bars):
        return None
    return sum(n for lo, hi, n in bars if hi is not None and hi <= edge)


@dataclass
class Seen:
    """What one report gave the attacker."""

    codes: set[str]
    pooled: dict[str, Pair | None]
    shown: dict[str, dict[str, Pair | None]]
    pooled_bars: list[Bar]
    bars: dict[str, list[Bar]]


def attack_one(data: dict[str, Any]) -> Seen:
    """Everything one report gives away; raises Leak."""
    factories = {f["code"]: f for f in data["factories"]}
    for f in data["factories"]:
        f["_bar_total"] = f["paid_at_least_minimum"].get("n")
    data["overall"]["_bar_total"] = data["overall"]["paid_at_least_minimum"].get("n")
    shown = {code: figures_of(f) for code, f in factories.items()}
    pooled = figures_of(data["overall"])
    # Every exact share shown keeps its count and rest at SMALL or more.
    for code, figs in [*shown.items(), ("pooled", pooled)]:
        for name, p in figs.items():
            if p is not None and not is_size(name):
                judge(f"{code} {name}", *p)
    # Pooled minus the exactly shown factories, figure by figure.
    for name, p in pooled.items():
        if p is None:
            continue
        rest = p
        for figs in shown.values():
            q = figs.get(name)
            if q is not None:
                rest = sub(rest, q)
        judge(f"pooled {name} minus shown", rest[0], None if is_size(name) else rest[1])
    for code, f in factories.items():
        figs = shown[code]
        # A factory's total minus its shown cells.
        for by, cells in f["breakdowns"].items():
            groups = [c["group"] for c in cells]
            if figs["respondents"] is not None:
                rest_n = figs["respondents"][0] - sum(
                    (figs[f"{by}:{g}:n"] or (0, 0))[0] for g in groups
                )
                judge(f"{code} {by} respondents minus cells", rest_n, None)
            if figs["paid"] is not None:
                rest = figs["paid"]
                for g in groups:
                    q = figs[f"{by}:{g}:paid"]
                    if q is not None:
                        rest = sub(rest, q)
                judge(f"{code} {by} paid minus cells", *rest)
        # "no" = n - yes - don't know.
        for yes, dont_know in (
            ("pay_rise", "pay_rise_dont_know"),
            ("deductions", "deductions_dont_know"),
        ):
            a, b = figs[yes], figs[dont_know]
            if a is not None and b is not None:
                judge(f"{code} {yes}: no", a[0], a[0] - a[1] - b[1])
        paid = f["paid_at_least_minimum"]
        bars = bars_of(f)
        # A share shown as a range is not undone by the bars: none ends at the line.
        if "bound" in paid and bars:
            assert below(bars, 1.0) is None, (code, bars)
        # Bars below the line agree with an exact share (they add nothing to it).
        if figs["paid"] is not None and bars:
            n, yes = figs["paid"]
            assert below(bars, 1.0) == n - yes, (code, bars)
        # The verdict follows the interval shown.
        if not paid["suppressed"]:
            assert paid["verdict"] == VerdictRule().verdict(as_share(paid))
    # Pooled bars minus the factories' bars, bar by bar and below every edge.
    # (The pool covers the factories whose share is exact, as the method says.)
    pooled_bars = bars_of(data["overall"])
    factory_bars = {
        code: bars_of(f) if shown[code]["paid"] is not None else [] for code, f in factories.items()
    }
    for lo, hi, n in pooled_bars:
        inside = sum(
            c
            for bars in factory_bars.values()
            for b_lo, b_hi, c in bars
            if b_lo >= lo and (hi is None or (b_hi is not None and b_hi <= hi))
        )
        judge(f"pooled bar {lo}-{hi} minus factory bars", n - inside, None)
    for edge in sorted({lo for lo, _, _ in pooled_bars}):
        total = below(pooled_bars, edge)
        assert total is not None
        known = [below(bars, edge) for bars in factory_bars.values()]
        judge(f"pooled pay below {edge} minus factories", total - sum(x or 0 for x in known), None)
    return Seen(set(factories), pooled, shown, pooled_bars, factory_bars)


def as_share(s: dict[str, Any]) -> Share:
    return Share(n=s["n"], share=s["share"], ci95=tuple(s["ci95"]), bound=s.get("bound"))


def attack_between(before: Seen, after: Seen) -> None:
    """Two reports of one round after links changed: the pooled difference is the changed
    factories' figures; minus what those factories show exactly, nothing may remain."""
    added, removed = after.codes - before.codes, before.codes - after.codes
    for name, p in after.pooled.items():
        q = before.pooled.get(name)
        if p is None or q is None:
            continue
        rest = sub(p, q)
        for code in added:
            if (s := after.shown[code].get(name)) is not None:
                rest = sub(rest, s)
        for code in removed:
            if (s := before.shown[code].get(name)) is not None:
                rest = (rest[0] + s[0], rest[1] + s[1])
        if rest[0] < 0:
            rest = (-rest[0], -rest[1])
        judge(f"pooled {name} between reports", rest[0], None if is_size(name) else rest[1])
    edges = {lo for lo, _, _ in after.pooled_bars} & {lo for lo, _, _ in before.pooled_bars}
    for edge in edges:
        a, b = below(after.pooled_bars, edge), below(before.pooled_bars, edge)
        assert a is not None and b is not None
        diff = a - b
        for code in added:
            diff -= below(after.bars[code], edge) or 0
        for code in removed:
            diff += below(before.bars[code], edge) or 0
        judge(f"pooled pay below {edge} between reports", abs(diff), None)


# ------------------------------------------------------------------------ generation
def _answers(ratio: float | None, draw: Any) -> W:
    return W(
        ratio=ratio,
        employment=draw(st.sampled_from(EMPLOYMENT)),
        gender=draw(st.sampled_from(GENDER)),
        pay_rise=draw(st.sampled_from(("yes", "no", "dont_know"))),
        payslip=draw(st.booleans()),
        deductions=draw(st.sampled_from(("yes", "no", "dont_know"))),
        methods=draw(st.sampled_from((("cash",), ("bank",), ("cash", "bank")))),
    )


@st.composite
def a_factory(draw: Any) -> list[W]:
    """A factory on the thresholds: often 0, 1 or 2 below the minimum (or above it), group
    sizes around k, and ratios spread over the bars' edges."""
    assessed = draw(st.one_of(st.integers(0, 12), st.integers(8, 45)))
    below = draw(
        st.one_of(st.integers(0, 3), st.integers(0, assessed)).map(lambda b: min(b, assessed))
    )
    if draw(st.booleans()):
        below = assessed - below  # as often few above the line
    low_ratios = st.sampled_from((0.3, 0.55, 0.65, 0.75, 0.85, 0.95))
    high_ratios = st.sampled_from((1.0, 1.05, 1.15, 1.3, 1.5, 1.8))
    ratios = [draw(low_ratios) for _ in range(below)] + [
        draw(high_ratios) for _ in range(assessed - below)
    ]
    not_assessed = draw(st.integers(0, 4))
    return [_answers(r, draw) for r in ratios] + [_answers(None, draw) for _ in range(not_assessed)]


rounds = st.tuples(
    st.lists(a_factory(), min_size=2, max_size=5),
    st.lists(st.sets(st.integers(0, 4), min_size=1), min_size=2, max_size=4),
)


def _reproduction() -> tuple[list[list[W]], list[set[int]]]:
    """The issue's case: P has 10 each at 34,000 / 38,000 / 42,000 / 46,000; Q has one at
    26,000 and nine at 38,000 (minimum 40,000). Q linked later."""

    def w(pay: int) -> W:
        return W(pay / MINIMUM, "permanent", "woman", "yes", True, "no", ("cash",))

    p = [w(pay) for pay in (34_000, 38_000, 42_000, 46_000) for _ in range(10)]
    q = [w(26_000)] + [w(38_000) for _ in range(9)]
    return [p, q], [{0}, {0, 1}]


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(rounds)
@example(_reproduction())
def test_no_sum_or_difference_of_a_brands_figures_isolates_a_small_group(
    spec: tuple[list[list[W]], list[set[int]]],
) -> None:
    factories, link_sets = spec
    figures = round_figures(factories)
    ids = [f.factory_id for f in figures.factories]
    seen: list[Seen] = []
    for links in link_sets:
        linked = frozenset(ids[i] for i in links if i < len(ids)) or frozenset(ids[:1])
        facts = attack_one(brand_json(figures, linked))
        for before in seen:
            attack_between(before, facts)
        seen.append(facts)


def test_the_issues_reproduction_no_longer_gives_q_away() -> None:
    """The fixed example above, spelt out: Q's chart and the pooled chart add up."""
    factories, _ = _reproduction()
    figures = round_figures(factories)
    p_only = brand_json(figures, frozenset({1}))
    both = brand_json(figures, frozenset({1, 2}))
    q = both["factories"][1]
    assert q["respondents"] == 10
    # 9 of 10 below the minimum: "at most 20%" paid it, not "10%" (one worker paid it).
    assert q["paid_at_least_minimum"]["bound"] == "at_most"
    assert q["paid_at_least_minimum"]["share"] == 0.2
    # Q's share is a range, so Q is in none of the pooled figures: the pooled bars are P's
    # and adding Q's link changes nothing in them (the old report had 10 -> 11 below 0.9).
    assert both["overall"]["distribution"] == p_only["overall"]["distribution"]
    assert both["overall"]["paid_at_least_minimum"] == p_only["overall"]["paid_at_least_minimum"]
    # Q's own chart is one bar over the line, holding all ten.
    assert q["distribution"] == [{"from": 0.0, "to": None, "share": 1.0}]


def test_the_summary_says_which_factories_the_pooled_share_leaves_out() -> None:
    """Q's share is a range, so the pooled share is P's alone: the findings say so."""
    factories, _ = _reproduction()
    report = disclose(
        round_figures(factories),
        Scope(BRAND, 1, K, frozenset({1, 2})),
        VerdictRule(),
        date(2026, 11, 30),
    )
    html = render(report, "html").decode()
    assert "from 40 answers" in html
    assert (
        "whose share is shown as a range (a few workers are behind it; their own results "
        "are in the table): 1." in html
    )
