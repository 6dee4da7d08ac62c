"""Raw figures of a round, before any disclosure control: one aggregate query, then tallies.

Nothing here decides what may be shown; `bot/reports/disclosure.py` does. The figures are kept
as mergeable tallies so that disclosure can pool exactly the cells it releases.

Which answers count (docs/report-format.md, "Method"):
- respondents are the *complete* responses of a factory;
- a response is *assessed* when the worker worked the full month, gave a pay figure and a
  month, and the wage table has a minimum in force for that month, region and grade; it is
  compared with that minimum (`WageTable.minimum_for`, which falls back to the unskilled
  figure when a grade has none). A response without a job answer is compared with the
  unskilled minimum, the lowest bar, so the share is never overstated by a missing grade.
"""

from __future__ import annotations

import sqlite3
from collections import Counter, defaultdict
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    Integer,
    Text,
    and_,
    case,
    cast,
    func,
    join,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.types import NullType

from bot.enums import RoundStatus
from bot.reports.intervals import wilson_interval
from bot.reports.nogc import no_gc_pauses
from bot.storage.models import (
    Answer,
    Factory,
    Organisation,
    Response,
    Round,
    RoundFactory,
    SurveyVersion,
)
from bot.survey.definition import Question, Survey
from bot.wages import UNSKILLED, MinimumWage, WageEntry, WageTable, staleness

# Questions the report reads by id (the four wage roles are found by `role` instead).
EMPLOYMENT = "employment"
GENDER = "gender"
PAY_RISE = "pay_rise"
PAYSLIP = "payslip"
DEDUCTIONS = "deductions"
PAYMENT_METHOD = "payment_method"
BREAKDOWNS = (EMPLOYMENT, GENDER)
NOT_ANSWERED = "_none"  # breakdown group of responses without an answer to that question


# A line of the wage table as applied: (region, grade used, in force from).
MinimumKey = tuple[str, str, date]


def add_counts(into: dict[Any, int], counts: dict[Any, int]) -> None:
    """Add `counts` into `into`, key by key (Counter.update without its overhead)."""
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


@dataclass
class YesTally:
    """Answers to a yes/no question: how many answered, said yes, said "don't know"."""

    n: int = 0
    yes: int = 0
    dont_know: int = 0

    def merge(self, other: YesTally) -> None:
        self.n += other.n
        self.yes += other.yes
        self.dont_know += other.dont_know


@dataclass
class Tally:
    """Raw figures of a group of complete responses; merging two groups pools them."""

    respondents: int = 0
    assessed: int = 0
    at_least_minimum: int = 0
    pays: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)  # pay / applicable minimum
    # Plain dicts, not Counters: a big round makes tens of thousands of tallies.
    minimums: set[MinimumKey] = field(default_factory=set)  # table lines used
    months: set[str] = field(default_factory=set)  # "YYYY-MM" pay months assessed
    pay_rise: YesTally = field(default_factory=YesTally)
    payslip: YesTally = field(default_factory=YesTally)
    deductions: YesTally = field(default_factory=YesTally)
    methods_n: int = 0
    methods: dict[str, int] = field(default_factory=dict)

    def merge(self, other: Tally) -> None:
        self.respondents += other.respondents
        self.assessed += other.assessed
        self.at_least_minimum += other.at_least_minimum
        self.pays += other.pays
        self.ratios += other.ratios
        self.minimums |= other.minimums
        self.months |= other.months
        self.pay_rise.merge(other.pay_rise)
        self.payslip.merge(other.payslip)
        self.deductions.merge(other.deductions)
        self.methods_n += other.methods_n
        add_counts(self.methods, other.methods)


