"""Security checks through the real channels (python-telegram-bot against the stand-in Bot API
by webhook, our WhatsApp webhook against the stand-in Cloud API) on a real database (SQLite;
PostgreSQL when configured):

* forged webhook requests are refused before anything is stored; replayed deliveries are
  processed once;
* staff commands from workers look unknown and leave the survey alone; members of other
  organisations are refused and the refusal is audited;
* invite codes work once, not after they expire, and guessing is rate-limited per account;
* after a full run (workers on both channels, staff commands, a closed round with reports),
  neither the database nor the logs hold a raw Telegram id or a phone number.

tests/test_telegram.py, tests/test_whatsapp.py, tests/test_members_outbox.py and
tests/test_privacy.py hold the basic cases (a wrong secret, a wrong signature, an immediate
redelivery, a worker typing /close, single use, expiry at the service); these go further.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import make_url

from bot.bootstrap import App, configure_logging
from bot.channels.telegram.staff import REFUSED
from bot.service.members import JOIN_WINDOW, MAX_FAILED_JOINS
from bot.storage.models import (
    Answer,
    AuditEntry,
    Base,
    ContactAddress,
    Conversation,
    Invite,
    Member,
    OutboxMessage,
    ProcessedMessage,
    Response,
)
from tests.test_hostile_input import (
    SECRET,
    TelegramHook,
    _stored_state,
    telegram_hook,
    valid_input,
)
from tests.test_service import Worker, complete_survey, count, open_round
from tests.test_whatsapp import APP_SECRET, PHONE_NUMBER_ID, VERIFY_TOKEN, running
from tests.test_whatsapp import TOKEN as WA_TOKEN
from tests.whatsapp_standin import WhatsAppStandin
from tests.whatsapp_standin import Worker as WAWorker

# Distinctive, so that a byte search means something: Telegram user (= private chat) ids of
# ten digits and Pakistani mobile numbers.
TG_WORKERS = (7_913_406_221, 7_913_406_223, 7_913_406_224)
TG_CSO_ADMIN = 7_913_406_222
TG_BRAND = 7_913_406_225
PHONES = ("923001234567", "923331112223")


def _unknown_command(app: App, lang: str) -> str:
    from bot.survey import phrases as P

    return app.catalogs.get(lang).gettext(P.UNKNOWN_COMMAND)


PERSISTED = (ProcessedMessage, Conversation, Response, Answer, OutboxMessage, ContactAddress)


async def _nothing_stored(app: App) -> None:
    for model in PERSISTED:
        assert await count(app, model) == 0, model.__name__


# ====================================================================================
# Forged and replayed webhook requests
# ====================================================================================
async def test_forged_telegram_webhook_requests_are_refused_and_store_nothing(app: App) -> None:
    codes = await open_round(app)
    async with telegram_hook(app) as hook:
        chat = TG_WORKERS[0]
        update_ = {"update_id": 1, "message": hook.message(chat, text=f"/start {codes['KHI-001']}")}
        forged: list[tuple[str | None, dict[str, str], str]] = [
            (None, {}, ""),  # no secret at all
            ("", {}, ""),
            ("wrong", {}, ""),
            (SECRET.upper(), {}, ""),
            (SECRET[:-1], {}, ""),
            (SECRET + "x", {}, ""),
            ("another-bots-secret", {}, ""),
            (None, {"Authorization": f"Bearer {SECRET}"}, ""),  # the secret elsewhere
            (None, {}, f"?secret_token={SECRET}"),
        ]
        for secret, headers, query in forged:
            response = await hook.api.deliver_raw(
                update_, secret=secret, url=hook.url + query, headers=headers
            )
            assert response is not None and response.status_code == 403, (secret, headers)
        # Without the secret even a body that is no update is refused as forged (403, not 400).
        for body in (b"not json", b"[]", b"{}"):
            response = await hook.api.deliver_raw(body, secret="wrong", url=hook.url)
            assert response is not None and response.status_code == 403
        # With the secret, a body that is no update is refused as malformed (400: Telegram
        # would repeat a 500 for hours), and nothing is stored.
        for body in (
            b"not json",
            b"[]",
            b"null",
            b"{}",
            b'{"update_id": "x"}',
            b'{"update_id": 7, "message": "x"}',
        ):
            response = await hook.api.deliver_raw(body, secret=SECRET, url=hook.url)
            assert response is not None and response.status_code == 400, body
        assert hook.api.messages_to(chat) == []
        await _nothing_stored(app)
        # The genuine delivery of the same update is taken.
        response = await hook.api.deliver_raw(update_, secret=SECRET, url=hook.url)
        assert response is not None and response.status_code == 200
        assert len(hook.api.messages_to(chat)) == 1 and await count(app, Conversation) == 1


def _signed(body: bytes, secret: str = APP_SECRET, algorithm: Any = hashlib.sha256) -> str:
    return hmac.new(secret.encode(), body, algorithm).hexdigest()


async def test_forged_whatsapp_deliveries_are_refused_and_malformed_ones_change_nothing(
    app: App,
) -> None:
    codes = await open_round(app)
    async with WhatsAppStandin(WA_TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api, running(app, api):
        w = api.worker("Forged", phone=PHONES[0])
        payload = api.message(w, "text", {"body": codes["KHI-001"]})
        body = json.dumps(payload).encode()
        respaced = json.dumps(payload, indent=1).encode()  # the same JSON, other bytes
        attempts: list[tuple[bytes, dict[str, str]]] = [
            (body, {}),
            (body, {"X-Hub-Signature-256": "sha256=" + _signed(body, VERIFY_TOKEN)}),
            (body, {"X-Hub-Signature-256": "sha1=" + _signed(body, algorithm=hashlib.sha1)}),
            (body, {"X-Hub-Signature": "sha256=" + _signed(body)}),  # the right one, wrong header
            (body, {"X-Hub-Signature-256": "sha256=" + _signed(respaced)}),
            (respaced, {"X-Hub-Signature-256": "sha256=" + _signed(body)}),
            (body + b" ", {"X-Hub-Signature-256": "sha256=" + _signed(body)}),
            (body, {"X-Hub-Signature-256": "sha256=" + _signed(body)[:-2]}),
            (body, {"X-Hub-Signature-256": "sha256=" + _signed(body) + "00"}),
            (b"", {"X-Hub-Signature-256": "sha256=" + _signed(b"", "")}),
        ]
        async with httpx.AsyncClient() as client:
            for content, headers in attempts:
                response = await client.post(
                    api.webhook_url or "",
                    content=content,
                    headers={"Content-Type": "application/json", **headers},
                )
                assert response.status_code == 403, headers
        assert api.sent == []
        await _nothing_stored(app)
        # Signed (so from Meta) but not shaped as documented: taken (200), nothing stored,
        # nothing retried for days.
        value = payload["entry"][0]["changes"][0]["value"]
        message = value["messages"][0]
        malformed = [
            {**payload, "entry": "x"},
            {**payload, "entry": ["x", None, 1]},
            _replace(payload, value={**value, "messages": {"0": message}}),
            _replace(payload, value={**value, "messages": ["x"], "contacts": ["y"]}),
            _replace(payload, value={**value, "metadata": "x"}),
            _replace(payload, value={**value, "statuses": ["x"], "messages": []}),
            _replace(payload, value={**value, "messages": [{**message, "text": "not an object"}]}),
            _replace(payload, value={**value, "messages": [{**message, "id": "wamid.\ud800"}]}),
            _replace(
                payload,
                value={
                    **value,
                    "contacts": [],
                    "messages": [
                        {**message, "from": "\udfff", "from_user_id": None, "id": "wamid.Z"}
                    ],
                },
            ),
        ]
        for delivery in malformed:
            response = await api.deliver(delivery, retry=False)
            assert response.status_code == 200
        # "text": "not an object" is a text message with no body: it is answered.
        assert await count(app, Answer) == 0 and await count(app, Response) == 0


def _replace(payload: dict[str, Any], *, value: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(payload))
    copy["entry"][0]["changes"][0]["value"] = value
    return copy


async def test_replayed_deliveries_are_processed_once_even_after_the_worker_moved_on(
    app: App,
) -> None:
    codes = await open_round(app)
    # Telegram: the update carrying "Helper" comes again, at once and after two more answers.
    async with telegram_hook(app) as hook:
        chat = TG_WORKERS[1]
        await hook.text(chat, f"/start {codes['KHI-001']}")
        for value in ("a:language:sd", "a:consent:yes", "a:factory:yes"):
            assert await hook.press(chat, value) == 200
        press = _callback(hook, chat, "a:job:helper")
        for _ in range(3):
            assert await _post_exact(hook, press) == 200
        # One reply to each (a message, or the pressed question edited into the next), none
        # to the replays.
        assert len(hook.api.replies_to(chat)) == 5
        await hook.press(chat, "a:employment:permanent")
        await hook.press(chat, "a:pay_month:2026-10")
        sent = len(hook.api.replies_to(chat))
        for _ in range(2):
            assert await _post_exact(hook, press) == 200
        assert len(hook.api.replies_to(chat)) == sent
        state = await _stored_state(app, "telegram", str(chat))
        assert state is not None and state.step in ("pay_month", "full_month")
    # WhatsApp: the same signed body, again at once and after the worker moved on.
    async with WhatsAppStandin(WA_TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api, running(app, api):
        w = api.worker("Replay", phone=PHONES[1])
        await api.text(w, codes["KHI-001"])
        for value in ("a:language:ur", "a:consent:yes", "a:factory:yes"):
            await api.press(w, value)
        typed = api.message(w, "text", {"body": "۲"})  # "Machine operator", typed
        for _ in range(3):
            assert (await api.deliver(typed)).status_code == 200
        assert len(api.messages_to(w)) == 5
        await api.press(w, "a:employment:daily")
        sent = len(api.messages_to(w))
        for _ in range(2):
            assert (await api.deliver(typed)).status_code == 200
        assert len(api.messages_to(w)) == sent
    async with app.db.transaction() as s:
        jobs = (
            await s.execute(select(Answer.value_text).where(Answer.question_id == "job"))
        ).scalars()
        jobs_stored = sorted(str(j) for j in jobs)
    assert jobs_stored == ["helper", "operator"]  # one answer each, stored once
    assert await count(app, OutboxMessage) == 0


def _callback(hook: TelegramHook, chat: int, data: str) -> dict[str, Any]:
    last = hook.api.last_reply(chat)
    assert last is not None
    return {
        "update_id": 424_242,
        "callback_query": {
            "id": "9001",
            "from": hook.sender(chat),
            "chat_instance": "1",
            "message": {
                "message_id": last.message_id,
                "date": 1_790_000_000,
                "chat": {"id": chat, "type": "private", "first_name": "W"},
                "from": {"id": 4242, "is_bot": True, "first_name": "WageCheck"},
                "text": last.text or "?",
            },
            "data": data,
        },
    }


async def _post_exact(hook: TelegramHook, update_: dict[str, Any]) -> int:
    response = await hook.api.deliver_raw(update_, secret=SECRET, url=hook.url)
    assert response is not None
    return response.status_code


# ====================================================================================
# Staff commands from workers and from other organisations
# ====================================================================================
STAFF_COMMANDS = (
    "/close 1",
    "/report",
    "/report 1",
    "/rounds",
    "/round 1",
    "/extend 1 5",
    "/whoami",
    "/subscribe",
    "/unsubscribe",
    "/join",
    "/login",
    "/close@WageCheckTestBot 1",
)


async def test_staff_commands_from_a_worker_mid_survey_look_unknown_and_change_nothing(
    app: App,
) -> None:
    codes = await open_round(app)
    async with telegram_hook(app) as hook:
        chat = TG_WORKERS[0]
        await hook.text(chat, f"/start {codes['KHI-001']}")
        for value in (
            "language:ur",
            "consent:yes",
            "factory:yes",
            "job:helper",
            "employment:permanent",
            "pay_month:2026-10",
            "full_month:yes",
        ):
            await hook.press(chat, f"a:{value}")
        before = await _stored_state(app, "telegram", str(chat))
        assert before is not None and before.step == "pay"
        audit = await count(app, AuditEntry)
        unknown = _unknown_command(app, "ur")
        for command in STAFF_COMMANDS:
            sent = len(hook.api.messages_to(chat))
            assert await hook.text(chat, command) == 200
            [reply] = hook.api.messages_to(chat)[sent:]
            # The unknown-command answer in Urdu, then the same question again.
            assert unknown in (reply.text or ""), command
            assert "تنخواہ" in (reply.text or "")
            after = await _stored_state(app, "telegram", str(chat))
            assert after is not None
            assert (after.step, after.phase, after.answers) == (
                before.step,
                before.phase,
                before.answers,
            )
        assert (await app.admin.get_round(1)).status == "open"
        assert await count(app, AuditEntry) == audit  # workers are not audited
        assert await count(app, Member) == 0
        await hook.text(chat, "۳۸۰۰۰")
        state = await _stored_state(app, "telegram", str(chat))
        assert state is not None and state.step == "pay_rise"


@dataclass
class Staff:
    """A CSO or brand member whose phone is set to English (staff replies come in the
    member's language; Urdu ones are tested in tests/test_telegram.py)."""

    hook: TelegramHook
    chat: int

    def __post_init__(self) -> None:
        self.hook.languages[self.chat] = "en"

    async def says(self, text: str) -> str:
        sent = len(self.hook.api.messages_to(self.chat))
        assert await self.hook.text(self.chat, text) == 200, text
        replies = self.hook.api.messages_to(self.chat)[sent:]
        assert replies, f"no reply to {text!r}"
        return "\n".join(m.text or "" for m in replies)


async def _join(hook: TelegramHook, chat: int, org: str, role: str) -> Staff:
    code, _ = await hook.app.members.create_invite(org, role)
    staff = Staff(hook, chat)
    assert f"Welcome to {org}" in await staff.says(f"/start {code}")
    return staff


async def _refusals(app: App) -> list[tuple[str, str, bool]]:
    async with app.db.transaction() as s:
        rows = await s.execute(
            select(AuditEntry.actor, AuditEntry.target, AuditEntry.ok)
            .where(AuditEntry.action == REFUSED)
            .order_by(AuditEntry.id)
        )
        return [tuple(r) for r in rows.all()]  # type: ignore[misc]


async def test_members_of_other_organisations_are_refused_and_audited(app: App) -> None:
    codes = await open_round(app, ("KHI-001", "KHI-002"))
    for i in range(3):
        await complete_survey(Worker(app, f"w{i}"), codes["KHI-001"])
    await app.admin.add_org("Other CSO", "cso")
    await app.admin.add_org("Brand A", "brand")
    await app.admin.add_org("Brand B", "brand")
    await app.admin.add_factory("LHR-009", "Elsewhere", "punjab", "Lahore")
    await app.admin.link("Brand A", ["KHI-001"])
    await app.admin.link("Brand B", ["LHR-009"])
    async with telegram_hook(app) as hook:
        other = await _join(hook, 8_801, "Other CSO", "admin")
        viewer = await _join(hook, 8_802, "Test CSO", "viewer")
        brand_a = await _join(hook, 8_803, "Brand A", "admin")
        brand_b = await _join(hook, 8_804, "Brand B", "admin")
        admin = await _join(hook, 8_805, "Test CSO", "admin")
        # A member without the role gets what a worker gets for an unknown command (in the
        # language of their Telegram app: English for these staff).
        unknown = _unknown_command(app, "en")
        before = await app.admin.get_round(1)

        assert "a round of your organisation" in await other.says("/close 1")
        assert "a round of your organisation" in await other.says("/round 1")
        assert "Usage: /extend" in await other.says("/extend 1 30")
        assert unknown in await viewer.says("/close 1")
        assert unknown in await viewer.says("/extend 1 30")
        assert unknown in await brand_a.says("/close 1")
        assert unknown in await brand_a.says("/rounds")
        after = await app.admin.get_round(1)
        assert after.status == "open" and after.closes_at == before.closes_at
        assert len(await _refusals(app)) == 7

        # Hostile numbers from a member: refused like any other, no crash (a 500 would make
        # Telegram deliver the update again and again).
        for text in (
            "/report 99",
            "/report 99999999999999999999",
            "/close 99999999999999999999",
            "/round ٩٩٩٩٩٩٩٩٩٩٩٩٩٩٩٩٩٩٩٩٩٩",
            "/extend 1 99999999999999999999",
            "/report " + "9" * 4000,
        ):
            assert await admin.says(text)
        status = await admin.says("/round ١")
        assert "#1 Round 1" in status  # an Arabic-Indic digit is a number
        # No 2026-27 wage line for Sindh yet: the staff reply says so.
        assert "Note: the wage table has no minimum for this fiscal year" in status
        assert "sindh (latest line from 2025-07-01)" in status

        assert "Round #1 is closed" in await admin.says("/close 1")
        refused = len(await _refusals(app))
        no_results = "No results to send"
        assert no_results in await brand_b.says("/report 1")  # no factory of theirs in it
        assert no_results in await brand_b.says("/report")
        assert no_results in await other.says("/report 1")  # another CSO's round
        assert [m for m in hook.api.messages_to(brand_b.chat) if m.file] == []
        assert [m for m in hook.api.messages_to(other.chat) if m.file] == []
        refusals = await _refusals(app)
        assert len(refusals) == refused + 2  # the two with a round number
    [other_member] = await app.members.list_members("Other CSO")
    other_id = other_member.id
    assert (f"member {other_id}", "/close 1", False) in refusals
    assert (f"member {other_id}", "/report 1", False) in refusals
    assert all(not ok and "880" not in actor for actor, _, ok in refusals)


async def test_invites_reused_expired_or_guessed_are_refused_and_guessing_is_limited(
    app: App,
) -> None:
    await open_round(app)
    members = app.members
    async with telegram_hook(app) as hook:
        refused = "not valid"
        first, second = Staff(hook, 8_901), Staff(hook, 8_902)
        code, _ = await members.create_invite("Test CSO", "viewer")
        assert "Welcome to Test CSO" in await first.says(f"/start {code}")
        assert refused in await second.says(f"/join {code}")  # used
        assert await members.memberships("telegram", str(second.chat)) == []

        expiring, _ = await members.create_invite("Test CSO", "admin")
        async with app.db.transaction() as s:
            await s.execute(update(Invite).values(expires_at=app.clock() - timedelta(1)))
        assert refused in await second.says(f"/join {expiring}")  # expired

        # Guessing: random codes, then even a valid one is refused for a while.
        guesser = Staff(hook, 8_903)
        for _ in range(MAX_FAILED_JOINS - 2):
            guess = "join_" + "".join(
                secrets.choice("ABCDEFGHJKMNPQRSTUVWXYZ23456789") for _ in range(12)
            )
            assert refused in await guesser.says(f"/join {guess}")
        assert refused in await guesser.says("/join join_\ud800")  # hostile text: no crash
        assert refused in await guesser.says("/join " + "x" * 4000)
        await app.admin.add_org("Brand B", "brand")
        valid, _ = await members.create_invite("Brand B", "admin")
        assert refused in await guesser.says(f"/start {valid}")  # limited: refused, unused
        assert await members.memberships("telegram", str(guesser.chat)) == []
        # The code was not spent: another account can still use it.
        assert "Welcome to Brand B" in await Staff(hook, 8_904).says(f"/join {valid}")

    # After the window without attempts the account may join again.
    later = app.clock() + JOIN_WINDOW + timedelta(minutes=1)
    fresh, _ = await members.create_invite("Test CSO", "viewer")
    assert await members.join("telegram", "8903", fresh, now=app.clock()) is None
    joined = await members.join("telegram", "8903", fresh, now=later)
    assert joined is not None and joined.org_name == "Test CSO"
    async with app.db.transaction() as s:
        rows = (
            await s.execute(
                select(AuditEntry.actor, AuditEntry.details).where(
                    AuditEntry.action == "invite.refused"
                )
            )
        ).all()
    account = members.account("telegram", "8903")
    guesses = [d for actor, d in rows if actor == f"telegram account {account}"]
    assert len(guesses) == MAX_FAILED_JOINS + 2
    assert sum(bool(d.get("rate_limited")) for d in guesses) == 2
    assert all("8903" not in actor for actor, _ in rows)  # the keyed hash, not the raw id


# ====================================================================================
# After a full run: no raw id or phone number in the database or the logs
# ====================================================================================
@pytest.fixture
def production_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The bot's own logging configuration at DEBUG (its noisy libraries stay at WARNING),
    captured by caplog; everything restored afterwards."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    noisy = {
        n: logging.getLogger(n).level
        for n in ("sqlalchemy", "httpx", "httpcore", "telegram", "apscheduler")
    }
    configure_logging("DEBUG")
    root.handlers[:] = [caplog.handler]  # not also to stderr
    caplog.handler.setLevel(logging.DEBUG)
    try:
        yield caplog
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in noisy.items():
            logging.getLogger(name).setLevel(level)


