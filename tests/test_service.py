"""The service on a real database (SQLite always; PostgreSQL when configured): one message,
one transaction; answers stored once, with the survey version and the date only."""

from __future__ import annotations

import asyncio
import itertools
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.bootstrap import App
from bot.clock import SetClock
from bot.service import InboundMessage, Outcome
from bot.service.admin import AdminError
from bot.storage.models import (
    Answer,
    AuditEntry,
    ContactAddress,
    Conversation,
    ProcessedMessage,
    Response,
)
from bot.survey.state import ResponseCompleted
from tests.conftest import NOW

_ids = itertools.count(1)


class Worker:
    """A worker on a test channel, talking to the real service."""

    def __init__(self, app: App, user_id: str, channel: str = "test") -> None:
        self.app, self.user_id, self.channel = app, user_id, channel
        self.clock = NOW  # the chosen date of these tests (set the app's clock to match)
        self.outcome = Outcome()

    async def send(self, message_id: str | None = None, **kw: object) -> Outcome:
        self.clock += timedelta(seconds=20)
        msg = InboundMessage(
            channel=self.channel,
            user_id=self.user_id,
            message_id=message_id or str(next(_ids)),
            received_at=self.clock,
            **kw,
        )  # type: ignore[arg-type]
        self.outcome = await self.app.service.handle(msg)
        return self.outcome

    async def start(self, code: str | None = None) -> Outcome:
        return await self.send(kind="start", start_code=code)

    async def press(self, value: str) -> Outcome:
        question = next(r for r in reversed(self.outcome.replies) if r.buttons)
        payload = next(b.payload for b in question.buttons if b.payload.endswith(":" + value))
        return await self.send(kind="button", payload=payload)

    async def type(self, text: str) -> Outcome:
        return await self.send(kind="text", text=text)

    @property
    def question(self) -> str | None:
        return next((r.question_id for r in reversed(self.outcome.replies) if r.question_id), None)


