"""Hostile input at every question of the survey: no exception escapes, every input gets a reply
in the worker's language and within the channels' limits, nothing invalid is stored, and the
conversation can still be finished afterwards.

How it is sized (the file runs in about 40 s on SQLite on a loaded two-core machine):

* The pure engine takes the whole corpus (tests/hostile_corpus.py: 1,311 distinct inputs) at
  each of the 15 questions, and a stratified 100 at each of 7 places in between (declined, the
  typed factory code, paused, the delete question, an amount awaiting confirmation, a multiple
  choice with a tick, done): about 20,000 inputs, each in one of the three worker languages.
  Every distinct state that results (about 1,000) is then driven to the end of the survey.
  Hypothesis adds random text over all of Unicode and number-like strings at every place.
* The service (SurveyService.handle: engine, storage, one transaction per message) takes a
  stratified sample of 24 at each of the 22 places (8 per language: 528 in all), on SQLite and
  on PostgreSQL when configured; afterwards every stored answer is checked against the survey
  definition and each worker's response must be complete.
* The real Telegram adapter (webhook, python-telegram-bot against the stand-in Bot API) and
  the WhatsApp adapter (against the stand-in Cloud API) take every non-text message type,
  forged commands, callback payloads that were never offered and a sample of hostile text.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import select

from bot.bootstrap import App
from bot.channels.telegram import TelegramChannel, webhook_app
from bot.channels.whatsapp import render
from bot.i18n import Catalogs
from bot.service import InboundMessage
from bot.storage.models import Answer, Conversation, Response
from bot.survey import phrases as P
from bot.survey.definition import (
    TELEGRAM_CALLBACK_DATA_MAX_BYTES,
    WHATSAPP_BODY_MAX,
    WHATSAPP_BUTTON_TITLE_MAX,
    WHATSAPP_LIST_ROW_TITLE_MAX,
    WHATSAPP_MAX_BUTTONS,
    WHATSAPP_MAX_LIST_ROWS,
    Question,
    Survey,
)
from bot.survey.engine import Engine, answer_payload, toggle_payload
from bot.survey.parsing import clean_text
from bot.survey.state import (
    AnswerGiven,
    ConversationState,
    Event,
    FactoryRef,
    Input,
    LanguageChosen,
    Reply,
    ResponseCompleted,
    Sprint,
)
from tests.conftest import NOW
from tests.hostile_corpus import CORPUS, Hostile, stratified_sample
from tests.telegram_standin import TelegramStandin, serve_asgi
from tests.test_service import open_round

LANGS = ("ur", "sd", "en")
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
LATIN_LETTER = re.compile(r"[A-Za-z]")
TELEGRAM_TEXT_MAX = 4096  # UTF-16 code units
WHATSAPP_TEXT_MAX = 4096
WHATSAPP_ROW_DESCRIPTION_MAX = 72
WHATSAPP_ID_MAX = 256
# The echo a channel puts before the first reply to a typed answer ("✓ …\n\n").
ECHO_ROOM = 4 + 45
CODE = "K7M4QP"
# Inputs fed at each in-between state (paused, the delete question, done, ...), besides the
# whole corpus at every question.
IN_BETWEEN_SAMPLE = 100


# ====================================================================================
# Checks shared by every level
# ====================================================================================
def _english_phrases(survey: Survey) -> list[str]:
    """English sentences a Urdu or Sindhi reply must never contain (a missing translation)."""
    msgids = [v for k, v in vars(P).items() if k.isupper() and isinstance(v, str)]
    for q in survey.questions:
        msgids += [q.text, *(q.hint or "",)]
    msgids += [survey.thanks, survey.declined]
    fragments = []
    for msgid in msgids:
        for part in re.split(r"\{[a-z_]+\}", msgid):
            part = part.strip(" .,:;\n")
            if len(part) >= 15 and " " in part:
                fragments.append(part)
    return fragments


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


@dataclass
class Checker:
    """Asserts what must hold for any reply and any stored answer; collects the failures."""

    engine: Engine
    catalogs: Catalogs
    now: datetime
    failures: list[str] = field(default_factory=list)
    _passed: set[Any] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.survey = self.engine.survey
        self.english = _english_phrases(self.survey)
        self.language_question = next(
            (q.id for q in self.survey.questions if q.type == "language"), None
        )
        months = {self.engine._month_back(b, self.now) for b in range(0, 3)}
        self.months = {f"{m:%Y-%m}" for m in months}

    def fail(self, where: str, problem: str) -> None:
        self.failures.append(f"{where}: {problem}")

    def replies(self, where: str, replies: list[Reply], lang: str, echo: str | None) -> None:
        """At least one reply; each in `lang`, readable, within Telegram's and WhatsApp's
        limits."""
        if not replies:
            self.fail(where, "no reply")
        key = (tuple(replies), lang, echo)
        if key in self._passed:  # the same replies were checked before (most repeat)
            return
        failures = len(self.failures)
        self._check_replies(where, replies, lang, echo)
        if len(self.failures) == failures:
            self._passed.add(key)

    def _check_replies(self, where: str, replies: list[Reply], lang: str, echo: str | None) -> None:
        for i, reply in enumerate(replies):
            text = reply.text
            if not text.strip():
                self.fail(where, f"reply {i} is empty")
            if reply.lang != lang:
                self.fail(where, f"reply {i} is in {reply.lang!r}, the worker reads {lang!r}")
            if lang in ("ur", "sd"):
                if not ARABIC_SCRIPT.search(text):
                    self.fail(where, f"reply {i} has no Urdu/Sindhi letters: {text[:80]!r}")
                # The language question is asked in every language, English included.
                leaked = next((e for e in self.english if e in text), None)
                if leaked and reply.question_id != self.language_question:
                    self.fail(where, f"reply {i} in {lang} contains English {leaked!r}")
            elif not LATIN_LETTER.search(text):
                self.fail(where, f"English reply {i} has no Latin letters: {text[:80]!r}")
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                self.fail(where, f"reply {i} cannot be encoded as UTF-8")
            room = ECHO_ROOM if i == 0 and echo else 0
            if utf16_len(text) + room > TELEGRAM_TEXT_MAX:
                self.fail(where, f"reply {i} is {utf16_len(text)} UTF-16 units long")
            if echo is not None and len(echo) > ECHO_ROOM - 4:
                self.fail(where, f"echo of {len(echo)} characters")
            self._buttons(where, i, reply)
            self._whatsapp(where, i, reply)

    def _buttons(self, where: str, i: int, reply: Reply) -> None:
        if len(reply.buttons) > WHATSAPP_MAX_LIST_ROWS:
            self.fail(where, f"reply {i} has {len(reply.buttons)} buttons")
        limit = (
            WHATSAPP_BUTTON_TITLE_MAX
            if len(reply.buttons) <= WHATSAPP_MAX_BUTTONS
            else WHATSAPP_LIST_ROW_TITLE_MAX
        )
        for b in reply.buttons:
            size = len(b.payload.encode("utf-8", "surrogatepass"))
            if not b.payload.isascii() or size > TELEGRAM_CALLBACK_DATA_MAX_BYTES:
                self.fail(where, f"payload {b.payload!r} is not ASCII within 64 bytes")
            if not b.label.strip() or len(b.label) > limit:
                self.fail(where, f"label {b.label!r} does not fit WhatsApp ({limit})")

    def _whatsapp(self, where: str, i: int, reply: Reply) -> None:
        """The messages the WhatsApp adapter would send for this reply fit the Cloud API."""
        for message in render.messages(reply, self.catalogs.get(reply.lang)):
            if message["type"] == "text":
                if len(message["text"]["body"]) > WHATSAPP_TEXT_MAX:
                    self.fail(where, f"reply {i}: WhatsApp text over {WHATSAPP_TEXT_MAX}")
                continue
            interactive = message["interactive"]
            if len(interactive["body"]["text"]) > WHATSAPP_BODY_MAX:
                self.fail(where, f"reply {i}: WhatsApp body over {WHATSAPP_BODY_MAX}")
            action = interactive["action"]
            if interactive["type"] == "button":
                titles = [b["reply"]["title"] for b in action["buttons"]]
                ids = [b["reply"]["id"] for b in action["buttons"]]
                too_long = any(len(t) > WHATSAPP_BUTTON_TITLE_MAX for t in titles)
            else:
                rows = [r for s in action["sections"] for r in s["rows"]]
                titles, ids = [r["title"] for r in rows], [r["id"] for r in rows]
                too_long = any(
                    len(r["title"]) > WHATSAPP_LIST_ROW_TITLE_MAX
                    or len(r.get("description", "")) > WHATSAPP_ROW_DESCRIPTION_MAX
                    for r in rows
                )
            if too_long or len(set(titles)) != len(titles) or len(set(ids)) != len(ids):
                self.fail(where, f"reply {i}: WhatsApp options {titles} break a limit")
            if any(len(x) > WHATSAPP_ID_MAX for x in ids):
                self.fail(where, f"reply {i}: a WhatsApp option id is over 256 characters")

    def answer(self, where: str, question_id: str, value: Any) -> None:
        problem = self.invalid(question_id, value)
        if problem:
            self.fail(where, f"invalid answer stored for {question_id!r}: {problem}")

    def invalid(self, question_id: str, value: Any) -> str | None:
        """Why `value` is not a valid answer to the question, or None."""
        try:
            q = self.survey.question(question_id)
        except (KeyError, ValueError):
            return "no such question"
        ids = [c.id for c in q.choices]
        if q.type == "single":
            return None if value in ids else f"{value!r} is not an option"
        if q.type == "multiple":
            ok = (
                isinstance(value, list)
                and value
                and len(set(value)) == len(value)
                and set(value) <= set(ids)
            )
            return None if ok else f"{value!r} is not a set of options"
        if q.type == "yes_no":
            allowed = {"yes", "no", "dont_know"} if q.dont_know else {"yes", "no"}
            return None if value in allowed else f"{value!r} is not yes/no"
        if q.type == "month":
            return None if value in self.months else f"{value!r} is not an offered month"
        if q.type == "number":
            assert q.min is not None and q.max is not None
            whole = isinstance(value, int | float) and not isinstance(value, bool)
            if not whole or value != int(value) or not q.min <= value <= q.max:
                return f"{value!r} is not a whole number in {q.min}..{q.max}"
            return None
        if q.type == "text":
            return _invalid_text(value, q)
        return f"{q.type} questions store no answer"

    def events(self, where: str, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, AnswerGiven):
                self.answer(where, event.question_id, event.value)

    def state(self, where: str, state: ConversationState) -> None:
        """The state can be stored (as JSON, in UTF-8) and read back unchanged."""
        try:
            data = state.to_json()
            data.encode("utf-8")
            again = ConversationState.from_json(data)
        except (ValueError, UnicodeError) as exc:
            self.fail(where, f"state cannot be stored: {type(exc).__name__}")
            return
        if again != state:
            self.fail(where, "state changes when stored")
        for qid, value in state.answers.items():
            q = self.survey.question(qid)
            if q.type == "consent":
                if value != "yes":
                    self.fail(where, f"consent is {value!r}")
            else:
                self.answer(where, qid, value)

    def report(self, limit: int = 25) -> str:
        shown = "\n".join(self.failures[:limit])
        return f"{len(self.failures)} failures, the first:\n{shown}"


def _invalid_text(value: Any, q: Question) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"{value!r} is not text"
    if len(value) > q.max_chars:
        return f"text of {len(value)} characters, at most {q.max_chars}"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "text with lone surrogates"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in value):
        return f"text with control characters {value[:40]!r}"
    if value != " ".join(value.split()):
        return "text with untidy white space"
    return None


# ====================================================================================
# Walking the survey with valid answers
# ====================================================================================
def valid_input(engine: Engine, state: ConversationState, lang: str, now: datetime) -> Input:
    """What a cooperative worker would send next (by button where the engine offers one)."""
    if state.phase in ("declined", "paused"):
        return Input(kind="text", text="hi")
    if state.phase == "confirm_delete":
        return Input(kind="button", payload="x:delete:no")
    if state.phase == "confirm_restart":  # "restart" after finishing asks first
        return Input(kind="button", payload="x:restart:yes")
    if state.phase == "confirm_number":
        return Input(kind="button", payload=answer_payload(str(state.step), "_ok"))
    q = engine.survey.question(str(state.step))

    def press(value: str) -> Input:
        return Input(kind="button", payload=answer_payload(q.id, value))

    if q.type == "language":
        return press(lang)
    if q.type in ("consent", "yes_no"):
        return press("yes")
    if q.type == "factory":
        if state.factory is None:
            return Input(kind="text", text=CODE, factory=_factory_ref())
        return press("yes")
    if q.type == "single":
        return press(q.choices[0].id)
    if q.type == "multiple":
        if state.pending:
            return press("_done")
        return Input(kind="button", payload=toggle_payload(q.id, q.choices[0].id))
    if q.type == "month":
        return press(f"{engine._month_back(q.months_back[0], now):%Y-%m}")
    if q.type == "number":
        return Input(kind="text", text="38000")
    if q.type == "text":
        return Input(kind="text", text="The canteen is closed.")
    return press("_ok")


def _factory_ref() -> FactoryRef:
    return FactoryRef(code=CODE, name="Korangi Knitwear", region="sindh", round_id=1, factory_id=1)


@dataclass(frozen=True)
class Target:
    """A place in the conversation to feed hostile input at."""

    name: str
    step: str | None
    setup: tuple[Input, ...] = ()  # sent on arriving at `step`


# The places between questions, each after the question it starts from.
IN_BETWEEN = {
    "consent": [Target("declined", "consent", (Input(kind="button", payload="a:consent:no"),))],
    # "No, I work elsewhere": the code on the poster is asked for.
    "factory": [Target("factory_code", "factory", (Input(kind="button", payload="a:factory:no"),))],
    "employment": [
        Target("paused", "employment", (Input(kind="text", text="stop"),)),
        Target("confirm_delete", "employment", (Input(kind="text", text="delete"),)),
    ],
    "pay": [Target("pay_confirm", "pay", (Input(kind="text", text="4000"),))],
    "payment_method": [
        Target(
            "payment_method_ticked",
            "payment_method",
            (Input(kind="button", payload=toggle_payload("payment_method", "bank")),),
        )
    ],
}


def targets(survey: Survey) -> list[Target]:
    """Every question, and the places between them, in the order a worker meets them."""
    out = []
    for q in survey.questions:
        out += [Target(q.id, q.id), *IN_BETWEEN.get(q.id, [])]
    return [*out, Target("done", None)]


def walk(engine: Engine, target: Target, lang: str, now: datetime) -> Sprint:
    """Start (by a poster link, in the phone's language) and answer validly up to `target`."""
    sprint = engine.start(now, factory=_factory_ref(), client_language=lang)
    for _ in range(40):
        state = sprint.state
        if state.phase == "done" and target.step is None:
            return sprint
        if state.step == target.step and state.phase == "asking":
            for inp in target.setup:
                sprint = engine.resume(sprint.state, inp, now)
            return sprint
        sprint = engine.resume(state, valid_input(engine, state, lang, now), now)
    raise AssertionError(f"could not reach {target.name}")


def finish(engine: Engine, state: ConversationState, lang: str, now: datetime) -> list[Sprint]:
    """Answer validly until the survey is complete (raises if it never is)."""
    sprints: list[Sprint] = []
    for _ in range(60):
        if (
            state.phase == "done"
            and sprints
            and any(isinstance(e, ResponseCompleted) for s in sprints for e in s.events)
        ):
            return sprints
        if state.phase == "done":  # finished before: start again to prove it still works
            inp = Input(kind="text", text="restart")
        else:
            inp = valid_input(engine, state, state.lang if state.lang_chosen else lang, now)
        sprint = engine.resume(state, inp, now)
        sprints.append(sprint)
        state = sprint.state
    raise AssertionError(f"the survey never completes; stuck at {state.step} {state.phase}")


def to_input(h: Hostile) -> Input:
    if h.kind == "text":
        return Input(kind="text", text=h.value)
    if h.kind == "button":
        return Input(kind="button", payload=h.value)
    if h.kind == "media":
        return Input(kind="media", media=h.value)
    if h.kind == "edited":
        return Input(kind="edited", text=h.value)
    if h.kind == "unknown_command":
        return Input(kind="unknown_command", text=h.value)
    return Input(kind="start")


def _distinct(corpus: list[Hostile]) -> list[Hostile]:
    return list({(h.kind, h.value): h for h in corpus}.values())


# ====================================================================================
# 1. The engine: the whole corpus at every question
# ====================================================================================
def _state_key(state: ConversationState) -> str:
    return state.model_dump_json(exclude={"last_seen", "invalid_streak"})


def feed(
    checker: Checker,
    engine: Engine,
    start: Sprint,
    target: Target,
    lang: str,
    h: Hostile,
    now: datetime,
) -> Sprint | None:
    """Feed one hostile input at a prepared state; check the outcome; None if it raised."""
    where = f"{target.name}[{lang}] {h!r}"
    state = start.state
    try:
        sprint = engine.resume(state, to_input(h), now)
    except Exception as exc:
        checker.fail(where, f"raised {type(exc).__name__}: {exc}"[:300])
        return None
    lang_after = sprint.state.lang
    if lang_after != state.lang and not any(isinstance(e, LanguageChosen) for e in sprint.events):
        checker.fail(where, f"language changed to {lang_after} without a choice")
    checker.replies(where, sprint.replies, lang_after, sprint.echo)
    checker.events(where, sprint.events)
    return sprint


def test_the_corpus_has_over_a_thousand_distinct_inputs_of_every_kind() -> None:
    distinct = _distinct(CORPUS)
    assert len(distinct) >= 1000
    kinds = {h.kind for h in distinct}
    assert kinds == {"text", "button", "media", "edited", "unknown_command", "start"}
    lengths = {len(h.value) for h in distinct}
    assert max(lengths) >= 4096 and 0 in lengths
    assert any("\ud800" in h.value for h in distinct)  # lone surrogates
    assert any("\x00" in h.value for h in distinct)


def test_every_input_at_every_question_through_the_engine(
    engine: Engine, catalogs: Catalogs
) -> None:
    now = NOW
    checker = Checker(engine, catalogs, now)
    corpus = _distinct(CORPUS)
    questions = {q.id for q in engine.survey.questions}
    after: dict[str, tuple[ConversationState, str, str]] = {}
    fed = 0
    for n, target in enumerate(targets(engine.survey)):
        starts = [walk(engine, target, lang, now) for lang in LANGS]
        # The whole corpus at every question; a stratified sample at the in-between states.
        inputs = corpus if target.name in questions else stratified_sample(IN_BETWEEN_SAMPLE, n)
        for i, h in enumerate(inputs):
            lang = LANGS[(i + n) % len(LANGS)]  # each input in one language per place
            # Every seventh input arrives hours later: "welcome back" is said first.
            moment = now + timedelta(hours=7) if i % 7 == 0 else now
            start = starts[LANGS.index(lang)]
            sprint = feed(checker, engine, start, target, lang, h, moment)
            fed += 1
            if sprint is None:
                continue
            try:
                key = _state_key(sprint.state)
            except ValueError:
                key = repr(h)  # not even serialisable: Checker.state says why
            if key not in after:  # each distinct resulting state is checked once
                checker.state(f"{target.name}[{lang}] {h!r}", sprint.state)
                after[key] = (sprint.state, lang, repr(h))
    # Every distinct state the corpus led to can still reach the end of the survey.
    for state, lang, origin in after.values():
        try:
            sprints = finish(engine, state, lang, now + timedelta(hours=8))
        except Exception as exc:
            checker.fail(f"after {origin}", f"cannot finish: {type(exc).__name__}: {exc}")
            continue
        for sprint in sprints:
            checker.events(f"finishing after {origin}", sprint.events)
    assert fed >= len(questions) * len(corpus)
    assert len(after) > 50  # the corpus moved conversations to many different places
    assert not checker.failures, checker.report()


# Random text over all of Unicode (surrogates and control characters included), and strings
# built from the pieces of written amounts.
any_text = st.text(st.characters(exclude_categories=()), max_size=80)
number_like = st.lists(
    st.sampled_from(
        [
            *"0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹०१२३४५६७८९,.٬٫، '-−+eEk",
            *(" lakh", " crore", "Rs ", " روپے", "/-", "\u200f", "\u200b", "1e400", "0" * 25),
        ]
    ),
    min_size=1,
    max_size=16,
).map("".join)


@pytest.fixture(scope="module")
def prepared_places(engine: Engine) -> list[tuple[Target, str, Sprint]]:
    places = targets(engine.survey)
    return [(t, LANGS[i % 3], walk(engine, t, LANGS[i % 3], NOW)) for i, t in enumerate(places)]


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=st.one_of(any_text, number_like), as_edit=st.booleans())
def test_random_text_at_every_question_through_the_engine(
    engine: Engine,
    catalogs: Catalogs,
    prepared_places: list[tuple[Target, str, Sprint]],
    text: str,
    as_edit: bool,
) -> None:
    checker = Checker(engine, catalogs, NOW)
    h = Hostile("hypothesis", "edited" if as_edit and len(text) % 5 == 0 else "text", text)
    for target, lang, start in prepared_places:
        sprint = feed(checker, engine, start, target, lang, h, NOW)
        if sprint is not None:
            checker.state(f"{target.name}[{lang}] {h!r}", sprint.state)
        if sprint is not None and sprint.state.phase != start.state.phase:
            finish(engine, sprint.state, lang, NOW)
    assert not checker.failures, checker.report()


