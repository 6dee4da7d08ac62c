"""The WhatsApp channel end to end: our webhook app and Graph API client against a stand-in
Cloud API on 127.0.0.1 that signs its webhook deliveries like Meta, with a real database
(SQLite; PostgreSQL when set).

The conversation tests at the top run on Telegram and WhatsApp alike (a small driver per
channel); the rest is what only WhatsApp has: signatures, the verification handshake, lists,
rate-limit error codes, the 24-hour rule and templates, business-scoped user ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import httpx
import pytest
import zxingcpp
from babel.dates import format_date
from PIL import Image
from pydantic import SecretStr
from sqlalchemy import select, update

from bot.bootstrap import App, build_app
from bot.channels.whatsapp import (
    GraphClient,
    Recipient,
    WhatsAppChannel,
    invite,
    remind,
    webhook_app,
    within_window,
)
from bot.channels.whatsapp import texts as wa_texts
from bot.channels.whatsapp.broadcast import WhatsAppSender
from bot.config import PROJECT_ROOT, Settings
from bot.i18n import Catalogs
from bot.posters import wa_link
from bot.service.broadcasts import Broadcaster, QuietHours, enqueue_due_reminders
from bot.storage.models import (
    Answer,
    ContactAddress,
    Conversation,
    OutboxMessage,
    ProcessedMessage,
    Response,
    Round,
)
from bot.survey import phrases as P
from tests.telegram_standin import TelegramStandin, serve_asgi
from tests.test_service import answers, count, open_round
from tests.test_telegram import TOKEN as TELEGRAM_TOKEN
from tests.test_telegram import Bot
from tests.whatsapp_standin import Sent, WhatsAppStandin, Worker

TOKEN = "EAAJtest-permanent-token"
PHONE_NUMBER_ID = "106540352242922"
APP_SECRET = "0123456789abcdef0123456789abcdef"
VERIFY_TOKEN = "verify-me-7f3a"
WEBHOOK_PATH = "/whatsapp"

TEMPLATE_TEXTS = {
    ("wagecheck_reminder", "ur"): wa_texts.REMINDER,
    ("wagecheck_reminder", "en"): wa_texts.REMINDER,
    ("wagecheck_invitation", "ur"): wa_texts.INVITATION,
    ("wagecheck_invitation", "en"): wa_texts.INVITATION,
}


def _settings_for(app: App, api: WhatsAppStandin) -> Settings:
    return app.settings.model_copy(
        update={
            "whatsapp_token": SecretStr(TOKEN),
            "whatsapp_phone_number_id": PHONE_NUMBER_ID,
            "whatsapp_app_secret": SecretStr(APP_SECRET),
            "whatsapp_verify_token": SecretStr(VERIFY_TOKEN),
            "whatsapp_api_url": api.url,
            "whatsapp_number": "+92 21 3000 1111",
            "whatsapp_rate_per_recipient": 50.0,  # tests talk fast; the limiter has its own test
        }
    )


def _approve_templates(api: WhatsAppStandin, catalogs: Catalogs) -> None:
    """The templates a CSO submits (docs/whatsapp.md): the catalog texts, {sender} as {{1}}
    and {code} as {{2}}."""
    for (name, lang), msgid in TEMPLATE_TEXTS.items():
        loc = catalogs.get(lang)
        button = P.BUTTON_CONTINUE if name == "wagecheck_reminder" else wa_texts.BUTTON_START
        body = loc.gettext(msgid, sender="{{1}}", code="{{2}}")
        api.approve_template(name, lang, body, [loc.gettext(button)])


@dataclass
class WA:
    """A running WhatsApp channel (our webhook app on 127.0.0.1) and the stand-in."""

    app: App
    api: WhatsAppStandin
    channel: WhatsAppChannel
    url: str


@contextlib.asynccontextmanager
async def running(app: App, api: WhatsAppStandin, **graph_options: Any) -> AsyncIterator[WA]:
    """Serve our webhook app and register it as the stand-in's webhook."""
    app.settings = _settings_for(app, api)
    channel = WhatsAppChannel.build(app, **graph_options)
    asgi = webhook_app(channel)
    async with serve_asgi(asgi) as url, asgi.router.lifespan_context(asgi):
        api.webhook_url = f"{url}{WEBHOOK_PATH}"
        _approve_templates(api, app.catalogs)
        yield WA(app, api, channel, url)


