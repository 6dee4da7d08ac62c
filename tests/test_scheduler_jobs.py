"""The scheduled jobs end to end (docs/rounds.md "Scheduler"): the daily status, the prune, the
close job run by the scheduler, `wagecheck round remind` from the command line, `/extend` in the
bot, and the scheduler inside `wagecheck run telegram --scheduler`. Time is injected where the
code takes a clock; the database is real; messages go through the Telegram stand-in."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.bootstrap import App
from bot.channels.telegram.broadcast import RESUME, START_PREFIX, TelegramSender
from bot.clock import SetClock
from bot.config import PROJECT_ROOT
from bot.scheduler import running_scheduler
from bot.storage.models import (
    Answer,
    AuditEntry,
    BroadcastMessage,
    ContactAddress,
    Conversation,
    JobRun,
    ProcessedMessage,
    Round,
)
from tests.telegram_standin import TelegramStandin
from tests.test_service import Worker, complete_survey
from tests.test_telegram import TOKEN, Bot

CSO = "Test CSO"


def _minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


async def _until(check: Callable[[], Awaitable[bool]], seconds: float = 20) -> None:
    """Wait for what another task or process does (polling, no fixed sleep)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("timed out")
        await asyncio.sleep(0.05)


async def _count(app: App, model: type, *where: Any) -> int:
    async with app.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def _audit(app: App, action: str) -> list[AuditEntry]:
    async with app.db.transaction() as s:
        return list(
            (
                await s.execute(
                    select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
                )
            ).scalars()
        )


async def _job_keys(app: App) -> list[str]:
    async with app.db.transaction() as s:
        return sorted((await s.execute(select(JobRun.key))).scalars())


def _with_standin(app: App, api: TelegramStandin) -> None:
    app.settings = app.settings.model_copy(
        update={
            "telegram_token": SecretStr(TOKEN),
            "telegram_api_url": api.url,
            "telegram_rate_per_chat": 50.0,
        }
    )


@pytest.fixture
async def bot(app: App) -> AsyncIterator[Bot]:
    """The bot (polling) against the stand-in Bot API server."""
    async with TelegramStandin(TOKEN) as api:
        _with_standin(app, api)
        running = Bot(app, api)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()


def _sender(bot: Bot) -> TelegramSender:
    assert bot.channel is not None
    return TelegramSender(bot.channel)


async def _factories(app: App, *codes: str) -> None:
    for i, code in enumerate(codes):
        await app.admin.add_factory(code, f"Factory {i}", "sindh", "Karachi", headcount=100)


async def _member(
    app: App, org: str, chat: int, role: str = "admin", subscribed: bool = True
) -> int:
    """A staff member linked in Telegram (as `/start join_…` does); returns the member id."""
    members = app.members
    code, _ = await members.create_invite(org, role)
    joined = await members.join("telegram", str(chat), code)
    assert joined is not None
    if subscribed:
        await members.set_subscribed(joined.member_id, True)
    return joined.member_id


def _worker(app: App, user_id: str, at: datetime, channel: str = "test") -> Worker:
    """A worker whose messages are dated from `at` (the app's time, not the tests' NOW)."""
    w = Worker(app, user_id, channel=channel)
    w.clock = at
    return w


async def _stop_halfway(app: App, chat: int | str, code: str, lang: str, at: datetime) -> Worker:
    """A Telegram worker who starts the survey at `at` and stops at the job question."""
    w = Worker(app, str(chat), channel="telegram")
    w.clock = at
    await w.start(code)
    await w.press(lang)
    await w.press("yes")  # consent
    await w.press("yes")  # factory
    return w


def _documents(api: TelegramStandin, chat: int) -> list[str]:
    return [m.file.filename for m in api.messages_to(chat) if m.method == "sendDocument" and m.file]