# Regressions found by the corpus ---------------------------------------------------------
def test_control_characters_and_lone_surrogates_are_dropped_by_clean_text() -> None:
    assert clean_text("Pay\x00 late\ud800\x07 again\x1b") == "Pay late again"
    assert clean_text("a\tb\nc\x85d\u2028e") == "a b c d e"  # control white space: a space
    assert clean_text("\ud83d\ude00") == ""  # a pair split into two code points: junk


def test_welcome_back_is_said_in_the_language_just_chosen(
    engine: Engine, catalogs: Catalogs
) -> None:
    start = walk(engine, Target("language", "language"), "en", NOW)
    later = NOW + timedelta(hours=7)
    sprint = engine.resume(start.state, Input(kind="button", payload="a:language:ur"), later)
    checker = Checker(engine, catalogs, later)
    checker.replies("language answered after 7 hours", sprint.replies, "ur", sprint.echo)
    assert not checker.failures, checker.report()
    welcome = catalogs.get("ur").gettext(P.WELCOME_BACK)
    assert sprint.replies[0].text.startswith(welcome)


# ====================================================================================
# 2. The service: engine + storage, a stratified sample at every question
# ====================================================================================
SAMPLE_PER_PLACE = 8  # per place and language: 24 per place
SETUP_STEPS = ("language", "consent", "factory")
_ids = itertools.count(1)


