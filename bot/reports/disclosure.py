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
   must hold 0 or at least k answers; otherwise the smallest shown cells are hidden too.
4. Pooled figures ("all factories") combine only figures that are shown themselves, so no
   hidden figure can be recovered by subtracting the shown ones from the total.
5. Pay distributions: bars hold at least k answers; bars never straddle the minimum line, so
   bars and the share paid at least the minimum cannot be combined to isolate a few workers.
6. Brands see no free text, no answer-level data and no dates finer than the round.
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
    RoundFigures,
    Tally,
    YesTally,
    add_counts,
)
from bot.reports.intervals import wilson_interval
from bot.reports.model import (
    Audience,
    Bin,
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


def share(yes: int, n: int, k: int) -> Share:
    """yes/n with its Wilson interval, shown only when n >= k."""
    if n < k:
        return Share()
    return Share(n=n, share=yes / n, ci95=wilson_interval(yes, n))


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


def pay_figures(t: Tally, k: int) -> PayFigures:
    """Median and quartiles (inclusive method, as Excel's QUARTILE.INC), from k answers up."""
    if len(t.pays) < k:
        return PayFigures()
    q1, median, q3 = statistics.quantiles(t.pays, n=4, method="inclusive")
    return PayFigures(
        n=len(t.pays),
        median=median,
        q1=q1,
        q3=q3,
        median_pct_of_minimum=round(100 * statistics.median(t.ratios), 1),
    )


def distribution(ratios: Sequence[float], k: int) -> tuple[Bin, ...] | None:
    """Pay as a fraction of the minimum in bars of at least k answers; None below k answers.

    Each side of the minimum line is merged on its own, so a bar never straddles the line; a
    side with fewer than k answers becomes one bar, whose size the share already tells.
    """
    total = len(ratios)
    if total < k:
        return None
    below = [r for r in ratios if r < 1.0]
    above = [r for r in ratios if r >= 1.0]
    bins = _merge_side(below, BELOW_EDGES, k) + _merge_side(above, ABOVE_EDGES, k)
    return tuple(Bin(low, high, n / total) for low, high, n in bins if n)


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
    """The report `scope.audience` may receive, built from the round's raw figures."""
    k = scope.k
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
    # Figures of the factories, and the tallies each shown figure may contribute to the pool.
    released: list[FactoryReport] = []
    pool = _Pool(groups)
    for f in factories:
        breakdowns = tuple(_factory_breakdown(f, b, gs, k, pool) for b, gs in groups.items())
        figs = _figures(f.total, k, methods, breakdowns)
        pool.add(f.total, figs)
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
    pooled = pool.tally()
    overall = _figures(pooled, k, methods, pool.breakdowns(k))
    return Report(
        audience=scope.audience,
        round=RoundInfo(
            id=figures.round_id,
            name=figures.name,
            cso=figures.cso,
            status=figures.status,
            opened_on=figures.opened_on,
            closed_on=figures.closed_on,
            pay_months=tuple(sorted(pooled.months)),
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
            )
            for region, grade, since in sorted(pooled.minimums)
        ),
        quality=_flags(flags, k) if scope.quality_flags else None,
        plausible_pay=_plausible(figures),
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
    t: Tally, k: int, methods: list[tuple[str, str]], breakdowns: tuple[Breakdown, ...]
) -> Figures:
    paid = share(t.at_least_minimum, t.assessed, k)
    return Figures(
        respondents=count(t.respondents, k),
        paid_at_least_minimum=paid,
        pay=pay_figures(t, k),
        distribution=distribution(t.ratios, k),
        pay_rise=share(t.pay_rise.yes, t.pay_rise.n, k),
        pay_rise_dont_know=share(t.pay_rise.dont_know, t.pay_rise.n, k),
        payslip=share(t.payslip.yes, t.payslip.n, k),
        deductions=share(t.deductions.yes, t.deductions.n, k),
        deductions_dont_know=share(t.deductions.dont_know, t.deductions.n, k),
        payment_methods={m: share(t.methods.get(m, 0), t.methods_n, k) for m, _ in methods},
        breakdowns=breakdowns,
    )


