"""Per-factory figures of a round: respondents and the share paid at least the legal minimum."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.reports.intervals import wilson_interval
from bot.storage.models import Answer, Response, Round
from bot.survey.definition import Survey
from bot.wages import WageTable


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
    """Compare each complete answer's pay with the minimum in force for its month, region, grade."""
    rnd = await session.get(Round, round_id)
    if rnd is None:
        raise KeyError(f"no round {round_id}")
    survey = Survey.model_validate(rnd.survey_version.definition)
    roles = {role: survey.with_role(role) for role in ("grade", "pay_month", "pay", "full_month")}
    grade_of = (
        {c.id: c.grade or "unskilled" for c in roles["grade"].choices} if roles["grade"] else {}
    )
    wanted = [q.id for q in roles.values() if q is not None]

    rows = (
        await session.execute(
            select(
                Response.id,
                Response.factory_id,
                Answer.question_id,
                Answer.value_text,
                Answer.value_number,
            )
            .join(Answer, Answer.response_id == Response.id)
            .where(
                Response.round_id == round_id,
                Response.status == "complete",
                Answer.question_id.in_(wanted),
            )
        )
    ).all()
    per_response: dict[int, dict[str, object]] = defaultdict(dict)
    factory_of: dict[int, int] = {}
    for rid, fid, qid, text, number in rows:
        per_response[rid][qid] = number if number is not None else text
        factory_of[rid] = fid
    complete = (
        await session.execute(
            select(Response.factory_id, Response.id).where(
                Response.round_id == round_id, Response.status == "complete"
            )
        )
    ).all()
    respondents: dict[int, int] = defaultdict(int)
    for fid, _ in complete:
        respondents[fid] += 1

    assessed: dict[int, int] = defaultdict(int)
    ok: dict[int, int] = defaultdict(int)
    regions = {rf.factory_id: rf.factory.region for rf in rnd.factories}
    for rid, answers in per_response.items():
        pay = answers.get(roles["pay"].id) if roles["pay"] else None
        month = answers.get(roles["pay_month"].id) if roles["pay_month"] else None
        full = answers.get(roles["full_month"].id) if roles["full_month"] else "yes"
        if pay is None or month is None or full != "yes":
            continue
        grade = grade_of.get(
            str(answers.get(roles["grade"].id if roles["grade"] else "")), "unskilled"
        )
        year, mon = str(month).split("-")
        fid = factory_of[rid]
        minimum = wages.minimum_for(regions[fid], grade, date(int(year), int(mon), 1))
        if minimum is None:
            continue
        assessed[fid] += 1
        ok[fid] += float(pay) >= minimum.amount  # type: ignore[arg-type]

    factories = [
        FactoryResult(
            code=rf.factory.code,
            name=rf.factory.name,
            region=rf.factory.region,
            respondents=respondents[rf.factory_id],
            headcount=rf.factory.headcount,
            assessed=assessed[rf.factory_id],
            at_least_minimum=ok[rf.factory_id],
            suppressed=assessed[rf.factory_id] < k,
        )
        for rf in sorted(rnd.factories, key=lambda rf: rf.factory.code)
    ]
    return RoundResults(round_id=rnd.id, name=rnd.name, status=rnd.status, k=k, factories=factories)
