"""What the CSO pages of the portal read from the database, scoped to one organisation.

Every function takes the organisation's id and returns only what belongs to it: a round of
another CSO is None here, and the page turns that into 404. Response figures are counts only
(per factory, per day), never answers; results go through bot/reports and its disclosure
control alone.

Factories: a CSO sees its own (`Factory.cso_id`, registered in the portal) and the shared
register (`cso_id` None, registered on the command line); it may change only its own. Of a
factory's brand links it sees those that carry its results (its own, and those made on the
command line for every CSO), never another CSO's (docs/portal.md, "What one CSO may learn of
another's work").

Audit entries carry no organisation column; an entry belongs to an organisation when
- its target is one of the organisation's rounds ("round <id>"), or one of its own
  factories (the factory code), or the organisation itself (its name: invites, members,
  portal accounts, log-ins), or
- its actor is one of the organisation's people: a portal account ("web:<id>") or a bot
  member ("member <id>").
So the scheduler's and the command line's work on the CSO's rounds shows, and what its people
did shows wherever they did it; other organisations' entries and anonymous refusals do not.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.enums import OrgKind, RoundStatus
from bot.service.admin import FactoryCount
from bot.storage import Database, rowcount
from bot.storage.models import (
    AuditEntry,
    BrandFactory,
    Factory,
    Invite,
    Member,
    Organisation,
    Response,
    Round,
    WebAccount,
    WebInvite,
)

AUDIT_PAGE_SIZE = 50
ACTIVE_STATUSES = (RoundStatus.DRAFT, RoundStatus.SCHEDULED, RoundStatus.OPEN)
RESULT_STATUSES = (RoundStatus.CLOSED, RoundStatus.PUBLISHED)


# ------------------------------------------------------------------------------ rounds
@dataclass(frozen=True)
class RoundSummary:
    """One line of the rounds list, with its factories' live counts."""

    id: int
    name: str
    status: str
    opens_at: datetime | None
    closes_at: datetime | None
    created_at: datetime
    factories: tuple[FactoryCount, ...]

    @property
    def started(self) -> int:
        return sum(f.started for f in self.factories)

    @property
    def complete(self) -> int:
        return sum(f.complete for f in self.factories)

    @property
    def has_results(self) -> bool:
        return self.status in RESULT_STATUSES


async def cso_rounds(db: Database, org_id: int) -> list[RoundSummary]:
    """The organisation's rounds, newest first, each with its counts per factory."""
    async with db.transaction() as s:
        rounds = list(
            (
                await s.execute(
                    select(Round).where(Round.cso_id == org_id).order_by(Round.id.desc())
                )
            ).scalars()
        )
        counts = await _factory_counts(s, rounds)
    return [
        RoundSummary(
            id=r.id,
            name=r.name,
            status=r.status,
            opens_at=r.opens_at,
            closes_at=r.closes_at,
            created_at=r.created_at,
            factories=tuple(counts[r.id]),
        )
        for r in rounds
    ]


async def cso_round(db: Database, org_id: int, round_id: int) -> Round | None:
    """The round if this organisation runs it; None otherwise (the page answers 404)."""
    async with db.transaction() as s:
        rnd = await s.get(Round, round_id)
        if rnd is None or rnd.cso_id != org_id:
            return None
        return rnd


async def round_counts(db: Database, rnd: Round) -> list[FactoryCount]:
    """Started and complete responses per factory of one round (counts only)."""
    async with db.transaction() as s:
        return (await _factory_counts(s, [rnd]))[rnd.id]


