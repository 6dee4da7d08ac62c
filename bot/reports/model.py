"""A report as released to its audience: only disclosed figures, nothing to filter out later.

Objects of these classes are made by `bot.reports.disclosure.disclose` alone. A suppressed
figure carries no number at all (``None``), so no renderer can print one by mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Verdict = Literal["likely_met", "likely_not_met", "inconclusive"]
AudienceKind = Literal["brand", "cso"]
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Audience:
    """Who a report is for: a brand or a CSO, by organisation name."""

    kind: AudienceKind
    name: str

    @classmethod
    def parse(cls, text: str) -> Audience:
        """Read 'brand:NAME' or 'cso:NAME'."""
        kind, _, name = text.partition(":")
        kind = kind.strip().lower()
        if kind not in ("brand", "cso") or not name.strip():
            raise ValueError(f"expected brand:NAME or cso:NAME, not {text!r}")
        return cls(kind, name.strip())  # type: ignore[arg-type]  # checked to be an AudienceKind

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


@dataclass(frozen=True)
class Count:
    """A number of respondents; ``n`` is None when fewer than k (not shown)."""

    n: int | None
    withheld: bool = False  # hidden though >= k, so that a smaller hidden cell stays hidden

    @property
    def suppressed(self) -> bool:
        return self.n is None


Bound = Literal["at_least", "at_most"]


@dataclass(frozen=True)
class Share:
    """A share of ``n`` answers with its 95% Wilson interval; all None when not shown.

    A share shown as a range (brands, when the count or the rest is 0, 1 or 2) has a
    ``bound``: ``share`` is then the bound ("at least 94%", "at most 6%"), and ``ci95`` the
    interval that covers every count the range allows."""

    n: int | None = None
    share: float | None = None
    ci95: tuple[float, float] | None = None
    bound: Bound | None = None
    # Hidden though n >= k: it could point to a few workers (rule 3 or 5), "not shown".
    withheld: bool = False

    @property
    def exact(self) -> bool:
        """Shown as a number (not hidden, not a range)."""
        return self.share is not None and self.bound is None

    @property
    def suppressed(self) -> bool:
        return self.share is None


@dataclass(frozen=True)
class PayFigures:
    """Reported monthly pay (PKR) of the assessed answers; None when not shown."""

    n: int | None = None
    median: float | None = None
    q1: float | None = None
    q3: float | None = None
    median_pct_of_minimum: float | None = None  # median of pay / applicable minimum, x 100

    @property
    def suppressed(self) -> bool:
        return self.median is None


@dataclass(frozen=True)
class Bin:
    """One bar of the pay distribution, pay as a fraction of each worker's applicable minimum:
    ``low`` <= pay/minimum < ``high`` (``high`` None: no upper bound). A factory's bars hold at
    least k answers, except a whole side of the minimum line (what the share already tells);
    a bar crosses the minimum line only next to a share shown as a range. Pooled bars are sums
    of whole factory bars."""

    @property
    def crosses_minimum(self) -> bool:
        return self.low < 1.0 and (self.high is None or self.high > 1.0)

    low: float
    high: float | None
    share: float  # of the assessed answers


@dataclass(frozen=True)
class Cell:
    """One group of a breakdown (e.g. women) within a factory or over all factories."""

    group: str  # choice id, or "_none" for no answer
    label: str  # English label (a msgid of the survey)
    respondents: Count
    paid_at_least_minimum: Share


@dataclass(frozen=True)
class Breakdown:
    by: str  # question id: "employment" or "gender"
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Figures:
    """The figures of one factory, or of several factories pooled."""

    respondents: Count
    paid_at_least_minimum: Share
    pay: PayFigures
    distribution: tuple[Bin, ...] | None
    pay_rise: Share
    pay_rise_dont_know: Share
    payslip: Share
    deductions: Share
    deductions_dont_know: Share
    payment_methods: dict[str, Share]
    breakdowns: tuple[Breakdown, ...]


@dataclass(frozen=True)
class FactoryReport:
    code: str
    name: str
    region: str
    city: str
    os_id: str | None
    headcount: int | None
    suppressed: bool  # fewer than k respondents: nothing about this factory is shown
    response_rate: float | None
    verdict: Verdict
    figures: Figures


@dataclass(frozen=True)
class MinimumLine:
    """A line of the wage table that assessed answers were compared with."""

    region: str
    grade: str
    in_force_from: date
    amount: int
    status: str
    source: str
    note: str | None
    # Pay months ("YYYY-MM") compared with this line although their fiscal year had no line
    # of its own yet (the table was stale for them): the method section says so.
    stale_months: tuple[str, ...] = ()


@dataclass(frozen=True)
class QualityFlag:
    """A sign of coached or fabricated answers, for the CSO to look into (never for brands).
    Counts below k are None, as everywhere."""

    factory: str  # factory code
    kind: Literal["burst", "identical_pay", "implausible_pay", "many_partial"]
    count: int | None
    share: float | None
    value: float | None = None  # the repeated pay figure (identical_pay), when shown


@dataclass(frozen=True)
class RoundInfo:
    id: int
    name: str
    cso: str
    status: str
    opened_on: date | None
    closed_on: date | None
    pay_months: tuple[str, ...]  # "YYYY-MM" months the assessed answers are about


@dataclass(frozen=True)
class VerdictRule:
    """'Minimum likely met' when the interval's lower bound >= ok_lower; 'likely not met' when
    its upper bound < below_upper; otherwise, or with fewer than k answers, inconclusive."""

    ok_lower: float = 0.8
    below_upper: float = 0.8

    def verdict(self, share: Share) -> Verdict:
        if share.ci95 is None:
            return "inconclusive"
        low, high = share.ci95
        if low >= self.ok_lower:
            return "likely_met"
        if high < self.below_upper:
            return "likely_not_met"
        return "inconclusive"


@dataclass(frozen=True)
class TrendPoint:
    """A factory's share paid at least the minimum in one round (or one side of a raise within
    a round), exactly as that round's own report shows it; all None when not shown."""

    round_id: int
    round_name: str
    pay_months: tuple[str, ...]  # of the shown share only
    paid_at_least_minimum: Share
    median_pct_of_minimum: float | None
    minimum_from: date | None = None  # a side of a raise: the wage line in force for it


