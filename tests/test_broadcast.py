"""Reminders, invitations and the broadcast outbox through the Telegram stand-in: sent once,
to the right workers, in their language, with a working "Continue"; nothing at night; an
interrupted broadcast resumes without duplicates or gaps; a worker who blocked us is marked."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from bot.bootstrap import App
from bot.channels.telegram.broadcast import RESUME, TelegramSender
from bot.clock import SetClock
from bot.service.broadcasts import Broadcaster, QuietHours, enqueue_due_reminders
from bot.storage.models import BroadcastMessage, ContactAddress
from tests.conftest import NOW, PROJECT_ROOT
from tests.telegram_standin import TelegramStandin
from tests.test_service import Worker
from tests.test_telegram import TOKEN, Bot

# 26 hours after the workers stopped: 12:00 UTC, 17:00 in Karachi.
LATER = NOW + timedelta(hours=26)
NIGHT = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)  # 23:00 in Karachi
MORNING = datetime(2026, 12, 1, 3, 30, tzinfo=UTC)  # 08:30 in Karachi


@pytest.fixture
async def bot(app: App) -> AsyncIterator[Bot]:
    """The bot running against the stand-in (as in test_telegram)."""
    async with TelegramStandin(TOKEN) as api:
        app.settings = app.settings.model_copy(
            update={
                "telegram_token": SecretStr(TOKEN),
                "telegram_api_url": api.url,
                "telegram_rate_per_chat": 50.0,
            }
        )
        running = Bot(app, api)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()


def broadcaster(
    bot: Bot, at: datetime, quiet: QuietHours | None = None, **kw: object
) -> Broadcaster:
    """A broadcaster on its own clock, set to `at` (Karachi's quiet hours unless `quiet`)."""
    a = bot.app
    assert bot.channel is not None
    return Broadcaster(
        a.db,
        a.keyring,
        a.catalogs,
        [TelegramSender(bot.channel)],
        quiet or QuietHours(),
        clock=SetClock(at),
        **kw,  # type: ignore[arg-type]
    )


async def _round(bot: Bot) -> str:
    a = bot.app
    await a.admin.add_org("Test CSO", "cso")
    await a.admin.add_factory("KHI-001", "Factory 0", "sindh", "Karachi", headcount=100)
    rnd = await a.admin.open_round("R", "Test CSO", a.survey, ["KHI-001"])
    return rnd.factories[0].code


async def _stop_halfway(bot: Bot, chat: int, code: str, lang: str) -> Worker:
    w = Worker(bot.app, str(chat), channel="telegram")
    await w.start(code)
    await w.press(lang)
    await w.press("yes")  # consent
    await w.press("yes")  # factory
    return w  # now at the job question


async def _queue(bot: Bot, now: datetime) -> int:
    async with bot.app.db.transaction() as s:
        return await enqueue_due_reminders(s, now)


async def test_reminders_go_once_to_who_stopped_in_their_language_and_continue_works(
    bot: Bot,
) -> None:
    code = await _round(bot)
    await _stop_halfway(bot, 9001, code, "ur")
    await _stop_halfway(bot, 9002, code, "en")
    from tests.test_service import complete_survey

    await complete_survey(Worker(bot.app, "9003", channel="telegram"), code)
    assert await _queue(bot, NOW + timedelta(hours=2)) == 0  # too early
    assert await _queue(bot, LATER) == 2
    result = await broadcaster(bot, LATER).drain()
    assert result.sent == 2
    assert await _queue(bot, LATER + timedelta(days=3)) == 0  # at most one (the default)
    assert (await broadcaster(bot, LATER).drain()).sent == 0
    urdu = bot.api.messages_to(9001)[-1]
    # A supervisor may read the notification: the CSO's name, neither wages nor a survey.
    assert "Test CSO" in (urdu.text or "") and "پیغام" in (urdu.text or "")
    assert not re.search("سروے|تنخواہ|اجرت", urdu.text or "")
    assert bot.api.buttons(urdu) == [("آگے چلیں", RESUME)]
    english = bot.api.messages_to(9002)[-1].text or ""
    assert english.startswith("You have an unfinished message from Test CSO.")
    assert not re.search("(?i)wage|pay|survey|salary", english)
    assert not bot.api.messages_to(9003)
    again = await bot.press(9001, "resume")
    assert "آپ کا کام کیا ہے؟" in (again.text or "")  # the question where they stopped


async def test_nothing_is_sent_to_workers_at_night_it_waits_for_the_morning(bot: Bot) -> None:
    code = await _round(bot)
    await _stop_halfway(bot, 9101, code, "en")
    assert await _queue(bot, NIGHT) == 1
    night = await broadcaster(bot, NIGHT).drain()
    assert night.sent == 0 and night.held_for_quiet_hours == 1
    assert not bot.api.messages_to(9101)
    assert (await broadcaster(bot, MORNING).drain()).sent == 1
    assert len(bot.api.messages_to(9101)) == 1


async def test_a_worker_who_blocked_the_bot_is_marked_and_not_tried_again(bot: Bot) -> None:
    code = await _round(bot)
    await _stop_halfway(bot, 9201, code, "en")
    bot.api.user_blocks_bot(9201)
    await _queue(bot, LATER)
    result = await broadcaster(bot, LATER).drain()
    assert result.blocked == 1 and result.sent == 0
    async with bot.app.db.transaction() as s:
        statuses = list((await s.execute(select(BroadcastMessage.status))).scalars())
        key = bot.app.keyring.conversation_key("telegram", "9201")
        assert await s.get(ContactAddress, key) is None  # nobody can reach them: not kept
    assert statuses == ["blocked"]
    assert (await broadcaster(bot, LATER).drain()).done == 0
    assert bot.api.call_count("sendMessage") == 1  # the refused one; no further attempt


async def _invitees(bot: Bot, n: int) -> list[int]:
    """n workers who opted in at KHI-001 during an earlier round; a new round opens."""
    a = bot.app
    await a.admin.add_org("Test CSO", "cso")
    factory = await a.admin.add_factory("KHI-001", "Factory 0", "sindh", "Karachi")
    chats = list(range(9500, 9500 + n))
    async with a.db.transaction() as s:
        for chat in chats:
            s.add(
                ContactAddress(
                    key=a.keyring.conversation_key("telegram", str(chat)),
                    channel="telegram",
                    ciphertext=a.keyring.encrypt_address("telegram", str(chat)),
                    purpose="opt_in",
                    round_id=None,
                    factory_id=factory.id,
                    language="sd" if chat % 2 else "en",
                    created_on=date(2026, 1, 1),
                )
            )
    await a.admin.open_round("Next year", "Test CSO", a.survey, ["KHI-001"])
    return chats


async def test_an_interrupted_broadcast_resumes_without_duplicates_or_gaps(bot: Bot) -> None:
    chats = await _invitees(bot, 40)
    first = broadcaster(bot, LATER, batch=8)
    stop = asyncio.Event()

    def progress(result: object) -> None:
        if result.sent >= 15:  # type: ignore[attr-defined]
            stop.set()  # Ctrl-C halfway

    partial = await first.drain(stop=stop, progress=progress, concurrency=4)
    assert 15 <= partial.sent < 40
    # A crash, too: a process claimed rows and died before sending them.
    async with bot.app.db.transaction() as s:
        await s.execute(
            update(BroadcastMessage)
            .where(BroadcastMessage.status == "pending")
            .values(status="sending", claimed_by="dead", claimed_until=LATER + timedelta(minutes=5))
        )
    assert (await broadcaster(bot, LATER).drain()).sent == 0  # the lease still holds
    rest = await broadcaster(bot, LATER + timedelta(minutes=6)).drain()
    assert partial.sent + rest.sent == 40
    per_chat = Counter(m.chat_id for m in bot.api.sent if m.method == "sendMessage")
    assert {c: per_chat[c] for c in chats} == dict.fromkeys(chats, 1)
    sindhi = bot.api.messages_to(9501)[0]
    assert bot.api.buttons(sindhi)[0][1].startswith("t:start:")
    start = await bot.press(9501, bot.api.buttons(sindhi)[0][1].rsplit(":", 1)[-1])
    assert start.text  # the survey begins (language choice or consent)


# ------------------------------------------------------------------ never twice
async def _statuses(bot: Bot) -> Counter[str]:
    async with bot.app.db.transaction() as s:
        return Counter((await s.execute(select(BroadcastMessage.status))).scalars())


async def test_a_broadcast_killed_mid_way_sends_no_message_twice(
    bot: Bot, database_url: str, tmp_path: Path
) -> None:
    """`wagecheck round remind` in a real process, killed with SIGKILL while it sends; the
    next drain sends the rest. No worker gets two messages: a message handed to Telegram
    before the kill but not yet marked is in doubt and stays unsent (at most the number in
    flight); every other message goes exactly once."""
    chats = await _invitees(bot, 60)
    round_id = (await bot.app.admin.list_rounds())[-1].id
    env = {
        **os.environ,
        "WAGECHECK_DATABASE_URL": database_url,
        "WAGECHECK_SECRET_KEY": bot.app.settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        "WAGECHECK_HOME": str(tmp_path / "home"),
        "WAGECHECK_TELEGRAM_TOKEN": TOKEN,
        "WAGECHECK_TELEGRAM_API_URL": bot.api.url,
        "WAGECHECK_TELEGRAM_RATE_OVERALL": "15",  # about 4 s for 60: time to kill it
        "WAGECHECK_QUIET_HOURS_START": "00:00",  # start = end: no quiet hours in this test
        "WAGECHECK_QUIET_HOURS_END": "00:00",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "round",
        "remind",
        str(round_id),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while bot.api.call_count("sendMessage") < 20:
            assert process.returncode is None, "the broadcast ended before it could be killed"
            assert asyncio.get_running_loop().time() < deadline, "the broadcast did not start"
            await asyncio.sleep(0.02)
    finally:
        process.kill()  # SIGKILL: no clean-up, no release of claimed rows
        await process.wait()
    before = await _statuses(bot)
    assert 0 < before["sent"] < 60 and before["sending"] > 0

    # The killed process claimed its messages by the real clock (it is another process); six
    # minutes later their lease has run out. No quiet hours, as in the process.
    no_quiet = QuietHours(time(0, 0), time(0, 0))
    rest = await broadcaster(bot, bot.app.clock() + timedelta(minutes=6), no_quiet).drain()
    after = await _statuses(bot)
    per_chat = Counter(m.chat_id for m in bot.api.sent if m.method == "sendMessage")
    assert max(per_chat[c] for c in chats) == 1  # never twice
    assert after["sent"] + after["in_doubt"] == 60 and set(after) <= {"sent", "in_doubt"}
    assert after["in_doubt"] == rest.in_doubt <= 8  # no more than were in flight
    async with bot.app.db.transaction() as s:
        rows = (await s.execute(select(BroadcastMessage.recipient, BroadcastMessage.status))).all()
    keys = {bot.app.keyring.conversation_key("telegram", str(c)): c for c in chats}
    for recipient, status in rows:
        if status == "sent":
            assert per_chat[keys[recipient]] == 1
    assert sum(per_chat[c] for c in chats) >= after["sent"]
    # The CSO sees it: `wagecheck round status` counts the messages per status.
    shown = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "round", "status", str(round_id)),
        cwd=PROJECT_ROOT,
        env={**env, "COLUMNS": "160"},
        stdout=asyncio.subprocess.PIPE,
    )
    out = (await shown.communicate())[0].decode()
    assert re.search(rf"invitation\s*│\s*sent\s*│\s*{after['sent']}\s*│", out), out
    if after["in_doubt"]:
        assert re.search(rf"invitation\s*│\s*in_doubt\s*│\s*{after['in_doubt']}\s*│", out)


