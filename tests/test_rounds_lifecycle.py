"""A round's lifecycle: draft → scheduled → open → closed → published (+ cancelled), every
change checked in one place and audited; poster codes exist from the draft on but work only
while the round is open; a closed round's answers are politely refused and not stored."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.bootstrap import App
from bot.clock import SetClock
from bot.service.admin import AdminError
from bot.storage.models import Answer, AuditEntry, ContactAddress
from tests.conftest import NOW
from tests.test_service import Worker, count


async def _setup(app: App) -> None:
    await app.admin.add_org("Test CSO", "cso")
    await app.admin.add_factory("KHI-001", "Factory 0", "sindh", "Karachi", headcount=100)


async def _actions(app: App) -> list[str]:
    async with app.db.transaction() as s:
        return list((await s.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars())


async def test_a_round_goes_from_draft_to_published_and_every_step_is_audited(
    app: App, clock: SetClock
) -> None:
    clock.set(NOW, tick=True)  # the round's dates are counted from NOW
    await _setup(app)
    rnd = await app.admin.create_round(
        "R", "Test CSO", app.survey, ["KHI-001"], NOW + timedelta(days=1), NOW + timedelta(days=8)
    )
    assert rnd.status == "draft" and rnd.max_reminders == 1
    assert rnd.reminder_delay_minutes == 24 * 60
    code = rnd.factories[0].code
    # The poster can be printed now, but its code does nothing before the round opens.
    early = await Worker(app, "1").start(code)
    assert await count(app, ContactAddress) == 0 and early.replies
    assert (await app.admin.schedule_round(rnd.id)).status == "scheduled"
    assert (await app.admin.start_round(rnd.id)).status == "open"
    await Worker(app, "2").start(code)
    await app.admin.extend_round(rnd.id, NOW + timedelta(days=400))
    await app.admin.close_round(rnd.id)
    await app.admin.publish_round(rnd.id)
    assert (await app.admin.get_round(rnd.id)).status == "published"
    actions = await _actions(app)
    assert [a for a in actions if a.startswith("round.")] == [
        "round.create",
        "round.schedule",
        "round.open",
        "round.extend",
        "round.close",
        "round.purge",
        "round.publish",
    ]


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        ((), "close"),  # a draft cannot close
        ((), "publish"),
        (("start", "close"), "start"),  # a closed round cannot open again
        (("start", "close", "publish"), "cancel"),  # a published round cannot be cancelled
        (("cancel",), "start"),  # nor a cancelled one opened
        (("start",), "schedule"),
    ],
)
async def test_transitions_outside_the_lifecycle_are_refused(
    app: App, steps: tuple[str, ...], refused: str
) -> None:
    await _setup(app)
    rnd = await app.admin.create_round(
        "R", "Test CSO", app.survey, ["KHI-001"], NOW, NOW + timedelta(days=3650)
    )
    methods = {
        "start": app.admin.start_round,
        "close": app.admin.close_round,
        "publish": app.admin.publish_round,
        "cancel": app.admin.cancel_round,
        "schedule": app.admin.schedule_round,
    }
    for step in steps:
        await methods[step](rnd.id)
    before = await _actions(app)
    with pytest.raises(AdminError):
        await methods[refused](rnd.id)
    assert await _actions(app) == before  # a refused change leaves no trace but the error


async def test_scheduling_needs_both_times(app: App) -> None:
    await _setup(app)
    rnd = await app.admin.create_round("R", "Test CSO", app.survey, ["KHI-001"])
    with pytest.raises(AdminError, match="opening and a closing time"):
        await app.admin.schedule_round(rnd.id)
    with pytest.raises(AdminError, match="close after it opens"):
        await app.admin.create_round("R", "Test CSO", app.survey, ["KHI-001"], NOW, NOW)


async def test_an_answer_to_a_closed_round_is_refused_politely_and_not_stored(app: App) -> None:
    await _setup(app)
    rnd = await app.admin.open_round("R", "Test CSO", app.survey, ["KHI-001"])
    w = Worker(app, "77")
    await w.start(rnd.factories[0].code)
    await w.press("ur")
    await w.press("yes")
    answers = await count(app, Answer)
    await app.admin.close_round(rnd.id)
    late = await w.type("1")
    assert "سروے" in late.replies[0].text or "closed" in late.replies[0].text
    assert await count(app, Answer) == answers
    assert await count(app, ContactAddress) == 0


async def test_cancelling_an_open_round_purges_its_addresses(app: App) -> None:
    await _setup(app)
    rnd = await app.admin.open_round("R", "Test CSO", app.survey, ["KHI-001"])
    await Worker(app, "5").start(rnd.factories[0].code)
    assert await count(app, ContactAddress) == 0  # no address before the survey starts
    result = await app.admin.cancel_round(rnd.id)
    assert (await app.admin.get_round(rnd.id)).status == "cancelled"
    assert result["addresses_purged"] == 0
    assert "round.cancel" in await _actions(app)
