"""Column types of our own."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Enum
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """A moment, stored as UTC and always given back timezone-aware.

    PostgreSQL keeps the zone (`timestamp with time zone`); SQLite keeps the digits only and
    gives back a naive datetime, which without this type every reader had to mark as UTC. A
    naive datetime is refused on the way in: its zone is unknown, and guessing is how a
    09:00 Karachi status turns into 09:00 UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UtcDateTime takes a datetime, not {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("UtcDateTime takes timezone-aware datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def checked(enum: type[StrEnum], length: int, name: str) -> Enum:
    """A column of one of `enum`'s values: a VARCHAR(`length`) with a CHECK constraint named
    ck_<table>_<name> (no database enum type: adding a value stays a plain migration), read
    back as the enum's members."""
    return Enum(
        enum,
        native_enum=False,
        length=length,
        create_constraint=True,
        name=name,
        validate_strings=True,
        values_callable=lambda members: [m.value for m in members],
    )