class ServiceWorker:
    """A worker on the service (channel "test"), answering validly or hostilely."""

    sent = 0  # messages sent by all workers (for sizing the test)

    def __init__(self, app: App, user_id: str, lang: str, clock: datetime) -> None:
        self.app, self.user_id, self.lang, self.clock = app, user_id, lang, clock
        self.replies: list[Reply] = []
        self.echo: str | None = None
        self.events: list[Event] = []

    async def send(self, **kw: Any) -> None:
        self.clock += timedelta(seconds=20)
        ServiceWorker.sent += 1
        outcome = await self.app.service.handle(
            InboundMessage(
                channel="test",
                user_id=self.user_id,
                message_id=f"h{next(_ids)}",
                received_at=self.clock,
                client_language=self.lang,
                **kw,
            )
        )
        self.replies, self.echo, self.events = outcome.replies, outcome.echo, outcome.events

    async def state(self) -> ConversationState | None:
        key = self.app.keyring.conversation_key("test", self.user_id)
        async with self.app.db.transaction() as s:
            data = await s.scalar(select(Conversation.state).where(Conversation.key == key))
        return ConversationState.from_json(data) if data else None

    async def act(self, inp: Input, code: str) -> None:
        """Send an engine Input the way a channel would (a code as text, a start as /start)."""
        if inp.kind == "start":
            await self.send(kind="start", start_code=code if inp.factory else None)
        elif inp.factory is not None:
            await self.send(kind="text", text=code)
        else:
            await self.send(kind=inp.kind, text=inp.text, payload=inp.payload, media=inp.media)


