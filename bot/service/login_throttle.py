"""Throttling password log-ins without handing out lock-outs.

Failures are counted under two keys, each a keyed hash (never the e-mail or the IP address):

- one account from one client address: after FREE_PER_ACCOUNT_ADDRESS failures that address
  waits FIRST_WAIT before its next try for that account, then twice as long after each further
  failure (1, 2, 4 … minutes), at most MAX_WAIT. Someone guessing from another address counts
  under another key, so the real user is never locked out by them;
- one client address over every account (credential stuffing, one guess per account): the same
  progression after FREE_PER_ADDRESS failures.

While a key waits, every attempt under it is refused before the password is checked, even the
right password, and the refusal does not count. A key with no failure for FORGET_AFTER starts
again from nothing; a successful log-in forgets its (account, address) key at once and does not
count against the address.

An attempt is counted before its password is checked (argon2 takes a while): many attempts sent
at once are all counted, and those past the limit are refused, instead of all being checked
against a count that none of them has raised yet. A right password then takes its count back.

The rows live in the database (`login_throttles`), so several portal processes share them. The
row of a key is locked while an attempt is counted (PostgreSQL: FOR UPDATE; SQLite has one
writer at a time), always in the order of the keys, so two attempts cannot deadlock.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy import Keyring
from bot.storage import rowcount
from bot.storage.models import LoginThrottle

FREE_PER_ACCOUNT_ADDRESS = 5
FREE_PER_ADDRESS = 30
FIRST_WAIT = timedelta(minutes=1)
MAX_WAIT = timedelta(hours=1)
FORGET_AFTER = timedelta(days=1)

ACCOUNT_AND_ADDRESS = "account and address"
ADDRESS = "address"


def client_part(client: str) -> str:
    """The client address as it is counted: an IPv6 address by its /64 network (one home or
    one server is given a whole /64, and could otherwise take a fresh address for every try),
    an IPv4-mapped address as IPv4, anything else as it is."""
    try:
        address = ipaddress.ip_address(client.strip())
    except ValueError:
        return client.strip()
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def wait_after(failures: int, free: int) -> timedelta | None:
    """How long a key waits after its `failures`-th failure; None before the `free`-th."""
    if failures < free:
        return None
    return min(FIRST_WAIT * 2 ** min(failures - free, 16), MAX_WAIT)


@dataclass(frozen=True)
class Key:
    kind: str  # ACCOUNT_AND_ADDRESS or ADDRESS
    value: str  # the keyed hash (the row's primary key)
    free: int  # failures before the first wait


def keys_for(keyring: Keyring, email: str, client: str) -> tuple[Key, Key]:
    """The two keys of an attempt (the e-mail as normalised; the client address as given)."""
    part = client_part(client)
    # The address first: it holds no line break, so no two pairs give the same text.
    pair = keyring.conversation_key("portal-login", f"account+address:{part}\n{email}")
    address = keyring.conversation_key("portal-login", f"address:{part}")
    return (
        Key(ACCOUNT_AND_ADDRESS, pair, FREE_PER_ACCOUNT_ADDRESS),
        Key(ADDRESS, address, FREE_PER_ADDRESS),
    )


@dataclass(frozen=True)
class Counted:
    """An attempt counted as a failure before its password was checked."""

    keys: tuple[Key, ...]
    # The waits this attempt starts (by kind) should its password be wrong, and what each
    # key's wait was before it.
    waits: dict[str, datetime]
    failures: dict[str, int]
    before: dict[str, datetime | None]

    @property
    def retry_at(self) -> datetime | None:
        """When the next attempt may come, if this one starts a wait."""
        return max(self.waits.values()) if self.waits else None


async def count_attempt(
    s: AsyncSession, keys: tuple[Key, ...], now: datetime
) -> Counted | datetime:
    """Count an attempt as a failure, or refuse it: then the moment from which attempts under
    these keys are taken again (and nothing is counted)."""
    ordered = sorted(keys, key=lambda k: k.value)
    await _make_rows(s, [k.value for k in ordered], now)
    rows = {
        row.key: row
        for row in (
            await s.execute(
                select(LoginThrottle)
                .where(LoginThrottle.key.in_([k.value for k in ordered]))
                .order_by(LoginThrottle.key)
                .with_for_update()
            )
        ).scalars()
    }
    waiting = [
        row.blocked_until
        for row in rows.values()
        if row.blocked_until is not None and row.blocked_until > now
    ]
    if waiting:
        return max(waiting)
    waits: dict[str, datetime] = {}
    failures: dict[str, int] = {}
    before: dict[str, datetime | None] = {}
    for key in ordered:
        row = rows[key.value]
        if row.last_failure_at < now - FORGET_AFTER:
            row.failures = 0
        before[key.value] = row.blocked_until
        row.failures += 1
        row.last_failure_at = now
        failures[key.kind] = row.failures
        wait = wait_after(row.failures, key.free)
        if wait is not None:
            row.blocked_until = now + wait
            waits[key.kind] = row.blocked_until
    return Counted(tuple(keys), waits, failures, before)


async def take_back(s: AsyncSession, counted: Counted) -> None:
    """The password was right: the (account, address) key is forgotten, and the address's
    count and wait are as they were before this attempt (its row goes when that is nothing)."""
    for key in counted.keys:
        if key.kind == ACCOUNT_AND_ADDRESS:
            await s.execute(delete(LoginThrottle).where(LoginThrottle.key == key.value))
            continue
        row = (
            await s.execute(
                select(LoginThrottle).where(LoginThrottle.key == key.value).with_for_update()
            )
        ).scalar()
        if row is None:
            continue
        row.failures = max(0, row.failures - 1)
        if key.kind in counted.waits and row.blocked_until == counted.waits[key.kind]:
            row.blocked_until = counted.before.get(key.value)
        if row.failures == 0 and row.blocked_until is None:
            await s.delete(row)  # nothing to remember


async def prune(s: AsyncSession, now: datetime) -> int:
    """Delete the keys that count for nothing any more (no failure for FORGET_AFTER, no wait
    running); returns how many."""
    return rowcount(
        await s.execute(
            delete(LoginThrottle).where(
                LoginThrottle.last_failure_at < now - FORGET_AFTER,
                or_(LoginThrottle.blocked_until.is_(None), LoginThrottle.blocked_until <= now),
            )
        )
    )


def start_of(day: date) -> datetime:
    """Midnight UTC at the start of `day` (pruning is run by the day)."""
    return datetime.combine(day, datetime.min.time(), UTC)


async def _make_rows(s: AsyncSession, keys: list[str], now: datetime) -> None:
    """A row for every key, those that exist left as they are (INSERT … ON CONFLICT DO
    NOTHING: two processes may insert the same key at once)."""
    values = [
        {"key": key, "failures": 0, "last_failure_at": now, "blocked_until": None} for key in keys
    ]
    bind = s.get_bind()
    insert = postgresql.insert if bind.dialect.name == "postgresql" else sqlite.insert
    await s.execute(
        insert(LoginThrottle).values(values).on_conflict_do_nothing(index_elements=["key"])
    )