@dataclass(frozen=True)
class Change:
    """The change of a share from one point to a later one (later minus earlier), with
    Newcombe's hybrid score interval; None unless both shares are shown as exact figures."""

    difference: float | None = None
    ci95: tuple[float, float] | None = None


@dataclass(frozen=True)
class TrendRound:
    """One round of a factory's trend: the round's point, and when its pay months straddle a
    raise, the two sides (shown only when every side may be shown: else `sides_withheld`)."""

    point: TrendPoint
    change: Change | None  # from the previous round of the trend; None for the first
    sides: tuple[TrendPoint, ...] = ()
    side_change: Change | None = None  # first side to last
    sides_withheld: bool = False


@dataclass(frozen=True)
class FactoryTrend:
    code: str
    name: str
    rounds: tuple[TrendRound, ...]  # oldest first, this report's round last


@dataclass(frozen=True)
class Report:
    audience: Audience
    round: RoundInfo
    generated_on: date
    k: int
    verdict_rule: VerdictRule
    factories: tuple[FactoryReport, ...]
    overall: Figures  # pooled over the factories whose figure is shown, figure by figure
    overall_factories: int  # factories whose respondents are shown
    groups: dict[str, tuple[tuple[str, str], ...]]  # breakdown -> (group id, English label)
    payment_methods: tuple[tuple[str, str], ...]  # (choice id, English label)
    minimums: tuple[MinimumLine, ...]
    quality: tuple[QualityFlag, ...] | None = None  # CSO reports only
    plausible_pay: tuple[int, int] | None = None  # the survey's plausible pay range (PKR)
    notes: tuple[str, ...] = field(default=())
    small: int = 0  # brands: counts behind a share below this are shown as ranges (rule 5)
    # Each factory's trend over the rounds this audience may see, up to this one (rule 8).
    trends: tuple[FactoryTrend, ...] = ()

    @property
    def for_brand(self) -> bool:
        return self.audience.kind == "brand"

    @property
    def has_trend(self) -> bool:
        """Whether any factory has two points to compare (two rounds, or two sides)."""
        return any(len(t.rounds) > 1 or any(r.sides for r in t.rounds) for t in self.trends)
