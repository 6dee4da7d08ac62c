"""What every administrative room shares: who acts (audited as `actor`), the clock, the
audit entry written in the transaction of each change, and the look-ups by name and code that
several rooms need. AdminError is the refusal every room raises, worded for the person who
asked."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.enums import OrgKind
from bot.storage import Database
from bot.storage.models import (
    AuditEntry,
    Factory,
    Organisation,
)


class AdminError(ValueError):
    """A request that cannot be carried out; the message says why, for the person who asked."""


class Audited:
    """The state of an administrative room: the database, who acts, the clock."""

    def __init__(self, db: Database, actor: str = "cli", *, clock: Clock) -> None:
        self.db = db
        self.actor = actor
        self.clock = clock

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

    async def _org(self, s: AsyncSession, name: str, required: bool = True) -> Organisation:
        org = (await s.execute(select(Organisation).where(Organisation.name == name))).scalar()
        if org is None and required:
            raise AdminError(f"no organisation called {name!r}")
        return org  # type: ignore[return-value]  # None only when not `required`

    async def _factory(self, s: AsyncSession, code: str) -> Factory:
        factory = (await s.execute(select(Factory).where(Factory.code == code))).scalar()
        if factory is None:
            raise AdminError(f"no factory with code {code!r}")
        return factory

    async def _cso(self, s: AsyncSession, name: str | None) -> Organisation | None:
        if name is None:
            return None
        org = await self._org(s, name)
        if org.kind != OrgKind.CSO:
            raise AdminError(f"{name!r} is not a CSO")
        return org