async def test_staff_messages_in_doubt_go_again_worker_messages_do_not(bot: Bot) -> None:
    """After a crash between hand-over and mark: a reminder is not repeated (two reminders
    are worse than one lost), a report is (a missing report is worse than two)."""
    code = await _round(bot)
    await _stop_halfway(bot, 9401, code, "en")
    await _queue(bot, LATER)
    round_id = (await bot.app.admin.list_rounds())[-1].id
    async with bot.app.db.transaction() as s:
        s.add(
            BroadcastMessage(
                kind="status",
                round_id=round_id,
                recipient="member:1",
                seq=1,
                channel="telegram",
                language="en",
                payload={"text": "status"},
                status="pending",
                attempts=0,
                created_at=LATER,
            )
        )
    from bot.storage.models import Member

    async with bot.app.db.transaction() as s:
        org = (await bot.app.admin.list_orgs())[0]
        s.add(
            Member(
                id=1,
                org_id=org.id,
                channel="telegram",
                account="x" * 64,
                address=bot.app.keyring.encrypt_address("telegram", "9402"),
                role="admin",
                language="en",
                joined_at=LATER,
            )
        )
        # A process claimed both, handed both to Telegram, and died before marking them.
        await s.execute(
            update(BroadcastMessage).values(
                status="sending",
                claimed_by="dead",
                claimed_until=LATER + timedelta(minutes=5),
                attempted_at=LATER,
                attempts=1,
            )
        )
    result = await broadcaster(bot, LATER + timedelta(minutes=6)).drain()
    assert (result.in_doubt, result.sent) == (1, 1)
    assert await _statuses(bot) == Counter({"in_doubt": 1, "sent": 1})
    assert not bot.api.messages_to(9401)  # the reminder: not again
    assert [m.text for m in bot.api.messages_to(9402)] == ["status"]  # the status: again
    again = await broadcaster(bot, LATER + timedelta(minutes=20)).drain()
    assert again.done == 0


