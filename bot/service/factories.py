"""Factories: registered one by one or from a CSV file, in the shared register (the command
line) or as a CSO's own (the portal; only it may change them). Every change is audited.

What a CSO is told when its factory cannot be registered keeps to docs/portal.md ("What one
CSO may learn of another's work"): that a code is taken, never whose it is or what the factory
is; and an Open Supply Hub id is unique only among the CSO's own factories and the shared
register, so another CSO's registration of the same factory is no reason to refuse it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.service import validation
from bot.service.audited import AdminError, Audited
from bot.storage.models import (
    Factory,
)

REGIONS = ("sindh", "punjab", "islamabad", "khyber_pakhtunkhwa", "balochistan")


def _region(text: str) -> str:
    region = text.strip().lower()
    if region not in REGIONS:
        raise AdminError(f"region must be one of {', '.join(REGIONS)}, not {text[:40]!r}")
    return region


def _rows(reader: csv.DictReader[str]) -> Iterator[dict[str | None, Any]]:
    """The lines after the header; one the csv module cannot read (a cell over its limit of
    131,072 characters) is an AdminError naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise AdminError(
                f"line {reader.line_num + 1}: this is not CSV that can be read ({exc})"
            ) from None
        yield row


def _row(row: dict[str | None, Any]) -> tuple[str, dict[str, Any]]:
    """One CSV line, checked as the form checks it. A short line has None for the missing
    cells; a long one puts the extra cells under the key None."""
    if None in row:
        raise AdminError("the line has more cells than the header")

    def cell(key: str) -> str:
        value = row.get(key)
        return value if isinstance(value, str) else ""

    return validation.factory_code(cell("code")), {
        "name": validation.name(cell("name"), "factory's name"),
        "region": _region(cell("region")),
        "city": validation.city(cell("city")),
        "os_id": validation.os_id(cell("os_id")),
        "headcount": validation.headcount(cell("headcount")),
    }


def _taken(code: str) -> str:
    """The one thing a CSO learns of a factory it cannot see: its code is in use."""
    return f"the factory code {code!r} is taken; choose another"


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
        code, region = validation.factory_code(code), _region(region)
        name, city = validation.name(name, "factory's name"), validation.city(city)
        os_id, headcount = validation.os_id(os_id), validation.headcount(headcount)
        async with self.db.transaction() as s:
            if (await s.execute(select(Factory).where(Factory.code == code))).scalar():
                raise AdminError(_taken(code))
            owner = await self._cso(s, cso)
            await self._check_os_id(s, os_id or None, None, owner.id if owner else None)
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
        name, city = validation.name(name, "factory's name"), validation.city(city)
        os_id, headcount = validation.os_id(os_id), validation.headcount(headcount)
        region = _region(region)
        if not name.strip():
            raise AdminError("a factory needs a name")
        if headcount is not None and headcount < 1:
            raise AdminError("the headcount must be a positive number")
        async with self.db.transaction() as s:
            factory = await self._factory(s, code)
            await self._check_os_id(s, os_id or None, factory.id, factory.cso_id)
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
        self, s: AsyncSession, os_id: str | None, factory_id: int | None, owner_id: int | None
    ) -> None:
        """An Open Supply Hub id names one factory in a register: among the shared register
        (`owner_id` None), or among one CSO's own factories and the shared register, which
        that CSO sees too. Say so, naming the factory it sees, instead of failing on the
        index; other CSOs' factories are not looked at."""
        if os_id is None:
            return
        register = (
            Factory.cso_id.is_(None)
            if owner_id is None
            else or_(Factory.cso_id.is_(None), Factory.cso_id == owner_id)
        )
        other = (
            await s.execute(
                select(Factory.code).where(
                    Factory.os_id == os_id, Factory.id != (factory_id or 0), register
                )
            )
        ).scalar()
        if other is not None:
            raise AdminError(f"OS ID {os_id!r} is already that of factory {other!r}")

    async def import_factories(self, text: str, *, cso: str | None = None) -> tuple[int, int]:
        """Import a CSV (code,name,region,city,os_id,headcount); returns (added, updated).

        With `cso` (the web portal) new factories become that CSO's own, and a row may update
        only a factory of that CSO; all or nothing, the first bad line says what is wrong."""
        # newline="": a line may end in CR, LF or both, as spreadsheets save it (a lone CR in
        # the default mode stops the csv module with an error).
        reader = csv.DictReader(io.StringIO(text, newline=""))
        try:
            fieldnames = reader.fieldnames
        except csv.Error as exc:
            raise AdminError(f"line 1: this is not CSV that can be read ({exc})") from None
        missing = {"code", "name", "region"} - set(fieldnames or [])
        if missing:
            raise AdminError(f"the CSV lacks the column(s): {', '.join(sorted(missing))}")
        added = updated = 0
        async with self.db.transaction() as s:
            owner = await self._cso(s, cso)
            for line, row in enumerate(_rows(reader), start=2):
                try:
                    code, values = _row(row)
                except AdminError as exc:
                    raise AdminError(f"line {line}: {exc}") from None
                os_id = values["os_id"]
                factory = (await s.execute(select(Factory).where(Factory.code == code))).scalar()
                if owner is not None and factory is not None and factory.cso_id != owner.id:
                    # Another CSO's or the shared register's: the same words either way.
                    raise AdminError(f"line {line}: {_taken(code)}")
                try:
                    await self._check_os_id(
                        s,
                        os_id,
                        factory.id if factory else None,
                        factory.cso_id if factory else owner.id if owner else None,
                    )
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