def _forms(raw: str) -> list[bytes]:
    """The ways a number could sit in a database file: text (UTF-8, UTF-16), a big-endian
    integer (SQLite stores 6- or 8-byte integers), a double."""
    out = [raw.encode(), raw.encode("utf-16-le"), raw.encode("utf-16-be")]
    if raw.isdigit():
        value = int(raw)
        out += [value.to_bytes(8, "big"), value.to_bytes(6, "big"), struct.pack(">d", value)]
    return out


def _phone_forms(phone: str) -> list[str]:
    national = "0" + phone[2:]
    return [
        phone,
        "+" + phone,
        f"+92 {phone[2:5]} {phone[5:]}",
        national,
        f"{national[:4]}-{national[4:]}",
        f"{national[:4]} {national[4:]}",
    ]


async def _telegram_survey(hook: TelegramHook, chat: int, code: str, lang: str) -> None:
    """Answer validly through the real adapter until the survey is complete."""
    assert await hook.text(chat, f"/start {code}") == 200
    engine = hook.app.engines.default
    for _ in range(30):
        state = await _stored_state(hook.app, "telegram", str(chat))
        assert state is not None
        if state.phase == "done":
            return
        inp = valid_input(engine, state, lang, hook.app.clock())
        status = await (
            hook.press(chat, inp.payload) if inp.kind == "button" else hook.text(chat, inp.text)
        )
        assert status == 200
    raise AssertionError("the survey did not complete")


