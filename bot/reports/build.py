"""The entry points: build a report for an audience, and the CSO's answer-level export."""

from __future__ import annotations

import csv
import dataclasses
import io
from collections import defaultdict
from datetime import date
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.reports import spreadsheet
from bot.reports.disclosure import (
    Scope,
    answer_rows,
    authorise,
    disclose,
)
from bot.reports.figures import compute_figures
from bot.reports.model import Audience, Report, VerdictRule
from bot.reports.nogc import no_gc_pauses
from bot.reports.quality import QualityRules, detect
from bot.reports.trends import compute_trends
from bot.storage import Database
from bot.storage.models import Answer, AuditEntry, Factory, Response, Round
from bot.survey.definition import Survey
from bot.wages import WageTable


class App(Protocol):
    """What reports need of `bot.bootstrap.App` (any object with these will do)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def db(self) -> Database: ...
    @property
    def wages(self) -> WageTable: ...
    @property
    def clock(self) -> Clock: ...


# Question types that are steps of the conversation, not answers about work.
_NOT_ANSWERS = ("language", "consent", "factory", "info")


def _audience(audience: Audience | str) -> Audience:
    return audience if isinstance(audience, Audience) else Audience.parse(audience)


def local_today(app: App) -> date:
    """Today where the factories are (a report made at 01:00 in Karachi on the 1st is dated
    the 1st, though it is still the last day of the month in UTC)."""
    return app.clock().astimezone(ZoneInfo(app.settings.time_zone)).date()


def verdict_rule(app: App) -> VerdictRule:
    """The verdict thresholds of the settings."""
    return VerdictRule(
        ok_lower=app.settings.verdict_likely_ok_lower,
        below_upper=app.settings.verdict_likely_below_upper,
    )


async def scope_for(session: AsyncSession, app: App, round_id: int, audience: Audience) -> Scope:
    return await authorise(
        session, round_id, audience, k_brand=app.settings.k_brand, k_cso=app.settings.k_cso
    )


async def build_report(
    app: App,
    round_id: int,
    audience: Audience | str,
    *,
    today: date | None = None,
    quality: QualityRules | None = None,
) -> Report:
    """The report `audience` ("brand:NAME", "cso:NAME" or an Audience) may receive of a round.

    Raises `DisclosureError` when it may not (an open round for a brand, a brand with no
    factory in the round, another CSO's round) and `ReportError` for an unknown round.
    """
    who = _audience(audience)
    async with app.db.transaction() as s:
        scope = await scope_for(s, app, round_id, who)
        figures = await compute_figures(
            s, round_id, app.wages, scope.factory_ids, quality=scope.quality_flags
        )
        trends = await compute_trends(
            s,
            figures,
            scope,
            app.wages,
            k_brand=app.settings.k_brand,
            k_cso=app.settings.k_cso,
        )
    with no_gc_pauses():
        flags = detect(figures, quality) if scope.quality_flags else []
        report = disclose(figures, scope, verdict_rule(app), today or local_today(app), flags)
    return dataclasses.replace(report, trends=trends)


GENERATE = "report.generate"


async def audit_generation(
    app: App,
    actor: str,
    round_id: int,
    audience: Audience | str,
    fmt: str,
    lang: str | None = None,
    *,
    action: str = GENERATE,
) -> None:
    """One audit entry for a report (or the answer-level export) made for `audience`: who made
    it, the round, the audience and the format. Never a figure or anything of a worker."""
    who = _audience(audience)
    details: dict[str, Any] = {"audience": f"{who.kind}:{who.name}", "format": fmt}
    if lang is not None:
        details["lang"] = lang
    async with app.db.transaction() as s:
        s.add(
            AuditEntry(
                at=app.clock(),
                actor=actor,
                action=action,
                target=f"round {round_id}",
                details=details,
                ok=True,
            )
        )


async def export_answers(app: App, round_id: int, audience: Audience | str) -> bytes:
    """Answer-level CSV of a round for the CSO that runs it: one row per response (complete or
    not), a pseudonymous id (R0001...), dates only, free-text comments included."""
    who = _audience(audience)
    async with app.db.transaction() as s:
        scope = await scope_for(s, app, round_id, who)
        rnd = await s.get(Round, round_id)
        assert rnd is not None
        survey = Survey.model_validate(rnd.survey_version.definition)
        responses = (
            await s.execute(
                select(
                    Response.id,
                    Response.respondent,
                    Factory.code,
                    Factory.name,
                    Response.status,
                    Response.language,
                    Response.channel,
                    Response.started_on,
                    Response.completed_on,
                )
                .join(Factory, Factory.id == Response.factory_id)
                .where(Response.round_id == round_id)
            )
        ).all()
        answers: dict[int, dict[str, Any]] = defaultdict(dict)
        rows = await s.execute(
            select(
                Answer.response_id,
                Answer.question_id,
                Answer.value_text,
                Answer.value_number,
                Answer.value_json,
            )
            .join(Response, Response.id == Answer.response_id)
            .where(Response.round_id == round_id)
        )
        for rid, qid, text, number, blob in rows:
            answers[rid][qid] = _value(text, number, blob)
    questions = [q.id for q in survey.questions if q.type not in _NOT_ANSWERS]
    records = [
        {
            "respondent": respondent,
            "factory_code": code,
            "factory_name": name,
            "status": status,
            "language": language,
            "channel": channel,
            "started_on": started.isoformat() if started else "",
            "completed_on": completed.isoformat() if completed else "",
            **{q: answers[rid].get(q, "") for q in questions},
        }
        for rid, respondent, code, name, status, language, channel, started, completed in responses
    ]
    out = io.StringIO()
    writer = csv.DictWriter(
        out,
        fieldnames=[
            "respondent",
            "factory_code",
            "factory_name",
            "status",
            "language",
            "channel",
            "started_on",
            "completed_on",
            *questions,
        ],
        lineterminator="\n",
    )
    writer.writeheader()
    writer.writerows(spreadsheet.record(r) for r in answer_rows(scope, records))
    return out.getvalue().encode("utf-8-sig")  # with a BOM, so Excel reads Urdu text right


def _value(text: str | None, number: float | None, blob: Any) -> str | int | float:
    if number is not None:  # a number stays a number (spreadsheet.py neutralises text only)
        return int(number) if float(number).is_integer() else number
    if blob is not None:
        return ";".join(str(v) for v in blob) if isinstance(blob, list) else str(blob)
    return text or ""