# ------------------------------------------------------------------ 1. daily status
async def test_daily_status_counts_per_factory_to_cso_members_once_a_day(
    bot: Bot, clock: SetClock
) -> None:
    app, api = bot.app, bot.api
    await app.admin.add_org(CSO, "cso")
    await app.admin.add_org("Other CSO", "cso")
    await app.admin.add_org("Brand A", "brand")
    await _factories(app, "KHI-001", "KHI-002")
    await app.admin.link("Brand A", ["KHI-001"])
    closes_at = _minute(clock()) + timedelta(days=30)
    rnd = await app.admin.open_round(
        "Autumn", CSO, app.survey, ["KHI-001", "KHI-002"], closes_at=closes_at
    )
    await app.admin.create_round("Draft", CSO, app.survey, ["KHI-001"])  # not open: no status
    codes = {rf.factory.code: rf.code for rf in rnd.factories}
    pays = ("38111", "39222", "40333")
    for i, pay in enumerate(pays):
        await complete_survey(Worker(app, f"done{i}"), codes["KHI-001"], pay=pay)
    await _stop_halfway(app, "half", codes["KHI-002"], "en", clock())
    # The CSO's staff (admins and viewers, subscribed to reports or not) get it; nobody else.
    await _member(app, CSO, 8101, "admin")
    await _member(app, CSO, 8102, "viewer")
    await _member(app, CSO, 8103, "admin", subscribed=False)
    await _member(app, "Other CSO", 8104, "admin")  # no open round
    await _member(app, "Brand A", 8105, "admin")  # brands get reports, never the status
    nine = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 09:00 in Karachi
    clock.set(nine)

    async with running_scheduler(app, [_sender(bot)], paused=True) as running:
        assert await running.jobs.daily_status() == 3
        clock.set(nine + timedelta(hours=6))  # the same day, again (a re-run, a restart)
        assert await running.jobs.daily_status() == 0
        assert [len(api.messages_to(c)) for c in (8101, 8102, 8103)] == [1, 1, 1]
        clock.set(nine + timedelta(days=1))  # the next day: a new one
        assert await running.jobs.daily_status() == 3

    for chat in (8101, 8102, 8103):
        messages = api.messages_to(chat)
        assert [m.method for m in messages] == ["sendMessage", "sendMessage"]
        first, second = (m.text or "" for m in messages)
        assert first.startswith(f"Round #{rnd.id} Autumn — 2026-11-30")
        assert second.startswith(f"Round #{rnd.id} Autumn — 2026-12-01")
        lines = first.splitlines()
        assert "KHI-001 Factory 0: 3 complete, 3 started" in lines
        assert "KHI-002 Factory 1: 0 complete, 1 started" in lines
        assert f"Closes {closes_at:%Y-%m-%d %H:%M} UTC" in lines
        # Each factory's progress toward the answers it needs (headcount 100, brands' k 10).
        target = "  {} of 80 for ±5 points ({}); 50 for ±10; a verdict is possible from 16"
        assert lines[2] == target.format(3, "4%")
        assert lines[4] == target.format(0, "0%")
        assert len(lines) == 6  # header, two lines per factory, closing time: nothing else
    for chat in (8104, 8105):
        assert api.messages_to(chat) == []
    assert api.call_count("sendMessage") == 6
    # No answers: not the pay, not a job, not a month, whatever the format.
    async with app.db.transaction() as s:
        stored = list((await s.execute(select(Answer))).scalars())
    assert {a.value_number for a in stored if a.question_id == "pay"} == {38111, 39222, 40333}
    texts = " ".join(m.text or "" for chat in (8101, 8103) for m in api.messages_to(chat))
    for pay in pays:
        assert pay not in texts and f"{pay[:2]},{pay[2:]}" not in texts
    for answer in stored:
        if answer.value_text and len(answer.value_text) > 3:
            assert answer.value_text not in texts, answer.question_id
    # Once a day is held by the outbox key (kind, round, recipient, day).
    async with app.db.transaction() as s:
        rows = (
            await s.execute(
                select(BroadcastMessage.seq, BroadcastMessage.status).where(
                    BroadcastMessage.kind == "status"
                )
            )
        ).all()
    assert sorted(rows) == [(20261130, "sent")] * 3 + [(20261201, "sent")] * 3