async def _factory_counts(
    s: AsyncSession, rounds: Sequence[Round]
) -> dict[int, list[FactoryCount]]:
    """One grouped query for the counts of many rounds (the CLI's `round status` per round)."""
    ids = [r.id for r in rounds]
    tally: dict[tuple[int, int, str], int] = {}
    if ids:
        rows = await s.execute(
            select(Response.round_id, Response.factory_id, Response.status, func.count())
            .where(Response.round_id.in_(ids))
            .group_by(Response.round_id, Response.factory_id, Response.status)
        )
        tally = {(r, f, st): n for r, f, st, n in rows.all()}
    out: dict[int, list[FactoryCount]] = {}
    for rnd in rounds:
        out[rnd.id] = [
            FactoryCount(
                code=rf.factory.code,
                name=rf.factory.name,
                access_code=rf.code,
                started=tally.get((rnd.id, rf.factory_id, "in_progress"), 0)
                + tally.get((rnd.id, rf.factory_id, "complete"), 0),
                complete=tally.get((rnd.id, rf.factory_id, "complete"), 0),
                headcount=rf.factory.headcount,
            )
            for rf in sorted(rnd.factories, key=lambda rf: rf.factory.code)
        ]
    return out


@dataclass(frozen=True)
class DayCount:
    """Responses started and completed on one day (UTC dates, as stored)."""

    day: date
    started: int
    completed: int


async def responses_per_day(
    db: Database, round_ids: Iterable[int], first: date, last: date
) -> list[DayCount]:
    """Every day from `first` to `last` (inclusive, zeros included) with the responses of
    these rounds started and completed that day. A response started again counts on its
    latest start."""
    ids = list(round_ids)
    started: dict[date, int] = defaultdict(int)
    completed: dict[date, int] = defaultdict(int)
    if ids and first <= last:
        async with db.transaction() as s:
            for column, into in (
                (Response.started_on, started),
                (Response.completed_on, completed),
            ):
                rows = await s.execute(
                    select(column, func.count())
                    .where(Response.round_id.in_(ids), column >= first, column <= last)
                    .group_by(column)
                )
                for day, n in rows.all():
                    into[_as_date(day)] += n
    days = (last - first).days + 1
    return [
        DayCount(d, started[d], completed[d])
        for d in (first + timedelta(days=i) for i in range(max(days, 0)))
    ]


def _as_date(value: Any) -> date:
    """SQLite may hand a Date column back as text in a grouped query."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def chart_period(
    rnd: Round, today: date, zone: ZoneInfo, max_days: int = 60
) -> tuple[date, date] | None:
    """The days (in `zone`, as responses are dated) a round's chart covers: from its opening
    to its closing (or today while it runs), at most the last `max_days`; None before it
    opened."""
    opened = rnd.opens_at
    if rnd.status in (RoundStatus.DRAFT, RoundStatus.SCHEDULED) or opened is None:
        return None
    closed = rnd.closes_at
    if closed and rnd.status != RoundStatus.OPEN:
        last = min(today, closed.astimezone(zone).date())
    else:
        last = today
    first = max(opened.astimezone(zone).date(), last - timedelta(days=max_days - 1))
    return (first, last) if first <= last else None


# ------------------------------------------------------------------------------ factories
@dataclass(frozen=True)
class FactoryRow:
    """A factory as the CSO's factory list shows it."""

    id: int
    code: str
    name: str
    region: str
    city: str
    os_id: str | None
    headcount: int | None
    own: bool  # registered by this CSO in the portal: it may change it
    # The brands that receive this CSO's results of it: linked by the CSO itself (it may
    # unlink them), and linked on the command line for every CSO's rounds. Links another CSO
    # made are not here, not even counted (docs/portal.md).
    brands: tuple[str, ...]
    every_cso_brands: tuple[str, ...] = ()

    @property
    def receiving(self) -> tuple[str, ...]:
        """Every brand that receives this CSO's results of the factory, by name."""
        return tuple(sorted({*self.brands, *self.every_cso_brands}))


def visible_factories(org_id: int) -> Any:
    """The SQL condition for factories a CSO may see and use: its own and the shared ones."""
    return or_(Factory.cso_id == org_id, Factory.cso_id.is_(None))


async def cso_factories(db: Database, org_id: int) -> list[FactoryRow]:
    async with db.transaction() as s:
        factories = list(
            (
                await s.execute(
                    select(Factory).where(visible_factories(org_id)).order_by(Factory.code)
                )
            ).scalars()
        )
        links = await _brand_links(s, [f.id for f in factories], org_id)
    return [_row(f, org_id, links) for f in factories]


