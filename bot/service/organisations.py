"""Organisations: the CSOs that run rounds and the brands that receive results, and which
factories each brand sources from (brand_factories), for whose rounds. Every change is
audited."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.enums import OrgKind
from bot.service import validation
from bot.service.audited import AdminError, Audited
from bot.storage.models import (
    BrandFactory,
    Factory,
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

    async def set_short_name(self, org_name: str, short_name: str | None) -> Organisation:
        """How reminders and invitations name a CSO to workers (at most 40 characters; a
        supervisor may read the notification, so short and neutral); None: its full name."""
        short = validation.name(short_name, "short name", 40) if short_name else None
        async with self.db.transaction() as s:
            org = await self._org(s, org_name)
            org.short_name = short
            self._audit(s, "org.short_name", org.name, short_name=short or "")
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

    async def link(
        self, brand: str, factory_codes: Iterable[str], *, cso: str | None = None
    ) -> int:
        """Link a brand to factories it sources from; returns how many links are new.

        With `cso` (the portal, or `wagecheck org link --cso`) the links carry only that CSO's
        results, and only its own factories and the shared register's can be linked (another
        CSO's code is "no factory", as if it did not exist). Without, a factory of the shared
        register is linked for every CSO's rounds, and a CSO's own factory for that CSO."""
        added = 0
        async with self.db.transaction() as s:
            org = await self._brand(s, brand)
            owner = await self._cso(s, cso)
            for code in factory_codes:
                factory = await self._visible_factory(s, code, owner)
                scope = owner.id if owner is not None else factory.cso_id
                if await self._links(s, org.id, factory.id, scope, include_every_cso=True):
                    continue  # the brand receives these results already
                s.add(BrandFactory(brand_id=org.id, factory_id=factory.id, cso_id=scope))
                added += 1
                self._audit(s, "brand.link", brand, factory=code, **_for(cso))
        return added

    async def unlink(
        self, brand: str, factory_codes: Iterable[str], *, cso: str | None = None
    ) -> int:
        """Undo `link` (with the same `cso`): the brand no longer receives those results;
        returns how many links were removed. A CSO removes only its own links."""
        removed = 0
        async with self.db.transaction() as s:
            org = await self._brand(s, brand)
            owner = await self._cso(s, cso)
            for code in factory_codes:
                factory = await self._visible_factory(s, code, owner)
                scope = owner.id if owner is not None else factory.cso_id
                for link in await self._links(s, org.id, factory.id, scope):
                    await s.delete(link)
                    removed += 1
                    self._audit(s, "brand.unlink", brand, factory=code, **_for(cso))
        return removed

    async def _brand(self, s: AsyncSession, name: str) -> Organisation:
        org = await self._org(s, name)
        if org.kind != OrgKind.BRAND:
            raise AdminError(f"{name!r} is not a brand")
        return org

    async def _visible_factory(
        self, s: AsyncSession, code: str, owner: Organisation | None
    ) -> Factory:
        factory = await self._factory(s, code)
        if owner is not None and factory.cso_id not in (None, owner.id):
            raise AdminError(f"no factory with code {code!r}")  # another CSO's: as if none
        return factory

    @staticmethod
    async def _links(
        s: AsyncSession,
        brand_id: int,
        factory_id: int,
        scope: int | None,
        include_every_cso: bool = False,
    ) -> list[BrandFactory]:
        """The links of a brand and a factory made for `scope` (a CSO's id, or None: every
        CSO), and with `include_every_cso` those made for every CSO too."""
        same = BrandFactory.cso_id.is_(None) if scope is None else BrandFactory.cso_id == scope
        if include_every_cso:
            same = or_(same, BrandFactory.cso_id.is_(None))
        query = select(BrandFactory).where(
            BrandFactory.brand_id == brand_id, BrandFactory.factory_id == factory_id, same
        )
        return list((await s.execute(query)).scalars())


def _for(cso: str | None) -> dict[str, str]:
    return {"cso": cso} if cso else {}