async def _goto(w: ServiceWorker, engine: Engine, target: Target, code: str) -> None:
    """Answer validly from wherever the worker is until `target` (through the end of the
    survey and "restart" if it lies behind): the conversation goes on after anything."""
    for _ in range(60):
        state = await w.state()
        if state is None:
            await w.send(kind="start", start_code=code)
            continue
        if target.step is None and state.phase == "done":
            return
        if state.step == target.step and state.phase == "asking":
            for inp in target.setup:
                await w.act(inp, code)
            return
        # The set-up questions lie behind once passed: "language" and "restart" go back.
        passed_setup = state.phase == "done" or state.step not in SETUP_STEPS
        if target.step == "language":
            await w.send(kind="text", text="language")
        elif state.phase == "done" or (target.step in SETUP_STEPS and passed_setup):
            await w.send(kind="text", text="restart")
        else:
            lang = state.lang if state.lang_chosen else w.lang
            await w.act(valid_input(engine, state, lang, w.clock), code)
    raise AssertionError(f"could not reach {target.name} through the service")


async def _finish_service(w: ServiceWorker, engine: Engine, code: str) -> bool:
    for _ in range(60):
        state = await w.state()
        assert state is not None
        if state.phase == "done":
            if any(isinstance(e, ResponseCompleted) for e in w.events):
                return True
            await w.send(kind="text", text="restart")
            continue
        lang = state.lang if state.lang_chosen else w.lang
        await w.act(valid_input(engine, state, lang, w.clock), code)
    return False


