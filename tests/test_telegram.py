"""The Telegram channel end to end: the real python-telegram-bot client and our runner against a
stand-in Bot API server on 127.0.0.1, with a real database (SQLite; PostgreSQL when set)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.dates import format_date
from pydantic import SecretStr
from sqlalchemy import select

from bot.bootstrap import App
from bot.channels.telegram import TelegramChannel, run_polling, webhook_app
from bot.storage.models import Answer, AuditEntry, ContactAddress, Response
from bot.survey import phrases as P
from tests.telegram_standin import Sent, TelegramStandin, serve_asgi
from tests.test_service import answers, count, open_round

TOKEN = "4242:TEST-token"


class Bot:
    """A running bot (polling) and the stand-in it talks to, with worker-side helpers."""

    def __init__(self, app: App, api: TelegramStandin) -> None:
        self.app, self.api = app, api
        self.channel: TelegramChannel | None = None
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.channel = TelegramChannel.build(self.app)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(
            run_polling(self.channel, self._stop, handle_signals=False)
        )
        await self.api.wait_for_call("setMyCommands", 3)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, 10)

    async def expect(self, chat: int, inject: Any, new: int = 1) -> Sent:
        """Do something as the worker, wait for the bot's next reply(ies): a message sent, or
        the pressed question edited into the next one. Returns the last."""
        before = len(self.api.replies_to(chat))
        inject()
        await self.api.wait_until(lambda: len(self.api.replies_to(chat)) >= before + new)
        return self.api.replies_to(chat)[-1]

    async def text(self, chat: int, text: str, **kw: Any) -> Sent:
        return await self.expect(chat, lambda: self.api.user_sends_text(chat, text, **kw))

    def live(self, chat: int) -> list[dict[str, Any]]:
        """The chat's messages from the bot as they are now (edits applied), newest first."""
        now = (self.api.message(chat, m.message_id) for m in reversed(self.api.messages_to(chat)))  # type: ignore[arg-type]
        return [m for m in now if m is not None]

    async def tick(self, chat: int, value: str) -> None:
        """Tick an option of a multiple-choice question: the bot edits the question in place."""
        message = next(m for m in self.live(chat) if self.api.buttons(m))
        data = next(d for _, d in self.api.buttons(message) if d and d.endswith(":" + value))
        edits = len(self.api.edits_to(chat))
        self.api.user_presses(chat, message["message_id"], data)
        await self.api.wait_until(lambda: len(self.api.edits_to(chat)) > edits)
        now = self.api.message(chat, message["message_id"])
        assert any(t.startswith("✓") for t, _ in self.api.buttons(now))

    async def press(self, chat: int, value: str) -> Sent:
        """Press the button whose payload ends in `value` on the newest message that has one."""
        for message in self.live(chat):
            for _, data in self.api.buttons(message):
                if data and data.rsplit(":", 1)[-1] == value:
                    return await self.expect(
                        chat,
                        lambda m=message, d=data: self.api.user_presses(chat, m["message_id"], d),
                    )
        raise AssertionError(f"no button {value!r} in chat {chat}")


@pytest.fixture
async def bot(app: App) -> AsyncIterator[Bot]:
    async with TelegramStandin(TOKEN) as api:
        app.settings = app.settings.model_copy(
            update={
                "telegram_token": SecretStr(TOKEN),
                "telegram_api_url": api.url,
                "telegram_rate_per_chat": 50.0,  # tests talk fast; the limiter has its own test
            }
        )
        running = Bot(app, api)
        await running.start()
        try:
            yield running
        finally:
            await running.stop()