def _factory_breakdown(
    f: FactoryFigures, by: str, groups: list[tuple[str, str]], k: int, pool: _Pool
) -> Breakdown:
    tallies = [f.by.get(by, {}).get(g, Tally()) for g, _ in groups]
    if f.total.respondents < k:  # the factory itself is hidden: so is every cell
        tallies = [Tally() for _ in groups]
    hide_n = hidden_cells([t.respondents for t in tallies], k)
    hide_share = hidden_cells([t.assessed for t in tallies], k)
    cells = []
    for i, ((group, label), t) in enumerate(zip(groups, tallies, strict=True)):
        n_shown, share_shown = i not in hide_n, i not in hide_share
        pool.add_cell(by, group, t, n_shown, share_shown)
        cells.append(
            Cell(
                group=group,
                label=label,
                respondents=Count(t.respondents if n_shown else None),
                paid_at_least_minimum=(
                    share(t.at_least_minimum, t.assessed, k) if share_shown else Share()
                ),
            )
        )
    return Breakdown(by=by, cells=_listed(cells))


def _listed(cells: list[Cell]) -> tuple[Cell, ...]:
    """Every survey group is listed; the "no answer" group only when it is shown (its hidden
    count still took part in the complementary suppression above)."""
    return tuple(c for c in cells if c.group != NOT_ANSWERED or not c.respondents.suppressed)


class _Pool:
    """Collects, figure by figure, only what was shown for single factories (rule 4)."""

    def __init__(self, groups: dict[str, list[tuple[str, str]]]) -> None:
        self.respondents = 0
        self.paid = Tally()  # assessed, at_least_minimum, pays, ratios, minimums, months
        self.pay_rise = YesTally()
        self.payslip = YesTally()
        self.deductions = YesTally()
        self.methods_n = 0
        self.methods: dict[str, int] = {}
        self.groups = groups
        self.cells: dict[tuple[str, str], list[int]] = {
            (b, g): [0, 0, 0] for b, gs in groups.items() for g, _ in gs
        }  # respondents, assessed, at_least_minimum

    def add(self, t: Tally, shown: Figures) -> None:
        if not shown.respondents.suppressed:
            self.respondents += t.respondents
        if not shown.paid_at_least_minimum.suppressed:
            self.paid.assessed += t.assessed
            self.paid.at_least_minimum += t.at_least_minimum
            self.paid.pays += t.pays
            self.paid.ratios += t.ratios
            self.paid.minimums |= t.minimums
            self.paid.months |= t.months
        for mine, theirs, figure in (
            (self.pay_rise, t.pay_rise, shown.pay_rise),
            (self.payslip, t.payslip, shown.payslip),
            (self.deductions, t.deductions, shown.deductions),
        ):
            if not figure.suppressed:
                mine.merge(theirs)
        if shown.payment_methods and not next(iter(shown.payment_methods.values())).suppressed:
            self.methods_n += t.methods_n
            for m, n in t.methods.items():
                self.methods[m] = self.methods.get(m, 0) + n

    def add_cell(self, by: str, group: str, t: Tally, n_shown: bool, share_shown: bool) -> None:
        cell = self.cells[(by, group)]
        if n_shown:
            cell[0] += t.respondents
        if share_shown:
            cell[1] += t.assessed
            cell[2] += t.at_least_minimum

    def tally(self) -> Tally:
        t = Tally(
            respondents=self.respondents,
            assessed=self.paid.assessed,
            at_least_minimum=self.paid.at_least_minimum,
            pays=self.paid.pays,
            ratios=self.paid.ratios,
            minimums=self.paid.minimums,
            months=self.paid.months,
            pay_rise=self.pay_rise,
            payslip=self.payslip,
            deductions=self.deductions,
            methods_n=self.methods_n,
        )
        add_counts(t.methods, self.methods)
        return t

    def breakdowns(self, k: int) -> tuple[Breakdown, ...]:
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
                                self.cells[(b, g)][2], self.cells[(b, g)][1], k
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