def last_month(moment: datetime) -> str:
    """The month before `moment`'s in Karachi, as the month buttons carry it ("2026-10")."""
    local = moment.astimezone(ZoneInfo("Asia/Karachi")).date()
    return (local.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


async def open_round(app: App, factories: tuple[str, ...] = ("KHI-001",)) -> dict[str, str]:
    admin = app.admin
    await admin.add_org("Test CSO", "cso")
    for i, code in enumerate(factories):
        await admin.add_factory(code, f"Factory {i}", "sindh", "Karachi", headcount=100)
    rnd = await admin.open_round("Round 1", "Test CSO", app.survey, list(factories))
    return {rf.factory.code: rf.code for rf in rnd.factories}


async def complete_survey(
    w: Worker, code: str, lang: str = "en", pay: str = "38000", opt_in: str = "no"
) -> None:
    await w.start(code)
    await w.press(lang)
    await w.press("yes")  # consent
    await w.press("yes")  # factory confirmed
    await w.press("helper")
    await w.press("permanent")
    await w.press(last_month(w.clock))
    await w.press("yes")  # full month
    await w.type(pay)
    await complete_rest(w, opt_in)


async def complete_rest(w: Worker, opt_in: str = "no") -> None:
    """From the pay-rise question (after the pay) to the end."""
    await w.press("yes")  # pay rise
    await w.press("no")  # payslip
    await w.type("1")  # payment method: cash
    await w.press("no")  # deductions
    await w.press("woman")
    await w.press("_skip")  # comment
    await w.press(opt_in)
    assert any(isinstance(e, ResponseCompleted) for e in w.outcome.events)


async def count(app: App, model: type, *where: object) -> int:
    async with app.db.transaction() as s:
        return await s.scalar(select(func.count()).select_from(model).where(*where))  # type: ignore[arg-type]


async def answers(app: App) -> dict[str, Any]:
    """Every stored answer by question id, with its typed value."""
    async with app.db.transaction() as s:
        rows = (await s.execute(select(Answer))).scalars().all()
    return {
        a.question_id: a.value_number
        if a.value_number is not None
        else (a.value_json if a.value_json is not None else a.value_text)
        for a in rows
    }


async def test_a_complete_survey_stores_typed_answers_with_date_only(app: App) -> None:
    codes = await open_round(app)
    w = Worker(app, "1001")
    await complete_survey(w, codes["KHI-001"], lang="ur", pay="۳۸٬۰۰۰ روپے")
    async with app.db.transaction() as s:
        response = (await s.execute(select(Response))).scalar_one()
        answers = {a.question_id: a for a in (await s.execute(select(Answer))).scalars()}
    assert response.status == "complete" and response.language == "ur"
    assert response.completed_hour is not None
    assert (response.completed_hour.minute, response.completed_hour.second) == (0, 0)
    assert answers["pay"].value_number == 38000
    assert answers["pay_month"].value_text == "2026-10"
    assert answers["payment_method"].value_json == ["cash"]
    assert answers["job"].value_text == "helper"
    assert "comment" not in answers  # skipped
    assert all(type(a.answered_on) is date for a in answers.values())
    assert response.survey_version_id is not None


async def test_redelivered_message_changes_nothing(app: App) -> None:
    codes = await open_round(app)
    w = Worker(app, "1002")
    await w.start(codes["KHI-001"])
    await w.press("en")
    await w.press("yes")
    await w.press("yes")
    first = await w.send(message_id="dup-1", kind="button", payload="a:job:helper")
    assert first.replies and not first.duplicate
    again = await w.send(message_id="dup-1", kind="button", payload="a:job:operator")
    assert again.duplicate and again.replies == []
    async with app.db.transaction() as s:
        jobs = (await s.execute(select(Answer.value_text).where(Answer.question_id == "job"))).all()
    assert jobs == [("helper",)]


async def test_a_restart_of_the_process_continues_the_conversation(
    app: App, settings: object
) -> None:
    from bot.bootstrap import build_app

    codes = await open_round(app)
    w = Worker(app, "1003")
    await w.start(codes["KHI-001"])
    await w.press("sd")
    await w.press("yes")
    await w.press("yes")
    await w.press("operator")
    assert w.question == "employment"
    second = await build_app(settings)  # type: ignore[arg-type]  # a new process, same database
    try:
        w.app = second
        await w.type("۲")
        assert w.question == "pay_month"
        assert "آڪٽوبر" in w.outcome.replies[-1].buttons[0].label  # still in Sindhi
    finally:
        await second.close()


async def test_back_retracts_the_stored_answer(app: App) -> None:
    codes = await open_round(app)
    w = Worker(app, "1004")
    await w.start(codes["KHI-001"])
    for v in ("en", "yes", "yes", "helper"):
        await w.press(v)
    assert await count(app, Answer, Answer.question_id == "job") == 1
    await w.type("back")
    assert w.question == "job"
    assert await count(app, Answer, Answer.question_id == "job") == 0
    await w.press("checker")
    async with app.db.transaction() as s:
        assert (
            await s.scalar(select(Answer.value_text).where(Answer.question_id == "job"))
            == "checker"
        )


async def test_delete_erases_answers_and_contact_address(app: App) -> None:
    codes = await open_round(app)
    w = Worker(app, "1005")
    await w.start(codes["KHI-001"])
    for v in ("ur", "yes", "yes", "helper", "permanent"):
        await w.press(v)
    assert await count(app, Answer) == 2
    assert await count(app, ContactAddress) == 1
    await w.type("مٹائیں")
    await w.send(kind="button", payload="x:delete:yes")
    assert await count(app, Response) == 0
    assert await count(app, Answer) == 0
    assert await count(app, ContactAddress) == 0
    assert "مٹا" in w.outcome.replies[-1].text


async def test_answering_twice_in_a_round_replaces_the_first_response(app: App) -> None:
    codes = await open_round(app)
    w = Worker(app, "1006")
    await complete_survey(w, codes["KHI-001"], pay="38000")

    async def stored() -> tuple[list[float | None], list[str]]:
        async with app.db.transaction() as s:
            pays = (
                await s.execute(select(Answer.value_number).where(Answer.question_id == "pay"))
            ).scalars()
            statuses = (await s.execute(select(Response.status))).scalars()
            return list(pays), list(statuses)

    await w.type("restart")
    assert w.question is None  # asked first: a finished survey is not wiped by one word
    await w.press("yes")
    assert w.question == "consent"  # the language and the factory are kept
    for v in ("yes", "helper", "permanent", last_month(w.clock), "yes"):
        await w.press(v)
    await w.type("41000")
    # Halfway through the second time the first answers still count, complete.
    assert await stored() == ([38000], ["complete"])
    await w.type("stop")
    assert await stored() == ([38000], ["complete"])
    await w.type("go on")
    await complete_rest(w)
    assert await count(app, Answer, Answer.question_id == "pay") == 1
    assert await count(app, Response) == 1
    assert await stored() == ([41000], ["complete"])


async def test_contact_address_is_kept_only_for_those_who_opt_in(app: App, clock: SetClock) -> None:
    clock.set(NOW, tick=True)  # the workers' date: their opt-in is fresh, not 400 days old
    codes = await open_round(app)
    await complete_survey(Worker(app, "2001"), codes["KHI-001"], opt_in="no")
    await complete_survey(Worker(app, "2002"), codes["KHI-001"], opt_in="yes")
    w = Worker(app, "2003")
    await w.start(codes["KHI-001"])
    for v in ("en", "yes", "yes", "helper"):
        await w.press(v)
    async with app.db.transaction() as s:
        purposes = sorted((await s.execute(select(ContactAddress.purpose))).scalars())
    assert purposes == ["active", "opt_in"]
    purged = await app.admin.close_round(1)
    assert purged["addresses_purged"] == 1
    async with app.db.transaction() as s:
        assert (await s.execute(select(ContactAddress.purpose))).scalars().all() == ["opt_in"]
        states = (await s.execute(select(Conversation.state))).scalars().all()
    assert len(states) == 3 and not any('"helper"' in state for state in states)


async def test_messages_after_the_round_closed_are_not_stored(app: App) -> None:
    codes = await open_round(app)
    w = Worker(app, "1007")
    await w.start(codes["KHI-001"])
    for v in ("en", "yes", "yes"):
        await w.press(v)
    await app.admin.close_round(1)
    before = await count(app, Answer)
    await w.send(kind="button", payload="a:job:helper")
    assert await count(app, Answer) == before
    assert "closed" in w.outcome.replies[0].text
    assert await count(app, Conversation) == 0
    again = Worker(app, "1008")
    await again.start(codes["KHI-001"])  # the poster code no longer works
    assert "do not know this code" in again.outcome.replies[0].text


async def test_typed_poster_code_starts_the_survey_for_that_factory(app: App) -> None:
    codes = await open_round(app, ("KHI-001", "KHI-002"))
    w = Worker(app, "1009")
    await w.start()
    await w.press("en")
    await w.press("yes")
    assert w.question == "factory"
    code = codes["KHI-002"]
    await w.type(f"{code[:3].lower()} {code[3:]}")
    assert w.question == "job"
    async with app.db.transaction() as s:
        response = (await s.execute(select(Response))).scalar_one()
    assert response.factory_id == 2


async def test_first_message_carrying_a_code_starts_the_survey(app: App) -> None:
    codes = await open_round(app)
    w = Worker(app, "1010")
    await w.type(codes["KHI-001"])
    assert w.question == "language"
    await w.press("en")
    await w.press("yes")
    assert "Factory 0" in w.outcome.replies[-1].text


async def test_each_message_is_one_transaction_and_dedup_rows_are_written(app: App) -> None:
    codes = await open_round(app)
    w = Worker(app, "1011")
    await complete_survey(w, codes["KHI-001"])
    assert await count(app, ProcessedMessage) == 16


async def test_a_crowd_larger_than_the_pool_waits_its_turn_and_nothing_fails(app: App) -> None:
    """300 workers' first messages at the same instant against a pool of 3 connections whose
    checkout gives up after 0.2 s: they queue in the service, in order, not in the pool."""
    from bot.service.inbound import SurveyService
    from bot.storage import Database

    codes = await open_round(app)
    small = Database(app.db.url, pool_size=2, max_overflow=1, pool_timeout=0.2)
    try:
        service = SurveyService(small, app.engines, app.keyring, clock=app.clock)
        outcomes = await asyncio.gather(
            *(
                service.handle(
                    InboundMessage(
                        channel="test",
                        user_id=f"crowd{i}",
                        message_id=f"crowd{i}",
                        kind="start",
                        start_code=codes["KHI-001"],
                        received_at=NOW,
                    )
                )
                for i in range(300)
            ),
            return_exceptions=True,
        )
    finally:
        await small.dispose()
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert failures == []
    assert all("choose your language" in o.replies[-1].text for o in outcomes)  # type: ignore[union-attr]
    assert await count(app, ProcessedMessage) == 300


async def test_a_crowd_reuses_the_pooled_connections_and_sqlite_writes_one_at_a_time(
    app: App,
) -> None:
    """200 first messages at once. The pool opens no more connections than it keeps (with
    SQLAlchemy's default of 5 kept, the service's 10 at once closed and reopened a connection
    for nearly every message). SQLite has one writer at a time: the service runs one
    transaction at a time there instead of leaving the others in SQLite's busy handler, which
    sleeps; PostgreSQL runs several at once, within the service's turns."""
    from sqlalchemy import event

    codes = await open_round(app)
    engine = app.db.engine.sync_engine
    opened, running, peak = 0, 0, 0

    def connected(*_: object) -> None:
        nonlocal opened
        opened += 1

    def began(*_: object) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)

    def ended(*_: object) -> None:
        nonlocal running
        running -= 1

    listeners = [("connect", connected), ("begin", began), ("commit", ended), ("rollback", ended)]
    for name, fn in listeners:
        event.listen(engine, name, fn)
    try:
        outcomes = await asyncio.gather(
            *(Worker(app, f"burst{i}").start(codes["KHI-001"]) for i in range(200))
        )
    finally:
        for name, fn in listeners:
            event.remove(engine, name, fn)
    assert all("choose your language" in o.replies[-1].text for o in outcomes)
    assert await count(app, ProcessedMessage) == 200
    assert opened <= app.db.pool_size
    if app.db.is_sqlite:
        assert peak == 1
    else:
        assert 1 < peak <= app.db.writers


