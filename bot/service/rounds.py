"""Rounds: a CSO's survey of a set of factories, from draft to published (the lifecycle is
lifecycle.py), with a poster code per factory, its survey version pinned, counts while it
runs, and what a closing purges. Scheduled jobs claim their effect once (job_runs). Every
change is audited."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.enums import OrgKind, RoundStatus
from bot.service import validation
from bot.service.audited import AdminError, Audited
from bot.service.broadcasts import WORKER_KINDS, enqueue_invitations, enqueue_reports
from bot.service.engines import definition_sha256
from bot.service.lifecycle import ACTIONS, TransitionError, check_transition
from bot.storage import rowcount
from bot.storage.models import (
    BroadcastMessage,
    ContactAddress,
    Conversation,
    Factory,
    JobRun,
    Response,
    Round,
    RoundFactory,
    SurveyVersion,
)
from bot.survey import phrases
from bot.survey.definition import Survey
from bot.survey.state import ConversationState
from bot.wages import Staleness, WageTable

# No 0/O, 1/I/L: codes are read off a poster and typed on a phone.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


class JobDone(AdminError):
    """A scheduled job's effect happened already (another process, or before a restart)."""


async def claim_job(s: AsyncSession, key: str | None, holder: str, now: datetime) -> None:
    """Record one occurrence of a scheduled job in the transaction of its effect: a second
    run (another process, or after a restart) fails here with IntegrityError, at the latest
    when it commits, and its whole transaction is rolled back."""
    if key is not None:
        s.add(JobRun(key=key, ran_at=now, holder=holder[:80]))
        await s.flush()


@dataclass(frozen=True)
class FactoryCount:
    code: str
    name: str
    access_code: str
    started: int
    complete: int
    headcount: int | None


def new_access_code() -> str:
    """A random poster code: 31^6 ≈ 887 million values, so guessing one is hopeless."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _check_dates(opens_at: datetime | None, closes_at: datetime | None) -> None:
    validation.moment(opens_at, "opening time")
    validation.moment(closes_at, "closing time")
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise AdminError("a round must close after it opens")


class StaleWagesError(AdminError):
    """Opening a round whose regions have no wage line for the current fiscal year, without the
    CSO confirming it (``accept_stale_wages``)."""

    def __init__(self, stale: Sequence[Staleness]) -> None:
        self.stale = tuple(stale)
        super().__init__(
            "the wage table has no minimum yet for this fiscal year (from 1 July) in "
            + "; ".join(stale_wage_text(s) for s in stale)
            + ": workers will be told the latest notified minimum, which may be out of date. "
            "Add the new notification to surveys/minimum-wages.yaml, or confirm opening the "
            "round on the latest notified minimum"
        )


def stale_wage_text(s: Staleness) -> str:
    """'sindh (latest line from 2025-07-01)' — for messages to CSO staff."""
    since = s.latest_from.isoformat() if s.latest_from else "none"
    return f"{s.region} (latest line from {since})"


def stale_wages_on(wages: WageTable, regions: Sequence[str], now: datetime) -> list[Staleness]:
    """The regions (of those given) whose wage lines are stale on `now`'s date in the region."""
    out = []
    for region in sorted(set(regions)):
        if region not in wages.regions:
            continue
        day = now.astimezone(ZoneInfo(wages.regions[region].time_zone)).date()
        if (found := wages.staleness(region, day)).stale:
            out.append(found)
    return out


def default_help_texts(rnd: Round) -> dict[str, str]:
    """The default help text (in English) for each region of the round's factories: what a
    worker reads where the CSO set no text of its own (bot/survey/phrases.py)."""
    regions = sorted({rf.factory.region for rf in rnd.factories})
    return {region: phrases.default_help(region) for region in regions}


