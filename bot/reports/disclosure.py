"""Disclosure control: the one place that decides what a report may show, for every output.

Every format (JSON, CSV, XLSX, HTML, PDF, the answer-level CSV) is rendered from what this
module returns, and what it returns holds no suppressed number at all. The rules, in plain
words, are in docs/report-format.md ("Disclosure rules"); in short:

1. Who: a brand gets closed (or published) rounds only, and only the factories linked to it;
   a CSO gets its own rounds. Only CSOs get data-quality flags and answer-level data.
2. Small cells: a figure computed from fewer than k respondents is not shown (k = 10 for
   brands, 5 for CSOs by default, never below 5). Zero counts are hidden the same way, so a
   reader cannot tell "nobody answered" from "a few answered".
3. Complementary suppression: in a breakdown whose total is shown, the hidden cells together
   must hold 0 or at least k answers (and, for brands, at least 3 paid and 3 not paid);
   otherwise the smallest shown cells are hidden too.
4. Nothing pooled that is not already published: every pooled figure ("all factories") is
   the sum of the same figure as each factory shows it exactly, and the pooled pay bars are
   unions of whole bars of every factory. A pooled figure minus the shown ones is therefore
   always 0: no subtraction, in one report or between reports of a round after its brand
   links changed, isolates anything a factory's own figures do not show.
5. Small counts behind a share (brands): when the count behind a share, or the rest of it,
   is 0, 1 or 2, the share is shown as a range ("at least 94%", "at most 6%") with an
   interval that covers the whole range, and the verdict follows that interval; the pay bars
   of such a factory merge the few on one side of the minimum line into the nearest bar
   across it. Zero is in the range on purpose: otherwise the range itself would say "one or
   two".
6. Pay distributions: a factory's bars hold at least k answers, except a whole side of the
   minimum line with fewer (a number its share already gives); bars cross the minimum line
   only under rule 5.
7. Brands see no free text, no answer-level data and no dates finer than the round.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.enums import RoundStatus
from bot.reports.figures import (
    NOT_ANSWERED,
    FactoryFigures,
    MinimumKey,
    RoundFigures,
    Tally,
    YesTally,
)
from bot.reports.intervals import wilson_interval
from bot.reports.model import (
    Audience,
    Bin,
    Bound,
    Breakdown,
    Cell,
    Count,
    FactoryReport,
    Figures,
    MinimumLine,
    PayFigures,
    QualityFlag,
    Report,
    RoundInfo,
    Share,
    VerdictRule,
)
from bot.reports.quality import RawFlag
from bot.storage.models import BrandFactory, Organisation, Round, RoundFactory

MIN_K = 5  # never configurable below this, for anyone (docs/domain.md, "Disclosure control")
# Brands: a count behind a share, or its rest, below this (0, 1 or 2) is shown as a range.
SMALL = 3
BRAND_ROUND_STATUSES = (RoundStatus.CLOSED, RoundStatus.PUBLISHED)
# Pay distribution bars, pay as a fraction of the applicable minimum, before merging small
# ones: below the minimum line, and at or above it.
BELOW_EDGES: tuple[float, ...] = (0.0, 0.6, 0.7, 0.8, 0.9, 1.0)
ABOVE_EDGES: tuple[float | None, ...] = (1.0, 1.1, 1.2, 1.4, 1.7, None)


class ReportError(ValueError):
    """A report that cannot be made; the message says why, for the person who asked."""


class DisclosureError(ReportError):
    """The audience may not receive what was asked for."""


@dataclass(frozen=True)
class Scope:
    """What one audience may receive of one round."""

    audience: Audience
    round_id: int
    k: int
    factory_ids: frozenset[int] | None  # None: every factory of the round

    @property
    def quality_flags(self) -> bool:
        return self.audience.kind == "cso"

    @property
    def answer_level(self) -> bool:
        return self.audience.kind == "cso"

    @property
    def small(self) -> int:
        """Counts behind a share below this are shown as a range: brands only (CSOs keep exact
        figures at their own k)."""
        return SMALL if self.audience.kind == "brand" else 0


async def authorise(
    session: AsyncSession, round_id: int, audience: Audience, *, k_brand: int, k_cso: int
) -> Scope:
    """Check that `audience` may receive results of the round; return what it may see."""
    rnd = (
        await session.execute(select(Round.cso_id, Round.status).where(Round.id == round_id))
    ).first()
    if rnd is None:
        raise ReportError(f"no round {round_id}")
    org = (
        await session.execute(select(Organisation).where(Organisation.name == audience.name))
    ).scalar()
    if org is None:
        raise DisclosureError(f"no organisation called {audience.name!r}")
    if org.kind != audience.kind:
        raise DisclosureError(f"{audience.name!r} is a {org.kind}, not a {audience.kind}")
    if audience.kind == "cso":
        if rnd.cso_id != org.id:
            raise DisclosureError(f"round {round_id} is run by another organisation")
        return Scope(audience, round_id, max(MIN_K, k_cso), None)
    if rnd.status not in BRAND_ROUND_STATUSES:
        raise DisclosureError(
            f"round {round_id} is {rnd.status}; brands receive results only after it closes"
        )
    linked = (
        await session.execute(
            select(BrandFactory.factory_id)
            .join(RoundFactory, RoundFactory.factory_id == BrandFactory.factory_id)
            .where(
                BrandFactory.brand_id == org.id,
                RoundFactory.round_id == round_id,
                BrandFactory.carries(rnd.cso_id),  # a link another CSO made carries none
            )
        )
    ).scalars()
    factory_ids = frozenset(linked)
    if not factory_ids:
        raise DisclosureError(
            f"no factory of round {round_id} is linked to {audience.name!r} "
            "(wagecheck org link BRAND FACTORY...)"
        )
    return Scope(audience, round_id, max(MIN_K, k_brand), factory_ids)


# ------------------------------------------------------------------------- small cells


def count(n: int, k: int) -> Count:
    """A respondent count, shown only from k up."""
    return Count(n if n >= k else None)


def share(yes: int, n: int, k: int, small: int = 0) -> Share:
    """yes/n with its Wilson interval, shown only when n >= k; with `small`, a count or rest
    below `small` makes it a range (rule 5), and both below it hide it."""
    if n < k:
        return Share()
    if small and (yes < small or n - yes < small):
        if yes < small and n - yes < small:
            return Share()
        if n - yes < small:  # nearly everyone
            return ranged(n, n - small + 1, n, "at_least")
        return ranged(n, 0, small - 1, "at_most")
    return Share(n=n, share=yes / n, ci95=wilson_interval(yes, n))


def ranged(n: int, low: int, high: int, bound: Bound) -> Share:
    """A share known only to lie between low/n and high/n, shown as its bound (in whole
    percent, rounded so that the words stay true) with an interval covering the range."""
    if bound == "at_least":
        value = (100 * low // n) / 100
    else:
        value = -(-100 * high // n) / 100
    return Share(
        n=n,
        share=value,
        ci95=(wilson_interval(low, n)[0], wilson_interval(high, n)[1]),
        bound=bound,
    )


def yes_and_dont_know(t: YesTally, k: int, small: int) -> tuple[Share, Share]:
    """A yes/no/don't-know question: "no" is not shown, but n - yes - don't know gives it; when
    that would be an exact 0, 1 or 2, "don't know" becomes a range."""
    yes = share(t.yes, t.n, k, small)
    dont_know = share(t.dont_know, t.n, k, small)
    no = t.n - t.yes - t.dont_know
    if small and yes.exact and dont_know.exact and no < small:
        dont_know = ranged(t.n, max(0, t.n - t.yes - small + 1), t.n - t.yes, "at_least")
    return yes, dont_know


def hidden_cells(counts: Sequence[int], k: int) -> set[int]:
    """Indexes of the breakdown cells to hide: primary (fewer than k, zero included) and
    complementary (the smallest shown cells, until the hidden ones hold 0 or >= k answers).
    When the total itself is below k, everything is hidden."""
    if sum(counts) < k:
        return set(range(len(counts)))
    hidden = {i for i, c in enumerate(counts) if c < k}
    while 0 < sum(counts[i] for i in hidden) < k:
        shown = [i for i in range(len(counts)) if i not in hidden]
        if not shown:
            break
        hidden.add(min(shown, key=lambda i: (counts[i], i)))
    return hidden


def hidden_share_cells(
    assessed: Sequence[int], paid: Sequence[int], k: int, small: int
) -> set[int]:
    """Indexes of the breakdown cells whose share paid at least the minimum is hidden: as
    `hidden_cells` on the assessed answers, and for brands also every cell whose count or rest
    is below `small` (a cell is never a range: the total minus the exact cells would undo
    it), with the hidden cells together holding at least `small` paid and not paid."""
    if sum(assessed) < k:
        return set(range(len(assessed)))
    hidden = {
        i
        for i, (a, y) in enumerate(zip(assessed, paid, strict=True))
        if a < k or (small and (y < small or a - y < small))
    }

    def unsafe() -> bool:
        a = sum(assessed[i] for i in hidden)
        y = sum(paid[i] for i in hidden)
        return 0 < a < k or (a > 0 and small > 0 and (y < small or a - y < small))

    while unsafe():
        shown = [i for i in range(len(assessed)) if i not in hidden]
        if not shown:
            break
        hidden.add(min(shown, key=lambda i: (assessed[i], i)))
    return hidden


def pay_figures(t: Tally, k: int, paid: Share | None = None) -> PayFigures:
    """Median and quartiles (inclusive method, as Excel's QUARTILE.INC), from k answers up.
    Next to a share shown as a range, quartiles that would fall among the 0-2 answers on the
    rare side of the minimum (fewer than 9 answers) are not shown."""
    if len(t.pays) < k:
        return PayFigures()
    if paid is not None and paid.bound is not None and (len(t.pays) - 1) / 4 < SMALL - 1:
        return PayFigures()
    q1, median, q3 = statistics.quantiles(t.pays, n=4, method="inclusive")
    return PayFigures(
        n=len(t.pays),
        median=median,
        q1=q1,
        q3=q3,
        median_pct_of_minimum=round(100 * statistics.median(t.ratios), 1),
    )


Bar = tuple[float, float | None, int]  # low, high (None: no bound), answers


def as_bins(bars: Sequence[Bar]) -> tuple[Bin, ...]:
    total = sum(n for _, _, n in bars)
    return tuple(Bin(low, high, n / total) for low, high, n in bars if n)


def pay_bars(ratios: Sequence[float], k: int, bound: Bound | None = None) -> list[Bar] | None:
    """Bars of at least k answers; None below k answers.

    Each side of the minimum line is merged on its own, so a bar never straddles the line; a
    side with fewer than k answers becomes one bar, whose size the share already tells. Next
    to a share shown as a range (`bound`), the few on its rare side join the nearest bar
    across the line, which then starts at 0 (or has no upper end) even when they are none.
    """
    if len(ratios) < k:
        return None
    below = _merge_side([r for r in ratios if r < 1.0], BELOW_EDGES, k)
    above = _merge_side([r for r in ratios if r >= 1.0], ABOVE_EDGES, k)
    if bound == "at_least" and above:
        _, high, n = above[0]
        above[0] = (0.0, high, n + sum(b[2] for b in below))
        below = []
    elif bound == "at_most" and below:
        low, _, n = below[-1]
        below[-1] = (low, None, n + sum(b[2] for b in above))
        above = []
    return below + above


def pooled_bars(parts: Sequence[Sequence[Bar]]) -> list[Bar]:
    """The bars of several factories added up (rule 4): a pooled bar is a union of whole bars
    of every factory, so each pooled count is a sum of counts the factories show. An edge is
    kept only where every factory has one (or has no answers on that stretch)."""
    parts = [p for p in parts if p]
    if not parts:
        return []
    candidates = sorted(
        {e for p in parts for low, high, _ in p for e in (low, high) if e is not None}
    )

    def allowed(edge: float, bars: Sequence[Bar]) -> bool:
        first, last = bars[0][0], bars[-1][1]
        if edge <= first or (last is not None and edge >= last):
            return True  # outside this factory's answers
        return any(edge == low for low, _, _ in bars)

    edges = [e for e in candidates if all(allowed(e, p) for p in parts)]
    # The lowest start is always an edge (every factory's answers lie at or above it).
    open_end = any(p[-1][1] is None for p in parts)
    bounds: list[float | None] = [*edges, None] if open_end else list(edges)
    out: list[Bar] = []
    for low, high in itertools.pairwise(bounds):
        assert low is not None
        n = sum(
            c
            for p in parts
            for b_low, b_high, c in p
            if b_low >= low and (high is None or (b_high is not None and b_high <= high))
        )
        if n:
            out.append((low, high, n))
    return out


def _merge_side(
    values: list[float], edges: Sequence[float | None], k: int
) -> list[tuple[float, float | None, int]]:
    if not values:
        return []
    ordered = sorted(values)
    fine: list[tuple[float, float | None, int]] = []
    for low, high in itertools.pairwise(edges):
        assert low is not None
        end = len(ordered) if high is None else bisect.bisect_left(ordered, high)
        fine.append((low, high, end - bisect.bisect_left(ordered, low)))
    merged: list[tuple[float, float | None, int]] = []
    current: tuple[float, float | None, int] | None = None
    for low, high, n in fine:
        current = (current[0], high, current[2] + n) if current else (low, high, n)
        if current[2] >= k:
            merged.append(current)
            current = None
    if current is not None:  # a small remainder joins the last full bar, or stands alone
        if merged:
            low, _, n = merged.pop()
            merged.append((low, current[1], n + current[2]))
        else:
            merged.append(current)
    # Empty leading/trailing stretches stay inside their neighbour (the side's full range).
    return merged


# ------------------------------------------------------------------------- the report


def disclose(
    figures: RoundFigures,
    scope: Scope,
    rule: VerdictRule,
    generated_on: date,
    flags: Iterable[RawFlag] = (),
) -> Report:
    """The report `scope.audience` may receive, built from the round's raw figures.

    Each factory's figures depend on that factory's answers alone, so they are the same in
    every report of the round whatever the brand's links; the pooled figures add up only what
    the factories show (rule 4)."""
    k, small = scope.k, scope.small
    factories = [
        f
        for f in figures.factories
        if scope.factory_ids is None or f.factory_id in scope.factory_ids
    ]
    groups = {
        b: [(g.id, g.label) for g in gs] + [(NOT_ANSWERED, "No answer")]
        for b, gs in figures.groups.items()
    }
    methods = [(g.id, g.label) for g in figures.payment_methods]
    released: list[FactoryReport] = []
    pool = _Pool(groups, [m for m, _ in methods])
    for f in factories:
        breakdowns = tuple(_factory_breakdown(f, b, gs, k, small, pool) for b, gs in groups.items())
        figs, bars = _figures(f.total, k, small, methods, breakdowns)
        pool.add(f.total, figs, bars)
        released.append(
            FactoryReport(
                code=f.code,
                name=f.name,
                region=f.region,
                city=f.city,
                os_id=f.os_id,
                headcount=f.headcount,
                suppressed=figs.respondents.suppressed,
                response_rate=_rate(f, figs),
                verdict=rule.verdict(figs.paid_at_least_minimum),
                figures=figs,
            )
        )
    overall = pool.figures(k, small, pool.breakdowns(k, small))
    return Report(
        audience=scope.audience,
        round=RoundInfo(
            id=figures.round_id,
            name=figures.name,
            cso=figures.cso,
            status=figures.status,
            opened_on=figures.opened_on,
            closed_on=figures.closed_on,
            pay_months=tuple(sorted(pool.months)),
        ),
        generated_on=generated_on,
        k=k,
        verdict_rule=rule,
        factories=tuple(released),
        overall=overall,
        overall_factories=sum(not f.suppressed for f in released),
        groups={b: tuple(gs) for b, gs in groups.items()},
        payment_methods=tuple(methods),
        minimums=tuple(
            MinimumLine(
                region=region,
                grade=grade,
                in_force_from=since,
                amount=figures.wage_entries[(region, grade, since)].amount,
                status=figures.wage_entries[(region, grade, since)].status,
                source=figures.wage_entries[(region, grade, since)].source,
                note=figures.wage_entries[(region, grade, since)].note,
                stale_months=tuple(
                    sorted(figures.stale_months.get((region, grade, since), set()) & pool.months)
                ),
            )
            for region, grade, since in sorted(pool.minimums)
        ),
        quality=_flags(flags, k) if scope.quality_flags else None,
        plausible_pay=_plausible(figures),
        small=small,
    )


def _plausible(figures: RoundFigures) -> tuple[int, int] | None:
    q = figures.pay_question
    if q is None or q.plausible_min is None or q.plausible_max is None:
        return None
    return q.plausible_min, q.plausible_max


def _rate(f: FactoryFigures, figs: Figures) -> float | None:
    if figs.respondents.n is None or not f.headcount:
        return None
    return figs.respondents.n / f.headcount


def _figures(
    t: Tally, k: int, small: int, methods: list[tuple[str, str]], breakdowns: tuple[Breakdown, ...]
) -> tuple[Figures, list[Bar] | None]:
    """One factory's figures, and its pay bars with their counts (for the pool)."""
    paid = share(t.at_least_minimum, t.assessed, k, small)
    bars = pay_bars(t.ratios, k, paid.bound) if paid.share is not None else None
    pay_rise, pay_rise_dont_know = yes_and_dont_know(t.pay_rise, k, small)
    deductions, deductions_dont_know = yes_and_dont_know(t.deductions, k, small)
    figs = Figures(
        respondents=count(t.respondents, k),
        paid_at_least_minimum=paid,
        pay=pay_figures(t, k, paid),
        distribution=None if bars is None else as_bins(bars),
        pay_rise=pay_rise,
        pay_rise_dont_know=pay_rise_dont_know,
        payslip=share(t.payslip.yes, t.payslip.n, k, small),
        deductions=deductions,
        deductions_dont_know=deductions_dont_know,
        payment_methods={m: share(t.methods.get(m, 0), t.methods_n, k, small) for m, _ in methods},
        breakdowns=breakdowns,
    )
    return figs, bars


def _factory_breakdown(
    f: FactoryFigures, by: str, groups: list[tuple[str, str]], k: int, small: int, pool: _Pool
) -> Breakdown:
    tallies = [f.by.get(by, {}).get(g, Tally()) for g, _ in groups]
    if f.total.respondents < k:  # the factory itself is hidden: so is every cell
        tallies = [Tally() for _ in groups]
    hide_n = hidden_cells([t.respondents for t in tallies], k)
    hide_share = hidden_share_cells(
        [t.assessed for t in tallies], [t.at_least_minimum for t in tallies], k, small
    )
    cells = []
    for i, ((group, label), t) in enumerate(zip(groups, tallies, strict=True)):
        n_shown, share_shown = i not in hide_n, i not in hide_share
        pool.add_cell(by, group, t, n_shown, share_shown)
        cells.append(
            Cell(
                group=group,
                label=label,
                respondents=(Count(t.respondents) if n_shown else Count(None, t.respondents >= k)),
                paid_at_least_minimum=(
                    share(t.at_least_minimum, t.assessed, k)
                    if share_shown
                    else Share(withheld=t.assessed >= k)
                ),
            )
        )
    return Breakdown(by=by, cells=_listed(cells))


def _listed(cells: list[Cell]) -> tuple[Cell, ...]:
    """Every survey group is listed; the "no answer" group only when it is shown (its hidden
    count still took part in the complementary suppression above)."""
    return tuple(c for c in cells if c.group != NOT_ANSWERED or not c.respondents.suppressed)


# The yes/no figures a factory shows, by name, and where they are in a tally.
_SHARES = ("pay_rise", "pay_rise_dont_know", "payslip", "deductions", "deductions_dont_know")


def _named_shares(t: Tally, shown: Figures) -> dict[str, tuple[int, int, Share]]:
    """Each yes/no figure of a factory by name: (n, count) behind it, and how it is shown."""
    return {
        "pay_rise": (t.pay_rise.n, t.pay_rise.yes, shown.pay_rise),
        "pay_rise_dont_know": (t.pay_rise.n, t.pay_rise.dont_know, shown.pay_rise_dont_know),
        "payslip": (t.payslip.n, t.payslip.yes, shown.payslip),
        "deductions": (t.deductions.n, t.deductions.yes, shown.deductions),
        "deductions_dont_know": (
            t.deductions.n,
            t.deductions.dont_know,
            shown.deductions_dont_know,
        ),
        **{
            f"method:{m}": (t.methods_n, t.methods.get(m, 0), s)
            for m, s in shown.payment_methods.items()
        },
    }


class _Pool:
    """Adds up, figure by figure, what each factory shows exactly (rule 4)."""

    def __init__(self, groups: dict[str, list[tuple[str, str]]], methods: list[str]) -> None:
        self.respondents = 0
        self.paid = Tally()  # assessed, at_least_minimum, pays, ratios: exact shares only
        self.minimums: set[MinimumKey] = set()  # table lines and months of every shown share
        self.months: set[str] = set()
        self.shares: dict[str, list[int]] = {
            name: [0, 0] for name in (*_SHARES, *(f"method:{m}" for m in methods))
        }  # name -> [n, count]
        self.bars: list[list[Bar]] = []
        self.groups = groups
        self.cells: dict[tuple[str, str], list[int]] = {
            (b, g): [0, 0, 0] for b, gs in groups.items() for g, _ in gs
        }  # respondents, assessed, at_least_minimum

    def add(self, t: Tally, shown: Figures, bars: list[Bar] | None) -> None:
        if not shown.respondents.suppressed:
            self.respondents += t.respondents
        paid = shown.paid_at_least_minimum
        if paid.share is not None:
            self.minimums |= t.minimums
            self.months |= t.months
        if paid.exact:
            self.paid.assessed += t.assessed
            self.paid.at_least_minimum += t.at_least_minimum
            self.paid.pays += t.pays
            self.paid.ratios += t.ratios
        if bars is not None and paid.exact:  # the pooled bars cover what the pooled share does
            self.bars.append(bars)
        for name, (n, c, figure) in _named_shares(t, shown).items():
            if figure.exact:
                self.shares[name][0] += n
                self.shares[name][1] += c

    def add_cell(self, by: str, group: str, t: Tally, n_shown: bool, share_shown: bool) -> None:
        cell = self.cells[(by, group)]
        if n_shown:
            cell[0] += t.respondents
        if share_shown:
            cell[1] += t.assessed
            cell[2] += t.at_least_minimum

    def _share(self, name: str, k: int, small: int) -> Share:
        n, c = self.shares[name]
        return share(c, n, k, small)

    def figures(self, k: int, small: int, breakdowns: tuple[Breakdown, ...]) -> Figures:
        """Every pooled figure is a sum of exact factory figures, each with a count and rest of
        at least `small`: so are the sums, and no pooled share ever needs a range."""
        paid = share(self.paid.at_least_minimum, self.paid.assessed, k, small)
        bars = pooled_bars(self.bars)
        return Figures(
            respondents=count(self.respondents, k),
            paid_at_least_minimum=paid,
            pay=pay_figures(self.paid, k),
            distribution=as_bins(bars) if bars else None,
            pay_rise=self._share("pay_rise", k, small),
            pay_rise_dont_know=self._share("pay_rise_dont_know", k, small),
            payslip=self._share("payslip", k, small),
            deductions=self._share("deductions", k, small),
            deductions_dont_know=self._share("deductions_dont_know", k, small),
            payment_methods={
                name.removeprefix("method:"): self._share(name, k, small)
                for name in self.shares
                if name.startswith("method:")
            },
            breakdowns=breakdowns,
        )

    def breakdowns(self, k: int, small: int) -> tuple[Breakdown, ...]:
        # Pooled cells hold only shown cells (each >= k), so no complementary step is needed.
        return tuple(
            Breakdown(
                by=b,
                cells=_listed(
                    [
                        Cell(
                            group=g,
                            label=label,
                            respondents=count(self.cells[(b, g)][0], k),
                            paid_at_least_minimum=share(
                                self.cells[(b, g)][2], self.cells[(b, g)][1], k, small
                            ),
                        )
                        for g, label in gs
                    ]
                ),
            )
            for b, gs in self.groups.items()
        )


def _flags(flags: Iterable[RawFlag], k: int) -> tuple[QualityFlag, ...]:
    """Flags keep the small-cell rule too: a count below k is not given, nor a share of
    fewer than k answers (it would give the count away)."""
    return tuple(
        QualityFlag(
            factory=f.factory,
            kind=f.kind,  # type: ignore[arg-type]  # RawFlag kinds are the QualityFlag kinds
            count=f.count if f.count >= k else None,
            share=f.share if f.n >= k else None,
            value=f.value if f.count >= k else None,
        )
        for f in flags
    )


# --------------------------------------------------------------- answer-level data (CSO)


def pseudonymous_ids(round_id: int, respondents: Iterable[str]) -> dict[str, str]:
    """Export ids R0001, R0002, ... in an order that follows neither time nor the stored
    pseudonym's sort order, so the file says nothing about who answered when."""
    ordered = sorted(
        respondents, key=lambda r: hashlib.sha256(f"export|{round_id}|{r}".encode()).digest()
    )
    width = max(4, len(str(len(ordered))))
    return {r: f"R{i:0{width}d}" for i, r in enumerate(ordered, start=1)}


def answer_rows(scope: Scope, responses: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answer-level rows for a CSO: pseudonymous id, dates only, free text included."""
    if not scope.answer_level:
        raise DisclosureError("answer-level data is for the CSO that runs the round only")
    rows = list(responses)
    ids = pseudonymous_ids(scope.round_id, (r["respondent"] for r in rows))
    out = []
    for r in rows:
        row = {key: value for key, value in r.items() if key not in ("respondent", "hour")}
        row["respondent"] = ids[r["respondent"]]
        out.append(row)
    return sorted(out, key=lambda row: row["respondent"])
