"""The worker's journey through the real channel adapters against the stand-ins: a phone that
keeps no trace (Telegram deletes the chat's messages, WhatsApp says how), no reminder after
"stop" unless asked, reminders that name neither wages nor the survey, a finished answer never
lost to one word, a poster code welcome before the survey proper, "delete" after a round closed.
"""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

from sqlalchemy import func, select

from bot.clock import SetClock
from bot.service.broadcasts import REMINDER
from bot.service.inbound import ROUND_CLOSED_DELETE
from bot.service.pruning import PruningService
from bot.storage.models import Answer, ChatMessage, Response
from bot.survey import phrases as P
from tests.telegram_standin import DELETABLE_SECONDS
from tests.test_broadcast import LATER, _queue, _round, _stop_halfway, bot, broadcaster
from tests.test_service import Worker, answers, count, last_month, open_round
from tests.test_telegram import Bot
from tests.test_whatsapp import Driver, Said, TelegramDriver, driver

__all__ = ["bot", "driver"]  # fixtures


async def _answer_all(d: Driver, who: str, code: str, lang: str = "en") -> Said:
    """A whole survey on either channel; returns what the bot said last."""
    await d.start(who, code)
    for value in (lang, "yes", "yes", "operator", "permanent", last_month(d.app.clock())):
        await d.press(who, value)
    await d.press(who, "yes")  # a full month's pay
    await d.text(who, "40000")
    for value in ("yes", "no"):
        await d.press(who, value)
    await d.text(who, "1")  # cash
    for value in ("no", "woman", "_skip"):
        await d.press(who, value)
    return await d.press(who, "no")


async def _chat_ids_kept(bot: Bot) -> int:
    async with bot.app.db.transaction() as s:
        return int(await s.scalar(select(func.count()).select_from(ChatMessage)) or 0)


# ------------------------------------------------------------------ Telegram: clear the chat
async def test_the_last_message_offers_to_clear_the_chat_and_the_answers_stay(bot: Bot) -> None:
    codes = await open_round(bot.app)
    driver = TelegramDriver(bot)
    last = await _answer_all(driver, "dina", codes["KHI-001"])
    chat = driver._chat("dina")
    assert P.CLEAR_CHAT_OFFER in last.text
    assert last.options == [("Clear this chat", "c:clear")]
    # Both sides: the worker's /start and typed answers, the bot's first message and replies.
    assert len(bot.api.chat_holds(chat)) >= 5

    cleared = await bot.press(chat, "clear")
    assert cleared.text == P.CHAT_CLEARED
    deletions = [s for s in bot.api.sent if s.method == "deleteMessages" and s.chat_id == chat]
    assert deletions and all(len(s.params["deleted"]) <= 100 for s in deletions)
    # Only the message that says so is left, and the answers are all still there.
    assert [m["text"] for m in bot.api.chat_holds(chat)] == [P.CHAT_CLEARED]
    assert (await answers(bot.app))["pay"] == 40000
    async with bot.app.db.transaction() as s:
        assert (await s.execute(select(Response.status))).scalars().all() == ["complete"]
    # The id of that last message, for a second "clear" (noted just after it went out).
    for _ in range(100):
        if await _chat_ids_kept(bot) == 1:
            break
        await asyncio.sleep(0.05)
    assert await _chat_ids_kept(bot) == 1