class RoundService(Audited):
    async def register_survey(self, s: AsyncSession, survey: Survey) -> SurveyVersion:
        """Store the definition a round uses; refuse an edited file that kept its version."""
        definition = survey.model_dump(mode="json")
        sha = definition_sha256(definition)
        sv = (
            await s.execute(
                select(SurveyVersion).where(
                    SurveyVersion.survey_id == survey.id, SurveyVersion.version == survey.version
                )
            )
        ).scalar()
        if sv is None:
            sv = SurveyVersion(
                survey_id=survey.id,
                version=survey.version,
                sha256=sha,
                definition=definition,
                loaded_at=self.clock(),
            )
            s.add(sv)
            await s.flush()
        elif sv.sha256 != sha:
            raise AdminError(
                f"survey {survey.key} changed since a round used it; raise its version number"
            )
        return sv

    async def create_round(
        self,
        name: str,
        cso: str,
        survey: Survey,
        factory_codes: Sequence[str],
        opens_at: datetime | None = None,
        closes_at: datetime | None = None,
        max_reminders: int = 1,
        reminder_delay: timedelta = timedelta(hours=24),
        help_text: dict[str, str | None] | None = None,
    ) -> Round:
        """A draft round with a poster code per factory (posters can be printed now; the
        codes work only while the round is open)."""
        async with self.db.transaction() as s:
            rnd, details = await self._new_round(
                s,
                name,
                cso,
                survey,
                factory_codes,
                opens_at,
                closes_at,
                max_reminders,
                reminder_delay,
                help_text,
            )
            self._audit(s, "round.create", f"round {rnd.id}", **details)
        return await self.get_round(rnd.id)

    async def _new_round(
        self,
        s: AsyncSession,
        name: str,
        cso: str,
        survey: Survey,
        factory_codes: Sequence[str],
        opens_at: datetime | None,
        closes_at: datetime | None,
        max_reminders: int,
        reminder_delay: timedelta,
        help_text: dict[str, str | None] | None = None,
    ) -> tuple[Round, dict[str, Any]]:
        if not factory_codes:
            raise AdminError("a round needs at least one factory")
        if max_reminders < 0:
            raise AdminError("the number of reminders cannot be negative")
        if reminder_delay < timedelta(hours=1):
            raise AdminError("reminders need at least an hour between them")
        _check_dates(opens_at, closes_at)
        name = validation.name(name, "round's name")
        texts = validation.help_texts(help_text)
        org = await self._org(s, cso)
        if org.kind != OrgKind.CSO:
            raise AdminError(f"{cso!r} is not a CSO; only CSOs run rounds")
        sv = await self.register_survey(s, survey)
        rnd = Round(
            name=name,
            cso_id=org.id,
            survey_version_id=sv.id,
            status=RoundStatus.DRAFT,
            opens_at=opens_at,
            closes_at=closes_at,
            created_at=self.clock(),
            max_reminders=max_reminders,
            reminder_delay_minutes=int(reminder_delay.total_seconds() // 60),
            help_text=texts,
        )
        s.add(rnd)
        await s.flush()
        for code in dict.fromkeys(factory_codes):
            factory = await self._factory(s, code)
            s.add(
                RoundFactory(
                    round_id=rnd.id, factory_id=factory.id, code=await self._unique_code(s)
                )
            )
        await s.flush()
        details = {
            "name": name,
            "factories": list(factory_codes),
            "survey": survey.key,
            "opens_at": _iso(opens_at),
            "closes_at": _iso(closes_at),
            "max_reminders": max_reminders,
            "reminder_delay_minutes": rnd.reminder_delay_minutes,
            "help_text": sorted(texts or {}),  # the languages; the text is in the round
        }
        return rnd, details

    async def open_round(
        self,
        name: str,
        cso: str,
        survey: Survey,
        factory_codes: Sequence[str],
        closes_at: datetime | None = None,
        max_reminders: int = 1,
        reminder_delay: timedelta = timedelta(hours=24),
        help_text: dict[str, str | None] | None = None,
        *,
        wages: WageTable | None = None,
        accept_stale_wages: bool = False,
    ) -> Round:
        """Create a round and open it now, with a fresh poster code per factory (one audit
        entry, "round.open", with what was created). With `wages`, a round whose regions have
        no wage line for the current fiscal year opens only with `accept_stale_wages`
        (:class:`StaleWagesError` otherwise; the confirmation is audited)."""
        now = self.clock()
        async with self.db.transaction() as s:
            rnd, details = await self._new_round(
                s,
                name,
                cso,
                survey,
                factory_codes,
                None,
                closes_at,
                max_reminders,
                reminder_delay,
                help_text,
            )
            await self._open(s, rnd.id, now, wages, accept_stale_wages, created=details)
        return await self.get_round(rnd.id)

    async def _transition(
        self, s: AsyncSession, round_id: int, target: RoundStatus, **details: Any
    ) -> Round:
        """The one place a round's status changes: checked against the lifecycle, audited."""
        rnd = await s.get(Round, round_id, with_for_update=True)
        if rnd is None:
            raise AdminError(f"no round {round_id}")
        try:
            check_transition(round_id, rnd.status, target)
        except TransitionError as exc:
            raise AdminError(str(exc)) from None
        previous, rnd.status = rnd.status, target
        self._audit(s, ACTIONS[target], f"round {round_id}", previous=previous, **details)
        return rnd

    async def schedule_round(self, round_id: int) -> Round:
        """draft → scheduled: the scheduler opens it at opens_at and closes it at closes_at."""
        round_id = validation.row_id(round_id, "round")
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id)
            if rnd is not None and (rnd.opens_at is None or rnd.closes_at is None):
                raise AdminError(f"round {round_id} needs an opening and a closing time first")
            rnd = await self._transition(s, round_id, RoundStatus.SCHEDULED)
            _check_dates(rnd.opens_at, rnd.closes_at)
        return await self.get_round(round_id)

    async def unschedule_round(self, round_id: int) -> Round:
        """scheduled → draft (to change it before it opens)."""
        round_id = validation.row_id(round_id, "round")
        async with self.db.transaction() as s:
            await self._transition(s, round_id, RoundStatus.DRAFT)
        return await self.get_round(round_id)

    async def start_round(
        self,
        round_id: int,
        now: datetime | None = None,
        job_key: str | None = None,
        *,
        wages: WageTable | None = None,
        accept_stale_wages: bool = False,
    ) -> Round:
        """Open a draft or scheduled round now; workers who opted in at one of its factories
        are invited (recorded in the broadcast outbox in the same transaction). `wages` and
        `accept_stale_wages` as for :meth:`open_round`."""
        round_id = validation.row_id(round_id, "round")
        now = now or self.clock()
        try:
            async with self.db.transaction() as s:
                await claim_job(s, job_key, self.actor, now)
                await self._open(s, round_id, now, wages, accept_stale_wages)
        except IntegrityError:
            if job_key is None:
                raise
            raise JobDone(f"{job_key} ran already") from None
        return await self.get_round(round_id)

    async def round_regions(self, round_id: int) -> list[str]:
        """The regions of a round's factories, sorted."""
        async with self.db.transaction() as s:
            return await self._regions(s, round_id)

    async def _regions(self, s: AsyncSession, round_id: int) -> list[str]:
        query = (
            select(Factory.region)
            .join(RoundFactory, RoundFactory.factory_id == Factory.id)
            .where(RoundFactory.round_id == round_id)
            .distinct()
        )
        return sorted((await s.execute(query)).scalars())

    async def _open(
        self,
        s: AsyncSession,
        round_id: int,
        now: datetime,
        wages: WageTable | None = None,
        accept_stale_wages: bool = False,
        **details: Any,
    ) -> None:
        if wages is not None:
            stale = stale_wages_on(wages, await self._regions(s, round_id), now)
            if stale and not accept_stale_wages:
                raise StaleWagesError(stale)
            if stale:
                details["stale_wages_accepted"] = {
                    x.region: x.latest_from.isoformat() if x.latest_from else None for x in stale
                }
        rnd = await self._transition(s, round_id, RoundStatus.OPEN, **details)
        rnd.opens_at = now
        if rnd.closes_at is not None and rnd.closes_at <= now:
            raise AdminError(f"round {round_id} closes before now; extend it first")
        invited = await enqueue_invitations(s, rnd, now)
        if invited:
            self._audit(s, "round.invite", f"round {round_id}", invitations=invited)

    async def extend_round(self, round_id: int, closes_at: datetime) -> Round:
        """Move the closing time of a round that has not closed yet."""
        round_id = validation.row_id(round_id, "round")
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id, with_for_update=True)
            if rnd is None:
                raise AdminError(f"no round {round_id}")
            if rnd.status not in (RoundStatus.DRAFT, RoundStatus.SCHEDULED, RoundStatus.OPEN):
                raise AdminError(
                    f"round {round_id} is {rnd.status}; only a round not yet closed can be extended"
                )
            validation.moment(closes_at, "closing time")
            if closes_at <= self.clock():
                raise AdminError("the new closing time is in the past")
            _check_dates(rnd.opens_at if rnd.status != RoundStatus.OPEN else None, closes_at)
            previous, rnd.closes_at = rnd.closes_at, closes_at
            self._audit(
                s,
                "round.extend",
                f"round {round_id}",
                previous=_iso(previous),
                closes_at=_iso(closes_at),
            )
        return await self.get_round(round_id)

    async def set_help_text(self, round_id: int, lang: str, text: str | None) -> Round:
        """Set (or, with an empty text, clear) where the round's workers get help, in one
        language; any round of any status (a closed round's text is shown to nobody, but
        harmless). Audited with the text itself: it is the CSO's public contact, not a
        worker's data."""
        round_id = validation.row_id(round_id, "round")
        lang = validation.help_language(lang)
        cleaned = validation.help_text(text, lang)
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id, with_for_update=True)
            if rnd is None:
                raise AdminError(f"no round {round_id}")
            texts = dict(rnd.help_text or {})
            previous = texts.pop(lang, None)
            if cleaned:
                texts[lang] = cleaned
            rnd.help_text = texts or None  # a new dict: SQLAlchemy sees the change
            self._audit(
                s, "round.help", f"round {round_id}", lang=lang, previous=previous, text=cleaned
            )
        return await self.get_round(round_id)

    async def cancel_round(self, round_id: int) -> dict[str, int]:
        """Stop a round that will not be reported on; an open one's addresses are purged."""
        round_id = validation.row_id(round_id, "round")
        async with self.db.transaction() as s:
            await self._transition(s, round_id, RoundStatus.CANCELLED)
            purged = await self._purge_round_contacts(s, round_id)
            conversations = await self._trim_conversations(s, round_id)
        return {"addresses_purged": purged, "conversations_trimmed": conversations}

    async def _purge_round_contacts(self, s: AsyncSession, round_id: int) -> int:
        """Delete the round's active addresses and the worker messages not yet sent to them."""
        await s.execute(
            delete(BroadcastMessage).where(
                BroadcastMessage.round_id == round_id,
                BroadcastMessage.kind.in_(WORKER_KINDS),
                BroadcastMessage.status.in_(("pending", "sending")),
            )
        )
        purged = rowcount(
            await s.execute(
                delete(ContactAddress).where(
                    ContactAddress.round_id == round_id, ContactAddress.purpose == "active"
                )
            )
        )
        return purged or 0

    async def _trim_conversations(self, s: AsyncSession, round_id: int) -> int:
        """Drop the in-progress answers kept in conversation state; keep only what is needed
        to tell a returning worker, in their language, that the round has closed."""
        rows = await s.execute(select(Conversation).where(Conversation.round_id == round_id))
        trimmed = 0
        for conv in rows.scalars():
            old = ConversationState.from_json(conv.state)
            conv.state = ConversationState(
                survey=old.survey, lang=old.lang, lang_chosen=old.lang_chosen, factory=old.factory
            ).to_json()
            conv.response_id = None
            trimmed += 1
        return trimmed

    async def _unique_code(self, s: AsyncSession) -> str:
        while True:
            code = new_access_code()
            if not (
                await s.execute(select(RoundFactory.id).where(RoundFactory.code == code))
            ).first():
                return code

    async def get_round(self, round_id: int) -> Round:
        round_id = validation.row_id(round_id, "round")
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id)
            if rnd is None:
                raise AdminError(f"no round {round_id}")
            return rnd

    async def list_rounds(self) -> list[Round]:
        async with self.db.transaction() as s:
            return list((await s.execute(select(Round).order_by(Round.id))).scalars())

    async def planned_rounds(self) -> list[Round]:
        """Rounds the scheduler opens or closes: scheduled ones and open ones."""
        wanted = (RoundStatus.SCHEDULED, RoundStatus.OPEN)
        async with self.db.transaction() as s:
            return list((await s.execute(select(Round).where(Round.status.in_(wanted)))).scalars())

    async def open_round_ids(self, opened_by: datetime | None = None) -> list[int]:
        """The open rounds (only those open by `opened_by`, when given)."""
        query = select(Round.id).where(Round.status == RoundStatus.OPEN)
        if opened_by is not None:
            query = query.where(Round.opens_at <= opened_by)
        async with self.db.transaction() as s:
            return list((await s.execute(query)).scalars())

    async def closing_time(self, round_id: int) -> datetime | None:
        async with self.db.transaction() as s:
            return await s.scalar(select(Round.closes_at).where(Round.id == round_id))

    async def poster_code(self, factory_code: str) -> str | None:
        """The poster code of the newest open round at the factory with this code."""
        async with self.db.transaction() as s:
            return (
                await s.execute(
                    select(RoundFactory.code)
                    .join(Factory)
                    .join(Round)
                    .where(Factory.code == factory_code, Round.status == RoundStatus.OPEN)
                    .order_by(Round.id.desc())
                )
            ).scalar()

    async def close_round(
        self, round_id: int, now: datetime | None = None, job_key: str | None = None
    ) -> dict[str, int]:
        """Close a round: no more answers; contact addresses and conversations of it are purged,
        and the reports for subscribed members are queued in the broadcast outbox.

        Addresses of workers who opted in to the next round are kept (that is what they asked for).
        """
        round_id = validation.row_id(round_id, "round")
        now = now or self.clock()
        try:
            async with self.db.transaction() as s:
                await claim_job(s, job_key, self.actor, now)
                rnd = await s.get(Round, round_id)
                if rnd is not None and rnd.status != RoundStatus.OPEN:
                    raise AdminError(f"round {round_id} is {rnd.status}, not open")
                rnd = await self._transition(s, round_id, RoundStatus.CLOSED)
                rnd.closes_at = now
                purged = await self._purge_round_contacts(s, round_id)
                conversations = await self._trim_conversations(s, round_id)
                reports = await enqueue_reports(s, rnd, now)
                self._audit(
                    s,
                    "round.purge",
                    f"round {round_id}",
                    addresses_purged=purged,
                    conversations_trimmed=conversations,
                    reports_queued=reports,
                )
        except IntegrityError:
            if job_key is None:
                raise
            raise JobDone(f"{job_key} ran already") from None
        return {"addresses_purged": purged or 0, "conversations_trimmed": conversations or 0}

    async def publish_round(self, round_id: int) -> None:
        """Mark results as delivered; completion hours are no longer needed and are dropped."""
        round_id = validation.row_id(round_id, "round")
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id)
            if rnd is None or rnd.status != "closed":
                raise AdminError(f"round {round_id} must be closed before it is published")
            rnd = await self._transition(s, round_id, RoundStatus.PUBLISHED)
            rnd.published_at = self.clock()
            for response in (
                await s.execute(select(Response).where(Response.round_id == round_id))
            ).scalars():
                response.completed_hour = None

    async def counts(self, round_id: int) -> list[FactoryCount]:
        """Responses per factory (counts only, never answers)."""
        round_id = validation.row_id(round_id, "round")
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id)
            if rnd is None:
                raise AdminError(f"no round {round_id}")
            rows = (
                await s.execute(
                    select(Response.factory_id, Response.status, func.count())
                    .where(Response.round_id == round_id)
                    .group_by(Response.factory_id, Response.status)
                )
            ).all()
            tally: dict[tuple[int, str], int] = {(f, st): n for f, st, n in rows}
            return [
                FactoryCount(
                    code=rf.factory.code,
                    name=rf.factory.name,
                    access_code=rf.code,
                    started=tally.get((rf.factory_id, "in_progress"), 0)
                    + tally.get((rf.factory_id, "complete"), 0),
                    complete=tally.get((rf.factory_id, "complete"), 0),
                    headcount=rf.factory.headcount,
                )
                for rf in sorted(rnd.factories, key=lambda rf: rf.factory.code)
            ]