async def cso_factory(db: Database, org_id: int, factory_id: int) -> FactoryRow | None:
    """A factory this CSO may see; None for another CSO's (the page answers 404)."""
    async with db.transaction() as s:
        f = (
            await s.execute(
                select(Factory).where(Factory.id == factory_id, visible_factories(org_id))
            )
        ).scalar()
        if f is None:
            return None
        links = await _brand_links(s, [f.id], org_id)
    return _row(f, org_id, links)


def _row(f: Factory, org_id: int, links: dict[tuple[int, bool], list[str]]) -> FactoryRow:
    return FactoryRow(
        id=f.id,
        code=f.code,
        name=f.name,
        region=f.region,
        city=f.city,
        os_id=f.os_id,
        headcount=f.headcount,
        own=f.cso_id == org_id,
        brands=tuple(links.get((f.id, False), ())),
        every_cso_brands=tuple(links.get((f.id, True), ())),
    )


async def _brand_links(
    s: AsyncSession, factory_ids: Sequence[int], org_id: int
) -> dict[tuple[int, bool], list[str]]:
    """Brand names by (factory id, linked for every CSO), of the links that carry this CSO's
    results: its own, and those for every CSO. The query asks for nothing else."""
    if not factory_ids:
        return {}
    rows = await s.execute(
        select(BrandFactory.factory_id, BrandFactory.cso_id.is_(None), Organisation.name)
        .join(Organisation, Organisation.id == BrandFactory.brand_id)
        .where(BrandFactory.factory_id.in_(factory_ids), BrandFactory.carries(org_id))
        .order_by(Organisation.name)
    )
    out: dict[tuple[int, bool], list[str]] = defaultdict(list)
    for fid, every_cso, name in rows.all():
        out[(fid, bool(every_cso))].append(name)
    return dict(out)


async def brand_names(db: Database) -> list[str]:
    """Every brand of the instance, for linking factories to them."""
    async with db.transaction() as s:
        return list(
            (
                await s.execute(
                    select(Organisation.name)
                    .where(Organisation.kind == OrgKind.BRAND)
                    .order_by(Organisation.name)
                )
            ).scalars()
        )


# ------------------------------------------------------------------------------ people
@dataclass(frozen=True)
class BotMember:
    id: int
    channel: str
    role: str
    language: str
    subscribed: bool
    joined_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class PortalAccount:
    id: int
    email: str | None
    role: str
    member_id: int | None  # logged in with a link from the bot
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None


@dataclass(frozen=True)
class PendingInvite:
    kind: str  # "bot" | "portal"
    id: int
    role: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class People:
    members: list[BotMember]
    accounts: list[PortalAccount]
    invites: list[PendingInvite]


async def org_people(db: Database, org_id: int, now: datetime) -> People:
    """Bot members, portal accounts and the invites not used and not expired."""
    async with db.transaction() as s:
        members = (
            await s.execute(select(Member).where(Member.org_id == org_id).order_by(Member.id))
        ).scalars()
        accounts = (
            await s.execute(
                select(WebAccount).where(WebAccount.org_id == org_id).order_by(WebAccount.id)
            )
        ).scalars()
        bot_invites = (
            await s.execute(
                select(Invite)
                .where(Invite.org_id == org_id, Invite.used_at.is_(None), Invite.expires_at > now)
                .order_by(Invite.id)
            )
        ).scalars()
        portal_invites = (
            await s.execute(
                select(WebInvite)
                .where(
                    WebInvite.org_id == org_id,
                    WebInvite.used_at.is_(None),
                    WebInvite.expires_at > now,
                )
                .order_by(WebInvite.id)
            )
        ).scalars()
        return People(
            members=[
                BotMember(
                    m.id,
                    m.channel,
                    m.role,
                    m.language,
                    m.subscribed,
                    m.joined_at,
                    m.revoked_at,
                )
                for m in members
            ],
            accounts=[
                PortalAccount(
                    a.id,
                    a.email,
                    a.role,
                    a.member_id,
                    a.created_at,
                    a.last_login_at,
                    a.disabled_at,
                )
                for a in accounts
            ],
            invites=[
                PendingInvite(
                    "bot",
                    i.id,
                    i.role,
                    i.created_at,
                    i.expires_at,
                )
                for i in bot_invites
            ]
            + [
                PendingInvite(
                    "portal",
                    i.id,
                    i.role,
                    i.created_at,
                    i.expires_at,
                )
                for i in portal_invites
            ],
        )