async def test_admin_actions_are_audited_and_validated(app: App) -> None:
    await open_round(app)
    with pytest.raises(AdminError, match="region"):
        await app.admin.add_factory("X-1", "X", "mars")
    with pytest.raises(AdminError, match="exists"):
        await app.admin.add_org("Test CSO", "cso")
    with pytest.raises(AdminError, match="not a CSO"):
        await app.admin.add_org("Brand B", "brand")
        await app.admin.open_round("R", "Brand B", app.survey, ["KHI-001"])
    async with app.db.transaction() as s:
        actions = (await s.execute(select(AuditEntry.action).order_by(AuditEntry.id))).scalars()
        assert list(actions) == ["org.add", "factory.add", "round.open", "org.add"]


async def test_factory_csv_import_adds_and_updates(app: App) -> None:
    text = (
        "code,name,region,city,os_id,headcount\n"
        "KHI-010,Alpha Knits,Sindh,Karachi,PK2026ABC,250\n"
        "LHR-001,Beta Mills,punjab,Lahore,,\n"
    )
    assert await app.admin.import_factories(text) == (2, 0)
    assert await app.admin.import_factories(text.replace("250", "300")) == (0, 2)
    factories = {f.code: f for f in await app.admin.list_factories()}
    assert factories["KHI-010"].headcount == 300 and factories["KHI-010"].region == "sindh"
    assert factories["LHR-001"].os_id is None
    with pytest.raises(AdminError, match="line 2"):
        await app.admin.import_factories("code,name,region\nX,Y,moon\n")