async def test_a_worker_answers_in_urdu_with_urdu_digits_via_the_poster_link(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7001
    first = await bot.expect(
        chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"], language_code="ur")
    )
    assert "Please choose your language" in (first.text or "")
    assert [t for t, _ in bot.api.buttons(first)] == ["اردو", "سنڌي", "English"]
    consent = await bot.press(chat, "ur")
    assert "سروے" in (consent.text or "")
    factory = await bot.press(chat, "yes")
    assert "Factory 0" in (factory.text or "")  # preselected from the link: the worker confirms
    job = await bot.press(chat, "yes")
    assert "آپ کا کام کیا ہے؟" in (job.text or "")
    # A typed answer's reply (a new message) starts with what was recorded.
    employment = await bot.text(chat, "۲")  # machine operator, typed as an Urdu digit
    assert (employment.text or "").startswith("✓ مشین آپریٹر\n\n")
    month = await bot.press(chat, "permanent")
    assert bot.api.buttons(month)[0][0] == _month_label(bot.app, "ur")
    await bot.press(chat, _last_month(bot.app))
    await bot.text(chat, "ہاں")
    pay_rise = await bot.text(chat, "۴۲٬۵۰۰ روپے")
    assert "کم از کم تنخواہ" in (pay_rise.text or "")
    for value in ("yes", "no"):
        await bot.press(chat, value)
    await bot.text(chat, "۱، ۲")
    await bot.press(chat, "no")
    await bot.press(chat, "woman")
    await bot.press(chat, "_skip")
    thanks = await bot.press(chat, "no")
    assert "شکریہ" in (thanks.text or "")
    stored = await answers(bot.app)
    assert stored["pay"] == 42500 and stored["job"] == "operator"
    assert stored["payment_method"] == ["cash", "bank"]
    edits = [e.params.get("text", "") for e in bot.api.edits_to(chat)]
    assert any(e.startswith("✓ ہاں\n\n") for e in edits)  # a pressed answer, atop the next
    async with bot.app.db.transaction() as s:
        response = (await s.execute(select(Response))).scalar_one()
    assert response.status == "complete" and response.channel == "telegram"
    assert await count(bot.app, ContactAddress) == 0  # no opt-in: address gone at once


def _last_month(app: App) -> str:
    """Last month in Karachi, as the month buttons carry it."""
    today = app.clock().astimezone(ZoneInfo("Asia/Karachi")).date()
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _month_label(app: App, lang: str) -> str:
    year, month = _last_month(app).split("-")
    return format_date(date(int(year), int(month), 1), "LLLL y", locale=lang)


@pytest.mark.parametrize(
    ("lang", "yes_word", "thanks_word"), [("sd", "ها", "مهرباني"), ("en", "yes", "Thank you")]
)
async def test_complete_surveys_in_sindhi_and_english(
    bot: Bot, lang: str, yes_word: str, thanks_word: str
) -> None:
    codes = await open_round(bot.app)
    chat = 7100
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    await bot.press(chat, lang)
    await bot.text(chat, yes_word)  # consent typed
    await bot.press(chat, "yes")
    await bot.press(chat, "helper")
    await bot.text(chat, "2")
    await bot.press(chat, _last_month(bot.app))
    await bot.press(chat, "yes")
    await bot.text(chat, "Rs 41,000/-")
    for value in ("dont_know", "yes"):
        await bot.press(chat, value)
    await bot.tick(chat, "wallet")
    await bot.press(chat, "_done")
    for value in ("no", "unsaid", "_skip"):
        await bot.press(chat, value)
    thanks = await bot.press(chat, "yes")
    assert thanks_word in (thanks.text or "")
    stored = await answers(bot.app)
    assert stored["pay"] == 41000 and stored["payment_method"] == ["wallet"]
    assert stored["contact_opt_in"] == "yes"
    assert await count(bot.app, ContactAddress, ContactAddress.purpose == "opt_in") == 1


async def test_plain_start_asks_for_the_poster_code(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7200
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat))
    await bot.press(chat, "en")
    ask = await bot.press(chat, "yes")
    assert "code printed on the poster" in (ask.text or "")
    wrong = await bot.text(chat, "ZZZZZZ")
    assert "do not know this code" in (wrong.text or "")
    job = await bot.text(chat, codes["KHI-001"].lower())
    assert "What is your job?" in (job.text or "")