async def _stored_answers(app: App) -> list[tuple[str, Any]]:
    """Every row of the answers table as (question id, typed value)."""
    async with app.db.transaction() as s:
        rows = (await s.execute(select(Answer))).scalars().all()
    out = []
    for a in rows:
        value: Any = a.value_json if a.value_json is not None else a.value_text
        if a.value_number is not None:
            value = int(a.value_number) if a.value_number.is_integer() else a.value_number
        out.append((a.question_id, value))
    return out


def _progress(state: ConversationState | None) -> str:
    if state is None:
        return "none"
    return state.model_dump_json(include={"step", "phase", "answers", "pending", "resume_step"})


async def _return_to(w: ServiceWorker, target: Target, before: str, code: str) -> bool:
    """After an input that moved the conversation, go back to where it was in one message
    when a worker could ("back", "hi" after a pause, "No" to deleting, the language again)."""
    state = await w.state()
    if state is None:
        return False
    if state.step == target.step and state.phase == "asking" and target.setup:
        pass  # only the set-up (a tick, an amount to confirm, "stop", ...) is missing
    elif state.phase in ("paused", "declined") and state.factory is not None:
        await w.send(kind="text", text="hi")
    elif state.phase == "confirm_delete":
        await w.send(kind="button", payload="x:delete:no")
    elif state.step == "language" and state.resume_step is not None:
        await w.send(kind="button", payload=answer_payload("language", state.lang))
    elif state.history and state.history[-1] == target.step and state.phase != "done":
        await w.send(kind="text", text="back")
    else:
        return False
    state = await w.state()
    if state is not None and state.step == target.step and state.phase == "asking":
        for inp in target.setup:
            await w.act(inp, code)
    return _progress(await w.state()) == before