async def test_two_daily_status_runs_at_once_send_one_message_each(
    bot: Bot, clock: SetClock
) -> None:
    """Two processes (here two tasks) running the daily status at the same moment."""
    app, api = bot.app, bot.api
    await app.admin.add_org(CSO, "cso")
    await _factories(app, "KHI-001")
    await app.admin.open_round("Autumn", CSO, app.survey, ["KHI-001"])
    await _member(app, CSO, 8201)
    await _member(app, CSO, 8202)
    clock.set(datetime(2026, 11, 30, 4, 0, tzinfo=UTC))
    async with running_scheduler(app, [_sender(bot)], paused=True) as running:
        queued = await asyncio.gather(running.jobs.daily_status(), running.jobs.daily_status())
    assert sorted(queued) == [0, 2]
    assert len(api.messages_to(8201)) == 1 and len(api.messages_to(8202)) == 1


async def test_a_scheduler_started_after_the_status_time_catches_up_within_the_grace(
    bot: Bot,
    clock: SetClock,
) -> None:
    """Jobs live in memory: a process (re)started at 10:30 sends the 09:00 status once, of
    the rounds that were open at 09:00; started more than six hours late, none."""
    app, api = bot.app, bot.api
    await app.admin.add_org(CSO, "cso")
    await _factories(app, "KHI-001", "KHI-002")
    nine = datetime(2026, 11, 30, 4, 0, tzinfo=UTC)  # 09:00 in Karachi
    clock.set(nine - timedelta(hours=1))  # both rounds open at 08:00
    early = await app.admin.open_round("Early", CSO, app.survey, ["KHI-001"])
    late = await app.admin.open_round("Late", CSO, app.survey, ["KHI-002"])
    async with app.db.transaction() as s:  # "Late" opened at 09:30, after the status time
        (await s.get(Round, late.id)).opens_at = nine + timedelta(minutes=30)  # type: ignore[union-attr]
    await _member(app, CSO, 8401)
    clock.set(nine + timedelta(hours=1, minutes=30))
    for _ in range(2):  # started, and restarted the same morning: one status
        async with running_scheduler(app, [_sender(bot)]) as running:

            async def sent() -> bool:
                return await _count(app, BroadcastMessage, BroadcastMessage.status == "sent") > 0

            await _until(sent)
            await _until(lambda: _no_job(running.scheduler, "daily-status-at-start"))
    [status] = api.messages_to(8401)
    assert (status.text or "").startswith(f"Round #{early.id} Early — 2026-11-30")
    assert "Late" not in (status.text or "")
    clock.set(nine + timedelta(days=1, hours=6, minutes=1))  # the next day, too late
    async with running_scheduler(app, [_sender(bot)], paused=True) as running:
        assert running.scheduler.get_job("daily-status-at-start") is None
        assert running.scheduler.get_job("prune-at-start") is not None
    assert len(api.messages_to(8401)) == 1


async def _no_job(scheduler: Any, job_id: str) -> bool:
    return scheduler.get_job(job_id) is None


