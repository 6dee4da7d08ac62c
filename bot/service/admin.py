"""Administrative use cases for CSOs: organisations, factories, rounds. Every change is audited."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.enums import ContactPurpose, RoundStatus
from bot.service.engines import definition_sha256
from bot.service.lifecycle import ACTIONS, TransitionError, check_transition
from bot.storage import Database, rowcount
from bot.storage.models import (
    AuditEntry,
    BrandFactory,
    BroadcastMessage,
    ContactAddress,
    Conversation,
    Factory,
    JobRun,
    Organisation,
    OutboxMessage,
    ProcessedMessage,
    Response,
    Round,
    RoundFactory,
    SurveyVersion,
)
from bot.survey.definition import Survey
from bot.survey.state import ConversationState

# No 0/O, 1/I/L: codes are read off a poster and typed on a phone.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
REGIONS = ("sindh", "punjab", "islamabad")


class AdminError(ValueError):
    """A request that cannot be carried out; the message says why, for the person who asked."""


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
    for moment in (opens_at, closes_at):
        if moment is not None and moment.tzinfo is None:
            raise AdminError("a round's times need a time zone")
    if opens_at is not None and closes_at is not None and closes_at <= opens_at:
        raise AdminError("a round must close after it opens")


class AdminService:
    """What a CSO does on the command line (and later in the bot and the portal)."""

    def __init__(
        self,
        db: Database,
        actor: str = "cli",
        processed_message_days: int = 7,
        opt_in_days: int = 400,
        *,
        clock: Clock,
    ) -> None:
        self.db = db
        self.clock = clock
        self.actor = actor
        self.processed_message_days = processed_message_days
        self.opt_in_days = opt_in_days

    def acting_as(self, actor: str) -> AdminService:
        """The same service, with audit entries in the name of `actor` (e.g. "scheduler",
        "web:12", "telegram member 3")."""
        return AdminService(
            self.db, actor, self.processed_message_days, self.opt_in_days, clock=self.clock
        )

    def _audit(self, session: AsyncSession, action: str, target: str, **details: Any) -> None:
        session.add(
            AuditEntry(
                at=self.clock(),
                actor=self.actor,
                action=action,
                target=target,
                details=details,
                ok=True,
            )
        )

    # ---------------------------------------------------------------- organisations
    async def add_org(self, name: str, kind: str) -> Organisation:
        if kind not in ("cso", "brand"):
            raise AdminError("an organisation is a 'cso' or a 'brand'")
        async with self.db.transaction() as s:
            if await self._org(s, name, required=False):
                raise AdminError(f"organisation {name!r} exists already")
            org = Organisation(name=name, kind=kind, created_at=self.clock())
            s.add(org)
            self._audit(s, "org.add", name, kind=kind)
        return org

    async def list_orgs(self) -> list[Organisation]:
        async with self.db.transaction() as s:
            return list(
                (await s.execute(select(Organisation).order_by(Organisation.name))).scalars()
            )

    async def link(self, brand: str, factory_codes: Iterable[str]) -> int:
        """Link a brand to the factories it sources from; returns how many links are new."""
        added = 0
        async with self.db.transaction() as s:
            org = await self._org(s, brand)
            if org.kind != "brand":
                raise AdminError(f"{brand!r} is not a brand")
            for code in factory_codes:
                factory = await self._factory(s, code)
                if await s.get(BrandFactory, (org.id, factory.id)) is None:
                    s.add(BrandFactory(brand_id=org.id, factory_id=factory.id))
                    added += 1
                    self._audit(s, "brand.link", brand, factory=code)
        return added

    async def unlink(self, brand: str, factory_codes: Iterable[str]) -> int:
        """Undo `link`: the brand no longer receives results of these factories; returns how
        many links were removed."""
        removed = 0
        async with self.db.transaction() as s:
            org = await self._org(s, brand)
            if org.kind != "brand":
                raise AdminError(f"{brand!r} is not a brand")
            for code in factory_codes:
                factory = await self._factory(s, code)
                link = await s.get(BrandFactory, (org.id, factory.id))
                if link is not None:
                    await s.delete(link)
                    removed += 1
                    self._audit(s, "brand.unlink", brand, factory=code)
        return removed

    async def _org(self, s: AsyncSession, name: str, required: bool = True) -> Organisation:
        org = (await s.execute(select(Organisation).where(Organisation.name == name))).scalar()
        if org is None and required:
            raise AdminError(f"no organisation called {name!r}")
        return org  # type: ignore[return-value]  # None only when not `required`

    # ---------------------------------------------------------------- factories
    async def add_factory(
        self,
        code: str,
        name: str,
        region: str,
        city: str = "",
        os_id: str | None = None,
        headcount: int | None = None,
        *,
        cso: str | None = None,
    ) -> Factory:
        """Register a factory; with `cso`, as that CSO's own (the web portal), else in the
        shared register every CSO may use (the command line)."""
        region = region.strip().lower()
        if region not in REGIONS:
            raise AdminError(f"region must be one of {', '.join(REGIONS)}, not {region!r}")
        async with self.db.transaction() as s:
            if (await s.execute(select(Factory).where(Factory.code == code))).scalar():
                raise AdminError(f"factory {code!r} exists already")
            owner = await self._cso(s, cso)
            await self._check_os_id(s, os_id or None, None)
            factory = Factory(
                code=code,
                name=name,
                region=region,
                city=city,
                os_id=os_id or None,
                headcount=headcount,
                created_at=self.clock(),
                cso_id=owner.id if owner else None,
            )
            s.add(factory)
            self._audit(
                s, "factory.add", code, name=name, region=region, **({"cso": cso} if cso else {})
            )
        return factory

    async def update_factory(
        self,
        code: str,
        *,
        name: str,
        region: str,
        city: str = "",
        os_id: str | None = None,
        headcount: int | None = None,
    ) -> Factory:
        """Change a factory's details (not its code: posters and reports name it by code)."""
        region = region.strip().lower()
        if region not in REGIONS:
            raise AdminError(f"region must be one of {', '.join(REGIONS)}, not {region!r}")
        if not name.strip():
            raise AdminError("a factory needs a name")
        if headcount is not None and headcount < 1:
            raise AdminError("the headcount must be a positive number")
        async with self.db.transaction() as s:
            factory = await self._factory(s, code)
            await self._check_os_id(s, os_id or None, factory.id)
            values = {
                "name": name.strip(),
                "region": region,
                "city": city.strip(),
                "os_id": os_id or None,
                "headcount": headcount,
            }
            changed = {k: v for k, v in values.items() if getattr(factory, k) != v}
            for k, v in changed.items():
                setattr(factory, k, v)
            if changed:
                self._audit(s, "factory.edit", code, **changed)
        return factory

    async def _check_os_id(
        self, s: AsyncSession, os_id: str | None, factory_id: int | None
    ) -> None:
        """An Open Supply Hub id names one factory; say so instead of failing on the index."""
        if os_id is None:
            return
        other = (
            await s.execute(
                select(Factory.code).where(Factory.os_id == os_id, Factory.id != (factory_id or 0))
            )
        ).scalar()
        if other is not None:
            raise AdminError(f"OS ID {os_id!r} is already registered for another factory")

    async def _cso(self, s: AsyncSession, name: str | None) -> Organisation | None:
        if name is None:
            return None
        org = await self._org(s, name)
        if org.kind != "cso":
            raise AdminError(f"{name!r} is not a CSO")
        return org

    async def import_factories(self, text: str, *, cso: str | None = None) -> tuple[int, int]:
        """Import a CSV (code,name,region,city,os_id,headcount); returns (added, updated).

        With `cso` (the web portal) new factories become that CSO's own, and a row may update
        only a factory of that CSO; all or nothing, the first bad line says what is wrong."""
        reader = csv.DictReader(io.StringIO(text))
        missing = {"code", "name", "region"} - set(reader.fieldnames or [])
        if missing:
            raise AdminError(f"the CSV lacks the column(s): {', '.join(sorted(missing))}")
        added = updated = 0
        async with self.db.transaction() as s:
            owner = await self._cso(s, cso)
            for line, row in enumerate(reader, start=2):
                code, region = (row.get("code") or "").strip(), (row.get("region") or "").strip()
                if not code or region.lower() not in REGIONS:
                    raise AdminError(f"line {line}: needs a code and a region in {REGIONS}")
                headcount_text = (row.get("headcount") or "").strip()
                if headcount_text and not headcount_text.isdecimal():
                    raise AdminError(f"line {line}: headcount {headcount_text!r} is not a number")
                os_id = (row.get("os_id") or "").strip() or None
                values: dict[str, str | int | None] = {
                    "name": row["name"].strip(),
                    "region": region.lower(),
                    "city": (row.get("city") or "").strip(),
                    "os_id": os_id,
                    "headcount": int(headcount_text) if headcount_text else None,
                }
                if not values["name"]:
                    raise AdminError(f"line {line}: needs a name")
                factory = (await s.execute(select(Factory).where(Factory.code == code))).scalar()
                if owner is not None and factory is not None and factory.cso_id != owner.id:
                    raise AdminError(
                        f"line {line}: factory code {code!r} is taken (registered elsewhere)"
                    )
                try:
                    await self._check_os_id(s, os_id, factory.id if factory else None)
                except AdminError as exc:
                    raise AdminError(f"line {line}: {exc}") from None
                if factory is None:
                    s.add(
                        Factory(
                            code=code,
                            created_at=self.clock(),
                            cso_id=owner.id if owner else None,
                            **values,
                        )
                    )
                    await s.flush()  # so a later line with the same OS ID is caught
                    added += 1
                else:
                    for k, v in values.items():
                        setattr(factory, k, v)
                    updated += 1
            self._audit(
                s,
                "factory.import",
                f"{added + updated} rows",
                added=added,
                updated=updated,
                **({"cso": cso} if cso else {}),
            )
        return added, updated

    async def list_factories(self) -> list[Factory]:
        async with self.db.transaction() as s:
            return list((await s.execute(select(Factory).order_by(Factory.code))).scalars())

    async def _factory(self, s: AsyncSession, code: str) -> Factory:
        factory = (await s.execute(select(Factory).where(Factory.code == code))).scalar()
        if factory is None:
            raise AdminError(f"no factory with code {code!r}")
        return factory

    # ---------------------------------------------------------------- rounds
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
    ) -> tuple[Round, dict[str, Any]]:
        if not factory_codes:
            raise AdminError("a round needs at least one factory")
        if max_reminders < 0:
            raise AdminError("the number of reminders cannot be negative")
        if reminder_delay < timedelta(hours=1):
            raise AdminError("reminders need at least an hour between them")
        _check_dates(opens_at, closes_at)
        org = await self._org(s, cso)
        if org.kind != "cso":
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
    ) -> Round:
        """Create a round and open it now, with a fresh poster code per factory (one audit
        entry, "round.open", with what was created)."""
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
            )
            await self._open(s, rnd.id, now, created=details)
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
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id)
            if rnd is not None and (rnd.opens_at is None or rnd.closes_at is None):
                raise AdminError(f"round {round_id} needs an opening and a closing time first")
            rnd = await self._transition(s, round_id, RoundStatus.SCHEDULED)
            _check_dates(rnd.opens_at, rnd.closes_at)
        return await self.get_round(round_id)

    async def unschedule_round(self, round_id: int) -> Round:
        """scheduled → draft (to change it before it opens)."""
        async with self.db.transaction() as s:
            await self._transition(s, round_id, RoundStatus.DRAFT)
        return await self.get_round(round_id)

    async def start_round(
        self, round_id: int, now: datetime | None = None, job_key: str | None = None
    ) -> Round:
        """Open a draft or scheduled round now; workers who opted in at one of its factories
        are invited (recorded in the broadcast outbox in the same transaction)."""
        now = now or self.clock()
        try:
            async with self.db.transaction() as s:
                await claim_job(s, job_key, self.actor, now)
                await self._open(s, round_id, now)
        except IntegrityError:
            if job_key is None:
                raise
            raise JobDone(f"{job_key} ran already") from None
        return await self.get_round(round_id)

    async def _open(self, s: AsyncSession, round_id: int, now: datetime, **details: Any) -> None:
        from bot.service.broadcasts import enqueue_invitations

        rnd = await self._transition(s, round_id, RoundStatus.OPEN, **details)
        rnd.opens_at = now
        if rnd.closes_at is not None and rnd.closes_at <= now:
            raise AdminError(f"round {round_id} closes before now; extend it first")
        invited = await enqueue_invitations(s, rnd, now)
        if invited:
            self._audit(s, "round.invite", f"round {round_id}", invitations=invited)

    async def extend_round(self, round_id: int, closes_at: datetime) -> Round:
        """Move the closing time of a round that has not closed yet."""
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id, with_for_update=True)
            if rnd is None:
                raise AdminError(f"no round {round_id}")
            if rnd.status not in ("draft", "scheduled", "open"):
                raise AdminError(
                    f"round {round_id} is {rnd.status}; only a round not yet closed can be extended"
                )
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

    async def cancel_round(self, round_id: int) -> dict[str, int]:
        """Stop a round that will not be reported on; an open one's addresses are purged."""
        async with self.db.transaction() as s:
            await self._transition(s, round_id, RoundStatus.CANCELLED)
            purged = await self._purge_round_contacts(s, round_id)
            conversations = await self._trim_conversations(s, round_id)
        return {"addresses_purged": purged, "conversations_trimmed": conversations}

    async def _purge_round_contacts(self, s: AsyncSession, round_id: int) -> int:
        """Delete the round's active addresses and the worker messages not yet sent to them."""
        from bot.service.broadcasts import WORKER_KINDS

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

    async def _unique_code(self, s: AsyncSession) -> str:
        while True:
            code = new_access_code()
            if not (
                await s.execute(select(RoundFactory.id).where(RoundFactory.code == code))
            ).first():
                return code

    async def get_round(self, round_id: int) -> Round:
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

    async def org_name(self, org_id: int) -> str | None:
        async with self.db.transaction() as s:
            org = await s.get(Organisation, org_id)
            return org.name if org else None

    async def close_round(
        self, round_id: int, now: datetime | None = None, job_key: str | None = None
    ) -> dict[str, int]:
        """Close a round: no more answers; contact addresses and conversations of it are purged,
        and the reports for subscribed members are queued in the broadcast outbox.

        Addresses of workers who opted in to the next round are kept (that is what they asked for).
        """
        from bot.service.broadcasts import enqueue_reports

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
        await self.prune()
        return {"addresses_purged": purged or 0, "conversations_trimmed": conversations or 0}

    async def prune(self, today: date | None = None) -> dict[str, int]:
        """Delete what is no longer needed: handled message ids and unsent replies past the
        redelivery window, and opt-in addresses past their keeping period."""
        today = today or self.clock().date()
        async with self.db.transaction() as s:
            ids = rowcount(
                await s.execute(
                    delete(ProcessedMessage).where(
                        ProcessedMessage.processed_on
                        < today - timedelta(days=self.processed_message_days)
                    )
                )
            )
            addresses = rowcount(
                await s.execute(
                    delete(ContactAddress).where(
                        ContactAddress.purpose == ContactPurpose.OPT_IN,
                        ContactAddress.created_on < today - timedelta(days=self.opt_in_days),
                    )
                )
            )
            if addresses:
                self._audit(s, "contact.expire", f"{addresses} opt-in address(es)")
            # Replies whose message was never delivered again (a webhook the platform gave
            # up on): past the redelivery window nobody will send them, and they may echo
            # answers.
            cutoff = datetime.combine(
                today - timedelta(days=self.processed_message_days), datetime.min.time(), UTC
            )
            replies = rowcount(
                await s.execute(delete(OutboxMessage).where(OutboxMessage.created_at < cutoff))
            )
        return {
            "message_ids": ids or 0,
            "opt_in_addresses": addresses or 0,
            "unsent_replies": replies or 0,
        }

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

    async def publish_round(self, round_id: int) -> None:
        """Mark results as delivered; completion hours are no longer needed and are dropped."""
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