async def test_a_sample_at_every_question_through_the_service(app: App) -> None:
    codes = await open_round(app)
    code = codes["KHI-001"]
    engine = app.engines.default
    checker = Checker(engine, app.catalogs, NOW)
    places = targets(engine.survey)
    fed = moved = 0
    # One worker per language walks the survey; at every place it meets, a sample is fed.
    for k, lang in enumerate(LANGS):
        w = ServiceWorker(app, f"hostile-{lang}", lang, NOW)
        for n, target in enumerate(places):
            await _goto(w, engine, target, code)
            before = _progress(await w.state())
            for h in stratified_sample(SAMPLE_PER_PLACE, seed=n * len(LANGS) + k):
                where = f"service {target.name}[{lang}] {h!r}"
                try:
                    await w.act(to_input(h), code)
                except Exception as exc:  # that is the finding
                    checker.fail(where, f"raised {type(exc).__name__}: {str(exc)[:200]}")
                    continue
                fed += 1
                state = await w.state()
                checker.replies(where, w.replies, state.lang if state else lang, w.echo)
                checker.events(where, w.events)
                if _progress(state) == before or await _return_to(w, target, before, code):
                    continue
                # Moved for good (a restart, a new link...): the conversation goes on from
                # there, back to this place.
                moved += 1
                await _goto(w, engine, target, code)
                before = _progress(await w.state())
        if not await _finish_service(w, engine, code):
            checker.fail(f"service [{lang}]", "could not be finished after the samples")
    assert fed == len(places) * SAMPLE_PER_PLACE * len(LANGS) - sum(
        "raised" in f for f in checker.failures
    )
    assert moved > 0  # commands and valid-looking answers were among the samples
    # Nothing invalid reached the answers table; each worker's response ended complete.
    rows = await _stored_answers(app)
    for qid, value in rows:
        checker.answer(f"stored answer to {qid}", qid, value)
    async with app.db.transaction() as s:
        statuses = list((await s.execute(select(Response.status))).scalars())
    assert statuses == ["complete"] * len(LANGS), statuses
    assert len(rows) >= len(LANGS) * 10
    assert not checker.failures, checker.report()


async def test_a_comment_with_nul_bytes_and_lone_surrogates_is_stored_without_them(
    app: App,
) -> None:
    """They used to escape as exceptions: UnicodeEncodeError from both databases for a lone
    surrogate (JSON can carry "\\ud800"), and PostgreSQL refusing NUL in text; the channel
    then failed the update, and the platform delivered it again and again."""
    codes = await open_round(app)
    engine = app.engines.default
    w = ServiceWorker(app, "comment", "ur", NOW)
    await _goto(w, engine, Target("comment", "comment"), codes["KHI-001"])
    await w.send(kind="text", text="Pay\x00 late\ud800\x07 again \x1b[31m")
    state = await w.state()
    assert state is not None and state.step == "contact_opt_in"
    async with app.db.transaction() as s:
        comment = await s.scalar(select(Answer.value_text).where(Answer.question_id == "comment"))
    assert comment == "Pay late again [31m"


# ====================================================================================
# 3. The channels: the real adapters against the stand-ins
# ====================================================================================
TOKEN = "4242:HOSTILE-token"
SECRET = "hostile-webhook-secret"


@dataclass
class TelegramHook:
    app: App
    api: TelegramStandin
    url: str
    _update_ids: Iterator[int] = field(default_factory=lambda: itertools.count(700_000))
    # The phone language of chats other than Urdu (e.g. staff who read the English replies).
    languages: dict[int, str] = field(default_factory=dict)

    async def post(self, update: dict[str, Any]) -> int:
        update = {"update_id": next(self._update_ids), **update}
        response = await self.api.deliver_raw(update, secret=SECRET, url=self.url)
        assert response is not None
        return response.status_code

    def sender(self, chat: int) -> dict[str, Any]:
        language = self.languages.get(chat, "ur")
        return {"id": chat, "is_bot": False, "first_name": "W", "language_code": language}

    def message(self, chat: int, **content: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._update_ids),
            "date": 1_790_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "W"},
            "from": self.sender(chat),
            **content,
        }

    async def text(self, chat: int, text: str) -> int:
        entities = (
            [{"type": "bot_command", "offset": 0, "length": len(text.split(" ")[0])}]
            if text.startswith("/")
            else None
        )
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return await self.post({"message": self.message(chat, **content)})

    async def press(self, chat: int, data: str, message_id: int | None = None) -> int:
        last = self.api.last_reply(chat)  # the newest question, sent or edited into place
        shown = {
            "message_id": message_id or (last.message_id if last else 1),
            "date": 1_790_000_000,
            "chat": {"id": chat, "type": "private", "first_name": "W"},
            "from": {"id": 4242, "is_bot": True, "first_name": "WageCheck"},
            "text": (last.text if last else None) or "?",
        }
        query = {
            "id": str(next(self._update_ids)),
            "from": self.sender(chat),
            "chat_instance": "1",
            "message": shown,
            "data": data,
        }
        return await self.post({"callback_query": query})


@contextlib.asynccontextmanager
async def telegram_hook(app: App) -> AsyncIterator[TelegramHook]:
    """Our webhook app on 127.0.0.1 (the real adapter and python-telegram-bot) and the
    stand-in Bot API it sends to; updates are posted with `TelegramHook.post`, which returns
    after they were handled. Closing a round renders reports inside the request: hence the
    long timeout on a loaded machine."""
    async with TelegramStandin(TOKEN, webhook_timeout=60) as api:
        app.settings = app.settings.model_copy(
            update={
                "telegram_token": SecretStr(TOKEN),
                "telegram_api_url": api.url,
                "telegram_rate_per_chat": 1000.0,
                "telegram_rate_overall": 1000.0,
            }
        )
        channel = TelegramChannel.build(app)
        asgi = webhook_app(channel, "/tg", SECRET)
        async with serve_asgi(asgi) as url, asgi.router.lifespan_context(asgi):
            yield TelegramHook(app, api, f"{url}/tg")


