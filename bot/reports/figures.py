"""Raw figures of a round, before any disclosure control: one query, one pass in Python.

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

import json
from collections import Counter
from collections.abc import Set
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Text, and_, case, cast, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reports.intervals import wilson_interval
from bot.storage.models import Answer, Organisation, Response, Round
from bot.survey.definition import Question, Survey
from bot.wages import UNSKILLED, MinimumWage, WageEntry, WageTable

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


@dataclass
class YesTally:
    """Answers to a yes/no question: how many answered, said yes, said "don't know"."""

    n: int = 0
    yes: int = 0
    dont_know: int = 0

    def add(self, value: str | None) -> None:
        if value is None:
            return
        self.n += 1
        self.yes += value == "yes"
        self.dont_know += value == "dont_know"

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
    minimums: Counter[MinimumKey] = field(default_factory=Counter)  # table lines used
    months: Counter[str] = field(default_factory=Counter)  # "YYYY-MM" pay months assessed
    pay_rise: YesTally = field(default_factory=YesTally)
    payslip: YesTally = field(default_factory=YesTally)
    deductions: YesTally = field(default_factory=YesTally)
    methods_n: int = 0
    methods: Counter[str] = field(default_factory=Counter)

    def merge(self, other: Tally) -> None:
        self.respondents += other.respondents
        self.assessed += other.assessed
        self.at_least_minimum += other.at_least_minimum
        self.pays += other.pays
        self.ratios += other.ratios
        self.minimums.update(other.minimums)
        self.months.update(other.months)
        self.pay_rise.merge(other.pay_rise)
        self.payslip.merge(other.payslip)
        self.deductions.merge(other.deductions)
        self.methods_n += other.methods_n
        self.methods.update(other.methods)

    @classmethod
    def pooled(cls, tallies: list[Tally]) -> Tally:
        total = cls()
        for t in tallies:
            total.merge(t)
        return total


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
    # breakdown question id -> group (choice id or NOT_ANSWERED) -> tally
    by: dict[str, dict[str, Tally]] = field(default_factory=dict)
    # For the CSO's data-quality checks:
    started: int = 0  # complete + in progress
    completion_hours: Counter[datetime] = field(default_factory=Counter)
    implausible_pays: int = 0


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


def _answer_column(qid: str | None, column: Any) -> Any:
    """One answer of a response as a column of the per-response row (NULL when unanswered)."""
    if qid is None:
        return cast(None, Text)
    return func.max(case((Answer.question_id == qid, column)))


async def compute_figures(
    session: AsyncSession,
    round_id: int,
    wages: WageTable,
    factory_ids: Set[int] | None = None,
) -> RoundFigures:
    """Raw figures per factory (all of the round's, or only `factory_ids`), from the database."""
    rnd = await session.get(Round, round_id)
    if rnd is None:
        raise KeyError(f"no round {round_id}")
    cso = await session.get(Organisation, rnd.cso_id)
    survey = Survey.model_validate(rnd.survey_version.definition)
    role = {r: survey.with_role(r) for r in ("grade", "pay_month", "pay", "full_month")}
    present = {q.id: q for q in survey.questions}

    def qid(name: str) -> str | None:
        return name if name in present else None

    grade_of = {c.id: c.grade or UNSKILLED for c in role["grade"].choices} if role["grade"] else {}
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
    text = Answer.value_text
    columns = {
        "job": _answer_column(role["grade"].id if role["grade"] else None, text),
        "month": _answer_column(role["pay_month"].id if role["pay_month"] else None, text),
        "full": _answer_column(role["full_month"].id if role["full_month"] else None, text),
        "pay": _answer_column(role["pay"].id if role["pay"] else None, Answer.value_number),
        EMPLOYMENT: _answer_column(qid(EMPLOYMENT), text),
        GENDER: _answer_column(qid(GENDER), text),
        PAY_RISE: _answer_column(qid(PAY_RISE), text),
        PAYSLIP: _answer_column(qid(PAYSLIP), text),
        DEDUCTIONS: _answer_column(qid(DEDUCTIONS), text),
        PAYMENT_METHOD: _answer_column(qid(PAYMENT_METHOD), cast(Answer.value_json, Text)),
    }
    wanted = [
        q
        for q in (
            *(r.id for r in role.values() if r is not None),
            *(qid(n) for n in (*BREAKDOWNS, PAY_RISE, PAYSLIP, DEDUCTIONS, PAYMENT_METHOD)),
        )
        if q is not None
    ]
    where = [Response.round_id == round_id, Response.status == "complete"]
    if factory_ids is not None:
        where.append(Response.factory_id.in_(sorted(factory_ids)))
    # One row per complete response, its answers pivoted into columns by the database: the
    # database does the heavy part (the join over all answers) and Python sees ~1 row per worker.
    query = (
        select(Response.factory_id, *(c.label(name) for name, c in columns.items()))
        .select_from(Response)
        .outerjoin(Answer, and_(Answer.response_id == Response.id, Answer.question_id.in_(wanted)))
        .where(*where)
        .group_by(Response.id, Response.factory_id)
    )
    factories: dict[int, FactoryFigures] = {}
    for rf in sorted(rnd.factories, key=lambda rf: rf.factory.code):
        if factory_ids is not None and rf.factory_id not in factory_ids:
            continue
        f = rf.factory
        factories[f.id] = FactoryFigures(
            factory_id=f.id,
            code=f.code,
            name=f.name,
            region=f.region,
            city=f.city,
            os_id=f.os_id,
            headcount=f.headcount,
            by={b: {} for b in groups},
        )
    lookup: dict[tuple[str, str, str], tuple[float, MinimumKey] | None] = {}
    entries: dict[MinimumKey, WageEntry] = {}
    plausible = _plausible_range(role["pay"])
    # Tallies per (factory, employment, gender): one `add` per response, merged afterwards.
    cells: dict[tuple[int, str, str], Tally] = {}
    result = await session.execute(query)
    for row in result:
        fid, job, month, full, pay, employment, gender, rise, slip, deduct, paid_by = row
        ff = factories.get(fid)
        if ff is None:  # a response in a factory no longer part of the round
            continue
        key = (fid, employment or NOT_ANSWERED, gender or NOT_ANSWERED)
        t = cells.get(key)
        if t is None:
            t = cells[key] = Tally()
        t.respondents += 1
        if pay is not None and (full == "yes" or role["full_month"] is None) and month:
            grade = grade_of.get(job or "", UNSKILLED)
            mkey = (ff.region, grade, month)
            if mkey not in lookup:
                found = _minimum(wages, ff.region, grade, month)
                if found is None:
                    lookup[mkey] = None
                else:
                    ekey = (found.entry.region, found.grade_used, found.entry.in_force_from)
                    entries[ekey] = found.entry
                    lookup[mkey] = (float(found.amount), ekey)
            applies = lookup[mkey]
            if applies is not None:
                amount, ekey = applies
                pay = float(pay)
                t.assessed += 1
                t.at_least_minimum += pay >= amount
                t.pays.append(pay)
                t.ratios.append(pay / amount)
                t.minimums[ekey] += 1
                t.months[month] += 1
            if plausible and not plausible[0] <= float(pay) <= plausible[1]:
                ff.implausible_pays += 1
        t.pay_rise.add(rise)
        t.payslip.add(slip)
        t.deductions.add(deduct)
        if paid_by is not None:
            t.methods_n += 1
            t.methods.update(_methods(paid_by))
    for (fid, employment, gender), t in cells.items():
        ff = factories[fid]
        ff.total.merge(t)
        for b, value in ((EMPLOYMENT, employment), (GENDER, gender)):
            if b in ff.by:
                ff.by[b].setdefault(value, Tally()).merge(t)
    return RoundFigures(
        round_id=rnd.id,
        name=rnd.name,
        status=rnd.status,
        cso=cso.name if cso else "",
        opened_on=rnd.opens_at.date() if rnd.opens_at else None,
        closed_on=rnd.closes_at.date() if rnd.closes_at and rnd.status != "open" else None,
        survey=survey,
        factories=list(factories.values()),
        groups=groups,
        payment_methods=methods,
        pay_question=role["pay"],
        wage_entries=entries,
    )


async def add_progress_counts(session: AsyncSession, figures: RoundFigures) -> None:
    """Started responses and completion hours per factory (for the CSO's data-quality flags)."""
    by_id = {f.factory_id: f for f in figures.factories}
    rows = await session.execute(
        select(Response.factory_id, Response.status, Response.completed_hour, func.count())
        .where(Response.round_id == figures.round_id)
        .group_by(Response.factory_id, Response.status, Response.completed_hour)
    )
    for fid, status, hour, n in rows:
        ff = by_id.get(fid)
        if ff is None:
            continue
        ff.started += n
        if status == "complete" and hour is not None:
            ff.completion_hours[hour] += n


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


def _methods(stored: str) -> list[str]:
    value = json.loads(stored)
    if isinstance(value, str):  # a JSON column read back as text may be double-encoded
        value = json.loads(value)
    return [str(v) for v in value] if isinstance(value, list) else []


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
    "add_progress_counts",
    "compute_figures",
    "compute_round_results",
]
