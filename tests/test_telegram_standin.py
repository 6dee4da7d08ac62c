"""The Telegram stand-in speaks the Bot API well enough for the real python-telegram-bot client:
a plain Bot, an Application polling with its Updater, and an Application fed by a webhook."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    MenuButtonCommands,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tests.telegram_standin import ApiError, TelegramStandin, render_text, serve_asgi

TOKEN = "123456:TEST-token_abc"
WORKER = 700_001
OTHER = 700_002
SECRET = "s3cr3t-Token_1"


@pytest.fixture(autouse=True)
def _timedelta_periods(monkeypatch: pytest.MonkeyPatch) -> None:
    # PTB 22 warns about int time periods (RetryAfter.retry_after) unless opted in.
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture
async def api() -> AsyncIterator[TelegramStandin]:
    async with TelegramStandin(token=TOKEN, webhook_retry_delays=(0.02, 0.05)) as standin:
        yield standin


@pytest.fixture
async def bot(api: TelegramStandin) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=api.base_url, base_file_url=api.base_file_url) as client:
        yield client


def build_app(api: TelegramStandin) -> Application[Any, Any, Any, Any, Any, Any]:
    return (
        ApplicationBuilder()
        .token(api.token)
        .base_url(api.base_url)
        .base_file_url(api.base_file_url)
        .build()
    )


@contextlib.asynccontextmanager
async def polling(
    api: TelegramStandin, *handlers: Any
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    app = build_app(api)
    for handler in handlers:
        app.add_handler(handler)
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=timedelta(seconds=1))
        try:
            yield app
        finally:
            await app.updater.stop()
            await app.stop()


# ------------------------------------------------------------------------------ plain Bot


async def test_get_me_and_url_shape(api: TelegramStandin, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username == "WageCheckTestBot" and me.id == 123456
    assert me.can_join_groups is True
    assert api.url.startswith("http://127.0.0.1:") and api.base_url == f"{api.url}/bot"
    assert bot.base_url == f"{api.url}/bot{TOKEN}"  # PTB appends the token
    assert api.call_count("getMe") == 2  # Bot.initialize() and get_me()
    assert api.calls_of("getme")[0].ok


async def test_send_message_with_inline_keyboard_is_recorded(
    api: TelegramStandin, bot: Bot
) -> None:
    api.user_sends_start(WORKER)  # message 1 in the chat is the worker's
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("اردو", callback_data="lang:ur")],
            [
                InlineKeyboardButton("English", callback_data="lang:en"),
                InlineKeyboardButton("Help", url="https://example.org/help"),
            ],
        ]
    )
    message = await bot.send_message(WORKER, "Choose a language", reply_markup=keyboard)
    assert message.message_id == 2  # ids count per chat, the worker's included
    assert message.chat.id == WORKER and message.chat.type == "private"
    assert message.from_user is not None and message.from_user.is_bot
    assert message.text == "Choose a language"
    assert message.reply_markup == keyboard
    assert (await bot.send_message(WORKER, "again")).message_id == 3
    assert (await bot.send_message(OTHER, "elsewhere")).message_id == 1

    sent = api.last_message(WORKER)
    assert sent is not None and sent.text == "again"
    first = api.messages_to(WORKER)[0]
    assert first.method == "sendMessage" and first.chat_id == WORKER and first.message_id == 2
    assert first.params["reply_markup"] == keyboard.to_dict()
    assert api.buttons(first) == [
        ("اردو", "lang:ur"),
        ("English", "lang:en"),
        ("Help", None),
    ]
    assert api.buttons(api.message(WORKER, 2)) == api.buttons(first)
    assert [s.text for s in api.messages_to(OTHER)] == ["elsewhere"]
    assert len(api.send_times(WORKER)) == 2


async def test_injected_updates_are_real_bot_api_objects(api: TelegramStandin, bot: Bot) -> None:
    start = api.user_sends_start(WORKER, payload="F1234", language_code="ur")
    update = Update.de_json(start, bot)
    assert update.update_id == start["update_id"]
    assert update.effective_chat is not None and update.effective_chat.type == "private"
    assert update.effective_user is not None and update.effective_user.id == WORKER
    assert update.effective_user.language_code == "ur"
    assert update.message is not None and update.message.text == "/start F1234"
    assert update.message.parse_entities() == {update.message.entities[0]: "/start"}

    kinds = {
        "text": api.user_sends_text(WORKER, "12000"),
        "command": api.user_sends_command(WORKER, "/help"),
        "voice": api.user_sends_voice(WORKER),
        "sticker": api.user_sends_sticker(WORKER),
        "photo": api.user_sends_photo(WORKER, caption="payslip"),
        "location": api.user_sends_location(WORKER),
        "contact": api.user_sends_contact(WORKER),
        "document": api.user_sends_document(WORKER),
        "no_language": api.user_sends_text(OTHER, "hi", language_code=None),
    }
    ids = [u["update_id"] for u in kinds.values()]
    assert ids == sorted(ids) and len(set(ids)) == len(ids) and ids[0] > start["update_id"]
    parsed = {name: Update.de_json(u, bot) for name, u in kinds.items()}
    messages = {name: u.message for name, u in parsed.items()}
    assert all(m is not None for m in messages.values())
    assert messages["text"].text == "12000" and messages["text"].from_user.language_code == "ur"
    assert messages["command"].entities[0].type == "bot_command"
    assert (
        messages["voice"].voice.duration == timedelta(seconds=3)
        and messages["voice"].voice.mime_type
    )
    assert messages["sticker"].sticker.emoji == "👍"
    assert len(messages["photo"].photo) == 3 and messages["photo"].caption == "payslip"
    assert messages["location"].location.latitude == pytest.approx(24.8607)
    assert messages["contact"].contact.user_id == WORKER
    assert messages["document"].document.file_name == "payslip.pdf"
    assert messages["no_language"].from_user.language_code is None
    assert messages["no_language"].chat.id == messages["no_language"].from_user.id == OTHER

    edited = Update.de_json(
        api.user_edits_message(WORKER, messages["text"].message_id, "13000"), bot
    )
    assert edited.edited_message is not None and edited.edited_message.text == "13000"
    assert edited.edited_message.edit_date is not None

    group = Update.de_json(api.group_message(-100_200, "/help@WageCheckTestBot"), bot)
    assert group.effective_chat.type == "group" and group.effective_chat.title
    assert group.message.entities[0].type == "bot_command"

    blocked = Update.de_json(api.user_blocks_bot(WORKER), bot)
    assert blocked.my_chat_member.new_chat_member.status == "kicked"
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(WORKER, "reminder")
    api.user_sends_start(WORKER)  # unblocks, with the my_chat_member Telegram sends
    await bot.send_message(WORKER, "welcome back")

    # callback queries carry the bot's message as it is now
    sent = await bot.send_message(
        WORKER,
        "Paid on time?",
        reply_markup=InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="y")]]),
    )
    press = Update.de_json(api.user_presses(WORKER, sent.message_id, "y"), bot)
    assert press.callback_query.data == "y"
    assert press.callback_query.message.message_id == sent.message_id
    assert press.callback_query.message.reply_markup == sent.reply_markup
    assert press.callback_query.from_user.id == WORKER
    with pytest.raises(ValueError, match="no button"):
        api.user_presses(WORKER, sent.message_id, "n")


async def test_get_updates_offset_limit_timeout(api: TelegramStandin, bot: Bot) -> None:
    first, second, third = (api.user_sends_text(WORKER, str(n)) for n in range(3))
    got = await bot.get_updates()
    assert [u.update_id for u in got] == [
        first["update_id"],
        second["update_id"],
        third["update_id"],
    ]
    assert len(await bot.get_updates()) == 3  # not confirmed yet
    assert [u.message.text for u in await bot.get_updates(limit=2)] == ["0", "1"]
    got = await bot.get_updates(offset=second["update_id"])  # confirms the first
    assert [u.message.text for u in got] == ["1", "2"]
    assert [u["update_id"] for u in api.pending_updates()] == [
        second["update_id"],
        third["update_id"],
    ]
    assert [u.message.text for u in await bot.get_updates(offset=-1)] == ["2"]  # forgets "1"
    assert await bot.get_updates(offset=third["update_id"] + 1) == ()

    # long polling: wakes as soon as an update comes, before its timeout
    async def later() -> None:
        await asyncio.sleep(0.05)
        api.user_sends_text(WORKER, "late")

    started = time.monotonic()
    injector = asyncio.create_task(later())
    got = await bot.get_updates(offset=third["update_id"] + 1, timeout=5)
    await injector
    assert [u.message.text for u in got] == ["late"]
    assert time.monotonic() - started < 2

    # an expired long poll answers an empty list (a raw client may use fractions of a second)
    async with httpx.AsyncClient() as raw:
        started = time.monotonic()
        answer = await raw.post(
            f"{api.base_url}{TOKEN}/getUpdates",
            json={"offset": got[0].update_id + 1, "timeout": 0.2},
        )
        assert answer.json() == {"ok": True, "result": []}
        assert 0.15 < time.monotonic() - started < 2

    # allowed_updates: only callback queries from now on
    assert (
        await bot.get_updates(offset=got[0].update_id + 1, allowed_updates=["callback_query"]) == ()
    )
    dropped = api.user_sends_text(WORKER, "ignored")
    assert api.dropped == [dropped] and api.pending_updates() == []


async def test_a_second_get_updates_terminates_the_first(api: TelegramStandin, bot: Bot) -> None:
    # (one Bot serialises its getUpdates calls; a second client stands for a second instance)
    waiting = asyncio.create_task(bot.get_updates(timeout=5))
    await api.wait_until(lambda: api.call_count("getUpdates") == 1)
    async with httpx.AsyncClient() as other_instance:
        answer = await other_instance.post(f"{api.base_url}{TOKEN}/getUpdates")
    assert answer.json() == {"ok": True, "result": []}
    with pytest.raises(Conflict, match="terminated by other getUpdates"):
        await waiting


async def test_retry_after_and_other_faults(api: TelegramStandin, bot: Bot) -> None:
    api.fail_next("sendMessage", error_code=429, retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(WORKER, "hello")
    assert caught.value.retry_after == timedelta(seconds=3)
    response = api.calls_of("sendMessage")[0].response
    assert response == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3},
    }
    await bot.send_message(WORKER, "hello")  # the fault was for the next call only
    assert api.call_count("sendMessage") == 2
    assert (
        len(api.send_times(WORKER)) == 1 and len(api.send_times(WORKER, include_failed=True)) == 2
    )
    assert [s.text for s in api.messages_to(WORKER)] == ["hello"]

    api.fail_next("sendMessage", times=2, error_code=500)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(WORKER, "x")
    api.fail_next("sendMessage", error_code=502, body=b"<html>502 Bad Gateway</html>")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(WORKER, "x")
    api.fail_next("sendMessage", error_code=403)
    with pytest.raises(Forbidden):
        await bot.send_message(WORKER, "x")

    api.delay("sendMessage", 0.3, times=1)
    with pytest.raises(TimedOut):
        await bot.send_message(WORKER, "slow", read_timeout=0.1)
    api.delay("getMe", 0.2)
    started = time.monotonic()
    await bot.get_me()
    assert time.monotonic() - started >= 0.2


async def test_flood_control_when_enforced(api: TelegramStandin, bot: Bot) -> None:
    api.enforce_rate_limits(per_chat_per_second=1, per_chat_burst=2)
    await bot.send_message(WORKER, "one")
    await bot.send_message(WORKER, "two")  # a burst of two is allowed
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(WORKER, "three")
    assert caught.value.retry_after == timedelta(seconds=2)
    await bot.send_message(OTHER, "another chat is fine")
    assert len(api.send_times(WORKER)) == 2
    times = api.send_times(WORKER, include_failed=True)
    assert len(times) == 3 and times == sorted(times)


async def test_bad_requests_like_telegram(api: TelegramStandin, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "br"'):
        await bot.send_message(WORKER, "line<br>line", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)character '\.' is reserved"):
        await bot.send_message(WORKER, "Rs 1,000.", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(
            WORKER,
            "x",
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("x", callback_data="ا" * 33)]]
            ),
        )
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(WORKER, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("42")

    shown = await bot.send_message(
        WORKER, "<b>Rs 1,000</b> &lt; minimum", parse_mode=ParseMode.HTML
    )
    assert shown.text == "Rs 1,000 < minimum"
    assert [(e.type, e.offset, e.length) for e in shown.entities] == [("bold", 0, 8)]
    assert api.last_message(WORKER).raw_text == "<b>Rs 1,000</b> &lt; minimum"
    v2 = await bot.send_message(WORKER, "*Rs 1,000\\.*", parse_mode=ParseMode.MARKDOWN_V2)
    assert v2.text == "Rs 1,000." and v2.entities[0].type == "bold"

    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text(
            "<b>Rs 1,000</b> &lt; minimum", WORKER, shown.message_id, parse_mode=ParseMode.HTML
        )
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", WORKER, 999)


def test_formatting_rules() -> None:
    def entities(text: str, mode: str) -> tuple[str, list[tuple[str, int, int]]]:
        shown, found = render_text(text, mode)
        return shown, [(e["type"], e["offset"], e["length"]) for e in found]

    # offsets count UTF-16 code units, as Telegram's do
    assert entities("👍 <b>ٹھیک</b> <i>x</i>", "HTML") == (
        "👍 ٹھیک x",
        [("bold", 3, 4), ("italic", 8, 1)],
    )
    assert entities("<b>a <i>b</i></b> &amp; c", "HTML") == (
        "a b & c",
        [("bold", 0, 3), ("italic", 2, 1)],
    )
    link = render_text('<a href="https://t.me/WageCheckTestBot?start=F1">open</a>', "HTML")
    assert link[1][0]["url"] == "https://t.me/WageCheckTestBot?start=F1"
    for broken, error in [
        ("<b>x", "Can't find end tag"),
        ("<b><i>x</b></i>", "Unmatched end tag"),
        ("1 < 2", 'Unsupported start tag ""'),
        ('<span class="x">x</span>', "tg-spoiler"),
    ]:
        with pytest.raises(ApiError, match=error):
            render_text(broken, "HTML")

    assert entities(r"*Rs 1,000\.* _a_ __u__ ||s|| `c`", "MarkdownV2") == (
        "Rs 1,000. a u s c",
        [
            ("bold", 0, 9),
            ("italic", 10, 1),
            ("underline", 12, 1),
            ("spoiler", 14, 1),
            ("code", 16, 1),
        ],
    )
    shown, found = render_text(r"[open](https://t.me/x?start=F_1) a\-b", "MarkdownV2")
    assert shown == "open a-b" and found[0]["url"] == "https://t.me/x?start=F_1"
    with pytest.raises(ApiError, match="Can't find end of Bold entity"):
        render_text("*unclosed", "MarkdownV2")
    with pytest.raises(ApiError, match="Character '-' is reserved"):
        render_text("1-2", "MarkdownV2")
    assert render_text("1-2. (ok)", None) == ("1-2. (ok)", [])


async def test_unknown_token_and_method(api: TelegramStandin) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=api.base_url):
            pass  # initialize() calls getMe
    async with httpx.AsyncClient() as raw:
        answer = await raw.post(f"{api.base_url}999:WRONG/getMe")
        assert answer.status_code == 401
        assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        answer = await raw.post(f"{api.base_url}{TOKEN}/noSuchMethod")
        assert answer.status_code == 404
        assert answer.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    async with Bot(TOKEN, base_url=api.base_url) as bot:
        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")


async def test_parameters_in_json_form_multipart_or_query(api: TelegramStandin) -> None:
    url = f"{api.base_url}{TOKEN}"
    markup = {"inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]}
    async with httpx.AsyncClient() as raw:
        as_json = await raw.post(
            f"{url}/sendMessage", json={"chat_id": WORKER, "text": "123", "reply_markup": markup}
        )
        as_form = await raw.post(
            f"{url}/SENDMESSAGE",  # method names are case-insensitive
            data={
                "chat_id": str(WORKER),
                "text": "true",
                "reply_markup": str(markup).replace("'", '"'),
            },
        )
        as_query = await raw.get(f"{url}/sendMessage", params={"chat_id": WORKER, "text": "q"})
        as_multipart = await raw.post(
            f"{url}/sendMessage",
            data={"chat_id": str(WORKER), "text": "m"},
            files={"unused": ("a.txt", b"a")},
        )
    assert [a.status_code for a in (as_json, as_form, as_query, as_multipart)] == [200] * 4
    assert as_json.json()["result"]["text"] == "123"  # strings stay strings
    assert as_form.json()["result"]["text"] == "true"
    assert as_form.json()["result"]["reply_markup"] == markup
    assert [s.text for s in api.messages_to(WORKER)] == ["123", "true", "q", "m"]
    assert api.call_count("sendMessage") == 4


async def test_send_document_keeps_bytes_and_name(api: TelegramStandin, bot: Bot) -> None:
    content = bytes(range(256)) * 40 + b"\r\n--not-a-boundary\r\n"
    message = await bot.send_document(
        WORKER,
        InputFile(content, filename="اجرت report.pdf"),
        caption="Your <b>report</b>",
        parse_mode=ParseMode.HTML,
    )
    sent = api.last_message(WORKER)
    assert sent is not None and sent.method == "sendDocument"
    assert sent.file_bytes == content and sent.file.filename == "اجرت report.pdf"
    assert sent.text == "Your report" and sent.raw_text == "Your <b>report</b>"
    assert message.document.file_name == "اجرت report.pdf"
    assert message.document.file_size == len(content)
    downloaded = await (await bot.get_file(message.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content

    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (600).to_bytes(4, "big") + (400).to_bytes(4, "big")
    )
    photo = await bot.send_photo(WORKER, png, caption="poster")
    assert photo.photo[-1].width == 600 and photo.photo[-1].height == 400
    assert api.last_message(WORKER).file_bytes == png
    again = await bot.send_document(OTHER, message.document.file_id)  # by file_id
    assert again.document.file_id == message.document.file_id


async def test_commands_menu_actions_and_lifecycle(api: TelegramStandin, bot: Bot) -> None:
    commands = [BotCommand("start", "Start the survey"), BotCommand("help", "Help")]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands(
        [BotCommand("start", "سروے شروع کریں")],
        scope=BotCommandScopeAllPrivateChats(),
        language_code="ur",
    )
    assert await bot.get_my_commands() == tuple(commands)
    urdu = await bot.get_my_commands(scope=BotCommandScopeAllPrivateChats(), language_code="ur")
    assert [c.command for c in urdu] == ["start"]
    assert api.commands_for({"type": "all_private_chats"}, "ur") == [("start", "سروے شروع کریں")]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Start-Now", "x")])

    assert await bot.set_chat_menu_button(menu_button=MenuButtonCommands())
    assert api.menu_buttons[None] == {"type": "commands"}
    assert await bot.send_chat_action(WORKER, ChatAction.TYPING)
    assert api.sent[-1].method == "sendChatAction" and api.messages_to(WORKER) == []
    assert await bot.log_out() and await bot.close()
    assert api.logged_out and api.closed


# ------------------------------------------------------------------------------ Application


async def test_text_reaches_a_message_handler(api: TelegramStandin) -> None:
    seen: list[tuple[str, str | None]] = []

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        seen.append((update.message.text, update.effective_user.language_code))
        await update.message.reply_text(f"you said {update.message.text}")

    async with polling(api, MessageHandler(filters.TEXT & ~filters.COMMAND, echo)):
        api.user_sends_text(WORKER, "12000", language_code="ur")
        replies = await api.wait_for_messages(WORKER, 1)
        api.user_sends_text(WORKER, "13000")
        replies = await api.wait_for_messages(WORKER, 2)
    assert seen == [("12000", "ur"), ("13000", "ur")]
    assert [r.text for r in replies] == ["you said 12000", "you said 13000"]
    assert api.pending_updates() == []  # confirmed by the updater's offset


async def test_start_payload_and_callback_press_reach_their_handlers(
    api: TelegramStandin,
) -> None:
    pressed: list[str] = []

    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(
            f"factory {context.args[0]}: language?",
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("اردو", callback_data="lang:ur"),
                        InlineKeyboardButton("English", callback_data="lang:en"),
                    ]
                ]
            ),
        )

    async def choose(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        pressed.append(query.data)
        await query.answer("OK")
        await query.edit_message_text(f"language {query.data.split(':')[1]}")

    async with polling(
        api, CommandHandler("start", start), CallbackQueryHandler(choose, pattern="^lang:")
    ):
        api.user_sends_start(WORKER, payload="F1234")
        [question] = await api.wait_for_messages(WORKER, 1)
        assert question.text == "factory F1234: language?"
        press = api.user_taps(WORKER, "English")
        await api.wait_until(lambda: len(api.edits_to(WORKER)) == 1)
    assert pressed == ["lang:en"]
    assert api.callback_answer(press) == {
        "callback_query_id": press["callback_query"]["id"],
        "text": "OK",
    }
    assert api.edits_to(WORKER)[0].text == "language en"
    now = api.message(WORKER, question.message_id)
    assert now["text"] == "language en" and "reply_markup" not in now  # keyboard gone


async def test_long_polling_updater_survives_a_bad_gateway(api: TelegramStandin) -> None:
    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text("ok")

    api.fail_next("getUpdates", error_code=502)
    async with polling(api, MessageHandler(filters.TEXT, reply)):
        api.user_sends_text(WORKER, "hi")
        await api.wait_for_messages(WORKER, 1)
    assert api.call_count("getUpdates") >= 2


# ------------------------------------------------------------------------------ webhook


class Receiver:
    """A tiny webhook endpoint: checks the secret, fails while told to, records everything."""

    def __init__(self, fail_first: int = 0, on_update: Any = None) -> None:
        self.fail_first = fail_first
        self.on_update = on_update
        self.received: list[tuple[dict[str, str], bytes, int]] = []

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        secret = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not hmac.compare_digest(secret.encode(), SECRET.encode()):
            status = 403
        elif self.fail_first > 0:
            self.fail_first -= 1
            status = 500
        else:
            status = 200
            if self.on_update is not None:
                await self.on_update(await request.json())
        self.received.append((dict(request.headers), body, status))
        return Response(status_code=status)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/hook", self.hook, methods=["POST"])])


async def test_webhook_posts_with_secret_and_retries(api: TelegramStandin, bot: Bot) -> None:
    receiver = Receiver(fail_first=1)
    async with serve_asgi(receiver.app()) as url:
        assert await bot.set_webhook(f"{url}/hook", secret_token=SECRET)
        assert api.webhook["secret_token"] == SECRET
        update = api.user_sends_text(WORKER, "12000")
        await api.wait_delivered(update)
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates()
        info = await bot.get_webhook_info()
        assert info.url == f"{url}/hook" and info.pending_update_count == 0
        assert "500" in info.last_error_message

        # a wrong secret is refused by the receiver; deliver_raw sends whatever the test wants
        refused = await api.deliver_raw(update, secret="wrong")
        assert refused.status_code == 403
        no_header = await api.deliver_raw(b"{not json", secret=None)
        assert no_header.status_code == 403

    statuses = [status for _, _, status in receiver.received]
    assert statuses == [500, 200, 403, 403]
    first, second = receiver.received[0], receiver.received[1]
    assert first[0]["x-telegram-bot-api-secret-token"] == SECRET
    assert first[0]["content-type"] == "application/json"
    assert first[1] == second[1]
    assert Update.de_json(json.loads(second[1]), bot).message.text == "12000"
    stats = api.delivery_stats()
    assert stats["statuses"] == [500, 200] and stats["per_update"] == {update["update_id"]: 2}
    assert stats["delivered"] == 1 and stats["failed"] == 1 and stats["pending"] == 0
    assert [a.raw for a in api.deliveries] == [False, False, True, True]


async def test_undelivered_updates_are_kept_until_polled(api: TelegramStandin, bot: Bot) -> None:
    async with serve_asgi(Receiver().app()) as url:
        dead = f"{url}/hook"
    await bot.set_webhook(dead, secret_token=SECRET)  # nothing listens there any more
    first = api.user_sends_text(WORKER, "one")
    second = api.user_sends_text(WORKER, "two")
    await api.wait_until(lambda: api.delivery_stats()["attempts"] >= 3)
    stats = api.delivery_stats()
    assert stats["delivered"] == 0 and set(stats["statuses"]) == {None}
    assert set(stats["per_update"]) == {first["update_id"]}  # in order: the first blocks
    assert (await bot.get_webhook_info()).pending_update_count == 2
    assert await bot.delete_webhook()
    got = await bot.get_updates()
    assert [u.update_id for u in got] == [first["update_id"], second["update_id"]]


async def test_webhook_feeds_an_application_update_queue(api: TelegramStandin) -> None:
    app = build_app(api)

    async def reply(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await update.message.reply_text(f"got {update.message.text}")

    app.add_handler(MessageHandler(filters.TEXT, reply))

    async def enqueue(data: dict[str, Any]) -> None:
        await app.update_queue.put(Update.de_json(data, app.bot))

    receiver = Receiver(on_update=enqueue)
    async with app, serve_asgi(receiver.app()) as url:
        await app.start()
        await app.bot.set_webhook(f"{url}/hook", secret_token=SECRET)
        api.user_sends_text(WORKER, "12000")
        [answer] = await api.wait_for_messages(WORKER, 1)
        await app.stop()
    assert answer.text == "got 12000"


async def test_webhook_answer_may_carry_a_method(api: TelegramStandin, bot: Bot) -> None:
    async def hook(request: Request) -> Response:
        data = await request.json()
        chat = data["message"]["chat"]["id"]
        return JSONResponse({"method": "sendMessage", "chat_id": chat, "text": "from the answer"})

    async with serve_asgi(Starlette(routes=[Route("/", hook, methods=["POST"])])) as url:
        await bot.set_webhook(f"{url}/")
        api.user_sends_text(WORKER, "hi")
        [sent] = await api.wait_for_messages(WORKER, 1)
    assert sent.text == "from the answer"
    assert api.calls_of("sendMessage")[0].source == "webhook-reply"


async def test_wait_for_messages_says_what_came(api: TelegramStandin, bot: Bot) -> None:
    await bot.send_message(WORKER, "only one")
    with pytest.raises(AssertionError, match="only one"):
        await api.wait_for_messages(WORKER, 2, timeout=0.05)
