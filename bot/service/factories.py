"""Factories: registered one by one or from a CSV file, in the shared register (the command
line) or as a CSO's own (the portal; only it may change them). Every change is audited."""

from __future__ import annotations

import csv
import io

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service.audited import AdminError, Audited
from bot.storage.models import (
    Factory,
)

REGIONS = ("sindh", "punjab", "islamabad")


class FactoryService(Audited):
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
