"""Moments in the database: stored as UTC, always given back timezone-aware (SQLite keeps no
zone and gave back naive datetimes that every reader had to mark), a naive one refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError

from bot.bootstrap import App
from bot.storage.models import Organisation


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