def test_what_counts_as_a_delivery_in_doubt() -> None:
    """python-telegram-bot wraps httpx's errors: a lost answer is doubt, a refused
    connection or an answer from the platform is a definite failure."""
    import httpx
    from telegram.error import NetworkError, TimedOut

    from bot.service.delivery import delivery_uncertain

    def wrapped(outer: Exception, inner: Exception) -> Exception:
        try:
            raise outer from inner
        except Exception as exc:
            return exc

    assert delivery_uncertain(wrapped(TimedOut(), httpx.ReadTimeout("read")))
    assert delivery_uncertain(wrapped(NetworkError("x"), httpx.RemoteProtocolError("gone")))
    assert not delivery_uncertain(wrapped(TimedOut(), httpx.ConnectTimeout("connect")))
    assert not delivery_uncertain(wrapped(NetworkError("x"), httpx.ConnectError("refused")))
    assert not delivery_uncertain(NetworkError("Bad Gateway"))  # Telegram answered 502


# ------------------------------------------------------------------ one bad row
async def test_one_undecryptable_address_is_skipped_and_counted_the_rest_are_sent(
    bot: Bot, database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A contact address that cannot be decrypted (damaged, or written under another key)
    stalled the whole round: the claim raised inside the drain's task group, every send of
    the round stopped and the cause was only inside an ExceptionGroup. Now the row is marked
    failed without an attempt ("undeliverable" in the round's status), logged by its row id,
    and the other workers get their reminders."""
    code = await _round(bot)
    chats = (9601, 9602, 9603)
    for chat in chats:
        await _stop_halfway(bot, chat, code, "en")
    bad = bot.app.keyring.conversation_key("telegram", str(chats[1]))
    async with bot.app.db.transaction() as s:
        await s.execute(
            update(ContactAddress)
            .where(ContactAddress.key == bad)
            .values(ciphertext=b"\x00" * 12 + b"damaged on disk")
        )
    assert await _queue(bot, LATER) == 3
    caplog.set_level("INFO")
    result = await broadcaster(bot, LATER, batch=2).drain()
    assert (result.sent, result.undeliverable) == (2, 1)
    assert len(bot.api.messages_to(chats[0])) == len(bot.api.messages_to(chats[2])) == 1
    assert not bot.api.messages_to(chats[1])
    async with bot.app.db.transaction() as s:
        row_id, status = (
            await s.execute(
                select(BroadcastMessage.id, BroadcastMessage.status).where(
                    BroadcastMessage.recipient == bad
                )
            )
        ).one()
    assert status == "failed"
    logged = [r.getMessage() for r in caplog.records if "cannot be decrypted" in r.getMessage()]
    assert logged == [f"broadcast message {row_id}: the address cannot be decrypted; not sent"]
    assert not any(bad in r.getMessage() or str(chats[1]) in r.getMessage() for r in caplog.records)
    assert (await broadcaster(bot, LATER + timedelta(minutes=10)).drain()).done == 0  # not again

    # The CSO sees it in `wagecheck round status`.
    round_id = (await bot.app.admin.list_rounds())[-1].id
    env = {
        **os.environ,
        "WAGECHECK_DATABASE_URL": database_url,
        "WAGECHECK_SECRET_KEY": bot.app.settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        "WAGECHECK_HOME": str(tmp_path / "home"),
        "COLUMNS": "160",
    }
    shown = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "bot", "round", "status", str(round_id)),
        cwd=PROJECT_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    out = (await shown.communicate())[0].decode()
    assert re.search(r"reminder\s*│\s*sent\s*│\s*2\s*│", out), out
    assert re.search(r"reminder\s*│\s*undeliverable\s*│\s*1\s*│", out), out
