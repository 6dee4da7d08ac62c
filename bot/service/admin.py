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
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.engines import definition_sha256
from bot.storage import Database
from bot.storage.models import (
    AuditEntry,
    BrandFactory,
    ContactAddress,
    Conversation,
    Factory,
    Organisation,
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


def _now() -> datetime:
    return datetime.now(UTC)


class AdminService:
    """What a CSO does on the command line (and later in the bot and the portal)."""

    def __init__(
        self,
        db: Database,
        actor: str = "cli",
        processed_message_days: int = 7,
        opt_in_days: int = 400,
    ) -> None:
        self.db = db
        self.actor = actor
        self.processed_message_days = processed_message_days
        self.opt_in_days = opt_in_days

    def _audit(self, session: AsyncSession, action: str, target: str, **details: Any) -> None:
        session.add(
            AuditEntry(
                at=_now(), actor=self.actor, action=action, target=target, details=details, ok=True
            )
        )

    # ---------------------------------------------------------------- organisations
    async def add_org(self, name: str, kind: str) -> Organisation:
        if kind not in ("cso", "brand"):
            raise AdminError("an organisation is a 'cso' or a 'brand'")
        async with self.db.transaction() as s:
            if await self._org(s, name, required=False):
                raise AdminError(f"organisation {name!r} exists already")
            org = Organisation(name=name, kind=kind, created_at=_now())
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

    async def _org(self, s: AsyncSession, name: str, required: bool = True) -> Organisation:
        org = (await s.execute(select(Organisation).where(Organisation.name == name))).scalar()
        if org is None and required:
            raise AdminError(f"no organisation called {name!r}")
        return org  # type: ignore[return-value]

    # ---------------------------------------------------------------- factories
    async def add_factory(
        self,
        code: str,
        name: str,
        region: str,
        city: str = "",
        os_id: str | None = None,
        headcount: int | None = None,
    ) -> Factory:
        region = region.strip().lower()
        if region not in REGIONS:
            raise AdminError(f"region must be one of {', '.join(REGIONS)}, not {region!r}")
        async with self.db.transaction() as s:
            if (await s.execute(select(Factory).where(Factory.code == code))).scalar():
                raise AdminError(f"factory {code!r} exists already")
            factory = Factory(
                code=code,
                name=name,
                region=region,
                city=city,
                os_id=os_id or None,
                headcount=headcount,
                created_at=_now(),
            )
            s.add(factory)
            self._audit(s, "factory.add", code, name=name, region=region)
        return factory

    async def import_factories(self, text: str) -> tuple[int, int]:
        """Import a CSV (code,name,region,city,os_id,headcount); returns (added, updated)."""
        reader = csv.DictReader(io.StringIO(text))
        missing = {"code", "name", "region"} - set(reader.fieldnames or [])
        if missing:
            raise AdminError(f"the CSV lacks the column(s): {', '.join(sorted(missing))}")
        added = updated = 0
        async with self.db.transaction() as s:
            for line, row in enumerate(reader, start=2):
                code, region = (row.get("code") or "").strip(), (row.get("region") or "").strip()
                if not code or region.lower() not in REGIONS:
                    raise AdminError(f"line {line}: needs a code and a region in {REGIONS}")
                headcount_text = (row.get("headcount") or "").strip()
                if headcount_text and not headcount_text.isdecimal():
                    raise AdminError(f"line {line}: headcount {headcount_text!r} is not a number")
                values = {
                    "name": row["name"].strip(),
                    "region": region.lower(),
                    "city": (row.get("city") or "").strip(),
                    "os_id": (row.get("os_id") or "").strip() or None,
                    "headcount": int(headcount_text) if headcount_text else None,
                }
                factory = (await s.execute(select(Factory).where(Factory.code == code))).scalar()
                if factory is None:
                    s.add(Factory(code=code, created_at=_now(), **values))
                    added += 1
                else:
                    for k, v in values.items():
                        setattr(factory, k, v)
                    updated += 1
            self._audit(
                s, "factory.import", f"{added + updated} rows", added=added, updated=updated
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
                loaded_at=_now(),
            )
            s.add(sv)
            await s.flush()
        elif sv.sha256 != sha:
            raise AdminError(
                f"survey {survey.key} changed since a round used it; raise its version number"
            )
        return sv

    async def open_round(
        self,
        name: str,
        cso: str,
        survey: Survey,
        factory_codes: Sequence[str],
        closes_at: datetime | None = None,
    ) -> Round:
        """Create a round and open it now, with a fresh poster code per factory."""
        if not factory_codes:
            raise AdminError("a round needs at least one factory")
        async with self.db.transaction() as s:
            org = await self._org(s, cso)
            if org.kind != "cso":
                raise AdminError(f"{cso!r} is not a CSO; only CSOs run rounds")
            sv = await self.register_survey(s, survey)
            rnd = Round(
                name=name,
                cso_id=org.id,
                survey_version_id=sv.id,
                status="open",
                opens_at=_now(),
                closes_at=closes_at,
                created_at=_now(),
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
            self._audit(
                s,
                "round.open",
                f"round {rnd.id}",
                name=name,
                factories=list(factory_codes),
                survey=survey.key,
            )
        return await self.get_round(rnd.id)

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

    async def close_round(self, round_id: int) -> dict[str, int]:
        """Close a round: no more answers; contact addresses and conversations of it are purged.

        Addresses of workers who opted in to the next round are kept (that is what they asked for).
        """
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id)
            if rnd is None:
                raise AdminError(f"no round {round_id}")
            if rnd.status != "open":
                raise AdminError(f"round {round_id} is {rnd.status}, not open")
            rnd.status = "closed"
            rnd.closes_at = _now()
            purged = (
                await s.execute(
                    delete(ContactAddress).where(
                        ContactAddress.round_id == round_id, ContactAddress.purpose == "active"
                    )
                )
            ).rowcount
            conversations = await self._trim_conversations(s, round_id)
            self._audit(
                s,
                "round.close",
                f"round {round_id}",
                addresses_purged=purged,
                conversations_trimmed=conversations,
            )
        await self.prune()
        return {"addresses_purged": purged or 0, "conversations_trimmed": conversations or 0}

    async def prune(self, today: date | None = None) -> dict[str, int]:
        """Delete what is no longer needed: handled message ids past the redelivery window,
        and opt-in addresses past their keeping period."""
        today = today or _now().date()
        async with self.db.transaction() as s:
            ids = (
                await s.execute(
                    delete(ProcessedMessage).where(
                        ProcessedMessage.processed_on
                        < today - timedelta(days=self.processed_message_days)
                    )
                )
            ).rowcount
            addresses = (
                await s.execute(
                    delete(ContactAddress).where(
                        ContactAddress.purpose == "opt_in",
                        ContactAddress.created_on < today - timedelta(days=self.opt_in_days),
                    )
                )
            ).rowcount
            if addresses:
                self._audit(s, "contact.expire", f"{addresses} opt-in address(es)")
        return {"message_ids": ids or 0, "opt_in_addresses": addresses or 0}

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
            rnd.status, rnd.published_at = "published", _now()
            for response in (
                await s.execute(select(Response).where(Response.round_id == round_id))
            ).scalars():
                response.completed_hour = None
            self._audit(s, "round.publish", f"round {round_id}")

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
