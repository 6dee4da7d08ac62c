"""Trends across rounds: each factory's share paid at least the minimum, round by round, and
the change between rounds (docs/report-format.md, "Trends across rounds"; rule 8 of
bot/reports/disclosure.py).

Disclosure: a round's point is the factory's figure exactly as that round's own report shows
it to this audience (the same small-cell k, the same ranges for brands), computed from that
round's answers alone. Rounds hold different answers, so one round's figure minus another's
isolates nobody: every number a trend shows is one the audience could already read in a
round report. Which rounds: those of the same CSO, up to this report's round, that the
audience may receive at all (`disclosure.authorise`: brands closed or published rounds only,
and only the factories linked to them in each round, as the brand report selects them).

The one new cut is within a round whose pay months straddle a raise (June and July answers
when the minimum rose on 1 July): its sides are shown only when every side passes the rules a
breakdown cell passes (`hidden_share_cells`: at least k answers, and for brands at least 3
paid and 3 not paid) — all sides or none, since the round's figure minus the shown sides
would otherwise give the hidden one.

Change: later minus earlier, with Newcombe's hybrid score interval (intervals.py), only
between shares shown as exact figures (a range, "at least 94%", has no single difference).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.enums import RoundStatus
from bot.reports.disclosure import (
    BRAND_ROUND_STATUSES,
    DisclosureError,
    Scope,
    authorise,
    hidden_share_cells,
    pay_figures,
    share,
)
from bot.reports.figures import FactoryFigures, RoundFigures, Tally, compute_figures
from bot.reports.intervals import newcombe_difference
from bot.reports.model import Change, FactoryTrend, Share, TrendPoint, TrendRound
from bot.storage.models import Round
from bot.wages import UNSKILLED, WageTable

MAX_ROUNDS = 12  # the latest rounds of a trend (this one included)


def change(earlier: Share, later: Share, yes: tuple[int, int], n: tuple[int, int]) -> Change:
    """later - earlier with Newcombe's interval, when both are shown as exact figures."""
    if not (earlier.exact and later.exact):
        return Change()
    d, ci = newcombe_difference(yes[0], n[0], yes[1], n[1])
    return Change(difference=d, ci95=ci)


def _point(
    rnd: RoundFigures, t: Tally, k: int, small: int, minimum_from: date | None = None
) -> TrendPoint:
    paid = share(t.at_least_minimum, t.assessed, k, small)
    pay = pay_figures(t, k, paid)
    return TrendPoint(
        round_id=rnd.round_id,
        round_name=rnd.name,
        pay_months=tuple(sorted(t.months)) if paid.share is not None else (),
        paid_at_least_minimum=paid,
        median_pct_of_minimum=pay.median_pct_of_minimum,
        minimum_from=minimum_from,
    )


SideOf = Callable[[str, str], date | None]  # (region, "YYYY-MM") -> wage line in force from


def line_start(wages: WageTable) -> SideOf:
    """The start of the region's unskilled wage line in force for a pay month (raises move
    every grade at once), or None when none is."""

    def side(region: str, month: str) -> date | None:
        try:
            found = wages.minimum_for(region, UNSKILLED, date(int(month[:4]), int(month[5:]), 1))
        except (KeyError, ValueError):
            return None
        return None if found is None else found.entry.in_force_from

    return side


def raise_sides(f: FactoryFigures, side_of: SideOf) -> list[tuple[date, Tally]]:
    """The factory's assessed answers split by the wage line in force for their pay month;
    one side when the months do not straddle a raise."""
    sides: dict[date, Tally] = {}
    for month, ratios in f.month_ratios.items():
        since = side_of(f.region, month)
        if since is None:
            continue
        t = sides.setdefault(since, Tally())
        t.assessed += len(ratios)
        t.at_least_minimum += sum(r >= 1.0 for r in ratios)
        t.ratios += ratios
        t.months.add(month)
    for t in sides.values():
        t.pays = list(t.ratios)  # pay_figures needs as many; only the ratios' median is used
    return sorted(sides.items())