# ------------------------------------------------------------------ 2. prune
async def test_prune_removes_old_message_ids_and_expired_opt_ins_only(
    app: App, clock: SetClock
) -> None:
    await app.admin.add_org(CSO, "cso")
    await _factories(app, "KHI-001")
    factory = (await app.admin.list_factories())[0]
    rnd = await app.admin.open_round("Autumn", CSO, app.survey, ["KHI-001"])
    # The prune job counts from today's date (the keeping periods are in days).
    today = clock().date()
    keep_ids, keep_days = app.settings.processed_message_days, app.settings.opt_in_days
    assert (keep_ids, keep_days) == (7, 400)
    ids = {
        "id-old": today - timedelta(days=keep_ids + 1),
        "id-ancient": date(2020, 1, 1),
        "id-edge": today - timedelta(days=keep_ids),
        "id-new": today,
    }

    def address(key: str, purpose: str, created: date) -> ContactAddress:
        return ContactAddress(
            key=key,
            channel="telegram",
            ciphertext=app.keyring.encrypt_address("telegram", "5000"),
            purpose=purpose,
            round_id=rnd.id if purpose == "active" else None,
            factory_id=factory.id,
            language="ur",
            created_on=created,
        )

    async with app.db.transaction() as s:
        for key, day in ids.items():
            s.add(ProcessedMessage(key=key, processed_on=day))
        s.add(address("optin-expired", "opt_in", today - timedelta(days=keep_days + 1)))
        s.add(address("optin-edge", "opt_in", today - timedelta(days=keep_days)))
        s.add(address("optin-fresh", "opt_in", today - timedelta(days=3)))
        # An old *active* address belongs to an open round: not the prune's to delete.
        s.add(address("active-old", "active", today - timedelta(days=keep_days + 50)))

    # Noon UTC: the same date in Karachi, whose date the job counts from (the injected clock).
    clock.set(datetime(today.year, today.month, today.day, 12, tzinfo=UTC))
    async with running_scheduler(app, [], paused=True) as running:
        assert running.scheduler.get_job("prune") is not None
        await running.jobs.prune()

        async with app.db.transaction() as s:
            left_ids = set((await s.execute(select(ProcessedMessage.key))).scalars())
            left_addresses = set((await s.execute(select(ContactAddress.key))).scalars())
        assert left_ids == {"id-edge", "id-new"}
        assert left_addresses == {"optin-edge", "optin-fresh", "active-old"}
        expired = await _audit(app, "contact.expire")
        assert len(expired) == 1 and expired[0].target == "1 opt-in address(es)"

        await running.jobs.prune()  # the next night, nothing more is due
        async with app.db.transaction() as s:
            assert set((await s.execute(select(ProcessedMessage.key))).scalars()) == left_ids
            assert set((await s.execute(select(ContactAddress.key))).scalars()) == left_addresses
        assert len(await _audit(app, "contact.expire")) == 1
    # The edge moves with the date: eight days on, the id kept today goes too.
    pruned = await app.admin.prune(today=today + timedelta(days=1))
    assert pruned == {
        "message_ids": 1,
        "opt_in_addresses": 1,
        "unsent_replies": 0,
        "login_throttles": 0,
        "chat_message_ids": 0,
    }
    async with app.db.transaction() as s:
        assert set((await s.execute(select(ProcessedMessage.key))).scalars()) == {"id-new"}


# ------------------------------------------------------------------ 3. the close job
async def test_the_scheduler_closes_a_round_once_purges_and_delivers_reports(
    bot: Bot, clock: SetClock
) -> None:
    app, api = bot.app, bot.api
    await app.admin.add_org(CSO, "cso")
    await app.admin.add_org("Brand A", "brand")
    await _factories(app, "KHI-001")
    await app.admin.link("Brand A", ["KHI-001"])
    rnd = await app.admin.open_round(
        "Autumn", CSO, app.survey, ["KHI-001"], closes_at=clock() + timedelta(days=1)
    )
    code = rnd.factories[0].code
    for i in range(6):
        await complete_survey(_worker(app, f"w{i}", at=clock()), code, pay=str(38000 + i))
    # Its opt-in is kept: the close purges only addresses of this round, not expired ones.
    opted_in = _worker(app, "9301", at=clock(), channel="telegram")
    await complete_survey(opted_in, code, opt_in="yes")
    await _stop_halfway(app, 9302, code, "ur", clock())
    await _stop_halfway(app, 9303, code, "en", clock())
    assert await _count(app, ContactAddress, ContactAddress.purpose == "active") == 2
    assert await _count(app, ContactAddress, ContactAddress.purpose == "opt_in") == 1
    await _member(app, CSO, 8301, "admin")
    await _member(app, CSO, 8302, "viewer", subscribed=False)
    await _member(app, "Brand A", 8303, "viewer")
    # The closing time comes while the scheduler runs.
    closes_at = clock() + timedelta(seconds=1.5)
    await app.admin.extend_round(rnd.id, closes_at)
    job_id = f"round:{rnd.id}:close"

    clock.set(closes_at)
    async with running_scheduler(app, [_sender(bot)]) as running:
        job = running.scheduler.get_job(job_id)
        assert job is not None and job.next_run_time == closes_at

        async def delivered() -> bool:
            return len(_documents(api, 8301)) == 2 and len(_documents(api, 8303)) == 2

        await _until(delivered)
        closed = await app.admin.get_round(rnd.id)
        assert closed.status == "closed" and closed.closes_at == closes_at
        assert running.scheduler.get_job(job_id) is None  # a date job runs once and is gone

        # A re-run, and a second process at the same moment: nothing happens.
        assert await asyncio.gather(
            running.jobs.close_round(rnd.id), running.jobs.close_round(rnd.id)
        ) == [
            False,
            False,
        ]
    async with running_scheduler(app, [_sender(bot)]) as again:  # a restart
        assert again.scheduler.get_job(job_id) is None

    (closing,) = await _audit(app, "round.close")
    assert closing.details["previous"] == "open" and closing.actor.startswith("scheduler ")
    purges = await _audit(app, "round.purge")
    assert len(purges) == 1 and purges[0].details["addresses_purged"] == 2
    assert purges[0].details["reports_queued"] == 2
    assert await _job_keys(app) == [job_id]
    # Addresses kept only to remind are gone; the worker who asked to hear of the next
    # round keeps theirs; conversations keep no answers.
    async with app.db.transaction() as s:
        left = list((await s.execute(select(ContactAddress))).scalars())
        convs = list((await s.execute(select(Conversation))).scalars())
    assert [(c.purpose, c.key) for c in left] == [
        ("opt_in", app.keyring.conversation_key("telegram", "9301"))
    ]
    assert convs and all(c.response_id is None for c in convs)
    # Reports: the subscribed CSO admin and the subscribed brand member, once each, as PDF
    # and Excel; the unsubscribed member and the workers get nothing.
    assert sorted(f.rsplit(".", 1)[1] for f in _documents(api, 8301)) == ["pdf", "xlsx"]
    assert sorted(f.rsplit(".", 1)[1] for f in _documents(api, 8303)) == ["pdf", "xlsx"]
    assert api.messages_to(8302) == []
    assert all(api.messages_to(chat) == [] for chat in (9301, 9302, 9303))
    assert api.call_count("sendDocument") == 4
    async with app.db.transaction() as s:
        reports = (
            await s.execute(
                select(BroadcastMessage.recipient, BroadcastMessage.status).where(
                    BroadcastMessage.kind == "report"
                )
            )
        ).all()
    assert sorted(status for _, status in reports) == ["sent", "sent"]