async def withdraw_invite(
    db: Database, now: datetime, org_id: int, org_name: str, kind: str, invite_id: int, actor: str
) -> bool:
    """Make a pending invite unusable at once (it expires now); audited. False when the
    organisation has no such pending invite."""
    table: Any = Invite if kind == "bot" else WebInvite
    async with db.transaction() as s:
        done = rowcount(
            await s.execute(
                update(table)
                .where(
                    table.id == invite_id,
                    table.org_id == org_id,
                    table.used_at.is_(None),
                    table.expires_at > now,
                )
                .values(expires_at=now)
            )
        )
        if done:
            s.add(
                AuditEntry(
                    at=now,
                    actor=actor,
                    action="invite.withdraw" if kind == "bot" else "web_invite.withdraw",
                    target=org_name,
                    details={"invite": invite_id},
                    ok=True,
                )
            )
    return bool(done)


# ------------------------------------------------------------------------------ audit log
async def audit(
    db: Database, at: datetime, actor: str, action: str, target: str, **details: Any
) -> None:
    """Record something done in the portal that no service records (e.g. a download)."""
    async with db.transaction() as s:
        s.add(
            AuditEntry(
                at=at,
                actor=actor,
                action=action,
                target=target,
                details=details,
                ok=True,
            )
        )


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    ok: bool

    @property
    def details_text(self) -> str:
        """The details as "key: value; ..." (nested values in parentheses), for reading."""
        return details_text(self.details)


def details_text(value: Any) -> str:
    if isinstance(value, dict):
        parts = [
            f"{k}: ({details_text(v)})" if isinstance(v, dict) else f"{k}: {details_text(v)}"
            for k, v in value.items()
            if v is not None and v != [] and v != {}
        ]
        return "; ".join(parts)
    if isinstance(value, list | tuple):
        return ", ".join(details_text(v) for v in value)
    return str(value)


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditRow]
    page: int
    pages: int
    total: int
    actors: dict[str, str]  # actor -> e-mail address of the organisation's portal accounts


def audit_condition(org_id: int, org_name: str) -> Any:
    """Which audit entries belong to an organisation (the rule in the module docstring)."""
    round_targets = select(literal("round ") + cast(Round.id, String)).where(Round.cso_id == org_id)
    factory_targets = select(Factory.code).where(Factory.cso_id == org_id)
    account_actors = select(literal("web:") + cast(WebAccount.id, String)).where(
        WebAccount.org_id == org_id
    )
    member_actors = select(literal("member ") + cast(Member.id, String)).where(
        Member.org_id == org_id
    )
    return or_(
        AuditEntry.target == org_name,
        AuditEntry.target.in_(round_targets),
        AuditEntry.target.in_(factory_targets),
        AuditEntry.actor.in_(account_actors),
        AuditEntry.actor.in_(member_actors),
    )


async def audit_page(
    db: Database, org_id: int, org_name: str, page: int = 1, size: int = AUDIT_PAGE_SIZE
) -> AuditPage:
    """One page of the organisation's audit log, newest first."""
    condition = audit_condition(org_id, org_name)
    async with db.transaction() as s:
        total = (
            await s.execute(select(func.count()).select_from(AuditEntry).where(condition))
        ).scalar_one()
        pages = max(1, -(-total // size))
        page = min(max(1, page), pages)
        rows = (
            await s.execute(
                select(AuditEntry)
                .where(condition)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .offset((page - 1) * size)
                .limit(size)
            )
        ).scalars()
        entries = [
            AuditRow(e.at, e.actor, e.action, e.target, dict(e.details or {}), e.ok) for e in rows
        ]
        emails = (
            await s.execute(
                select(WebAccount.id, WebAccount.email).where(WebAccount.org_id == org_id)
            )
        ).all()
    return AuditPage(
        entries, page, pages, total, {f"web:{i}": e for i, e in emails if e is not None}
    )