async def test_delete_erases_the_answers_and_the_chat_except_what_is_too_old(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7802
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    # A message of three days ago (say, a "hi" before the round): Telegram keeps it.
    old = bot.api.user_sends_text(chat, "hi", date=int(bot.api.clock()) - DELETABLE_SECONDS - 3600)
    await bot.api.wait_for_messages(chat, 2)
    for value in ("en", "yes", "yes", "helper"):
        await bot.press(chat, value)
    await bot.text(chat, "/delete")
    erased = await bot.press(chat, "yes")
    assert P.DELETED in (erased.text or "") and P.CHAT_CLEARED in (erased.text or "")
    assert await count(bot.app, Response) == 0 and await count(bot.app, Answer) == 0
    left = bot.api.chat_holds(chat)
    assert [m["message_id"] for m in left] == [old["message"]["message_id"], erased.message_id]


async def test_chat_message_ids_are_forgotten_after_48_hours(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7803
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    await bot.press(chat, "en")
    kept = await _chat_ids_kept(bot)
    assert kept >= 2  # the worker's /start and the bot's questions

    def pruning(hours: int) -> PruningService:
        return PruningService(bot.app.db, clock=SetClock(bot.app.clock() + timedelta(hours=hours)))

    assert (await pruning(40).prune())["chat_message_ids"] == 0
    assert (await pruning(50).prune())["chat_message_ids"] >= kept
    assert await _chat_ids_kept(bot) == 0


# ------------------------------------------------------------------ WhatsApp: told how, once
async def test_both_channels_end_with_a_way_to_clear_the_chat(driver: Driver) -> None:
    codes = await open_round(driver.app)
    last = (await _answer_all(driver, "amina", codes["KHI-001"])).text
    if driver.channel == "whatsapp":
        assert P.CLEAR_CHAT_WHATSAPP in last and P.CLEAR_CHAT_OFFER not in last
        again = await driver.text("amina", "hello")
        assert P.CLEAR_CHAT_WHATSAPP not in again.text  # told once
        assert P.CLEAR_CHAT_WHATSAPP in (await driver.text("amina", "clear")).text
    else:
        assert P.CLEAR_CHAT_OFFER in last and P.CLEAR_CHAT_WHATSAPP not in last


# ------------------------------------------------------------------ after the round closed
async def test_delete_after_the_round_closed_says_what_can_still_be_done(driver: Driver) -> None:
    codes = await open_round(driver.app)
    await driver.start("bilal", codes["KHI-001"])
    for value in ("en", "yes", "yes", "helper"):
        await driver.press("bilal", value)
    await driver.app.admin.close_round(1)
    said = await driver.text("bilal", "delete")
    assert ROUND_CLOSED_DELETE in said.text
    extra = P.CHAT_CLEARED if driver.channel == "telegram" else P.CLEAR_CHAT_WHATSAPP
    assert extra in said.text


# ------------------------------------------------------------------ a code at the first question
async def test_a_poster_code_typed_at_the_language_question_opens_that_factory(
    driver: Driver,
) -> None:
    codes = await open_round(driver.app)
    first = await driver.start("chand")  # a bare /start, or "Salaam" on WhatsApp
    assert "Please choose your language" in first.text
    await driver.text("chand", codes["KHI-001"].lower())
    await driver.press("chand", "en")
    confirm = await driver.press("chand", "yes")
    assert "Do you work at this factory: Factory 0?" in confirm.text


# ------------------------------------------------------------------ reminders and "stop"
async def test_after_stop_a_reminder_only_when_asked_and_it_names_neither_wages_nor_survey(
    bot: Bot,
) -> None:
    code = await _round(bot)
    await bot.app.admin.set_short_name("Test CSO", "LRF")
    quiet = await _stop_halfway(bot, 9401, code, "en")
    await quiet.type("stop")
    assert quiet.outcome.replies[-1].text == P.PAUSED
    asked = await _stop_halfway(bot, 9402, code, "ur")
    await asked.type("رکیں")
    await asked.press("yes")  # "Remind me later" under the pause message
    assert "یاد" in asked.outcome.replies[-1].text
    await _stop_halfway(bot, 9403, code, "en")  # just went quiet: reminded, as before
    assert await _queue(bot, LATER) == 2
    assert (await broadcaster(bot, LATER).drain()).sent == 2
    assert not bot.api.messages_to(9401)
    english = bot.api.messages_to(9403)[-1].text or ""
    assert english == bot.app.catalogs.get("en").gettext(REMINDER, sender="LRF")
    urdu = bot.api.messages_to(9402)[-1].text or ""
    assert "LRF" in urdu and not re.search("سروے|تنخواہ|اجرت", urdu)
    assert not re.search("(?i)wage|pay|survey|salary|minimum", english)


async def test_a_worker_who_goes_on_after_stop_is_reminded_again_if_they_go_quiet(
    bot: Bot,
) -> None:
    code = await _round(bot)
    w = await _stop_halfway(bot, 9501, code, "en")
    await w.type("stop")
    await w.type("I am back")
    assert w.outcome.replies[-1].question_id == "job"
    assert await _queue(bot, LATER) == 1


# ------------------------------------------------------------------ restart after finishing
async def test_restart_after_finishing_on_telegram_asks_first(bot: Bot) -> None:
    codes = await open_round(bot.app)
    w = Worker(bot.app, "9601", channel="telegram")
    from tests.test_service import complete_survey

    await complete_survey(w, codes["KHI-001"], pay="38000")
    await w.type("restart")
    assert w.outcome.replies[-1].text == P.CONFIRM_RESTART
    await w.press("no")
    assert w.outcome.replies[-1].text == P.RESTART_CANCELLED
    assert (await answers(bot.app))["pay"] == 38000