# ------------------------------------------------------------------ 4. `round remind`
def _cli_env(app: App, api: TelegramStandin) -> dict[str, str]:
    """The environment of a `wagecheck` process on the test's database and stand-in; quiet
    hours off (start = end), so the outcome does not depend on the hour the test runs."""
    settings = app.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    env.update(
        WAGECHECK_HOME=str(settings.home),
        WAGECHECK_DATABASE_URL=settings.effective_database_url,
        WAGECHECK_SECRET_KEY=settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        WAGECHECK_TELEGRAM_TOKEN=TOKEN,
        WAGECHECK_TELEGRAM_API_URL=api.url,
        WAGECHECK_QUIET_HOURS_START="00:00",
        WAGECHECK_QUIET_HOURS_END="00:00",
        WAGECHECK_LOG_LEVEL="INFO",
        COLUMNS="160",
    )
    return env


async def _wagecheck(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, errors = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), errors.decode()


async def test_round_remind_on_the_command_line_sends_due_reminders_once(
    app: App, clock: SetClock
) -> None:
    await app.admin.add_org(CSO, "cso")
    await _factories(app, "KHI-001")
    rnd = await app.admin.open_round(
        "Autumn", CSO, app.survey, ["KHI-001"], closes_at=clock() + timedelta(days=30)
    )
    code = rnd.factories[0].code
    two_days_ago = clock() - timedelta(days=2)
    await _stop_halfway(app, 9401, code, "ur", two_days_ago)
    await _stop_halfway(app, 9402, code, "en", two_days_ago)
    await _stop_halfway(app, 9403, code, "en", clock() - timedelta(minutes=10))
    finished = Worker(app, "9404", channel="telegram")
    finished.clock = two_days_ago
    await complete_survey(finished, code)

    async with TelegramStandin(TOKEN) as api:
        env = _cli_env(app, api)
        rc, out, errors = await _wagecheck(env, "round", "remind", str(rnd.id))
        assert rc == 0, errors
        assert "2 reminder(s) queued; 2 message(s) to send" in out
        assert "sending" in out and "2/2" in out  # the progress bar, at its end
        assert "sent 2, blocked 0, skipped 0, failed 0" in out
        urdu, english = api.messages_to(9401), api.messages_to(9402)
        assert len(urdu) == 1 and len(english) == 1
        assert "ادھورا" in (urdu[0].text or "")  # "unfinished", naming neither wages nor survey
        assert "unfinished message" in (english[0].text or "")
        assert api.buttons(urdu[0]) == [("آگے چلیں", RESUME)]
        assert api.messages_to(9403) == [] and api.messages_to(9404) == []

        rc, out, errors = await _wagecheck(env, "round", "remind", str(rnd.id))
        assert rc == 0, errors
        assert "0 reminder(s) queued; 0 message(s) to send" in out
        assert "sent 0," in out
        assert api.call_count("sendMessage") == 2  # nothing new
        assert TOKEN not in errors
    async with app.db.transaction() as s:
        rows = (
            await s.execute(
                select(BroadcastMessage.seq, BroadcastMessage.status).where(
                    BroadcastMessage.kind == "reminder"
                )
            )
        ).all()
    assert sorted(rows) == [(1, "sent"), (1, "sent")]