TELEGRAM_MESSAGES: list[tuple[str, dict[str, Any]]] = [
    ("voice", {"voice": {"file_id": "v1", "file_unique_id": "v", "duration": 3}}),
    ("audio", {"audio": {"file_id": "a1", "file_unique_id": "a", "duration": 3}}),
    (
        "video",
        {"video": {"file_id": "d1", "file_unique_id": "d", "width": 1, "height": 1, "duration": 1}},
    ),
    (
        "video_note",
        {"video_note": {"file_id": "n1", "file_unique_id": "n", "length": 1, "duration": 1}},
    ),
    (
        "photo",
        {
            "photo": [{"file_id": "p1", "file_unique_id": "p", "width": 1, "height": 1}],
            "caption": "38000",
        },
    ),
    (
        "sticker",
        {
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "s",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
                "emoji": "👍",
            }
        },
    ),
    (
        "animation",
        {
            "animation": {
                "file_id": "g1",
                "file_unique_id": "g",
                "width": 1,
                "height": 1,
                "duration": 1,
            },
            "document": {"file_id": "g1", "file_unique_id": "g"},
        },
    ),
    (
        "document",
        {
            "document": {"file_id": "f1", "file_unique_id": "f", "file_name": "payslip.pdf"},
            "caption": "/close 1",
        },
    ),
    ("location", {"location": {"latitude": 24.86, "longitude": 67.0}}),
    (
        "venue",
        {
            "location": {"latitude": 24.86, "longitude": 67.0},
            "venue": {
                "location": {"latitude": 24.86, "longitude": 67.0},
                "title": "Factory",
                "address": "Korangi",
            },
        },
    ),
    (
        "contact",
        {"contact": {"phone_number": "+923001234567", "first_name": "X", "user_id": 7913406221}},
    ),
    (
        "poll",
        {
            "poll": {
                "id": "1",
                "question": "yes?",
                "options": [
                    {"text": "yes", "voter_count": 0, "persistent_id": "o1"},
                    {"text": "no", "voter_count": 0, "persistent_id": "o2"},
                ],
                "total_voter_count": 0,
                "is_closed": False,
                "is_anonymous": True,
                "type": "regular",
                "allows_multiple_answers": False,
                "allows_revoting": False,
                "members_only": False,
            }
        },
    ),
    ("dice", {"dice": {"emoji": "🎲", "value": 6}}),
    ("story", {"story": {"chat": {"id": 1, "type": "private"}, "id": 1}}),
    ("web_app_data", {"web_app_data": {"data": "a:pay:999999999", "button_text": "Pay"}}),
    ("unknown", {"future_feature": {"x": 1}}),
]


async def _telegram_worker_at(
    hook: TelegramHook, chat: int, code: str, step_values: list[str]
) -> None:
    assert await hook.text(chat, f"/start {code}") == 200
    for value in step_values:
        assert await hook.press(chat, value) == 200


async def test_every_telegram_message_type_and_forged_input_gets_an_urdu_reply(app: App) -> None:
    codes = await open_round(app)
    engine = app.engines.default
    checker = Checker(engine, app.catalogs, app.clock())
    async with telegram_hook(app) as hook:
        chat = 7_913_406_221
        await _telegram_worker_at(
            hook, chat, codes["KHI-001"], ["a:language:ur", "a:consent:yes", "a:factory:yes"]
        )
        assert "آپ کا کام کیا ہے؟" in (hook.api.last_reply(chat).text or "")  # type: ignore[union-attr]

        edits = 0

        async def expect_reply(what: str, status: int, before: int) -> None:
            where = f"telegram {what}"
            if status != 200:
                checker.fail(where, f"webhook answered {status}")
            sent = hook.api.replies_to(chat)[before:]
            if not sent and what.startswith("button"):
                # The pressed question edited into the current one; when it already shows it
                # (a junk payload gets only the question) Telegram answers "message is not
                # modified": the worker sees that question, nothing is sent again.
                unchanged = [
                    c.params.get("text", "")
                    for c in hook.api.calls_of("editMessageText")[edits:]
                    if "not modified" in str((c.response or {}).get("description", ""))
                ]
                last = hook.api.last_reply(chat)
                sent = [last] if unchanged and last is not None else []
            if not sent:
                checker.fail(where, "no reply")
            for m in sent:
                text = m.text or ""
                if not ARABIC_SCRIPT.search(text):
                    checker.fail(where, f"reply not in Urdu: {text[:80]!r}")
                if utf16_len(text) > TELEGRAM_TEXT_MAX:
                    checker.fail(where, "reply over 4,096")

        for name, content in TELEGRAM_MESSAGES:
            before = len(hook.api.replies_to(chat))
            await expect_reply(
                name, await hook.post({"message": hook.message(chat, **content)}), before
            )
        edited = hook.message(chat, text="3", edit_date=1_790_000_100)
        before = len(hook.api.replies_to(chat))
        await expect_reply("edited", await hook.post({"edited_message": edited}), before)
        for text in (
            "/admin",
            "/close 1",
            "/report",
            "/rounds",
            "/round 1",
            "/extend 1 9",
            "/whoami",
            "/subscribe",
            "/start@OtherBot",
            "/" + "a" * 64,
        ):
            before = len(hook.api.replies_to(chat))
            await expect_reply(text, await hook.text(chat, text), before)
        for data in (
            "a:job:99",
            "a:pay_month:1999-01",
            "garbage",
            "a:job:" + "x" * 58,
            "a:pay:38000",
            "x:delete:yes",
            "t:payment_method:cash",
            "c:bogus",
            "a:pay_month:2026-09",
            "t:start:ZZZZZZ",
            "🙂" * 16,
            ":::",
        ):
            before, edits = (
                len(hook.api.replies_to(chat)),
                len(hook.api.calls_of("editMessageText")),
            )
            await expect_reply(f"button {data!r}", await hook.press(chat, data), before)
        sample = [
            Hostile("explicit", "text", v)
            for v in ("\ud800", "a\x00b", "x" * 4096, "<b>bold</b>", "{0} %s %(x)s", "۳٨3")
        ] + [h for h in stratified_sample(40, seed=99) if h.kind == "text"]
        for h in sample:
            before = len(hook.api.replies_to(chat))
            if h.value.startswith("/start") or not h.value or len(h.value) > 4096:
                continue  # a link's payload, an empty or an over-long message: Telegram sends none
            status = await hook.text(chat, h.value)
            await expect_reply(repr(h), status, before)
            state = await _stored_state(app, "telegram", str(chat))
            if state is not None and state.step != "job":
                await _telegram_back_to_job(hook, chat, codes["KHI-001"])
        failed_sends = [c for c in hook.api.requests if c.method == "sendMessage" and not c.ok]
        assert failed_sends == []
        for qid, value in await _stored_answers(app):
            checker.answer(f"telegram stored {qid}", qid, value)
    assert not checker.failures, checker.report()