async def test_a_survey_file_changed_without_a_new_version_is_refused(app: App) -> None:
    await open_round(app)
    edited = app.survey.model_copy(update={"title": "Changed title"})
    with pytest.raises(AdminError, match="raise its version"):
        await app.admin.open_round("R2", "Test CSO", edited, ["KHI-001"])


async def test_poster_codes_are_unique_short_and_unambiguous(app: App) -> None:
    factories = tuple(f"F-{i:03d}" for i in range(40))
    codes = await open_round(app, factories)
    assert len(set(codes.values())) == 40
    for code in codes.values():
        assert len(code) == 6 and not set(code) & set("01OIL")


async def test_counts_show_started_and_completed_per_factory(app: App) -> None:
    codes = await open_round(app, ("KHI-001", "KHI-002"))
    await complete_survey(Worker(app, "3001"), codes["KHI-001"])
    w = Worker(app, "3002")
    await w.start(codes["KHI-001"])
    for v in ("en", "yes", "yes", "helper"):
        await w.press(v)
    counts = {c.code: c for c in await app.admin.counts(1)}
    assert (counts["KHI-001"].started, counts["KHI-001"].complete) == (2, 1)
    assert (counts["KHI-002"].started, counts["KHI-002"].complete) == (0, 0)


async def test_publishing_drops_completion_hours(app: App) -> None:
    codes = await open_round(app)
    await complete_survey(Worker(app, "4001"), codes["KHI-001"])
    with pytest.raises(AdminError, match="closed"):
        await app.admin.publish_round(1)
    await app.admin.close_round(1)
    await app.admin.publish_round(1)
    async with app.db.transaction() as s:
        assert (await s.execute(select(Response.completed_hour))).scalars().all() == [None]


async def test_schema_is_current_after_upgrade(app: App) -> None:
    assert await app.db.is_current()
    await app.db.upgrade()  # idempotent
    assert await app.db.is_current()


def test_now_fixture_is_a_sunday_in_november() -> None:
    assert NOW.date() == date(2026, 11, 29) and isinstance(NOW, datetime)