# ------------------------------------------------------------------ 5. /extend in the bot
async def test_extend_in_the_bot_for_cso_admins_only(bot: Bot, clock: SetClock) -> None:
    app, api = bot.app, bot.api
    await app.admin.add_org(CSO, "cso")
    await app.admin.add_org("Other CSO", "cso")
    await app.admin.add_org("Brand A", "brand")
    await _factories(app, "KHI-001")
    await app.admin.link("Brand A", ["KHI-001"])
    planned = _minute(clock()) + timedelta(days=10)
    rnd = await app.admin.open_round("Autumn", CSO, app.survey, ["KHI-001"], closes_at=planned)

    async def join(chat: int, org: str, role: str) -> None:
        code, _ = await app.members.create_invite(org, role)
        welcome = await bot.expect(chat, lambda: api.user_sends_start(chat, code))
        assert f"Welcome to {org}" in (welcome.text or "")

    admin, viewer, brand, stranger = 8501, 8502, 8503, 8504
    await join(admin, CSO, "admin")
    await join(viewer, CSO, "viewer")
    await join(brand, "Brand A", "admin")
    await join(stranger, "Other CSO", "admin")

    async def closes() -> datetime | None:
        return (await app.admin.get_round(rnd.id)).closes_at

    # Refused, with exactly the answer an unknown command gets, and nothing changes.
    for chat in (viewer, brand):
        unknown = await bot.text(chat, "/nosuchcommand")
        refused = await bot.text(chat, f"/extend {rnd.id} 7")
        assert "do not know that command" in (unknown.text or "")
        assert refused.text == unknown.text
    # Another CSO's admin cannot touch the round either (nor learn that it exists).
    other = await bot.text(stranger, f"/extend {rnd.id} 7")
    assert "Usage: /extend" in (other.text or "")
    bad = await bot.text(admin, f"/extend {rnd.id} 0")
    assert "Usage: /extend" in (bad.text or "")
    assert await closes() == planned and await _audit(app, "round.extend") == []

    done = await bot.text(admin, f"/extend {rnd.id} 7")
    moved = planned + timedelta(days=7)
    assert done.text == f"Round #{rnd.id} now closes {moved:%Y-%m-%d %H:%M} UTC."
    assert await closes() == moved
    (entry,) = await _audit(app, "round.extend")
    assert entry.actor.startswith("telegram member ") and entry.target == f"round {rnd.id}"
    # (SQLite hands back naive datetimes: the earlier time is recorded without "+00:00".)
    recorded = {k: datetime.fromisoformat(v) for k, v in entry.details.items()}
    assert recorded == {"previous": planned, "closes_at": moved}
    # Not a worker's message: nothing of it reached the survey side.
    assert await _count(app, Answer) == 0