@dataclass
class FactoryFigures:
    factory_id: int
    code: str
    name: str
    region: str
    city: str
    os_id: str | None
    headcount: int | None
    total: Tally = field(default_factory=Tally)
    # breakdown question id -> group (choice id or NOT_ANSWERED) -> tally, of which only
    # respondents, assessed and at_least_minimum are filled (what a breakdown cell shows)
    by: dict[str, dict[str, Tally]] = field(default_factory=dict)
    # For the CSO's data-quality checks:
    started: int = 0  # complete + in progress
    busiest_hour: int = 0  # most completions within one clock hour (hours are rounded)
    implausible_pays: int = 0
    # Pay month ("YYYY-MM") -> pay / applicable minimum of each assessed answer about it: the
    # two sides of a raise within one round (bot/reports/trends.py).
    month_ratios: dict[str, list[float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Group:
    """A breakdown group: the choice id and its English label (a msgid of the survey)."""

    id: str
    label: str


@dataclass
class RoundFigures:
    round_id: int
    name: str
    status: str
    cso: str
    opened_on: date | None
    closed_on: date | None
    survey: Survey
    factories: list[FactoryFigures]
    groups: dict[str, list[Group]]  # breakdown question id -> its groups, in survey order
    payment_methods: list[Group]
    pay_question: Question | None
    wage_entries: dict[MinimumKey, WageEntry]  # the table lines behind Tally.minimums
    # Pay months compared with a line although their fiscal year had no line yet (stale).
    stale_months: dict[MinimumKey, set[str]] = field(default_factory=dict)


async def compute_figures(
    session: AsyncSession,
    round_id: int,
    wages: WageTable,
    factory_ids: Set[int] | None = None,
    *,
    quality: bool = False,
) -> RoundFigures:
    """Raw figures per factory (all of the round's, or only `factory_ids`), from the database;
    with `quality`, also the busiest completion hour of each factory (CSO data-quality checks).

    One aggregate query does the heavy part: it joins each complete response with its answers,
    looks up the minimum in force (a CASE built from the wage table), and returns one row per
    factory, employment type and gender, with the counts and the pay figures concatenated.
    """
    # Core selects, not ORM objects: a round may have a thousand factories.
    rnd = (
        await session.execute(
            select(
                Round.id,
                Round.name,
                Round.status,
                Round.opens_at,
                Round.closes_at,
                Organisation.name.label("cso"),
                SurveyVersion.definition,
            )
            .join(Organisation, Organisation.id == Round.cso_id)
            .join(SurveyVersion, SurveyVersion.id == Round.survey_version_id)
            .where(Round.id == round_id)
        )
    ).first()
    if rnd is None:
        raise KeyError(f"no round {round_id}")
    survey = Survey.model_validate(rnd.definition)
    role = {r: survey.with_role(r) for r in ("grade", "pay_month", "pay", "full_month")}
    present = {q.id: q for q in survey.questions}
    groups = {
        b: [Group(c.id, c.label) for c in present[b].choices]
        for b in BREAKDOWNS
        if b in present and present[b].choices
    }
    methods = (
        [Group(c.id, c.label) for c in present[PAYMENT_METHOD].choices]
        if PAYMENT_METHOD in present
        else []
    )
    factory_rows = await session.execute(
        select(
            Factory.id,
            Factory.code,
            Factory.name,
            Factory.region,
            Factory.city,
            Factory.os_id,
            Factory.headcount,
        )
        .join(RoundFactory, RoundFactory.factory_id == Factory.id)
        .where(RoundFactory.round_id == round_id)
        .order_by(Factory.code)
    )
    factories: dict[int, FactoryFigures] = {}
    for fid, code, name, region, city, os_id, headcount in factory_rows:
        if factory_ids is not None and fid not in factory_ids:
            continue
        factories[fid] = FactoryFigures(
            factory_id=fid,
            code=code,
            name=name,
            region=region,
            city=city,
            os_id=os_id,
            headcount=headcount,
            by={b: {} for b in groups},
        )
    figures = RoundFigures(
        round_id=rnd.id,
        name=rnd.name,
        status=rnd.status,
        cso=rnd.cso,
        opened_on=rnd.opens_at.date() if rnd.opens_at else None,
        closed_on=rnd.closes_at.date()
        if rnd.closes_at and rnd.status != RoundStatus.OPEN
        else None,
        survey=survey,
        factories=list(factories.values()),
        groups=groups,
        payment_methods=methods,
        pay_question=role["pay"],
        wage_entries={},
    )
    if not factories:
        return figures
    grade_of = {c.id: c.grade or UNSKILLED for c in role["grade"].choices} if role["grade"] else {}
    query = _aggregate_query(
        dialect=session.bind.dialect.name if session.bind else "sqlite",
        round_id=round_id,
        only_factories=None if factory_ids is None else sorted(factories),
        role={name: q.id if q else None for name, q in role.items()},
        present=set(present),
        grade_of=grade_of,
        regions=sorted({f.region for f in factories.values()}),
        wages=wages,
        methods=[m.id for m in methods],
        plausible=_plausible_range(role["pay"]),
        hours=quality,
    )
    connection = await session.connection()  # Core rows: no ORM result processing
    rows = (await connection.execute(query)).all()
    with no_gc_pauses():
        _count(rows, factories, figures, wages, [m.id for m in methods], quality)
    return figures


def _count(
    rows: Sequence[Any],
    factories: dict[int, FactoryFigures],
    figures: RoundFigures,
    wages: WageTable,
    method_ids: list[str],
    quality: bool,
) -> None:
    """Fill the factories' tallies from the aggregate rows (no I/O)."""
    hour_counts: dict[int, Counter[Any]] = defaultdict(Counter)
    lines: dict[tuple[str, str, str], MinimumKey | None] = {}
    for row in rows:
        ff = factories[row[0]]
        ff.started += row[3]
        if row[-2] != "complete":  # unfinished answers count only as started
            continue
        _, employment, gender, n, assessed, ok, pays, ratios, grade_months, implausible = row[:10]
        # Straight into the factory's total: no tally per row, nothing to merge afterwards.
        t = ff.total
        t.respondents += n
        t.assessed += assessed
        t.at_least_minimum += ok
        t.pays += _floats(pays)
        row_ratios = _floats(ratios)
        t.ratios += row_ratios
        # The same assessed answers in the same order as the ratios (one pass of one group).
        for month, ratio in zip(_texts(row[-3]), row_ratios, strict=True):
            ff.month_ratios.setdefault(month, []).append(ratio)
        t.pay_rise.n += row[10]
        t.pay_rise.yes += row[11]
        t.pay_rise.dont_know += row[12]
        t.payslip.n += row[13]
        t.payslip.yes += row[14]
        t.deductions.n += row[15]
        t.deductions.yes += row[16]
        t.deductions.dont_know += row[17]
        t.methods_n += row[18]
        for i, m in enumerate(method_ids):
            t.methods[m] = t.methods.get(m, 0) + row[19 + i]
        for combo in _texts(grade_months):
            grade, _, month = combo.partition("@")
            key = (ff.region, grade, month)
            if key not in lines:
                lines[key] = _line(wages, key, figures.wage_entries, figures.stale_months)
            line = lines[key]
            if line is not None:
                t.minimums.add(line)
            t.months.add(month)
        ff.implausible_pays += implausible
        if quality:
            hour_counts[ff.factory_id].update(_texts(row[-1]))
        # Breakdown cells show respondents and the share paid at least the minimum only.
        for b, value in ((EMPLOYMENT, employment), (GENDER, gender)):
            if b in ff.by:
                group = ff.by[b].get(value or NOT_ANSWERED)
                if group is None:
                    ff.by[b][value or NOT_ANSWERED] = group = Tally()
                group.respondents += n
                group.assessed += assessed
                group.at_least_minimum += ok
    for fid, counts in hour_counts.items():
        factories[fid].busiest_hour = max(counts.values(), default=0)


def _aggregate_query(
    *,
    dialect: str,
    round_id: int,
    only_factories: list[int] | None,
    role: dict[str, str | None],
    present: set[str],
    grade_of: dict[str, str],
    regions: list[str],
    wages: WageTable,
    methods: list[str],
    plausible: tuple[float, float] | None,
    hours: bool,
) -> Any:
    """One row per factory, employment type, gender and response status (complete or not)."""
    joined: Any = join(Response, Factory, Factory.id == Response.factory_id)

    def answer(qid: str | None, column: str = "value_text") -> Any:
        """The answer to `qid` as a column (one LEFT JOIN per question; NULL if unanswered)."""
        nonlocal joined
        if qid is None or qid not in present:
            return null()
        a = aliased(Answer, name=f"a_{qid}")
        joined = joined.outerjoin(a, and_(a.response_id == Response.id, a.question_id == qid))
        value = getattr(a, column)
        return cast(value, Text) if column == "value_json" else value

    job = answer(role["grade"])
    month = answer(role["pay_month"])
    full = answer(role["full_month"]) if role["full_month"] else literal("yes")
    pay = answer(role["pay"], "value_number")
    grade = _grade_case(job, grade_of)
    minimum = case(
        *(
            (Factory.region == region, _minimum_case(wages, region, job, month, grade_of))
            for region in regions
        ),
        else_=null(),
    )
    rows_query = (
        select(
            Response.factory_id.label("factory_id"),
            answer(EMPLOYMENT).label("employment"),
            answer(GENDER).label("gender"),
            case((and_(full == "yes", pay.is_not(None)), pay), else_=null()).label("pay"),
            minimum.label("minimum"),
            grade.label("grade"),
            month.label("month"),
            answer(PAY_RISE).label("rise"),
            answer(PAYSLIP).label("slip"),
            answer(DEDUCTIONS).label("deduct"),
            answer(PAYMENT_METHOD, "value_json").label("paid_by"),
            Response.status.label("status"),
            Response.completed_hour.label("hour"),
        )
        .select_from(joined)
        .where(
            Response.round_id == round_id,
            *(() if only_factories is None else (Response.factory_id.in_(only_factories),)),
        )
    )
    if dialect == "sqlite" and sqlite3.sqlite_version_info >= (3, 35):
        # Computed once per response; SQLite would otherwise copy the CASE into every
        # aggregate that uses it (about 20% slower on a 100,000-response round).
        per_response: Any = rows_query.cte("per_response").prefix_with("MATERIALIZED")
    else:
        per_response = rows_query.subquery("per_response")
    c = per_response.c
    assessed = and_(c.pay.is_not(None), c.minimum.is_not(None))

    def count_if(condition: Any) -> Any:
        return func.count(case((condition, 1), else_=null()))

    def collect(value: Any, condition: Any, distinct: bool = False) -> Any:
        """The group's values where `condition` holds: an array on PostgreSQL (decoded by the
        driver, no text round trip), a comma-separated text on SQLite."""
        if dialect == "postgresql":
            # NullType: the driver's list as it is, without SQLAlchemy's per-item processing.
            return func.array_agg(value.distinct() if distinct else value, type_=NullType()).filter(
                condition
            )
        value = case((condition, value), else_=null())
        return func.group_concat(value.distinct() if distinct else value)

    # The completion hour as a number on PostgreSQL (cheaper to send than timestamps).
    hour = cast(func.extract("epoch", c.hour), Integer) if dialect == "postgresql" else c.hour

    implausible = (
        count_if(or_(c.pay < plausible[0], c.pay > plausible[1])) if plausible else literal(0)
    )
    return select(
        c.factory_id,
        c.employment,
        c.gender,
        func.count().label("n"),
        count_if(assessed).label("assessed"),
        count_if(and_(assessed, c.pay >= c.minimum)).label("ok"),
        collect(c.pay, assessed).label("pays"),
        collect(c.pay / c.minimum, assessed).label("ratios"),
        collect(c.grade + "@" + c.month, assessed, distinct=True).label("grade_months"),
        implausible.label("implausible"),
        func.count(c.rise).label("rise_n"),
        count_if(c.rise == "yes").label("rise_yes"),
        count_if(c.rise == "dont_know").label("rise_dk"),
        func.count(c.slip).label("slip_n"),
        count_if(c.slip == "yes").label("slip_yes"),
        func.count(c.deduct).label("deduct_n"),
        count_if(c.deduct == "yes").label("deduct_yes"),
        count_if(c.deduct == "dont_know").label("deduct_dk"),
        func.count(c.paid_by).label("methods_n"),
        *(count_if(c.paid_by.like(f'%"{m}"%')).label(f"method_{m}") for m in methods),
        collect(c.month, assessed).label("ratio_months"),
        c.status,
        (collect(hour, c.hour.is_not(None)) if hours else null()).label("hours"),
    ).group_by(c.factory_id, c.employment, c.gender, c.status)


def _grade_case(job: Any, grade_of: dict[str, str]) -> Any:
    """The wage grade of the job answer (unskilled when none)."""
    by_grade: dict[str, list[str]] = defaultdict(list)
    for choice, grade in grade_of.items():
        by_grade[grade].append(choice)
    whens = [(job.in_(jobs), literal(g)) for g, jobs in by_grade.items() if g != UNSKILLED]
    return case(*whens, else_=literal(UNSKILLED)) if whens else literal(UNSKILLED)


def _minimum_case(
    wages: WageTable, region: str, job: Any, month: Any, grade_of: dict[str, str]
) -> Any:
    """The minimum in force for the month and grade, in one region, as SQL."""
    by_grade: dict[str, list[str]] = defaultdict(list)
    for choice, grade in grade_of.items():
        by_grade[grade].append(choice)
    whens = [
        (job.in_(jobs), _month_case(wages, region, grade, month))
        for grade, jobs in by_grade.items()
        if grade != UNSKILLED
    ]
    unskilled = _month_case(wages, region, UNSKILLED, month)
    return case(*whens, else_=unskilled) if whens else unskilled


def _month_case(wages: WageTable, region: str, grade: str, month: Any) -> Any:
    """CASE WHEN month >= '2025-07' THEN 40000 WHEN ...: `WageTable.minimum_for`, evaluated at
    every month where a line of the region's table takes effect (NULL before the first)."""
    ranges = _month_ranges(wages, region, grade)
    if not any(amount for _, amount in ranges):
        return null()
    whens = [
        (month >= start, literal(float(amount)) if amount else null())
        for start, amount in reversed(ranges)
    ]
    return case(*whens, else_=null())


def _month_ranges(wages: WageTable, region: str, grade: str) -> list[tuple[str, int | None]]:
    """[(first month "YYYY-MM", amount or None)], ascending; each amount holds until the next."""
    starts = sorted({_first_month(e.in_force_from) for e in wages.entries if e.region == region})
    ranges: list[tuple[str, int | None]] = []
    for start in starts:
        try:
            found = wages.minimum_for(region, grade, date(int(start[:4]), int(start[5:]), 1))
        except KeyError:
            return []
        amount = found.amount if found else None
        if not ranges or ranges[-1][1] != amount:
            ranges.append((start, amount))
    return ranges


def _first_month(day: date) -> str:
    """The first month whose first day is on or after `day` (raises apply from a 1st)."""
    if day.day != 1:
        day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return f"{day.year:04d}-{day.month:02d}"


def _floats(values: str | list[float] | None) -> list[float]:
    """Collected numbers: a PostgreSQL array, or SQLite's comma-separated text."""
    if isinstance(values, list):
        return values
    return list(map(float, values.split(","))) if values else []


def _texts(values: str | list[Any] | None) -> list[Any]:
    """Collected texts (or timestamps): a PostgreSQL array, or SQLite's comma-separated text."""
    if isinstance(values, list):
        return values
    return values.split(",") if values else []


def _line(
    wages: WageTable,
    key: tuple[str, str, str],
    entries: dict[MinimumKey, WageEntry],
    stale: dict[MinimumKey, set[str]],
) -> MinimumKey | None:
    """The table line behind the minimum for (region, grade, "YYYY-MM"); the month is noted
    in `stale` when its fiscal year has no line of the region yet."""
    found = _minimum(wages, *key)
    if found is None:
        return None
    line = (found.entry.region, found.grade_used, found.entry.in_force_from)
    entries[line] = found.entry
    year, mon = key[2].split("-")
    if staleness(wages, key[0], date(int(year), int(mon), 1)).stale:
        stale.setdefault(line, set()).add(key[2])
    return line


def _plausible_range(q: Question | None) -> tuple[float, float] | None:
    if q is None or q.plausible_min is None or q.plausible_max is None:
        return None
    return float(q.plausible_min), float(q.plausible_max)


def _minimum(wages: WageTable, region: str, grade: str, month: str) -> MinimumWage | None:
    try:
        year, mon = month.split("-")
        return wages.minimum_for(region, grade, date(int(year), int(mon), 1))
    except (KeyError, ValueError):
        return None


# --------------------------------------------------------------- the first version's API


@dataclass(frozen=True)
class FactoryResult:
    code: str
    name: str
    region: str
    respondents: int  # complete responses
    headcount: int | None
    # Among complete responses about a full month with a pay figure:
    assessed: int
    at_least_minimum: int
    suppressed: bool  # fewer than k behind the share: no figure may be shown

    @property
    def share(self) -> float | None:
        if self.suppressed or self.assessed == 0:
            return None
        return self.at_least_minimum / self.assessed

    @property
    def ci95(self) -> tuple[float, float] | None:
        if self.suppressed or self.assessed == 0:
            return None
        return wilson_interval(self.at_least_minimum, self.assessed)

    @property
    def response_rate(self) -> float | None:
        if not self.headcount or self.respondents == 0:
            return None
        return self.respondents / self.headcount


@dataclass(frozen=True)
class RoundResults:
    round_id: int
    name: str
    status: str
    k: int
    factories: list[FactoryResult]


async def compute_round_results(
    session: AsyncSession, round_id: int, wages: WageTable, k: int
) -> RoundResults:
    """The share paid at least the minimum per factory, with the small-cell flag (CSO view)."""
    figures = await compute_figures(session, round_id, wages)
    return RoundResults(
        round_id=figures.round_id,
        name=figures.name,
        status=figures.status,
        k=k,
        factories=[
            FactoryResult(
                code=f.code,
                name=f.name,
                region=f.region,
                respondents=f.total.respondents,
                headcount=f.headcount,
                assessed=f.total.assessed,
                at_least_minimum=f.total.at_least_minimum,
                suppressed=f.total.assessed < k,
            )
            for f in figures.factories
        ],
    )


__all__ = [
    "BREAKDOWNS",
    "NOT_ANSWERED",
    "FactoryFigures",
    "FactoryResult",
    "Group",
    "RoundFigures",
    "RoundResults",
    "Tally",
    "YesTally",
    "compute_figures",
    "compute_round_results",
]
