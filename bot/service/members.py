"""CSO and brand staff in the bot: single-use invites, membership, roles. Every change audited."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.clock import Clock
from bot.enums import OrgKind, Role
from bot.privacy import Keyring
from bot.service import validation
from bot.service.admin import CODE_ALPHABET, AdminError
from bot.storage import Database
from bot.storage.models import (
    AuditEntry,
    BrandFactory,
    Invite,
    Member,
    Organisation,
    Round,
    RoundFactory,
)

INVITE_PREFIX = "join_"
INVITE_LENGTH = 12  # 31^12 ≈ 8e17: not guessable, still typable once
BOT_INVITE_DAYS_MAX = 90
# An account that tried this many codes that did not work within the window is refused even a
# valid one until the window has passed without new attempts (each refusal counts too, so
# guessing on keeps it locked). Codes cannot be guessed anyway; this keeps anyone from trying.
MAX_FAILED_JOINS = 5
JOIN_WINDOW = timedelta(hours=1)
REFUSED = "invite.refused"


@dataclass(frozen=True)
class Membership:
    """Who is asking, for the role checks of every staff command."""

    member_id: int
    org_id: int
    org_name: str
    org_kind: OrgKind
    role: Role
    language: str
    subscribed: bool

    @property
    def is_cso(self) -> bool:
        return self.org_kind == OrgKind.CSO

    @property
    def is_cso_admin(self) -> bool:
        return self.org_kind == OrgKind.CSO and self.role == Role.ADMIN


@dataclass(frozen=True)
class Subscriber:
    """A member who receives a round's results: their organisation and where to send."""

    member_id: int
    org_kind: OrgKind
    org_name: str
    address: str  # decrypted: the Telegram chat id
    language: str


def _hash(code: str) -> str:
    # "surrogatepass": a typed code may carry a lone surrogate; it must not raise here.
    return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()


