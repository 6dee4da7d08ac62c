"""Our column types: moments stored as UTC and always given back timezone-aware (SQLite keeps
no zone and gave back naive datetimes that every reader had to mark), a naive one refused; and
statuses, kinds and roles checked by the database against their StrEnum (bot/enums.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from bot.bootstrap import App
from bot.enums import RoundStatus
from bot.storage.models import Organisation, Round


async def test_a_moment_comes_back_aware_and_in_utc_whatever_zone_it_went_in(app: App) -> None:
    karachi = datetime(2027, 6, 30, 23, 59, 30, tzinfo=ZoneInfo("Asia/Karachi"))
    async with app.db.transaction() as s:
        s.add(Organisation(name="CSO", kind="cso", created_at=karachi))
    async with app.db.transaction() as s:
        org = (await s.execute(select(Organisation))).scalar_one()
        # Compared in the database, as UTC: one second later than the stored moment is later.
        later = karachi + timedelta(seconds=1)
        found = await s.scalar(select(Organisation.id).where(Organisation.created_at < later))
    assert org.created_at == karachi  # the same moment…
    assert org.created_at.tzinfo is not None and org.created_at.utcoffset() == timedelta(0)
    assert org.created_at == datetime(2027, 6, 30, 18, 59, 30, tzinfo=UTC)  # …given as UTC
    assert found == org.id


async def test_a_naive_moment_is_refused(app: App) -> None:
    with pytest.raises(StatementError, match="timezone-aware"):
        async with app.db.transaction() as s:
            s.add(Organisation(name="CSO", kind="cso", created_at=datetime(2027, 1, 1, 9, 0)))


CHECKED = [
    ("organisations", "kind"),
    ("rounds", "status"),
    ("responses", "status"),
    ("contact_addresses", "purpose"),
    ("members", "role"),
    ("invites", "role"),
    ("web_accounts", "role"),
    ("web_invites", "role"),
    ("broadcast_messages", "kind"),
    ("broadcast_messages", "status"),
]


async def test_every_status_kind_and_role_column_has_its_check_constraint(app: App) -> None:
    def constraints(conn: Any) -> set[tuple[str, str]]:
        found = set()
        for table, column in CHECKED:
            for check in inspect(conn).get_check_constraints(table):
                if check["name"] == f"ck_{table}_{column}":
                    found.add((table, column))
        return found

    async with app.db.engine.connect() as conn:
        assert await conn.run_sync(constraints) == set(CHECKED)


@pytest.mark.parametrize(
    ("statement", "value"),
    [
        ("UPDATE organisations SET kind = :v", "ngo"),
        ("UPDATE rounds SET status = :v", "paused"),
    ],
)
async def test_the_database_refuses_a_value_no_enum_has(
    app: App, statement: str, value: str
) -> None:
    """SQL that bypasses the models still cannot store a status, kind or role we do not know."""
    await app.admin.add_org("Test CSO", "cso")
    await app.admin.add_factory("KHI-001", "Factory 0", "sindh", "Karachi", headcount=100)
    await app.admin.open_round("R", "Test CSO", app.survey, ["KHI-001"])
    with pytest.raises(IntegrityError):
        async with app.db.transaction() as s:
            await s.execute(text(statement), {"v": value})
    async with app.db.transaction() as s:
        assert (await s.execute(select(Round.status))).scalar_one() == RoundStatus.OPEN