async def _stored_state(app: App, channel: str, user_id: str) -> ConversationState | None:
    key = app.keyring.conversation_key(channel, user_id)
    async with app.db.transaction() as s:
        data = await s.scalar(select(Conversation.state).where(Conversation.key == key))
    return ConversationState.from_json(data) if data else None


async def _telegram_back_to_job(hook: TelegramHook, chat: int, code: str) -> None:
    """A hostile text moved the worker on (or paused them): answer validly until the job
    question is asked again (restarting if it was passed)."""
    engine = hook.app.engines.default
    for _ in range(20):
        state = await _stored_state(hook.app, "telegram", str(chat))
        assert state is not None
        if state.step == "job" and state.phase == "asking":
            return
        if state.phase == "done" or (state.phase == "asking" and "job" in state.answers):
            await hook.text(chat, "/restart")
            continue
        inp = valid_input(engine, state, "ur", hook.app.clock())
        if inp.kind == "button":
            await hook.press(chat, inp.payload)
        else:
            await hook.text(chat, code if inp.factory is not None else inp.text)
    raise AssertionError("could not get back to the job question")


WHATSAPP_KINDS = (
    "audio",
    "voice",
    "image",
    "sticker",
    "video",
    "document",
    "location",
    "contacts",
    "reaction",
    "unsupported",
)


async def test_every_whatsapp_message_type_and_forged_input_gets_a_sindhi_reply(
    app: App,
) -> None:
    from tests.test_whatsapp import APP_SECRET, PHONE_NUMBER_ID, running
    from tests.test_whatsapp import TOKEN as WA_TOKEN
    from tests.whatsapp_standin import WhatsAppStandin

    codes = await open_round(app)
    checker = Checker(app.engines.default, app.catalogs, app.clock())
    async with WhatsAppStandin(WA_TOKEN, PHONE_NUMBER_ID, APP_SECRET) as api, running(app, api):
        w = api.worker("Hostile", phone="923001234567")
        await api.text(w, codes["KHI-001"])
        for value in ("a:language:sd", "a:consent:yes", "a:factory:yes"):
            await api.press(w, value)

        def check(what: str, sent: list[Any]) -> None:
            if not sent:
                checker.fail(f"whatsapp {what}", "no reply")
            for s in sent:
                if not ARABIC_SCRIPT.search(s.text):
                    checker.fail(f"whatsapp {what}", f"reply not in Sindhi: {s.text[:80]!r}")

        for kind in WHATSAPP_KINDS:
            check(kind, await api.media(w, kind))
        check("edit", await api.edit(w, "wamid.earlier", "3"))
        for kind, content in (
            ("interactive", {"type": "nfm_reply", "nfm_reply": {"response_json": "{}"}}),
            ("interactive", {"type": "button_reply", "button_reply": {"id": "a:job:99"}}),
            ("interactive", {"type": "list_reply", "list_reply": {"id": "x" * 256}}),
            ("interactive", {"type": "list_reply", "list_reply": "not a dict"}),
            ("button", {"payload": "a:pay:38000", "text": "Pay"}),
            ("order", {"catalog_id": "1", "product_items": []}),
            ("text", {"body": "x" * 4096}),
            ("text", {"body": "\ud800\x00"}),
            ("text", {"body": "<b>*bold*</b> {0} %s '; DROP TABLE answers; --"}),
            ("text", {"body": "/close 1"}),
            ("text", None),
            ("future_type", {"x": 1}),
            ("button", {"payload": "w:start:ZZZZZZ", "text": "Start"}),  # last: it restarts
        ):
            before = len(api.messages_to(w))
            response = await api.deliver(api.message(w, kind, content), retry=False)
            if response.status_code != 200:
                checker.fail(f"whatsapp {kind} {content!r:.60}", f"webhook {response.status_code}")
            check(f"{kind} {content!r:.60}", api.messages_to(w)[before:])
        assert [status for status, _ in api.calls if status != 200] == []  # limits kept
        state = await _stored_state(app, "whatsapp", w.user_id or "")
        # Nothing was stored; the unknown code of the forged "Start" began the survey again
        # (in Sindhi, still chosen).
        assert state is not None and state.step == "consent" and state.lang == "sd"
        assert await _count_answers(app) == 0
        # The worker can still finish.
        engine = app.engines.default
        for _ in range(30):
            state = await _stored_state(app, "whatsapp", w.user_id or "")
            assert state is not None
            if state.phase == "done":
                break
            inp = valid_input(engine, state, "sd", app.clock())
            if inp.kind == "button":
                await api.press(w, inp.payload, strict=False)
            else:
                await api.text(w, codes["KHI-001"] if inp.factory is not None else inp.text)
        async with app.db.transaction() as s:
            assert set((await s.execute(select(Response.status))).scalars()) == {"complete"}
    assert not checker.failures, checker.report()


async def _count_answers(app: App) -> int:
    async with app.db.transaction() as s:
        return len((await s.execute(select(Answer.id))).all())
