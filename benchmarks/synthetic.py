"""Synthetic rounds written straight into the database, for benchmarks and property tests.

Set-up (organisations, factories, the round) goes through the real `AdminService`; responses
and answers are bulk-inserted with SQLAlchemy Core, shaped exactly as the inbound service
stores them (`bot/service/inbound.py`): one `answers` row per question, `value_text` for
choices and yes/no, `value_number` for the pay, `value_json` for the payment methods.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, insert, select, text

from bot.bootstrap import App
from bot.storage.models import Answer, Factory, Response, Round

BATCH = 5_000


@dataclass(frozen=True)
class Answers:
    """One worker's answers to the shipped survey (sindh-minimum-wage)."""

    job: str = "helper"
    employment: str = "permanent"
    month: str = "2026-10"
    full_month: bool = True
    pay: int | None = 40_000
    pay_rise: str = "yes"
    payslip: str = "no"
    methods: tuple[str, ...] = ("cash",)
    deductions: str = "no"
    gender: str = "woman"
    comment: str | None = None
    opt_in: str = "no"
    complete: bool = True
    completed_hour: datetime | None = None
    day: date = field(default_factory=lambda: date(2026, 11, 20))

    def rows(self, response_id: int) -> list[dict[str, object]]:
        """The answers table rows, in the order the survey asks."""
        values: list[tuple[str, str, object]] = [
            ("job", "single", self.job),
            ("employment", "single", self.employment),
            ("pay_month", "month", self.month),
            ("full_month", "yes_no", "yes" if self.full_month else "no"),
        ]
        if self.full_month and self.pay is not None:
            values.append(("pay", "number", float(self.pay)))
        values += [
            ("pay_rise", "yes_no", self.pay_rise),
            ("payslip", "yes_no", self.payslip),
            ("payment_method", "multiple", list(self.methods)),
            ("deductions", "yes_no", self.deductions),
            ("gender", "single", self.gender),
        ]
        if self.comment is not None:
            values.append(("comment", "text", self.comment))
        values.append(("contact_opt_in", "yes_no", self.opt_in))
        if not self.complete:
            values = values[: len(values) // 2]
        rows = []
        for qid, kind, value in values:
            rows.append(
                {
                    "response_id": response_id,
                    "question_id": qid,
                    "kind": kind,
                    "value_text": value if isinstance(value, str) else None,
                    "value_number": value if isinstance(value, float) else None,
                    "value_json": value if isinstance(value, list) else None,
                    "answered_on": self.day,
                }
            )
        return rows


async def set_up_round(
    app: App,
    factories: Sequence[tuple[str, int | None]],
    *,
    cso: str = "Synthetic CSO",
    brands: dict[str, Sequence[str]] | None = None,
    region: str = "sindh",
    name: str = "Synthetic round",
) -> tuple[int, dict[str, int]]:
    """Register a CSO, brands and factories (code, headcount) and open a round for them;
    returns the round id and each factory's database id by code."""
    admin = app.admin
    await admin.add_org(cso, "cso")
    csv = "code,name,region,city,os_id,headcount\n" + "".join(
        f"{code},Factory {code},{region},Karachi,,{headcount or ''}\n"
        for code, headcount in factories
    )
    await admin.import_factories(csv)
    for brand, codes in (brands or {}).items():
        await admin.add_org(brand, "brand")
        await admin.link(brand, codes)
    rnd = await admin.open_round(name, cso, app.survey, [code for code, _ in factories])
    async with app.db.transaction() as s:
        ids = dict(
            (
                await s.execute(
                    select(Factory.code, Factory.id).where(
                        Factory.code.in_([code for code, _ in factories])
                    )
                )
            ).all()
        )
    return rnd.id, ids


async def insert_responses(
    app: App, round_id: int, workers: Iterable[tuple[int, Answers]], channel: str = "synthetic"
) -> int:
    """Bulk-insert (factory id, answers) pairs as responses of the round; returns how many."""
    async with app.db.transaction() as s:
        rnd = await s.get(Round, round_id)
        assert rnd is not None
        version = rnd.survey_version_id
        next_id = (await s.scalar(select(func.coalesce(func.max(Response.id), 0)))) + 1
    written = 0
    responses: list[dict[str, object]] = []
    answers: list[dict[str, object]] = []

    async def flush() -> None:
        async with app.db.transaction() as s:
            if responses:
                await s.execute(insert(Response), responses)
            if answers:
                await s.execute(insert(Answer), answers)
        responses.clear()
        answers.clear()

    for factory_id, a in workers:
        rid = next_id + written
        responses.append(
            {
                "id": rid,
                "round_id": round_id,
                "factory_id": factory_id,
                "survey_version_id": version,
                "respondent": hashlib.sha256(f"{round_id}|{rid}".encode()).hexdigest(),
                "channel": channel,
                "language": "ur",
                "status": "complete" if a.complete else "in_progress",
                "started_on": a.day,
                "completed_hour": a.completed_hour if a.complete else None,
                "completed_on": a.day if a.complete else None,
            }
        )
        answers.extend(a.rows(rid))
        written += 1
        if len(answers) >= BATCH * 10:
            await flush()
    await flush()
    if not app.db.is_sqlite:  # explicit ids do not advance PostgreSQL's sequence
        async with app.db.transaction() as s:
            await s.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('responses', 'id'), max(id)) "
                    "FROM responses"
                )
            )
    return written
