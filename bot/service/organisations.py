"""Organisations: the CSOs that run rounds and the brands that receive results, and which
factories each brand sources from (brand_factories). Every change is audited."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from bot.service import validation
from bot.service.audited import AdminError, Audited
from bot.storage.models import (
    BrandFactory,
    Organisation,
)


class OrganisationService(Audited):
    async def add_org(self, name: str, kind: str) -> Organisation:
        kind = validation.org_kind(kind)
        name = validation.name(name, "organisation's name")
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

    async def org_name(self, org_id: int) -> str | None:
        async with self.db.transaction() as s:
            org = await s.get(Organisation, org_id)
            return org.name if org else None

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