# ------------------------------------------------------------------ 6. inside `wagecheck run`
async def test_the_scheduler_in_wagecheck_run_telegram_opens_a_round_and_invites(
    app: App, tmp_path: Path, clock: SetClock
) -> None:
    await app.admin.add_org(CSO, "cso")
    await _factories(app, "KHI-001")
    factory = (await app.admin.list_factories())[0]
    invitee = 9601
    async with app.db.transaction() as s:  # opted in during last year's round
        s.add(
            ContactAddress(
                key=app.keyring.conversation_key("telegram", str(invitee)),
                channel="telegram",
                ciphertext=app.keyring.encrypt_address("telegram", str(invitee)),
                purpose="opt_in",
                factory_id=factory.id,
                language="en",
                created_on=clock().date() - timedelta(days=200),
            )
        )
    opens_at = clock() + timedelta(seconds=3)
    rnd = await app.admin.create_round(
        "Autumn", CSO, app.survey, ["KHI-001"], opens_at, opens_at + timedelta(days=20)
    )
    await app.admin.schedule_round(rnd.id)
    code = rnd.factories[0].code

    async with TelegramStandin(TOKEN) as api:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "telegram",
            "--scheduler",
            cwd=PROJECT_ROOT,
            env=_cli_env(app, api),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:

            async def opened() -> bool:
                return (await app.admin.get_round(rnd.id)).status == "open"

            await _until(opened, 40)
            invitation = (await api.wait_for_messages(invitee, 1, timeout=20))[0]
            assert f"send the code {code}" in (invitation.text or "")
            assert api.buttons(invitation) == [("Start the survey", f"{START_PREFIX}{code}")]
            # The same process is the bot: the invitation's button starts the survey.
            api.user_presses(invitee, invitation, f"{START_PREFIX}{code}")
            reply = (await api.wait_for_messages(invitee, 2, timeout=20))[-1]
            assert reply.text
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
    logs = stderr.decode()
    assert process.returncode == 0, logs
    assert f"round {rnd.id} opened" in logs and "scheduler stopped" in logs
    assert TOKEN not in logs
    assert len(await _audit(app, "round.open")) == 1
    assert await _job_keys(app) == [f"round:{rnd.id}:open"]
    opened_round = await app.admin.get_round(rnd.id)
    assert opened_round.opens_at >= opens_at  # type: ignore[operator]


# ------------------------------------------------------------------ changes while it runs
async def test_a_running_scheduler_follows_rounds_changed_by_another_process(
    app: App, clock: SetClock
) -> None:
    """docs/rounds.md: round jobs are reconciled every minute (the `tick`), so `round
    schedule/extend/cancel` in another process need no restart. An extended round must not
    close at its old time."""
    await app.admin.add_org(CSO, "cso")
    await _factories(app, "KHI-001", "KHI-002")
    now = clock()
    # Open since yesterday, planned to close a minute ago: the scheduler below is paused, as
    # if its clock had not yet reached that time; resuming it lets the time arrive.
    extended = await app.admin.create_round(
        "Extended", CSO, app.survey, ["KHI-001"], closes_at=now - timedelta(minutes=1)
    )
    await app.admin.start_round(extended.id, now - timedelta(days=1))
    opens = now + timedelta(hours=2)
    planned = await app.admin.create_round(
        "Planned", CSO, app.survey, ["KHI-002"], opens, opens + timedelta(days=9)
    )
    close_job, open_job = f"round:{extended.id}:close", f"round:{planned.id}:open"

    async with running_scheduler(app, [], paused=True) as running:
        assert running.scheduler.get_job(close_job) is not None
        assert running.scheduler.get_job(open_job) is None  # still a draft
        # Another process (the bot's /extend, `wagecheck round schedule`) changes the rounds.
        new_close = now + timedelta(days=7)
        await app.admin.extend_round(extended.id, new_close)
        await app.admin.schedule_round(planned.id)
        tick = running.scheduler.get_job("tick")
        assert tick is not None
        await tick.func(*tick.args, **tick.kwargs)  # what runs every minute
        running.scheduler.resume()  # the old closing time has come

        async def settled() -> bool:  # the close job ran, or waits for a later time
            job = running.scheduler.get_job(close_job)
            return job is None or job.next_run_time > clock()

        await _until(settled)
        assert (await app.admin.get_round(extended.id)).status == "open"
        job = running.scheduler.get_job(close_job)
        assert job is not None and job.next_run_time == new_close
        job = running.scheduler.get_job(open_job)
        assert job is not None and job.next_run_time == opens
    assert await _audit(app, "round.close") == []