class MemberService:
    """Invitations and memberships of one instance."""

    def __init__(self, db: Database, keyring: Keyring, actor: str = "cli", *, clock: Clock) -> None:
        self.db = db
        self.keyring = keyring
        self.actor = actor
        self.clock = clock

    def acting_as(self, actor: str) -> MemberService:
        """The same service, with audit entries in the name of `actor`."""
        return MemberService(self.db, self.keyring, actor, clock=self.clock)

    def account(self, channel: str, user_id: str) -> str:
        """The keyed hash a member's account is known by (never the raw id)."""
        return self.keyring.conversation_key(f"member:{channel}", user_id)

    async def create_invite(self, org_name: str, role: str, days: int = 7) -> tuple[str, Invite]:
        """A new invite code (shown once; only its hash is stored)."""
        role = validation.role(role)
        days = validation.days(days, BOT_INVITE_DAYS_MAX)
        code = INVITE_PREFIX + "".join(secrets.choice(CODE_ALPHABET) for _ in range(INVITE_LENGTH))
        async with self.db.transaction() as s:
            org = (
                await s.execute(select(Organisation).where(Organisation.name == org_name))
            ).scalar()
            if org is None:
                raise AdminError(f"no organisation called {org_name!r}")
            invite = Invite(
                org_id=org.id,
                code_hash=_hash(code),
                role=role,
                created_at=self.clock(),
                expires_at=self.clock() + timedelta(days=days),
            )
            s.add(invite)
            s.add(
                AuditEntry(
                    at=self.clock(),
                    actor=self.actor,
                    action="invite.create",
                    target=org_name,
                    details={"role": role, "days": days},
                    ok=True,
                )
            )
        return code, invite

    async def join(
        self,
        channel: str,
        user_id: str,
        code: str,
        language: str = "en",
        now: datetime | None = None,
    ) -> Membership | None:
        """Use an invite: link this account to the organisation. None if the code is not valid
        (unknown, used or expired — deliberately not saying which), and None for any code once
        the account had MAX_FAILED_JOINS refusals within JOIN_WINDOW."""
        now = now or self.clock()
        language = validation.language(language, "en") or "en"  # as the phone says: "pt-BR"
        account = self.account(channel, user_id)
        # Refusals are counted per account (its keyed hash, never the raw id) in the audit log.
        actor = f"{channel} account {account}"
        async with self.db.transaction() as s:
            failures = await s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(
                    AuditEntry.action == REFUSED,
                    AuditEntry.actor == actor,
                    AuditEntry.at > now - JOIN_WINDOW,
                )
            )
            invite = (
                await s.execute(
                    select(Invite).where(Invite.code_hash == _hash(code.strip())).with_for_update()
                )
            ).scalar()
            usable = invite is not None and invite.used_at is None and invite.expires_at > now
            limited = (failures or 0) >= MAX_FAILED_JOINS
            if limited or not usable:
                s.add(
                    AuditEntry(
                        at=now,
                        actor=actor,
                        action=REFUSED,
                        target="invite",
                        details={"rate_limited": True} if limited else {},
                        ok=False,
                    )
                )
                return None
            assert invite is not None
            member = (
                await s.execute(
                    select(Member).where(Member.org_id == invite.org_id, Member.account == account)
                )
            ).scalar()
            address = self.keyring.encrypt_address(channel, user_id)
            if member is None:
                member = Member(
                    org_id=invite.org_id,
                    channel=channel,
                    account=account,
                    address=address,
                    role=invite.role,
                    language=language,
                    subscribed=False,
                    joined_at=now,
                )
                s.add(member)
            else:
                member.role, member.revoked_at, member.address = invite.role, None, address
            await s.flush()
            invite.used_at, invite.member_id = now, member.id
            org = await s.get(Organisation, invite.org_id)
            assert org is not None
            s.add(
                AuditEntry(
                    at=now,
                    actor=f"member {member.id}",
                    action="member.join",
                    target=org.name,
                    details={"role": invite.role},
                    ok=True,
                )
            )
            return _membership(member, org)

    async def memberships(self, channel: str, user_id: str) -> list[Membership]:
        """The organisations this account acts for (not revoked)."""
        account = self.account(channel, user_id)
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(Member, Organisation)
                    .join(Organisation)
                    .where(Member.account == account, Member.revoked_at.is_(None))
                    .order_by(Organisation.name)
                )
            ).all()
        return [_membership(m, o) for m, o in rows]

    async def list_members(self, org_name: str) -> list[Member]:
        async with self.db.transaction() as s:
            return list(
                (
                    await s.execute(
                        select(Member)
                        .join(Organisation)
                        .where(Organisation.name == org_name)
                        .order_by(Member.id)
                    )
                ).scalars()
            )

    async def revoke(self, org_name: str, member_id: int) -> None:
        member_id = validation.row_id(member_id, "member")
        async with self.db.transaction() as s:
            member = (
                await s.execute(
                    select(Member)
                    .join(Organisation)
                    .where(Organisation.name == org_name, Member.id == member_id)
                )
            ).scalar()
            if member is None:
                raise AdminError(f"{org_name!r} has no member {member_id}")
            member.revoked_at = self.clock()
            s.add(
                AuditEntry(
                    at=self.clock(),
                    actor=self.actor,
                    action="member.revoke",
                    target=org_name,
                    details={"member": member_id},
                    ok=True,
                )
            )

    async def set_subscribed(self, member_id: int, subscribed: bool) -> None:
        async with self.db.transaction() as s:
            member = await s.get(Member, member_id)
            assert member is not None
            member.subscribed = subscribed
            s.add(
                AuditEntry(
                    at=self.clock(),
                    actor=f"member {member_id}",
                    action="member.subscribe" if subscribed else "member.unsubscribe",
                    target=member.organisation.name,
                    details={},
                    ok=True,
                )
            )

    async def audit(
        self, member_id: int, action: str, target: str, *, ok: bool = True, **details: object
    ) -> None:
        """Record an administrative action taken (or, with ok=False, refused) in the bot."""
        async with self.db.transaction() as s:
            s.add(
                AuditEntry(
                    at=self.clock(),
                    actor=f"member {member_id}",
                    action=action,
                    target=target,
                    details=details,
                    ok=ok,
                )
            )

    async def round_subscribers(self, round_id: int, channel: str = "telegram") -> list[Subscriber]:
        """The subscribed members (not revoked, on `channel`) of the organisations that get a
        round's results: the CSO that runs it and the brands linked to one of its factories."""
        async with self.db.transaction() as s:
            rnd = await s.get(Round, round_id)
            if rnd is None:
                return []
            brands = (
                select(BrandFactory.brand_id)
                .join(RoundFactory, RoundFactory.factory_id == BrandFactory.factory_id)
                .where(RoundFactory.round_id == round_id, BrandFactory.carries(rnd.cso_id))
            )
            rows = (
                await s.execute(
                    select(Member, Organisation)
                    .join(Organisation)
                    .where(
                        Member.subscribed.is_(True),
                        Member.revoked_at.is_(None),
                        Member.channel == channel,
                        (Organisation.id == rnd.cso_id) | Organisation.id.in_(brands),
                    )
                )
            ).all()
        return [
            Subscriber(
                member.id,
                org.kind,
                org.name,
                self.keyring.decrypt_address(channel, member.address),
                member.language,
            )
            for member, org in rows
        ]


def _membership(member: Member, org: Organisation) -> Membership:
    return Membership(
        member_id=member.id,
        org_id=org.id,
        org_name=org.name,
        org_kind=org.kind,
        role=member.role,
        language=member.language,
        subscribed=member.subscribed,
    )