def _trend_round(
    rnd: RoundFigures, f: FactoryFigures, side_of: SideOf, k: int, small: int
) -> TrendRound:
    point = _point(rnd, f.total, k, small)
    sides = raise_sides(f, side_of) if point.paid_at_least_minimum.share is not None else []
    if len(sides) < 2:
        return TrendRound(point=point, change=None)
    hidden = hidden_share_cells(
        [t.assessed for _, t in sides], [t.at_least_minimum for _, t in sides], k, small
    )
    if hidden:
        return TrendRound(point=point, change=None, sides_withheld=True)
    shown = tuple(_point(rnd, t, k, small, since) for since, t in sides)
    first, last = sides[0][1], sides[-1][1]
    return TrendRound(
        point=point,
        change=None,
        sides=shown,
        side_change=change(
            shown[0].paid_at_least_minimum,
            shown[-1].paid_at_least_minimum,
            (first.at_least_minimum, last.at_least_minimum),
            (first.assessed, last.assessed),
        ),
    )


async def earlier_rounds(
    session: AsyncSession, current: int, audience_scope: Scope, *, k_brand: int, k_cso: int
) -> list[tuple[int, Scope]]:
    """The rounds before `current` (same CSO, by opening time) this audience may receive, with
    what it may see of each; oldest first, at most MAX_ROUNDS - 1."""
    rnd = (
        await session.execute(select(Round.cso_id, Round.opens_at).where(Round.id == current))
    ).one()
    query = select(Round.id, Round.opens_at).where(
        Round.cso_id == rnd.cso_id,
        Round.id != current,
        Round.opens_at.is_not(None),
        Round.status != RoundStatus.DRAFT,
    )
    if audience_scope.audience.kind == "brand":
        query = query.where(Round.status.in_(BRAND_ROUND_STATUSES))
    if rnd.opens_at is not None:
        query = query.where(Round.opens_at <= rnd.opens_at)
    rows = (await session.execute(query.order_by(Round.opens_at, Round.id))).all()
    out = []
    for rid, _ in rows:
        try:
            scope = await authorise(
                session, rid, audience_scope.audience, k_brand=k_brand, k_cso=k_cso
            )
        except DisclosureError:
            continue  # no linked factory in that round, or not the audience's
        out.append((rid, scope))
    return out[-(MAX_ROUNDS - 1) :]


async def compute_trends(
    session: AsyncSession,
    figures: RoundFigures,
    scope: Scope,
    wages: WageTable,
    *,
    k_brand: int,
    k_cso: int,
) -> tuple[FactoryTrend, ...]:
    """Every factory of this report with its rounds, oldest first; this round last."""
    mine = [
        f
        for f in figures.factories
        if scope.factory_ids is None or f.factory_id in scope.factory_ids
    ]
    if not mine:
        return ()
    wanted = {f.factory_id for f in mine}
    history: list[tuple[RoundFigures, Scope]] = []
    for rid, other in await earlier_rounds(
        session, figures.round_id, scope, k_brand=k_brand, k_cso=k_cso
    ):
        allowed = wanted if other.factory_ids is None else wanted & other.factory_ids
        if allowed:
            history.append((await compute_figures(session, rid, wages, allowed), other))
    history.append((figures, scope))
    return factory_trends(history, [f.factory_id for f in mine], line_start(wages))


def factory_trends(
    history: Sequence[tuple[RoundFigures, Scope]], factory_ids: Sequence[int], side_of: SideOf
) -> tuple[FactoryTrend, ...]:
    """The trends of the factories from their raw figures in each round (oldest first) and
    what the audience may see of each round (no I/O)."""
    trends = []
    for fid in factory_ids:
        rounds: list[TrendRound] = []
        previous: tuple[Share, Tally] | None = None
        code = name = ""
        for rnd, s in history:
            found = next((x for x in rnd.factories if x.factory_id == fid), None)
            if found is None or (s.factory_ids is not None and fid not in s.factory_ids):
                continue
            code, name = found.code, found.name
            tr = _trend_round(rnd, found, side_of, s.k, s.small)
            paid, t = tr.point.paid_at_least_minimum, found.total
            if previous is not None:
                before, bt = previous
                tr = TrendRound(
                    point=tr.point,
                    change=change(
                        before,
                        paid,
                        (bt.at_least_minimum, t.at_least_minimum),
                        (bt.assessed, t.assessed),
                    ),
                    sides=tr.sides,
                    side_change=tr.side_change,
                    sides_withheld=tr.sides_withheld,
                )
            rounds.append(tr)
            previous = (paid, t)
        trends.append(FactoryTrend(code=code, name=name, rounds=tuple(rounds)))
    return tuple(trends)