async def test_non_text_messages_get_a_polite_reply_and_nothing_is_stored(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7300
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    for value in ("en", "yes", "yes"):
        await bot.press(chat, value)
    for send in (
        bot.api.user_sends_voice,
        bot.api.user_sends_sticker,
        bot.api.user_sends_photo,
        bot.api.user_sends_location,
        bot.api.user_sends_contact,
        bot.api.user_sends_document,
    ):
        reply = await bot.expect(chat, lambda send=send: send(chat))
        assert "I can only read text and buttons" in (reply.text or "")
        assert "What is your job?" in (reply.text or "")  # and the same question again
    assert await count(bot.app, Answer) == 0
    nonsense = await bot.text(chat, "what??")
    assert "Please press one of the buttons" in (nonsense.text or "")


async def test_back_restart_and_delete_as_telegram_commands(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7400
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    for value in ("en", "yes", "yes", "helper"):
        await bot.press(chat, value)
    back = await bot.text(chat, "/back")
    assert "What is your job?" in (back.text or "")
    assert await count(bot.app, Answer) == 0
    await bot.press(chat, "checker")
    assert (await answers(bot.app))["job"] == "checker"
    confirm = await bot.text(chat, "/delete")
    assert "erase all your answers" in (confirm.text or "")
    erased = await bot.press(chat, "yes")
    assert "erased" in (erased.text or "")
    assert await count(bot.app, Response) == 0 and await count(bot.app, Answer) == 0
    again = await bot.text(chat, "/restart")
    assert again.text


async def test_the_bot_restarts_mid_survey_and_the_worker_continues(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7500
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    for value in ("sd", "yes", "yes", "operator"):
        await bot.press(chat, value)
    await bot.stop()
    bot.api.user_sends_text(chat, "1")  # answered while the bot was down
    await bot.start()
    await bot.api.wait_for_messages(chat, len(bot.api.messages_to(chat)) + 1)
    assert (await answers(bot.app))["employment"] == "permanent"
    month = bot.api.last_message(chat)
    assert month is not None and bot.api.buttons(month)[0][0] == _month_label(bot.app, "sd")


async def test_an_old_button_does_nothing_harmful(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7600
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    for value in ("en", "yes", "yes"):
        await bot.press(chat, value)
    [job_question] = bot.live(chat)  # one message, edited from question to question
    assert "What is your job?" in job_question["text"]
    await bot.text(chat, "1")  # typed: the next question is a new message, this one stays
    again = await bot.expect(
        chat,
        lambda: bot.api.user_presses(
            chat, job_question["message_id"], "a:job:operator", strict=False
        ),
    )
    assert "answered that question already" in (again.text or "")
    assert "How are you employed?" in (again.text or "")
    assert (await answers(bot.app))["job"] == "helper"


# ------------------------------------------------------------------ one message per answer
async def _at_the_job_question(bot: Bot, chat: int) -> dict[str, Any]:
    codes = await open_round(bot.app)
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    for value in ("en", "yes", "yes"):
        await bot.press(chat, value)
    [question] = bot.live(chat)
    assert "What is your job?" in question["text"]
    return question


def _calls(bot: Bot) -> dict[str, int]:
    methods = ("answerCallbackQuery", "editMessageText", "sendMessage")
    return {m: sum(c.ok for c in bot.api.calls_of(m)) for m in methods}


async def test_a_pressed_question_is_edited_into_the_next_one(bot: Bot) -> None:
    chat = 7610
    question = await _at_the_job_question(bot, chat)
    assert len(bot.api.messages_to(chat)) == 1  # the language question, edited three times
    before = _calls(bot)
    edited = await bot.press(chat, "helper")
    after = _calls(bot)
    assert {m: after[m] - before[m] for m in after} == {
        "answerCallbackQuery": 1,
        "editMessageText": 1,
        "sendMessage": 0,
    }
    assert edited.method == "editMessageText"
    assert edited.message_id == question["message_id"]
    assert (edited.text or "").startswith("✓ Helper\n\nHow are you employed?")
    payloads = [d for _, d in bot.api.buttons(edited)]
    assert payloads[0] == "a:employment:permanent" and len(payloads) > 2
    assert edited.reply_markup is not None and "inline_keyboard" in edited.reply_markup
    [now] = bot.live(chat)  # the worker's chat holds one live question
    assert now["text"] == edited.text and now["reply_markup"] == edited.reply_markup
    assert (await answers(bot.app))["job"] == "helper"


async def test_a_typed_answer_gets_a_new_message(bot: Bot) -> None:
    chat = 7620
    question = await _at_the_job_question(bot, chat)
    edits = len(bot.api.edits_to(chat))
    reply = await bot.text(chat, "1")
    assert reply.method == "sendMessage" and reply.message_id != question["message_id"]
    assert (reply.text or "").startswith("✓ Helper\n\nHow are you employed?")
    assert bot.api.buttons(reply) and len(bot.api.edits_to(chat)) == edits  # nothing edited


@pytest.mark.parametrize(
    "description",
    ["Bad Request: message can't be edited", "Bad Request: message to edit not found"],
)
async def test_an_edit_refused_with_bad_request_falls_back_to_a_new_message(
    bot: Bot, description: str
) -> None:
    chat = 7630
    question = await _at_the_job_question(bot, chat)
    bot.api.fail_next("editMessageText", error_code=400, description=description)
    reply = await bot.expect(
        chat, lambda: bot.api.user_presses(chat, question["message_id"], "a:job:helper")
    )
    assert reply.method == "sendMessage" and reply.message_id != question["message_id"]
    assert (reply.text or "").startswith("✓ Helper\n\nHow are you employed?")
    assert [s for s in bot.api.calls_of("editMessageText") if s.status == 400]
    assert (await answers(bot.app))["job"] == "helper"
    # The worker goes on from the new message.
    await bot.press(chat, "permanent")
    assert (await answers(bot.app))["employment"] == "permanent"


async def test_a_double_tap_gives_one_reply(bot: Bot) -> None:
    chat = 7640
    question = await _at_the_job_question(bot, chat)
    before = _calls(bot)
    for _ in range(2):  # two callback queries for the same message, as the phone showed it
        bot.api.user_presses(chat, question["message_id"], "a:job:helper")
    await bot.api.wait_until(
        lambda: (
            _calls(bot)["answerCallbackQuery"] == before["answerCallbackQuery"] + 2
            and _calls(bot)["editMessageText"] >= before["editMessageText"] + 2
        )
    )
    await asyncio.sleep(0.3)  # anything more would come now
    assert _calls(bot)["sendMessage"] == before["sendMessage"]  # no second message
    [now] = bot.live(chat)  # still one message: the current question, once
    assert now["text"].count("How are you employed?") == 1
    assert bot.api.buttons(now)[0][1] == "a:employment:permanent"
    assert await count(bot.app, Answer, Answer.question_id == "job") == 1


async def test_the_last_answer_edits_the_question_into_the_thank_you(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7650
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    for value in ("en", "yes", "yes", "helper", "permanent", _last_month(bot.app), "yes"):
        await bot.press(chat, value)
    await bot.text(chat, "41000")  # typed: a new message
    for value in ("dont_know", "yes"):
        await bot.press(chat, value)
    await bot.tick(chat, "cash")
    for value in ("_done", "no", "unsaid", "_skip"):
        await bot.press(chat, value)
    thanks = await bot.press(chat, "no")
    # The only button left: the offer to clear the chat.
    assert thanks.method == "editMessageText"
    assert bot.api.buttons(thanks) == [("Clear this chat", "c:clear")]
    assert (thanks.text or "").startswith("✓ No\n\n") and "Thank you" in (thanks.text or "")
    # Two messages in all: the first question and the one after the typed pay; the chat
    # ends with the thank-you, no question left under it.
    assert len(bot.api.messages_to(chat)) == 2
    assert bot.live(chat)[0]["text"] == thanks.text
    async with bot.app.db.transaction() as s:
        response = (await s.execute(select(Response))).scalar_one()
    assert response.status == "complete"


async def test_groups_get_a_private_chat_only_answer(bot: Bot) -> None:
    group = -100123
    bot.api.group_message(group, "/start")
    await bot.api.wait_for_messages(group, 1)
    assert "private chat" in (bot.api.last_message(group).text or "")  # type: ignore[union-attr]


async def test_commands_menu_is_published_per_language(bot: Bot) -> None:
    menus = {
        lang: [c["description"] for c in commands]
        for (_, lang), commands in bot.api.commands.items()
    }
    assert "What you can type" in menus[""]
    assert "پچھلا جواب بدلیں" in menus["ur"]
    assert "آخري جواب بدلايو" in menus["sd"]


async def test_edited_messages_are_explained_not_stored(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7700
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    for value in ("en", "yes", "yes"):
        await bot.press(chat, value)
    typed = bot.api.user_sends_text(chat, "1")
    await bot.api.wait_for_messages(chat, len(bot.api.messages_to(chat)) + 1)
    reply = await bot.expect(
        chat, lambda: bot.api.user_edits_message(chat, typed["message"]["message_id"], "3")
    )
    assert "type “back”" in (reply.text or "")
    assert (await answers(bot.app))["job"] == "helper"


async def test_a_429_answer_is_waited_out_and_nothing_is_lost(bot: Bot) -> None:
    codes = await open_round(bot.app)
    chat = 7800
    bot.api.fail_next("sendMessage", times=1, error_code=429, retry_after=1)
    first = await bot.expect(chat, lambda: bot.api.user_sends_start(chat, codes["KHI-001"]))
    assert "choose your language" in (first.text or "")
    statuses = [c.status for c in bot.api.calls_of("sendMessage")]
    assert statuses[:2] == [429, 200] and len(bot.api.messages_to(chat)) == 1


# ------------------------------------------------------------------ staff
async def _member(bot: Bot, chat: int, org: str, kind: str, role: str) -> None:
    await bot.app.admin.add_org(org, kind)
    code, _ = await bot.app.members.create_invite(org, role)
    welcome = await bot.expect(chat, lambda: bot.api.user_sends_start(chat, code))
    assert f"Welcome to {org} (role: {role})" in (welcome.text or "")
    used = await bot.text(chat + 1, f"/join {code}")
    assert "not valid" in (used.text or "")  # single use


async def test_cso_admin_follows_and_closes_a_round_in_the_bot(bot: Bot) -> None:
    codes = await open_round(bot.app)  # run by "Test CSO"
    await bot.app.admin.add_org("Other CSO", "cso")
    chat = 8001
    code, _ = await bot.app.members.create_invite("Test CSO", "admin")
    await bot.expect(chat, lambda: bot.api.user_sends_start(chat, code))
    rounds = await bot.text(chat, "/rounds")
    assert "#1 Round 1 — open, 0 complete answers from 1 factories" in (rounds.text or "")
    detail = await bot.text(chat, "/round 1")
    assert f"https://t.me/WageCheckTestBot?start={codes['KHI-001']}" in (detail.text or "")
    closed = await bot.text(chat, "/close 1")
    assert "Round #1 is closed" in (closed.text or "")
    assert (await bot.app.admin.get_round(1)).status == "closed"


async def test_staff_replies_are_in_the_members_language_urdu(bot: Bot) -> None:
    """A CSO admin whose Telegram is in Urdu joins: the staff replies come in Urdu (the
    staff catalog); one in English keeps English."""
    await open_round(bot.app)  # run by "Test CSO"
    chat, english = 8011, 8012
    bot.api.user(chat, language_code="ur-PK")
    code, _ = await bot.app.members.create_invite("Test CSO", "admin")
    welcome = await bot.expect(chat, lambda: bot.api.user_sends_start(chat, code))
    assert "Test CSO میں خوش آمدید (کردار: منتظم)۔" in (welcome.text or "")
    assert "/close <نمبر> — راؤنڈ بند کریں" in (welcome.text or "")
    rounds = await bot.text(chat, "/rounds")
    assert "#1 Round 1 — کھلا، 1 فیکٹریوں سے 0 مکمل جوابات" in (rounds.text or "")
    assert "تفصیل: /round <نمبر>" in (rounds.text or "")
    detail = await bot.text(chat, "/round 1")
    assert "حالت: کھلا؛" in (detail.text or "")
    usage = await bot.text(chat, "/close x")
    assert usage.text == "طریقہ: /close <نمبر> (آپ کی تنظیم کا کوئی راؤنڈ)۔"
    report = await bot.text(chat, "/report")
    assert report.text == "طریقہ: /report <راؤنڈ نمبر> (دیکھیں /rounds)۔"
    subscribed = await bot.text(chat, "/subscribe")
    assert subscribed.text == "راؤنڈ بند ہونے پر آپ کو نتائج مل جائیں گے۔"
    closed = await bot.text(chat, "/close 1")
    assert "راؤنڈ #1 بند ہو گیا ہے۔" in (closed.text or "")
    bot.api.user(english, language_code="ur")
    invalid = await bot.text(english, "/join join_notacode")
    assert "یہ دعوتی کوڈ درست نہیں ہے" in (invalid.text or "")
    code, _ = await bot.app.members.create_invite("Test CSO", "viewer")
    bot.api.user(english + 1, language_code="en")
    welcome = await bot.expect(english + 1, lambda: bot.api.user_sends_start(english + 1, code))
    assert "Welcome to Test CSO (role: viewer)." in (welcome.text or "")


async def test_staff_commands_look_unknown_to_workers_and_wrong_roles(bot: Bot) -> None:
    await open_round(bot.app)
    worker = 8100
    unknown = await bot.text(worker, "/foo")
    admin_cmd = await bot.text(worker, "/close 1")
    assert unknown.text == admin_cmd.text and "do not know that command" in (unknown.text or "")
    brand = 8200
    await _member(bot, brand, "Brand A", "brand", "viewer")
    refused = await bot.text(brand, "/close 1")
    assert "do not know that command" in (refused.text or "")
    assert (await bot.app.admin.get_round(1)).status == "open"
    viewer = 8300
    code, _ = await bot.app.members.create_invite("Test CSO", "viewer")
    await bot.expect(viewer, lambda: bot.api.user_sends_start(viewer, code))
    refused = await bot.text(viewer, "/close 1")
    assert "do not know that command" in (refused.text or "")
    assert (await bot.app.admin.get_round(1)).status == "open"


# ------------------------------------------------------------------ webhook
@contextlib.asynccontextmanager
async def webhook_bot(
    app: App, api: TelegramStandin, secret: str = "s3cret-token_value"
) -> AsyncIterator[tuple[str, TelegramChannel]]:
    app.settings = app.settings.model_copy(
        update={
            "telegram_token": SecretStr(TOKEN),
            "telegram_api_url": api.url,
            "telegram_rate_per_chat": 50.0,
        }
    )
    channel = TelegramChannel.build(app)
    asgi = webhook_app(channel, "/tg/hook", secret)
    async with serve_asgi(asgi) as url, asgi.router.lifespan_context(asgi):
        await channel.bot.set_webhook(f"{url}/tg/hook", secret_token=secret)
        yield url, channel


async def test_webhook_refuses_a_wrong_secret_and_stores_nothing(app: App) -> None:
    codes = await open_round(app)
    async with TelegramStandin(TOKEN) as api, webhook_bot(app, api) as (url, _):
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 1,
                "chat": {"id": 9001, "type": "private"},
                "from": {"id": 9001, "is_bot": False, "first_name": "W"},
                "text": f"/start {codes['KHI-001']}",
            },
        }
        response = await api.deliver_raw(update, secret="wrong")
        assert response is not None and response.status_code == 403
        response = await api.deliver_raw(update, secret=None)
        assert response is not None and response.status_code == 403
        assert api.messages_to(9001) == []
        async with httpx.AsyncClient() as client:
            health = await client.get(f"{url}/healthz")
        assert health.status_code == 200 and health.json()["ok"] is True


async def test_webhook_stores_before_acknowledging_and_ignores_redelivery(app: App) -> None:
    codes = await open_round(app)
    async with TelegramStandin(TOKEN) as api, webhook_bot(app, api):
        chat = 9100
        api.user_sends_start(chat, codes["KHI-001"])
        await api.wait_for_messages(chat, 1)
        for value in ("a:language:en", "a:consent:yes", "a:factory:yes"):
            api.user_presses(chat, api.last_reply(chat), value)  # type: ignore[arg-type]
            await api.wait_for_replies(chat, len(api.replies_to(chat)) + 1)
        press = api.user_presses(chat, api.last_reply(chat), "a:job:helper")  # type: ignore[arg-type]
        await api.wait_delivered(press)
        # The 200 came after the answer was stored.
        assert await count(app, Answer, Answer.question_id == "job") == 1
        before = len(api.replies_to(chat))
        for _ in range(3):  # Telegram delivers the same update again
            response = await api.deliver_raw(press)
            assert response is not None and response.status_code == 200
        assert await count(app, Answer, Answer.question_id == "job") == 1
        assert len(api.replies_to(chat)) == before  # no duplicate question


async def test_per_chat_rate_limit_spaces_messages_to_one_chat(app: App) -> None:
    async with TelegramStandin(TOKEN) as api:
        app.settings = app.settings.model_copy(
            update={
                "telegram_token": SecretStr(TOKEN),
                "telegram_api_url": api.url,
                "telegram_rate_per_chat": 4.0,
            }
        )
        channel = TelegramChannel.build(app)
        await channel.application.initialize()
        try:
            await asyncio.gather(*(channel.bot.send_message(9200, f"m{i}") for i in range(7)))
        finally:
            await channel.application.shutdown()
        times = sorted(api.send_times(9200))
        # A burst of 3, then about one every 1/4 s (1 s in all; a loaded machine may shorten
        # the measured span, so the bound only proves they are held back).
        assert len(times) == 7 and times[-1] - times[0] >= 0.5  # unlimited: ~10 ms


async def test_requests_beyond_the_connections_wait_and_all_go_out(app: App) -> None:
    """At most `telegram_connections` Bot API requests at once; the rest wait (in the rate
    limiter, ahead of httpx's pool) and none is lost or times out."""
    async with TelegramStandin(TOKEN) as api:
        app.settings = app.settings.model_copy(
            update={
                "telegram_token": SecretStr(TOKEN),
                "telegram_api_url": api.url,
                "telegram_connections": 3,
            }
        )
        api.delay("sendMessage", 0.2)
        channel = TelegramChannel.build(app)
        await channel.application.initialize()
        try:
            await asyncio.gather(*(channel.bot.send_message(9300 + i, "m") for i in range(12)))
        finally:
            await channel.application.shutdown()
    sends = [c for c in api.requests if c.method == "sendMessage"]
    assert len(sends) == 12 and all(c.status == 200 for c in sends)
    moments = sorted([(c.at, 1) for c in sends] + [(c.answered_at, -1) for c in sends])
    in_flight = peak = 0
    for _, step in moments:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak == 3  # unlimited: 12


# ------------------------------------------------------------------ the real process
async def test_wagecheck_run_telegram_serves_stops_on_sigterm_and_resumes(
    app: App, settings: Any, tmp_path: Any
) -> None:
    import os
    import signal
    import sys

    codes = await open_round(app)
    async with TelegramStandin(TOKEN) as api:
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
        env.update(
            WAGECHECK_HOME=str(settings.home),
            WAGECHECK_DATABASE_URL=settings.database_url,
            WAGECHECK_SECRET_KEY=settings.secret_key.get_secret_value(),
            WAGECHECK_TELEGRAM_TOKEN=TOKEN,
            WAGECHECK_TELEGRAM_API_URL=api.url,
            WAGECHECK_LOG_LEVEL="INFO",
        )

        async def start() -> asyncio.subprocess.Process:
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "telegram",
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )

        chat = 9500
        process = await start()
        api.user_sends_start(chat, codes["KHI-001"])
        await api.wait_for_messages(chat, 1, timeout=30)
        api.user_presses(chat, api.last_reply(chat), "a:language:ur")  # type: ignore[arg-type]
        await api.wait_for_replies(chat, 2, timeout=10)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0, stderr.decode()
        logs = stderr.decode()
        assert "telegram bot stopped" in logs
        assert TOKEN not in logs and str(chat) not in logs  # no token, no chat id in the logs

        api.user_presses(chat, api.last_reply(chat), "a:consent:yes")  # type: ignore[arg-type]
        process = await start()  # the worker goes on with the new process
        await api.wait_for_replies(chat, 3, timeout=30)
        assert "Factory 0" in (api.last_reply(chat).text or "")  # type: ignore[union-attr]
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.communicate(), 20)
        assert process.returncode == 0


async def test_two_webhook_processes_share_every_conversation(app: App) -> None:
    codes = await open_round(app)
    secret = "shared-secret_123"
    async with TelegramStandin(TOKEN) as api:
        app.settings = app.settings.model_copy(
            update={
                "telegram_token": SecretStr(TOKEN),
                "telegram_api_url": api.url,
                "telegram_rate_per_chat": 50.0,
            }
        )
        first, second = TelegramChannel.build(app), TelegramChannel.build(app)
        apps = [webhook_app(c, "/hook", secret) for c in (first, second)]
        async with (
            serve_asgi(apps[0]) as url_a,
            serve_asgi(apps[1]) as url_b,
            apps[0].router.lifespan_context(apps[0]),
            apps[1].router.lifespan_context(apps[1]),
        ):
            chat = 9600
            urls = itertools.cycle([f"{url_a}/hook", f"{url_b}/hook"])
            update = api.user_sends_start(chat, codes["KHI-001"])  # no webhook set: queued
            for value in (None, "a:language:en", "a:consent:yes", "a:factory:yes", "a:job:helper"):
                if value is not None:
                    update = api.user_presses(chat, api.last_reply(chat), value)  # type: ignore[arg-type]
                before = len(api.replies_to(chat))
                response = await api.deliver_raw(update, secret=secret, url=next(urls))
                assert response is not None and response.status_code == 200
                await api.wait_for_replies(chat, before + 1)
            assert "How are you employed?" in (api.last_reply(chat).text or "")  # type: ignore[union-attr]
    assert (await answers(app))["job"] == "helper"


# ------------------------------------------------------------------ reports in the bot
async def test_reports_reach_members_and_brands_see_only_their_factories(bot: Bot) -> None:
    import io

    import openpyxl

    from tests.test_service import Worker, complete_survey

    codes = await open_round(bot.app, ("KHI-001", "KHI-002"))
    for i in range(10):
        await complete_survey(Worker(bot.app, f"w{i}"), codes["KHI-001"], pay=str(38000 + i))
    await bot.app.admin.add_org("Brand A", "brand")
    await bot.app.admin.add_org("Brand B", "brand")
    await bot.app.admin.link("Brand A", ["KHI-001"])
    await bot.app.admin.link("Brand B", ["KHI-002"])
    members = bot.app.members
    chats = {"Brand A": 8501, "Brand B": 8502, "Test CSO": 8503}
    for org, chat in chats.items():
        code, _ = await members.create_invite(org, "admin")
        await bot.expect(chat, lambda c=chat, k=code: bot.api.user_sends_start(c, k))
    for chat in (chats["Brand A"], chats["Brand B"]):
        await bot.text(chat, "/subscribe")
    early = await bot.text(chats["Brand A"], "/report")
    assert "only available for closed rounds" in (early.text or "")  # the round is still open

    await bot.text(chats["Test CSO"], "/close 1")
    documents = await bot.api.wait_for_messages(chats["Brand A"], 5)  # + pdf + xlsx

    def factories_in(chat: int) -> set[str]:
        xlsx = next(
            m
            for m in reversed(bot.api.messages_to(chat))
            if (m.file and m.file.filename.endswith(".xlsx"))
        )
        book = openpyxl.load_workbook(io.BytesIO(xlsx.file_bytes or b""))
        cells = {
            str(c.value)
            for ws in book.worksheets
            for row in ws.iter_rows()
            for c in row
            if c.value is not None
        }
        return {code for code in ("KHI-001", "KHI-002") if any(code in v for v in cells)}

    assert {m.file.filename.rsplit(".", 1)[1] for m in documents[-2:] if m.file} == {"pdf", "xlsx"}
    assert factories_in(chats["Brand A"]) == {"KHI-001"}
    await bot.api.wait_for_messages(chats["Brand B"], 4)
    assert factories_in(chats["Brand B"]) == {"KHI-002"}
    before = len(bot.api.messages_to(chats["Brand B"]))
    bot.api.user_sends_text(chats["Brand B"], "/report 1")
    await bot.api.wait_for_messages(chats["Brand B"], before + 2)
    assert factories_in(chats["Brand B"]) == {"KHI-002"}
    # Every file made is audited: who asked (or the delivery), the round, audience, format.
    async with bot.app.db.transaction() as s:
        made = (
            await s.execute(
                select(AuditEntry.actor, AuditEntry.target, AuditEntry.details).where(
                    AuditEntry.action == "report.generate"
                )
            )
        ).all()
    asked = [(a, d) for a, t, d in made if a.startswith("member ")]
    assert {t for _, t, _ in made} == {"round 1"}
    assert sorted(d["format"] for _, d in asked) == ["pdf", "xlsx"]
    assert {d["audience"] for _, d in asked} == {"brand:Brand B"}
    delivered = {(d["audience"], d["format"]) for a, _, d in made if a.startswith("delivery")}
    assert {("brand:Brand A", "pdf"), ("brand:Brand B", "xlsx")} <= delivered


# ------------------------------------------------------------------ where to get help
async def test_staff_set_the_help_text_and_a_worker_reads_it_on_help_and_at_the_end(
    bot: Bot,
) -> None:
    """A CSO admin sets the round's Urdu and Sindhi help text in the bot; a worker typing
    "مدد" reads the Urdu one; a Sindhi worker paid below the minimum reads the Sindhi one
    right after the line that says so. A viewer sees the texts but may not change them."""
    codes = await open_round(bot.app)
    admin = 8400
    code, _ = await bot.app.members.create_invite("Test CSO", "admin")
    await bot.expect(admin, lambda: bot.api.user_sends_start(admin, code))
    detail = await bot.text(admin, "/round 1")
    assert "Help text: the default is used for en, ur, sd" in (detail.text or "")
    assert "Sindh Labour Department" in (detail.text or "")
    urdu = "مدد کے لیے واٹس ایپ کریں: 0300-1234567"
    sindhi = "مدد لاءِ واٽس ايپ ڪريو: 0300-1234567"
    done = await bot.text(admin, f"/helptext 1 ur {urdu}")
    assert f"ur: {urdu}" in (done.text or "") and "default is used for en, sd" in (done.text or "")
    done = await bot.text(admin, f"/helptext 1 sd {sindhi}")
    assert f"sd: {sindhi}" in (done.text or "")
    too_long = await bot.text(admin, "/helptext 1 en " + "x" * 501)
    assert "longer than 500 characters" in (too_long.text or "")
    assert (await bot.app.admin.get_round(1)).help_text == {"ur": urdu, "sd": sindhi}

    viewer = 8500
    code, _ = await bot.app.members.create_invite("Test CSO", "viewer")
    await bot.expect(viewer, lambda: bot.api.user_sends_start(viewer, code))
    shown = await bot.text(viewer, "/helptext 1")
    assert f"ur: {urdu}" in (shown.text or "")
    refused = await bot.text(viewer, "/helptext 1 ur something else")
    assert "do not know that command" in (refused.text or "")
    assert (await bot.app.admin.get_round(1)).help_text == {"ur": urdu, "sd": sindhi}

    worker = 8600
    await bot.expect(worker, lambda: bot.api.user_sends_start(worker, codes["KHI-001"]))
    await bot.press(worker, "ur")
    help_reply = await bot.text(worker, "مدد")
    assert urdu in (help_reply.text or "") and "Labour" not in (help_reply.text or "")

    sindhi_worker = 8700
    await bot.expect(
        sindhi_worker, lambda: bot.api.user_sends_start(sindhi_worker, codes["KHI-001"])
    )
    await bot.press(sindhi_worker, "sd")
    await bot.press(sindhi_worker, "yes")  # consent
    await bot.press(sindhi_worker, "yes")  # factory
    await bot.press(sindhi_worker, "helper")
    await bot.press(sindhi_worker, "permanent")
    await bot.press(sindhi_worker, _last_month(bot.app))
    await bot.press(sindhi_worker, "yes")  # full month
    await bot.text(sindhi_worker, "30000")
    for value in ("no", "no"):
        await bot.press(sindhi_worker, value)
    await bot.text(sindhi_worker, "1")
    for value in ("no", "woman", "_skip"):
        await bot.press(sindhi_worker, value)
    end = await bot.press(sindhi_worker, "no")
    text = end.text or ""
    below = "گهٽ ۾ گهٽ پگهار کان"  # "… less than this minimum"
    assert below in text and sindhi in text
    assert text.index(below) < text.index(sindhi)
    # Then only the offer to clear the chat (its button is the message's one button).
    offer = bot.app.catalogs.get("sd").gettext(P.CLEAR_CHAT_OFFER)
    assert text.rstrip().endswith(f"{sindhi}\n\n{offer}")