@pytest.fixture
async def wa(app: App) -> AsyncIterator[WA]:
    async with WhatsAppStandin(TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api, running(app, api) as w:
        yield w


def _last_month(app: App) -> str:
    today = app.clock().astimezone(ZoneInfo("Asia/Karachi")).date()
    return (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


def _month_label(app: App, lang: str) -> str:
    year, month = _last_month(app).split("-")
    return format_date(date(int(year), int(month), 1), "LLLL y", locale=lang)


# ====================================================================================
# Conversations shared with Telegram: one test body, one driver per channel
# ====================================================================================
@dataclass
class Said:
    """What the bot answered to one thing the worker did: its text (all messages of the
    answer on WhatsApp, the newest on Telegram) and the options of the last one."""

    text: str
    options: list[tuple[str, str]]  # (label, payload)

    @property
    def labels(self) -> list[str]:
        return [label for label, _ in self.options]


class Driver(Protocol):
    channel: str
    app: App

    async def start(self, who: str, code: str | None = None) -> Said: ...
    async def text(self, who: str, text: str) -> Said: ...
    async def press(self, who: str, value: str, *, old: bool = False) -> Said: ...
    async def tick(self, who: str, value: str) -> Said: ...
    async def media(self, who: str, kind: str) -> Said: ...


MEDIA_KINDS = ("voice", "sticker", "image", "location", "contacts", "document")


class TelegramDriver:
    """Drives tests.test_telegram's Bot: /start <code> links, inline buttons, edits."""

    channel = "telegram"

    def __init__(self, bot: Bot) -> None:
        self.bot, self.app, self.api = bot, bot.app, bot.api
        self._chats: dict[str, int] = {}

    def _chat(self, who: str) -> int:
        return self._chats.setdefault(who, 7000 + len(self._chats))

    @staticmethod
    def _said(message: Any) -> Said:
        text = message.text if hasattr(message, "text") else message.get("text")
        return Said(text or "", [(t, d or "") for t, d in TelegramStandin.buttons(message)])

    async def start(self, who: str, code: str | None = None) -> Said:
        chat = self._chat(who)
        return self._said(
            await self.bot.expect(chat, lambda: self.api.user_sends_start(chat, code))
        )

    async def text(self, who: str, text: str) -> Said:
        return self._said(await self.bot.text(self._chat(who), text))

    async def press(self, who: str, value: str, *, old: bool = False) -> Said:
        """Press a button; `old`: one of a question answered before (its buttons are gone)."""
        chat = self._chat(who)
        if not old:
            return self._said(await self.bot.press(chat, value))
        # On Telegram a pressed question is edited into the next: the old button may only be
        # in an edit's record (pressed now, it comes from a message that shows another one).
        shown = sorted(self.api.messages_to(chat) + self.api.edits_to(chat), key=lambda m: m.at)
        sent = next(
            (m, d)
            for m in reversed(shown)
            for _, d in self.api.buttons(m)
            if d and d.endswith(":" + value)
        )
        return self._said(
            await self.bot.expect(
                chat, lambda: self.api.user_presses(chat, sent[0], sent[1], strict=False)
            )
        )

    async def tick(self, who: str, value: str) -> Said:
        chat = self._chat(who)
        await self.bot.tick(chat, value)
        message = next(m for m in reversed(self.api.messages_to(chat)) if self.api.buttons(m))
        return self._said(self.api.message(chat, message.message_id))

    async def media(self, who: str, kind: str) -> Said:
        chat = self._chat(who)
        send = {
            "voice": self.api.user_sends_voice,
            "sticker": self.api.user_sends_sticker,
            "image": self.api.user_sends_photo,
            "location": self.api.user_sends_location,
            "contacts": self.api.user_sends_contact,
            "document": self.api.user_sends_document,
        }[kind]
        return self._said(await self.bot.expect(chat, lambda: send(chat)))


class WhatsAppDriver:
    """Drives the stand-in: wa.me links (the code as the first message), buttons, lists."""

    channel = "whatsapp"

    def __init__(self, wa: WA) -> None:
        self.app, self.api = wa.app, wa.api
        self._workers: dict[str, Worker] = {}

    def worker(self, who: str) -> Worker:
        if who not in self._workers:
            self._workers[who] = self.api.worker(who.capitalize())
        return self._workers[who]

    @staticmethod
    def _said(sent: list[Sent]) -> Said:
        assert sent, "the bot sent nothing"
        last = next((s for s in reversed(sent) if s.options), sent[-1])
        return Said("\n\n".join(s.text for s in sent), [(t, i) for t, i in last.options])

    async def start(self, who: str, code: str | None = None) -> Said:
        return self._said(await self.api.text(self.worker(who), code or "Salaam"))

    async def text(self, who: str, text: str) -> Said:
        return self._said(await self.api.text(self.worker(who), text))

    async def press(self, who: str, value: str, *, old: bool = False) -> Said:
        w = self.worker(who)  # WhatsApp messages keep their buttons: old ones can be pressed
        for sent in reversed(self.api.messages_to(w)):
            for _, option in sent.options:
                if option.rsplit(":", 1)[-1] == value:
                    return self._said(await self.api.press(w, option))
        raise AssertionError(f"no button or row {value!r} for {who}")

    async def tick(self, who: str, value: str) -> Said:
        said = await self.press(who, value)
        assert any(label.startswith("✓") for label in said.labels)
        return said

    async def media(self, who: str, kind: str) -> Said:
        return self._said(await self.api.media(self.worker(who), kind))


@pytest.fixture(params=["telegram", "whatsapp"])
async def driver(request: pytest.FixtureRequest, app: App) -> AsyncIterator[Driver]:
    if request.param == "whatsapp":
        async with (
            WhatsAppStandin(TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api,
            running(app, api) as w,
        ):
            yield WhatsAppDriver(w)
        return
    async with TelegramStandin(TELEGRAM_TOKEN) as tg:
        app.settings = app.settings.model_copy(
            update={
                "telegram_token": SecretStr(TELEGRAM_TOKEN),
                "telegram_api_url": tg.url,
                "telegram_rate_per_chat": 50.0,
            }
        )
        bot = Bot(app, tg)
        await bot.start()
        try:
            yield TelegramDriver(bot)
        finally:
            await bot.stop()


async def test_a_worker_answers_in_urdu_with_urdu_digits_from_the_poster(driver: Driver) -> None:
    codes = await open_round(driver.app)
    first = await driver.start("ayesha", codes["KHI-001"])
    assert "Please choose your language" in first.text
    assert first.labels == ["اردو", "سنڌي", "English"]
    consent = await driver.press("ayesha", "ur")
    assert "سروے" in consent.text
    factory = await driver.press("ayesha", "yes")
    assert "Factory 0" in factory.text  # the poster's factory, for the worker to confirm
    job = await driver.press("ayesha", "yes")
    assert "آپ کا کام کیا ہے؟" in job.text
    employment = await driver.text("ayesha", "۲")  # machine operator, as an Urdu digit
    assert employment.text.startswith("✓ مشین آپریٹر\n\n")
    month = await driver.press("ayesha", "permanent")
    assert month.labels[0] == _month_label(driver.app, "ur")
    await driver.press("ayesha", _last_month(driver.app))
    await driver.text("ayesha", "ہاں")
    pay_rise = await driver.text("ayesha", "۴۲٬۵۰۰ روپے")
    assert "کم از کم تنخواہ" in pay_rise.text
    await driver.press("ayesha", "yes")
    await driver.press("ayesha", "no")
    await driver.tick("ayesha", "cash")
    both = await driver.tick("ayesha", "bank")
    assert [label for label in both.labels if label.startswith("✓")] == [
        "✓ نقد",
        "✓ بینک اکاؤنٹ",
    ]
    await driver.press("ayesha", "_done")
    await driver.press("ayesha", "no")
    await driver.press("ayesha", "woman")
    await driver.press("ayesha", "_skip")
    thanks = await driver.press("ayesha", "no")
    assert "شکریہ" in thanks.text
    stored = await answers(driver.app)
    assert stored["pay"] == 42500 and stored["job"] == "operator"
    assert stored["payment_method"] == ["cash", "bank"]
    async with driver.app.db.transaction() as s:
        response = (await s.execute(select(Response))).scalar_one()
    assert response.status == "complete" and response.channel == driver.channel
    assert await count(driver.app, ContactAddress) == 0  # no opt-in: the address is gone


@pytest.mark.parametrize(
    ("lang", "yes_word", "thanks_word"), [("sd", "ها", "مهرباني"), ("en", "yes", "Thank you")]
)
async def test_complete_surveys_in_sindhi_and_english_with_typed_answers(
    driver: Driver, lang: str, yes_word: str, thanks_word: str
) -> None:
    codes = await open_round(driver.app)
    await driver.start("bilal", codes["KHI-001"])
    await driver.press("bilal", lang)
    await driver.text("bilal", yes_word)  # consent, typed
    await driver.press("bilal", "yes")
    await driver.press("bilal", "helper")
    await driver.text("bilal", "2")  # through a contractor
    await driver.press("bilal", _last_month(driver.app))
    await driver.press("bilal", "yes")
    await driver.text("bilal", "Rs 41,000/-")
    for value in ("dont_know", "yes"):
        await driver.press("bilal", value)
    await driver.text("bilal", "1, 3")  # cash and mobile wallet, typed
    for value in ("no", "unsaid"):
        await driver.press("bilal", value)
    await driver.text("bilal", "The canteen is closed on Fridays.")
    thanks = await driver.press("bilal", "yes")
    assert thanks_word in thanks.text
    stored = await answers(driver.app)
    assert stored["pay"] == 41000 and stored["employment"] == "contractor"
    assert stored["payment_method"] == ["cash", "wallet"]
    assert stored["comment"] == "The canteen is closed on Fridays."
    assert await count(driver.app, ContactAddress, ContactAddress.purpose == "opt_in") == 1


async def test_the_rounds_help_text_on_help_and_after_a_pay_below_the_minimum(
    driver: Driver,
) -> None:
    """Where to get help, as the round's CSO set it: on "مدد" in Urdu, and at the end of a
    Sindhi survey right after the line saying the pay is below the minimum."""
    codes = await open_round(driver.app)
    urdu, sindhi = "ہیلپ لائن: 0300-7654321", "هيلپ لائين: 0300-7654321"
    await driver.app.admin.set_help_text(1, "ur", urdu)
    await driver.app.admin.set_help_text(1, "sd", sindhi)
    await driver.start("hina", codes["KHI-001"])
    await driver.press("hina", "ur")
    help_reply = await driver.text("hina", "مدد")
    assert urdu in help_reply.text and "سروے" in help_reply.text  # then the question again

    await driver.start("sana", codes["KHI-001"])
    await driver.press("sana", "sd")
    await driver.text("sana", "ها")  # consent
    await driver.press("sana", "yes")
    await driver.press("sana", "helper")
    await driver.text("sana", "1")  # permanent
    await driver.press("sana", _last_month(driver.app))
    await driver.press("sana", "yes")
    await driver.text("sana", "30000")
    for value in ("no", "no"):
        await driver.press("sana", value)
    await driver.text("sana", "1")  # cash
    for value in ("no", "unsaid", "_skip"):
        await driver.press("sana", value)
    end = await driver.press("sana", "no")
    below = "گهٽ ۾ گهٽ پگهار کان"  # "… less than this minimum"
    assert below in end.text and sindhi in end.text
    assert end.text.index(below) < end.text.index(sindhi)
    assert urdu not in end.text


async def test_without_a_code_the_worker_is_asked_for_the_poster_code(driver: Driver) -> None:
    codes = await open_round(driver.app)
    await driver.start("chand")
    await driver.press("chand", "en")
    ask = await driver.press("chand", "yes")
    assert "code printed on the poster" in ask.text
    wrong = await driver.text("chand", "ZZZZZZ")
    assert "do not know this code" in wrong.text
    job = await driver.text("chand", codes["KHI-001"].lower())
    assert "What is your job?" in job.text


async def test_voice_notes_pictures_and_the_like_get_a_polite_reply(driver: Driver) -> None:
    codes = await open_round(driver.app)
    await driver.start("dua", codes["KHI-001"])
    for value in ("en", "yes", "yes"):
        await driver.press("dua", value)
    for kind in MEDIA_KINDS:
        reply = await driver.media("dua", kind)
        assert "I can only read text and buttons" in reply.text, kind
        assert "What is your job?" in reply.text  # and the same question again
    assert await count(driver.app, Answer) == 0
    nonsense = await driver.text("dua", "what??")
    assert "Please press one of the buttons" in nonsense.text


async def test_back_and_delete_typed_in_urdu(driver: Driver) -> None:
    codes = await open_round(driver.app)
    await driver.start("erum", codes["KHI-001"])
    for value in ("ur", "yes", "yes", "helper"):
        await driver.press("erum", value)
    back = await driver.text("erum", "واپس")
    assert "آپ کا کام کیا ہے؟" in back.text
    assert await count(driver.app, Answer) == 0
    await driver.press("erum", "checker")
    assert (await answers(driver.app))["job"] == "checker"
    confirm = await driver.text("erum", "مٹائیں")
    assert confirm.labels[0] == driver.app.catalogs.get("ur").gettext(P.BUTTON_DELETE)
    await driver.press("erum", "yes")
    assert await count(driver.app, Response) == 0 and await count(driver.app, Answer) == 0


async def test_an_old_button_only_repeats_the_current_question(driver: Driver) -> None:
    codes = await open_round(driver.app)
    await driver.start("farah", codes["KHI-001"])
    for value in ("en", "yes", "yes", "helper"):
        await driver.press("farah", value)
    again = await driver.press("farah", "operator", old=True)  # the job question, answered
    assert "How are you employed?" in again.text
    assert (await answers(driver.app))["job"] == "helper"


async def test_a_closed_round_says_so_and_keeps_nothing(driver: Driver) -> None:
    codes = await open_round(driver.app)
    await driver.start("gul", codes["KHI-001"])
    for value in ("en", "yes", "yes", "helper"):
        await driver.press("gul", value)
    await driver.app.admin.close_round(1)
    closed = await driver.text("gul", "1")
    assert "This survey has closed" in closed.text
    assert await count(driver.app, Conversation) == 0


# ====================================================================================
# WhatsApp: how questions look
# ====================================================================================
async def test_three_options_are_reply_buttons_and_more_are_a_list_within_limits(wa: WA) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Hina")
    [language] = await wa.api.text(w, codes["KHI-001"])
    assert language.type == "button" and len(language.options) == 3
    for value in ("a:language:sd", "a:consent:yes"):
        await wa.api.press(w, value)
    [job] = await wa.api.press(w, "a:factory:yes")
    assert job.type == "list" and job.list_button == "جواب چونڊيو"  # "Choose", in Sindhi
    assert [i for _, i in job.options] == [
        f"a:job:{c}" for c in ("helper", "operator", "checker", "other")
    ]
    assert all(len(t) <= 24 for t in job.titles)
    # Every message passed the stand-in's checks of WhatsApp's limits.
    assert [status for status, _ in wa.api.calls] == [200] * len(wa.api.calls)


async def test_a_multiple_choice_list_is_sent_again_with_ticks_until_done(wa: WA) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Iqra")
    await wa.api.text(w, codes["KHI-001"])
    for value in ("en", "yes", "yes", "helper", "permanent", _last_month(wa.app)):
        w_sent = wa.api.last_with_options(w)
        await wa.api.press(w, next(i for _, i in w_sent.options if i.endswith(":" + value)))
    [pay] = await wa.api.press(w, "a:full_month:yes")
    assert pay.type == "text"  # a number question: no buttons, the worker types
    await wa.api.text(w, "40000")
    await wa.api.press(w, "a:pay_rise:yes")
    [methods] = await wa.api.press(w, "a:payslip:yes")
    assert methods.type == "list" and "Chosen" not in methods.text
    assert methods.titles == ["Cash", "Bank account", "Mobile wallet", "Done"]
    [after_one] = await wa.api.press(w, "t:payment_method:wallet")
    assert after_one.titles == ["Cash", "Bank account", "✓ Mobile wallet", "Done"]
    assert after_one.text.endswith("Chosen: Mobile wallet")
    [after_two] = await wa.api.press(w, "t:payment_method:cash")
    assert after_two.text.endswith("Chosen: Cash and Mobile wallet")
    [after_untick] = await wa.api.press(w, "t:payment_method:wallet")
    assert after_untick.titles == ["✓ Cash", "Bank account", "Mobile wallet", "Done"]
    [next_question] = await wa.api.press(w, "a:payment_method:_done")
    assert "money cut from your pay" in next_question.text
    assert (await answers(wa.app))["payment_method"] == ["cash"]


async def test_buttons_the_api_refuses_go_out_as_numbered_text(wa: WA) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Jamila")
    wa.api.fail_next(131009)
    sent = await wa.api.text(w, codes["KHI-001"])
    assert [s.type for s in sent] == ["text"]
    assert "1. اردو\n2. سنڌي\n3. English" in sent[0].text
    consent = await wa.api.text(w, "3")  # the worker types the number
    assert "voluntary" in consent[0].text


# ====================================================================================
# WhatsApp: the webhook
# ====================================================================================
async def test_get_verification_echoes_the_challenge_only_for_the_right_token(wa: WA) -> None:
    ok, challenge = await wa.api.verify(token=VERIFY_TOKEN)
    assert ok.status_code == 200 and ok.text == challenge
    for token, mode in ((VERIFY_TOKEN[:-1], "subscribe"), ("", "subscribe"), (VERIFY_TOKEN, "x")):
        refused, _ = await wa.api.verify(token=token, mode=mode)
        assert refused.status_code == 403 and challenge not in refused.text
    async with httpx.AsyncClient() as client:
        health = await client.get(f"{wa.url}/healthz")
    assert health.status_code == 200 and health.json()["ok"] is True


async def test_a_delivery_without_the_right_signature_is_refused_and_nothing_stored(wa: WA) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Kiran")
    payload = wa.api.message(w, "text", {"body": codes["KHI-001"]})
    body = __import__("json").dumps(payload).encode()
    for attempt in (
        {"secret": "not-the-app-secret"},
        {"signature": ""},
        {"signature": "sha256=" + "0" * 64},
        {"signature": wa.api.sign(body).removeprefix("sha256=")},  # without the "sha256=" prefix
        {"signature": wa.api.sign(body + b" ")},  # a signature of another body
    ):
        response = await wa.api.deliver(payload, **attempt)
        assert response.status_code == 403, attempt
    assert wa.api.sent == []
    for model in (ProcessedMessage, Conversation, Response, OutboxMessage):
        assert await count(wa.app, model) == 0
    accepted = await wa.api.deliver(payload)
    assert accepted.status_code == 200 and len(wa.api.messages_to(w)) == 1


async def test_a_duplicate_delivery_changes_nothing(wa: WA) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Laila")
    await wa.api.text(w, codes["KHI-001"])
    for value in ("a:language:en", "a:consent:yes", "a:factory:yes"):
        await wa.api.press(w, value)
    press = wa.api.press_payload(w, "a:job:helper")
    first = await wa.api.deliver(press)
    assert first.status_code == 200  # answered after the answer was stored
    assert await count(wa.app, Answer, Answer.question_id == "job") == 1
    before = len(wa.api.messages_to(w))
    for _ in range(3):  # Meta delivers the same message again
        again = await wa.api.deliver(press)
        assert again.status_code == 200
    assert await count(wa.app, Answer, Answer.question_id == "job") == 1
    assert len(wa.api.messages_to(w)) == before  # no second question
    assert await count(wa.app, OutboxMessage) == 0


async def test_every_message_of_a_delivery_is_handled_before_the_200(wa: WA) -> None:
    codes = await open_round(wa.app)
    a, b = wa.api.worker("Mehwish"), wa.api.worker("Nadia")
    first = wa.api.message(a, "text", {"body": codes["KHI-001"]})
    second = wa.api.message(b, "text", {"body": codes["KHI-001"]})
    value = first["entry"][0]["changes"][0]["value"]
    other = second["entry"][0]["changes"][0]["value"]
    value["contacts"] += other["contacts"]
    value["messages"] += other["messages"]
    response = await wa.api.deliver(first)
    assert response.status_code == 200
    assert len(wa.api.messages_to(a)) == len(wa.api.messages_to(b)) == 1
    assert await count(wa.app, Conversation) == 2


async def test_status_callbacks_are_taken_and_failures_logged_without_personal_data(
    wa: WA, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    codes = await open_round(wa.app)
    w = wa.api.worker("Parveen")
    [question] = await wa.api.text(w, codes["KHI-001"])
    responses = await wa.api.statuses(question, ("sent", "delivered", "read", "failed"))
    assert [r.status_code for r in responses] == [200] * 4
    assert "could not deliver a message (error 131026)" in caplog.text
    for private in (w.phone, w.user_id, question.id, question.id.removeprefix("wamid.")):
        assert private and private not in caplog.text
    assert len(wa.api.messages_to(w)) == 1  # a status is not a message: no reply


async def test_an_edited_message_and_a_reaction_are_answered_politely(wa: WA) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Qamar")
    await wa.api.text(w, codes["KHI-001"])
    for value in ("a:language:en", "a:consent:yes", "a:factory:yes"):
        await wa.api.press(w, value)
    [edited] = await wa.api.edit(w, "wamid.earlier", "3")
    assert "type “back”" in edited.text
    [reacted] = await wa.api.media(w, "reaction")
    assert "I can only read text and buttons" in reacted.text
    assert await count(wa.app, Answer) == 0


# ====================================================================================
# WhatsApp: sending within the limits
# ====================================================================================
async def test_a_throughput_limit_answer_is_waited_out_and_nothing_is_lost(wa: WA) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Rubina")
    wa.api.fail_next(130429)
    sent = await wa.api.text(w, codes["KHI-001"])
    assert len(sent) == 1 and "choose your language" in sent[0].text
    assert [status for status, _ in wa.api.calls] == [400, 200]
    assert await count(wa.app, OutboxMessage) == 0


async def test_a_pair_rate_answer_is_retried_with_growing_waits(app: App) -> None:
    codes = await open_round(app)
    async with (
        WhatsAppStandin(TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api,
        running(app, api, retry_scale=0.05),
    ):
        w = api.worker("Saima")
        api.fail_next(131056, times=2)
        started = asyncio.get_running_loop().time()
        sent = await api.text(w, codes["KHI-001"])
        waited = asyncio.get_running_loop().time() - started
    assert len(sent) == 1 and [s for s, _ in api.calls] == [400, 400, 200]
    assert waited >= 0.05 * 6 * (1 + 2)  # 6 s, then 12 s, scaled down for the test


async def test_a_failing_graph_api_fails_the_webhook_and_metas_retry_sends_the_reply(
    wa: WA,
) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Tahira")
    wa.api.fail_next(131000, status=500)  # "Something went wrong"
    sent = await wa.api.text(w, codes["KHI-001"])
    assert sent == [] and wa.api.deliveries[-1].status == 500
    assert await count(wa.app, OutboxMessage) == 1  # the reply waits in the outbox
    await wa.api.settle()
    assert [d.status for d in wa.api.deliveries] == [500, 200]
    assert len(wa.api.messages_to(w)) == 1  # sent once, on the redelivery
    assert await count(wa.app, OutboxMessage) == 0
    assert await count(wa.app, Conversation) == 1


async def test_a_reply_refused_for_good_is_dropped_and_the_next_message_gets_it(wa: WA) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Uzma")
    wa.api.fail_next(131026)  # "Message undeliverable"
    response = await wa.api.deliver(wa.api.message(w, "text", {"body": codes["KHI-001"]}))
    assert response.status_code == 200  # Meta should not deliver again: it would not help
    assert wa.api.messages_to(w) == []
    assert await count(wa.app, OutboxMessage) == 0  # nothing kept that can never be sent
    # The worker writes again: the question where they are comes (the language choice).
    await wa.api.deliver(wa.api.message(w, "text", {"body": "hello"}))
    assert len(wa.api.messages_to(w)) >= 1


async def test_sending_keeps_the_throughput_and_the_pair_rate() -> None:
    async with WhatsAppStandin(TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api:
        graph = GraphClient(
            api.url, PHONE_NUMBER_ID, TOKEN, per_second=20, per_recipient_per_second=4
        )
        workers = [api.worker(f"W{i}") for i in range(40)]
        for w in workers:
            w.last_message_at = api.now()
        text = {"type": "text", "text": {"body": "hello"}}
        try:
            await asyncio.gather(*(graph.send(Recipient(phone=w.phone), text) for w in workers))
            one = api.worker("One")
            one.last_message_at = api.now()
            await asyncio.gather(
                *(graph.send(Recipient(user_id=one.user_id), text) for _ in range(10))
            )
        finally:
            await graph.aclose()
    # Arrival times at the stand-in: on a loaded machine the first requests can arrive late and
    # shorten the span, so this proves that sending is held back (unlimited, 40 sends take
    # ~50 ms), not the exact rate: benchmarks measure that.
    overall = sorted(s.at for s in api.sent[:40])
    assert overall[-1] - overall[0] >= (40 - 20) / 20 * 0.5  # a burst of 20, then 20 a second
    pair = sorted(s.at for s in api.sent[40:])
    assert pair[-1] - pair[0] >= (10 - 6) / 4 * 0.5  # a burst of 6, then 4 a second


# ====================================================================================
# WhatsApp: the 24-hour rule, reminders and invitations
# ====================================================================================
def test_the_window_counts_23_hours_from_the_stored_hour() -> None:
    hour = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)  # the last message came 10:00-10:59
    assert within_window(hour, hour + timedelta(hours=22, minutes=59))
    assert not within_window(hour, hour + timedelta(hours=23))
    assert not within_window(None, hour)


async def _worker_halfway(wa: WA, name: str, lang: str = "ur") -> tuple[Worker, str]:
    codes = await open_round(wa.app)
    w = wa.api.worker(name)
    await wa.api.text(w, codes["KHI-001"])
    for value in (f"a:language:{lang}", "a:consent:yes", "a:factory:yes", "a:job:helper"):
        await wa.api.press(w, value)
    async with wa.app.db.transaction() as s:
        key = (await s.execute(select(ContactAddress.key))).scalar_one()
    return w, key


async def test_a_reminder_inside_the_window_is_a_normal_message(wa: WA) -> None:
    w, key = await _worker_halfway(wa, "Warda")
    assert await remind(wa.channel, key) == "message"
    reminder = wa.api.last(w)
    assert reminder.type == "button" and reminder.delivered
    assert reminder.text == wa.app.catalogs.get("ur").gettext(wa_texts.REMINDER, sender="Test CSO")
    [again] = await wa.api.press(w, "w:resume")
    assert "آپ کی نوکری کس طرح کی ہے؟" in again.text  # the question where the worker stopped


async def test_a_reminder_outside_the_window_is_the_approved_template(wa: WA) -> None:
    w, key = await _worker_halfway(wa, "Yasmin")
    # The worker's last message was 30 hours ago, for WhatsApp and in our database alike.
    wa.api.advance(30 * 3600)
    async with wa.app.db.transaction() as s:
        await s.execute(
            update(Conversation).values(updated_at=wa.app.clock() - timedelta(hours=30))
        )
    assert await remind(wa.channel, key) == "template"
    template = wa.api.last(w)
    assert template.type == "template" and template.delivered
    assert template.request["template"]["name"] == "wagecheck_reminder"
    assert template.request["template"]["language"]["code"] == "ur"
    assert template.text == wa.app.catalogs.get("ur").gettext(wa_texts.REMINDER, sender="Test CSO")
    [again] = await wa.api.tap_template_button(w)
    assert "آپ کی نوکری کس طرح کی ہے؟" in again.text and again.delivered


async def test_the_stand_in_refuses_a_normal_message_outside_the_window(wa: WA) -> None:
    w, key = await _worker_halfway(wa, "Zara", lang="en")
    wa.api.advance(25 * 3600)
    # Had we trusted an old hour, WhatsApp would drop the message (131047).
    await wa.channel.graph.send(Recipient(phone=w.phone), {"type": "text", "text": {"body": "hi"}})
    assert wa.api.last(w).error == 131047
    async with wa.app.db.transaction() as s:
        await s.execute(
            update(Conversation).values(updated_at=wa.app.clock() - timedelta(hours=25))
        )
    assert await remind(wa.channel, key) == "template"
    assert wa.api.last(w).delivered


def _broadcaster(wa: WA) -> Broadcaster:
    """The scheduler's broadcaster with our sender, at any hour (quiet hours have own tests)."""
    always = QuietHours(start=time(0, 0), end=time(0, 0))
    sender = WhatsAppSender(wa.channel)
    return Broadcaster(
        wa.app.db, wa.app.keyring, wa.app.catalogs, [sender], always, clock=wa.app.clock
    )


async def test_the_schedulers_reminders_keep_the_window_rule(wa: WA) -> None:
    late, _ = await _worker_halfway(wa, "Nimra")  # stops now, and is reminded 26 hours later
    wa.api.advance(23 * 3600)
    early = wa.api.worker("Ozma")  # stops 23 hours later, and is reminded 3 hours after that
    await wa.api.text(early, (await wa.app.admin.get_round(1)).factories[0].code)
    for value in ("a:language:en", "a:consent:yes", "a:factory:yes", "a:job:helper"):
        await wa.api.press(early, value)
    wa.api.advance(3 * 3600)
    now = wa.app.clock()
    async with wa.app.db.transaction() as s:
        await s.execute(update(Round).values(reminder_delay_minutes=120))
        for worker, hours in ((late, 26), (early, 3)):
            key = wa.app.keyring.conversation_key("whatsapp", worker.user_id or "")
            last = (now - timedelta(hours=hours)).replace(minute=0, second=0, microsecond=0)
            await s.execute(
                update(Conversation).where(Conversation.key == key).values(updated_at=last)
            )
        assert await enqueue_due_reminders(s, now) == 2
    result = await _broadcaster(wa).drain()
    assert result.sent == 2 and result.failed == result.retried == 0
    assert wa.api.last(early).type == "button"  # inside the window: a message
    assert wa.api.last(late).type == "template"  # outside: the approved template
    assert wa.api.last(early).delivered and wa.api.last(late).delivered


async def test_an_invitation_outside_the_window_starts_the_new_round(wa: WA) -> None:
    codes = await open_round(wa.app)
    w = wa.api.worker("Amna")
    await wa.api.text(w, codes["KHI-001"])
    for value in ("en", "yes", "yes", "helper", "permanent", _last_month(wa.app), "no"):
        sent = wa.api.last_with_options(w)
        await wa.api.press(w, next(i for _, i in sent.options if i.endswith(":" + value)))
    for value in ("a:pay_rise:no", "a:payslip:no"):
        await wa.api.press(w, value)
    await wa.api.text(w, "1")
    for value in ("a:deductions:no", "a:gender:woman", "a:comment:_skip"):
        await wa.api.press(w, value)
    await wa.api.press(w, "a:contact_opt_in:yes")
    await wa.app.admin.close_round(1)  # the address of a worker who opted in is kept
    async with wa.app.db.transaction() as s:
        await s.execute(update(Conversation).values(updated_at=wa.app.clock() - timedelta(days=60)))
    wa.api.advance(60 * 86400)
    # Opening the next round at the factory queues the invitation; the broadcaster sends it.
    new_round = await wa.app.admin.open_round("Round 2", "Test CSO", wa.app.survey, ["KHI-001"])
    code = new_round.factories[0].code
    result = await _broadcaster(wa).drain()
    assert result.sent == 1
    template = wa.api.last(w)
    assert template.request["template"]["name"] == "wagecheck_invitation"
    assert code in template.text and template.delivered
    [start] = await wa.api.tap_template_button(w)
    assert "Please choose your language" in start.text  # a new conversation, for round 2
    async with wa.app.db.transaction() as s:
        conversation = (await s.execute(select(Conversation))).scalar_one()
    assert conversation.round_id == new_round.id


async def test_an_invitation_inside_the_window_is_a_message_with_a_start_button(wa: WA) -> None:
    w, key = await _worker_halfway(wa, "Bushra", lang="sd")
    assert await invite(wa.channel, key, "K7M4QP") == "message"
    message = wa.api.last(w)
    assert message.type == "button" and message.titles == ["شروع ڪريو"]
    assert "\u2066K7M4QP\u2069" in message.text  # the code keeps its order in Sindhi text


# ====================================================================================
# WhatsApp: who the worker is, and what is kept
# ====================================================================================
def _database_bytes(home: Path) -> bytes:
    db = home / "wagecheck.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return b"".join(p.read_bytes() for p in home.glob("wagecheck.db*"))


async def test_the_business_scoped_id_is_used_and_no_phone_number_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings(home=tmp_path / "home", secret_key="p" * 40, _env_file=None)  # type: ignore[call-arg]
    app = await build_app(settings)
    try:
        codes = await open_round(app)
        async with WhatsAppStandin(TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api, running(app, api):
            both = api.worker("Both")  # phone number and business-scoped id
            hidden = api.worker("Hidden", hide_phone=True)  # a username: no phone number
            phone_only = api.worker("Old", with_user_id=False)  # before the ids came
            for w in (both, hidden, phone_only):
                await api.text(w, codes["KHI-001"])
                for value in ("a:language:ur", "a:consent:yes", "a:factory:yes", "a:job:helper"):
                    await api.press(w, value)
            replies_to_both = [
                body for _, body in api.calls if body.get("recipient") == both.user_id
            ]
            assert replies_to_both and all(b["to"] == both.phone for b in replies_to_both)
            assert all("to" not in b for _, b in api.calls if b.get("recipient") == hidden.user_id)
            wamids = [s.id for s in api.sent] + [
                m["id"]
                for d in api.deliveries
                for c in d.payload["entry"][0]["changes"]
                for m in c["value"].get("messages", [])
            ]
        async with app.db.transaction() as s:
            rows = (await s.execute(select(ContactAddress))).scalars().all()
            addresses = {app.keyring.decrypt_address("whatsapp", r.ciphertext) for r in rows}
            conversations = set((await s.execute(select(Conversation.key))).scalars())
    finally:
        await app.close()
    # The business-scoped id is the worker's identity when there is one; else the number.
    assert addresses == {both.user_id, hidden.user_id, phone_only.phone}
    assert conversations == {
        app.keyring.conversation_key("whatsapp", i)
        for i in (both.user_id, hidden.user_id, phone_only.phone)
    }
    blob = _database_bytes(settings.home)
    private = [both.phone, both.user_id, hidden.user_id, phone_only.phone]
    for raw in [*private, *(w.removeprefix("wamid.") for w in wamids)]:
        assert raw is not None
        for form in (raw.encode(), raw.encode("utf-16-le")):
            assert form not in blob, f"{raw!r} found in the database file"
        assert raw not in caplog.text, f"{raw!r} found in the logs"
    assert "handled message" in caplog.text  # the logs were captured at all


# ====================================================================================
# Running it: the command line, links, documentation
# ====================================================================================
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_wagecheck_run_telegram_whatsapp_serves_both_in_one_process(
    app: App, settings: Settings
) -> None:
    codes = await open_round(app)
    async with (
        TelegramStandin(TELEGRAM_TOKEN) as tg,
        WhatsAppStandin(TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api,
    ):
        port = _free_port()  # once the stand-ins listen: a port picked before could be theirs
        env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
        env.update(
            WAGECHECK_HOME=str(settings.home),
            WAGECHECK_DATABASE_URL=str(settings.database_url),
            WAGECHECK_SECRET_KEY=settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
            WAGECHECK_TELEGRAM_TOKEN=TELEGRAM_TOKEN,
            WAGECHECK_TELEGRAM_API_URL=tg.url,
            WAGECHECK_WHATSAPP_TOKEN=TOKEN,
            WAGECHECK_WHATSAPP_PHONE_NUMBER_ID=PHONE_NUMBER_ID,
            WAGECHECK_WHATSAPP_APP_SECRET=APP_SECRET,
            WAGECHECK_WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
            WAGECHECK_WHATSAPP_API_URL=api.url,
            WAGECHECK_WHATSAPP_RATE_PER_RECIPIENT="50",
            WAGECHECK_LOG_LEVEL="INFO",
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "run",
            "telegram",
            "whatsapp",
            "--listen",
            f"127.0.0.1:{port}",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            api.webhook_url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
            await until_up(f"http://127.0.0.1:{port}/healthz", process)
            w = api.worker("Sana")
            [first] = await api.text(w, codes["KHI-001"])
            assert "choose your language" in first.text
            chat = 9900
            tg.user_sends_start(chat, codes["KHI-001"])
            await tg.wait_for_messages(chat, 1, timeout=30)
        finally:
            process.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(process.communicate(), 30)
    logs = stderr.decode()
    assert process.returncode == 0, logs
    assert "whatsapp webhook stopped" in logs and "telegram bot stopped" in logs
    for secret in (TOKEN, APP_SECRET, TELEGRAM_TOKEN, w.phone, w.user_id, str(chat)):
        assert secret and secret not in logs
    assert await count(app, Conversation) == 2  # one database for both channels


async def until_up(url: str, process: asyncio.subprocess.Process) -> None:
    """Wait (up to 30 s) until a server process answers 200 at `url`."""
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if process.returncode is not None:
                raise AssertionError((await process.stderr.read()).decode())  # type: ignore[union-attr]
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} did not come up")


def _cli(settings: Settings, *args: str, **env: str) -> str:
    """Run `wagecheck ARGS` on the test's database, as a CSO would."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    environment.update(
        WAGECHECK_HOME=str(settings.home),
        WAGECHECK_DATABASE_URL=settings.effective_database_url,
        WAGECHECK_SECRET_KEY=settings.secret_key.get_secret_value(),  # type: ignore[union-attr]
        COLUMNS="240",
        PYTHONIOENCODING="utf-8",
        **env,
    )
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=environment
    )
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


async def test_round_links_and_poster_offer_whatsapp_when_the_number_is_set(
    tmp_path: Path,
) -> None:
    from bot.cli import _links

    # The command line's own code, the same on every database: SQLite only.
    settings = Settings(home=tmp_path / "home", secret_key="c" * 40, _env_file=None)  # type: ignore[call-arg]
    app = await build_app(settings)
    try:
        codes = await open_round(app)
        rows = await _links(app, 1)
    finally:
        await app.close()
    assert [len(row) for row in rows] == [4]  # no number: no WhatsApp column
    number = {"WAGECHECK_WHATSAPP_NUMBER": "+92 21 3000 1111"}
    link = f"https://wa.me/922130001111?text={codes['KHI-001']}"
    assert link in _cli(settings, "round", "links", "1", **number)
    out = tmp_path / "poster.png"
    _cli(settings, "round", "poster", "1", "--factory", "KHI-001", "--out", str(out), **number)
    decoded = {b.text for b in zxingcpp.read_barcodes(Image.open(out))}
    assert decoded == {link}  # only WhatsApp: no Telegram bot is configured


def test_wa_me_links_carry_the_code_to_send() -> None:
    assert wa_link("+92 (21) 3000-1111", "K7M4QP") == "https://wa.me/922130001111?text=K7M4QP"


def test_the_documented_template_texts_are_the_catalog_texts(catalogs: Catalogs) -> None:
    doc = (PROJECT_ROOT / "docs" / "whatsapp.md").read_text(encoding="utf-8")
    for lang in ("ur", "sd", "en"):
        loc = catalogs.get(lang)
        for msgid in (wa_texts.REMINDER, wa_texts.INVITATION):
            body = loc.gettext(msgid, sender="{{1}}", code="{{2}}")
            assert body in doc, (lang, msgid[:30])
            # Meta refuses a template body that begins or ends with a variable.
            assert not body.startswith("{{") and not body.rstrip("۔.").endswith("}}"), body
        for button in (P.BUTTON_CONTINUE, wa_texts.BUTTON_START):
            assert loc.gettext(button) in doc