async def _whatsapp_survey(
    app: App, api: WhatsAppStandin, w: WAWorker, code: str, lang: str
) -> None:
    await api.text(w, code)
    engine = app.engines.default
    for _ in range(30):
        state = await _stored_state(app, "whatsapp", w.user_id or w.phone or "")
        assert state is not None
        if state.phase == "done":
            return
        inp = valid_input(engine, state, lang, app.clock())
        if inp.kind == "button":
            await api.press(w, inp.payload, strict=False)
        else:
            await api.text(w, inp.text)
    raise AssertionError("the survey did not complete")


async def _all_rows(app: App) -> list[tuple[str, str, Any]]:
    """Every value of every column of every table, as (table, column, value)."""
    out = []
    async with app.db.transaction() as s:
        for table in Base.metadata.sorted_tables:
            result = await s.execute(select(table))
            for row in result.mappings():
                out += [(table.name, column, value) for column, value in row.items()]
    return out


def _sqlite_files(app: App) -> list[Path]:
    url = make_url(app.settings.database_url or "")
    if url.get_backend_name() != "sqlite" or not url.database:
        return []
    db = Path(url.database)
    return sorted(db.parent.glob(db.name + "*"))


async def test_after_a_full_run_no_raw_id_or_phone_number_is_stored_or_logged(
    app: App, production_logs: pytest.LogCaptureFixture
) -> None:
    codes = await open_round(app, ("KHI-001", "KHI-002"))
    await app.admin.add_org("Brand A", "brand")
    await app.admin.link("Brand A", ["KHI-001"])
    wamids: list[str] = []
    async with telegram_hook(app) as hook:
        cso = await _join(hook, TG_CSO_ADMIN, "Test CSO", "admin")
        brand = await _join(hook, TG_BRAND, "Brand A", "viewer")
        await brand.says("/subscribe")  # the report reaches the brand when the round closes
        for chat, lang in zip(TG_WORKERS[:2], ("ur", "sd"), strict=True):
            await _telegram_survey(hook, chat, codes["KHI-001"], lang)
        # The third shares a contact card (with a phone number) instead of answering.
        assert await hook.text(TG_WORKERS[2], f"/start {codes['KHI-002']}") == 200
        sent = len(hook.api.messages_to(TG_WORKERS[2]))
        contact = {"phone_number": "+" + PHONES[0], "first_name": "W", "user_id": TG_WORKERS[2]}
        assert await hook.post({"message": hook.message(TG_WORKERS[2], contact=contact)}) == 200
        assert len(hook.api.messages_to(TG_WORKERS[2])) == sent + 1
        async with WhatsAppStandin(WA_TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api, running(app, api):
            both = api.worker("Both", phone=PHONES[0])
            phone_only = api.worker("Old", phone=PHONES[1], with_user_id=False)
            for w, lang in ((both, "ur"), (phone_only, "sd")):
                await _whatsapp_survey(app, api, w, codes["KHI-001"], lang)
            [shared] = await api.media(both, "contacts")
            assert shared.text
            wamids = [s.id for s in api.sent] + [
                m["id"]
                for d in api.deliveries
                for c in d.payload["entry"][0]["changes"]
                for m in c["value"].get("messages", [])
            ]
        assert "#1 Round 1" in await cso.says("/rounds")
        assert "Round #1 is closed" in await cso.says("/close 1")
        documents = [m for m in hook.api.messages_to(TG_BRAND) if m.file]
        assert documents, "the subscribed brand member received the report"
        sent_to = {m.chat_id for m in hook.api.sent}
    assert {*TG_WORKERS, TG_CSO_ADMIN, TG_BRAND} <= sent_to  # the ids were really used

    raw_ids = [str(i) for i in (*TG_WORKERS, TG_CSO_ADMIN, TG_BRAND)]
    raw_phones = [form for phone in PHONES for form in _phone_forms(phone)]
    private = raw_ids + raw_phones + [w.removeprefix("wamid.") for w in wamids]
    # Every row of every table (SQLite and PostgreSQL alike).
    rows = await _all_rows(app)
    assert await count(app, Answer) >= 4 * 11 and await count(app, Member) == 2
    for table, column, value in rows:
        if isinstance(value, bool) or value is None:
            continue
        if isinstance(value, int | float):
            assert str(int(value)) not in [*raw_ids, *PHONES], (table, column)
            continue
        text = (
            value.decode("latin-1")
            if isinstance(value, bytes)
            else json.dumps(value, ensure_ascii=False, default=str)
        )
        for raw in private:
            assert raw not in text, f"{raw!r} in {table}.{column}"
    # The SQLite file itself, with its write-ahead log: no form of the numbers anywhere.
    files = _sqlite_files(app)
    blob = b"".join(p.read_bytes() for p in files)
    for raw in [*raw_ids, *PHONES]:
        for form in _forms(raw):
            assert form not in blob, f"{raw!r} found in the database file"
    for raw in private:
        assert raw.encode() not in blob
    # The logs, at DEBUG.
    logs = production_logs.text
    assert "handled message" in logs  # captured at all
    for raw in private:
        assert raw not in logs, f"{raw!r} in the logs"
    assert not files or len(blob) > 100_000  # (on SQLite) the file was really read
