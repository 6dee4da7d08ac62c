"""Tests for the survey engine: whole conversations in English, Urdu and Sindhi, driven the way a
channel drives them — one input at a time, the state kept (and stored as JSON) in between."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.i18n import Catalogs
from bot.survey import phrases as P
from bot.survey.definition import Survey
from bot.survey.engine import Engine, answer_payload, toggle_payload
from bot.survey.parsing import Command, match_command
from bot.survey.state import (
    AnswerGiven,
    AnswerRetracted,
    AnswersCleared,
    Button,
    ChatCleared,
    ChatClearing,
    ConversationState,
    Event,
    FactoryRef,
    Input,
    LanguageChosen,
    Reply,
    ResponseCompleted,
    ResponseDeleted,
    ResponseStarted,
    Sprint,
)
from bot.wages import WageTable

LANGS = ["en", "ur", "sd"]
ARABIC_SCRIPT = re.compile(r"[\u0600-\u06ff]")
PLACEHOLDER = re.compile(r"\{[A-Za-z_]+\}")
OCTOBER_2026 = date(2026, 10, 1)
# 38,000 as typed in Urdu (Extended Arabic-Indic digits) and Sindhi (Arabic-Indic digits).
NATIVE_38000 = {"ur": "۳۸٬۰۰۰", "sd": "٣٨٬٠٠٠"}

# The command words each language's help text tells the worker to type.
COMMANDS = {
    "en": {
        "help": "help",
        "back": "back",
        "restart": "restart",
        "language": "language",
        "stop": "stop",
        "delete": "delete",
        "clear": "clear",
    },
    "ur": {
        "help": "مدد",
        "back": "واپس",
        "restart": "دوبارہ",
        "language": "زبان",
        "stop": "رکیں",
        "delete": "مٹائیں",
        "clear": "صاف کریں",
    },
    "sd": {
        "help": "مدد",
        "back": "پوئتي",
        "restart": "ٻيهر",
        "language": "ٻولي",
        "stop": "روڪيو",
        "delete": "ميٽايو",
        "clear": "صاف ڪريو",
    },
}
OTHER_LANG = {"en": "sd", "ur": "sd", "sd": "en"}


# ------------------------------------------------------------------------------ the driver
class Conversation:
    """Drives the engine like a channel: keeps the state and sends one input at a time."""

    def __init__(
        self,
        engine: Engine,
        now: datetime,
        factory: FactoryRef | None = None,
        client_language: str | None = None,
    ) -> None:
        self.engine = engine
        self.now = now
        self.sprints: list[Sprint] = []
        self._take(engine.start(now, factory=factory, client_language=client_language))

    def _take(self, sprint: Sprint) -> Sprint:
        self.sprints.append(sprint)
        self.sprint = sprint
        self.state = sprint.state
        return sprint

    def send(self, inp: Input, after: timedelta = timedelta(0)) -> Sprint:
        self.now += after
        return self._take(self.engine.resume(self.state, inp, self.now))

    def press(self, value: str, after: timedelta = timedelta(0)) -> Sprint:
        """Press a button of the last reply: a whole payload, or a value of the current question."""
        payload = value if ":" in value else answer_payload(str(self.state.step), value)
        offered = [b.payload for b in self.last.buttons]
        assert payload in offered, f"{payload!r} is not offered; the buttons are {offered}"
        return self.send(Input(kind="button", payload=payload), after)

    def press_stale(self, payload: str) -> Sprint:
        """Press a button that need not be on the last message (an old one, or junk)."""
        return self.send(Input(kind="button", payload=payload))

    def tick(self, choice: str) -> Sprint:
        return self.press(toggle_payload(str(self.state.step), choice))

    def type(self, text: str, after: timedelta = timedelta(0), **kw: Any) -> Sprint:
        return self.send(Input(kind="text", text=text, **kw), after)

    def send_media(self, media: str = "voice") -> Sprint:
        return self.send(Input(kind="media", media=media))

    @property
    def replies(self) -> list[Reply]:
        return self.sprint.replies

    @property
    def last(self) -> Reply:
        return self.sprint.replies[-1]

    @property
    def text(self) -> str:
        return "\n\n".join(r.text for r in self.sprint.replies)

    @property
    def events(self) -> list[Event]:
        return self.sprint.events

    @property
    def all_events(self) -> list[Event]:
        return [e for s in self.sprints for e in s.events]

    @property
    def all_replies(self) -> list[Reply]:
        return [r for s in self.sprints for r in s.replies]

    def answers_given(self) -> dict[str, Any]:
        return {e.question_id: e.value for e in self.all_events if isinstance(e, AnswerGiven)}


# The answer a cooperative worker gives to each question, by button where there is one.
HAPPY: dict[str, tuple[str, ...]] = {
    "consent": ("press", "yes"),
    "factory": ("press", "yes"),
    "job": ("press", "helper"),
    "employment": ("press", "permanent"),
    "pay_month": ("press", "2026-10"),
    "full_month": ("press", "yes"),
    "pay": ("type", "38000"),
    "pay_rise": ("press", "yes"),
    "payslip": ("press", "yes"),
    "payment_method": ("tick", "cash", "bank"),
    "deductions": ("press", "no"),
    "gender": ("press", "woman"),
    "comment": ("press", "_skip"),
    "contact_opt_in": ("press", "yes"),
}


def answer_happily(conv: Conversation) -> None:
    how, *values = HAPPY[str(conv.state.step)]
    if how == "press":
        conv.press(values[0])
    elif how == "type":
        conv.type(values[0])
    else:
        for value in values:
            conv.tick(value)
        conv.press("_done")


def begin(
    engine: Engine, now: datetime, factory: FactoryRef, lang: str = "en", at: str = "job"
) -> Conversation:
    """A conversation from the factory's link, in `lang`, answered happily up to question `at`."""
    conv = Conversation(engine, now, factory=factory)
    conv.press(lang)
    advance_to(conv, at)
    return conv


def advance_to(conv: Conversation, question_id: str) -> None:
    for _ in range(30):
        if conv.state.step == question_id and conv.state.phase == "asking":
            return
        answer_happily(conv)
    raise AssertionError(f"never reached {question_id!r}")


def finish(conv: Conversation) -> None:
    for _ in range(30):
        if conv.state.phase == "done":
            return
        answer_happily(conv)
    raise AssertionError("the survey never finished")


def tr(catalogs: Catalogs, lang: str, msgid: str, **params: Any) -> str:
    return catalogs.get(lang).gettext(msgid, **params)


def without_last_seen(state: ConversationState) -> dict[str, Any]:
    return state.model_dump(exclude={"last_seen"})


def all_payloads(replies: list[Reply]) -> list[str]:
    return [b.payload for r in replies for b in r.buttons]


# ------------------------------------------------------------------------ complete surveys
def test_complete_survey_in_english_by_buttons_records_typed_answers_in_order(
    engine: Engine, now: datetime, factory_ref: FactoryRef, survey: Survey
) -> None:
    conv = Conversation(engine, now, factory=factory_ref)
    assert conv.last.question_id == "language"
    conv.press("en")
    assert conv.last.question_id == "consent"
    conv.press("yes")
    assert conv.last.text == "Do you work at this factory: Korangi Knitwear?"
    conv.press("yes")
    conv.press("helper")
    conv.press("permanent")
    assert [b.label for b in conv.last.buttons] == ["October 2026", "September 2026"]
    conv.press("2026-10")
    assert conv.last.text.startswith("Did you work the full month in October 2026?")
    conv.press("yes")
    assert conv.last.expects == "number"
    conv.type("38000")
    assert conv.last.text == "Did your pay go up after the minimum wage rose in July 2025?"
    conv.press("yes")
    conv.press("no")
    conv.tick("wallet")
    conv.tick("cash")
    conv.press("_done")
    conv.press("dont_know")
    conv.press("woman")
    conv.type("The supervisor keeps our payslips.")
    conv.press("yes")

    assert conv.all_events == [
        LanguageChosen("en"),
        ResponseStarted(factory=factory_ref, lang="en"),
        AnswerGiven("job", "helper"),
        AnswerGiven("employment", "permanent"),
        AnswerGiven("pay_month", "2026-10"),
        AnswerGiven("full_month", "yes"),
        AnswerGiven("pay", 38000),
        AnswerGiven("pay_rise", "yes"),
        AnswerGiven("payslip", "no"),
        AnswerGiven("payment_method", ["cash", "wallet"]),
        AnswerGiven("deductions", "dont_know"),
        AnswerGiven("gender", "woman"),
        AnswerGiven("comment", "The supervisor keeps our payslips."),
        AnswerGiven("contact_opt_in", "yes"),
        ResponseCompleted(contact_opt_in=True),
    ]
    given_answers = conv.answers_given()
    assert type(given_answers["pay"]) is int
    assert isinstance(given_answers["payment_method"], list)
    survey_questions = [
        q.id for q in survey.questions if q.type not in ("language", "consent", "factory")
    ]
    assert list(given_answers) == survey_questions
    assert conv.state.phase == "done"
    assert conv.text.startswith("Thank you! Your answers are saved without your name or number.")
    # No 2026-27 line yet: the latest notified minimum, said to be that, not "the minimum for
    # October 2026".
    assert (
        "no new legal minimum wage has been notified in Sindh for October 2026 yet. The latest "
        "notified minimum (from July 2025) is PKR 40,000 a month for unskilled work" in conv.text
    )
    assert "the legal minimum wage in Sindh for October 2026 is" not in conv.text


# ------------------------------------------------------------ the minimum's age (no wall clock)
@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    ("at", "pay_month", "stale"),
    [
        (datetime(2026, 7, 2, 10, 0, tzinfo=UTC), date(2026, 6, 1), False),
        (datetime(2026, 8, 2, 10, 0, tzinfo=UTC), date(2026, 7, 1), True),
        (datetime(2027, 7, 2, 10, 0, tzinfo=UTC), date(2027, 6, 1), True),
    ],
)
def test_the_minimum_shown_says_when_it_is_only_the_latest_notified_one(
    engine: Engine,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    at: datetime,
    pay_month: date,
    stale: bool,
) -> None:
    loc = catalogs.get(lang)
    conv = begin(engine, at, factory_ref, lang, at="pay_month")
    conv.press(pay_month.strftime("%Y-%m"))  # last month
    advance_to(conv, "contact_opt_in")
    conv.press("no")
    params = {
        "region": loc.gettext("Sindh"),
        "month": loc.month(pay_month),
        "minimum": loc.money(40000),
        "grade": loc.gettext(P.GRADE_WORDS["unskilled"]),
    }
    current = loc.gettext(P.MINIMUM_INFO, **params)
    latest = loc.gettext(P.MINIMUM_INFO_STALE, since=loc.month(date(2025, 7, 1)), **params)
    assert (latest if stale else current) in conv.text
    assert (current if stale else latest) not in conv.text
    if lang != "en":
        assert latest != catalogs.get("en").gettext(
            P.MINIMUM_INFO_STALE, since="July 2025", **params
        )
        assert loc.month(date(2025, 7, 1)) in latest


def test_declining_contact_is_reported_on_completion(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="contact_opt_in")
    conv.press("no")
    assert conv.events == [
        AnswerGiven("contact_opt_in", "no"),
        ResponseCompleted(contact_opt_in=False),
    ]


@pytest.mark.parametrize("lang", ["ur", "sd"])
def test_complete_survey_in_urdu_and_sindhi_speaks_the_chosen_language(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    survey: Survey,
    lang: str,
) -> None:
    loc = catalogs.get(lang)
    conv = Conversation(engine, now, factory=factory_ref)
    conv.press(lang)
    chosen_from = len(conv.all_replies) - 1
    advance_to(conv, "job")
    job_labels = [b.label for b in conv.last.buttons]
    assert job_labels == [loc.gettext(c.label) for c in survey.question("job").choices]
    assert not set(job_labels) & {c.label for c in survey.question("job").choices}
    advance_to(conv, "full_month")
    assert loc.month(OCTOBER_2026) in conv.last.text
    assert [b.label for b in conv.last.buttons] == [
        loc.gettext(P.BUTTON_YES),
        loc.gettext(P.BUTTON_NO),
    ]
    advance_to(conv, "pay")
    conv.type(NATIVE_38000[lang])
    assert conv.events == [AnswerGiven("pay", 38000)]
    assert loc.month(date(2025, 7, 1)) in conv.last.text  # pay_rise: {last_raise}
    finish(conv)

    for reply in conv.all_replies[chosen_from:]:
        assert reply.lang == lang and reply.rtl
        assert ARABIC_SCRIPT.search(reply.text), reply.text
        for button in reply.buttons:
            assert ARABIC_SCRIPT.search(button.label), button.label
    for reply in conv.all_replies:
        assert not PLACEHOLDER.search(reply.text), reply.text
    assert conv.all_events[:2] == [
        LanguageChosen(lang),
        ResponseStarted(factory=factory_ref, lang=lang),
    ]
    assert conv.all_events[-1] == ResponseCompleted(contact_opt_in=True)
    assert conv.answers_given()["pay"] == 38000
    assert conv.text.startswith(loc.gettext(survey.thanks))
    # The amount as people write it, with no bidi marks (docs/domain.md says why none is needed).
    amount = {"ur": "40,000 روپے", "sd": "40,000 رپيا"}[lang]
    assert loc.money(40000) == amount and amount in conv.text
    assert "PKR" not in conv.text and not {"\u2066", "\u2069"} & set(amount)
    assert loc.month(OCTOBER_2026) in conv.text


@pytest.mark.parametrize(
    ("lang", "typed"),
    [
        ("ur", "۳۸٬۰۰۰"),  # Extended Arabic-Indic digits, Arabic thousands separator
        ("ur", "۳۸ ہزار"),  # "38 thousand"
        ("ur", "\u200f۳۸۰۰۰"),  # a right-to-left mark the keyboard inserted
        ("sd", "٣٨٬٠٠٠"),  # Arabic-Indic digits
        ("sd", "٣٨٠٠٠"),
        ("sd", "۳۸,۰۰۰ روپے"),
        ("en", "38k"),
        ("en", "Rs 38,000/-"),
        ("ur", "Rs 38,000/-"),
        ("en", "PKR 38000"),
    ],
)
def test_wage_typed_in_any_script_or_style_is_stored_as_whole_rupees(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    typed: str,
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="pay")
    conv.type(typed)
    assert conv.events == [AnswerGiven("pay", 38000)]
    # The Sindh survey's pay is echo: false: saved, not repeated (with echo: true it is
    # repeated as money: the test below).
    assert conv.sprint.echo == catalogs.get(lang).gettext("saved")
    assert conv.last.question_id == "pay_rise"


# --------------------------------------------------------------------------- typed answers
def test_whole_survey_typed_in_urdu_without_pressing_a_button(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = Conversation(engine, now, factory=factory_ref)
    conv.type("۱")  # the first language: اردو
    assert conv.state.lang == "ur"
    conv.type("جی ہاں")  # consent
    conv.type("ہاں")  # yes, this factory
    conv.type("۲")  # Machine operator
    conv.type("ٹھیکیدار")  # a word of "Through a contractor"
    conv.type("۱")  # the first month offered
    conv.type("haan")
    conv.type("۳۸ ہزار")
    conv.type("پتا نہیں")
    conv.type("nahi")
    conv.type("۱، ۳")
    conv.type("نہیں")
    conv.type("عورت")
    conv.type("سپروائزر پرچی نہیں دیتا")
    conv.type("جی نہیں")
    assert conv.state.phase == "done"
    assert conv.answers_given() == {
        "job": "operator",
        "employment": "contractor",
        "pay_month": "2026-10",
        "full_month": "yes",
        "pay": 38000,
        "pay_rise": "dont_know",
        "payslip": "no",
        "payment_method": ["cash", "wallet"],
        "deductions": "no",
        "gender": "woman",
        "comment": "سپروائزر پرچی نہیں دیتا",
        "contact_opt_in": "no",
    }
    assert conv.all_events[-1] == ResponseCompleted(contact_opt_in=False)


@pytest.mark.parametrize(
    ("lang", "typed", "expected"),
    [
        ("en", "1", "helper"),
        ("en", "۲", "operator"),  # Extended Arabic-Indic (Urdu) digit
        ("ur", "۳", "checker"),
        ("sd", "٤", "other"),  # Arabic-Indic digit
        ("en", "(2)", "operator"),
        ("en", "Machine operator", "operator"),
        ("en", "checker", "checker"),
        ("en", "operator", "operator"),  # one word of one label is clear enough
        ("ur", "مشین آپریٹر", "operator"),
        ("ur", "Helper", "helper"),  # the English label works in every language
        ("sd", "چيڪر", "checker"),
    ],
)
def test_option_typed_as_number_or_label_is_accepted(
    engine: Engine, now: datetime, factory_ref: FactoryRef, lang: str, typed: str, expected: str
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="job")
    conv.type(typed)
    assert conv.events == [AnswerGiven("job", expected)]
    assert conv.last.question_id == "employment"


@pytest.mark.parametrize(
    ("lang", "typed", "expected"),
    [
        ("en", "yes", "yes"),
        ("en", "Y", "yes"),
        ("en", "no", "no"),
        ("en", "No.", "no"),
        ("ur", "haan", "yes"),
        ("ur", "ہاں", "yes"),
        ("ur", "جی", "yes"),
        ("ur", "nahi", "no"),
        ("ur", "نہیں", "no"),
        ("ur", "جی نہیں", "no"),
        ("sd", "ها", "yes"),
        ("sd", "جي", "yes"),
        ("sd", "نه", "no"),
        ("sd", "ناهي", "no"),  # Sindhi for "no"; see the dedicated test below
        ("en", "👍", "yes"),
    ],
)
def test_yes_and_no_typed_in_every_language_answer_a_yes_no_question(
    engine: Engine, now: datetime, factory_ref: FactoryRef, lang: str, typed: str, expected: str
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="payslip")
    conv.type(typed)
    assert conv.events == [AnswerGiven("payslip", expected)]
    assert conv.last.question_id == "payment_method"


@pytest.mark.parametrize(
    ("lang", "typed", "expected"),
    [
        ("sd", "ناهي", "no"),
        ("sd", "نه", "no"),
        ("sd", "خبر ناهي", "dont_know"),
        ("ur", "نہیں", "no"),
        ("ur", "پتا نہیں", "dont_know"),
        ("en", "no", "no"),
        ("en", "Don't know", "dont_know"),
    ],
)
def test_no_is_not_mistaken_for_dont_know_where_dont_know_is_offered(
    engine: Engine, now: datetime, factory_ref: FactoryRef, lang: str, typed: str, expected: str
) -> None:
    # The Sindhi "don't know" button reads "خبر ناهي" ("news is-not"); a worker typing plain
    # "ناهي" (no) means no, not "don't know".
    conv = begin(engine, now, factory_ref, lang, at="deductions")
    conv.type(typed)
    assert conv.events == [AnswerGiven("deductions", expected)]


@pytest.mark.parametrize(
    ("typed", "lang"),
    [
        ("Urdu", "ur"),
        ("sindhi", "sd"),
        ("english", "en"),
        ("اردو", "ur"),
        ("سنڌي", "sd"),
        ("3", "en"),
    ],
)
def test_language_typed_by_name_or_number_is_chosen(
    engine: Engine, now: datetime, factory_ref: FactoryRef, typed: str, lang: str
) -> None:
    conv = Conversation(engine, now, factory=factory_ref)
    conv.type(typed)
    assert conv.events == [LanguageChosen(lang)]
    assert conv.last.question_id == "consent" and conv.last.lang == lang


def test_month_typed_by_name_is_accepted(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = begin(engine, now, factory_ref, "ur", at="pay_month")
    conv.type(catalogs.get("ur").month(date(2026, 9, 1)))
    assert conv.events == [AnswerGiven("pay_month", "2026-09")]


def test_words_named_in_the_help_text_work_as_commands(catalogs: Catalogs) -> None:
    order = [
        Command.HELP,
        Command.BACK,
        Command.RESTART,
        Command.LANGUAGE,
        Command.STOP,
        Command.DELETE,
        Command.CLEAR,
    ]
    for lang in LANGS:
        bullets = tr(catalogs, lang, P.HELP).splitlines()[1:]
        words = [line.lstrip("• ").split(" – ")[0] for line in bullets]
        assert [match_command(w) for w in words] == order, lang
        assert words == list(COMMANDS[lang].values()), lang


# ---------------------------------------------------------------------------- invalid input
# (question, what to send, the message expected before the question is asked again)
INVALID_CASES: list[tuple[str, Input, str]] = [
    ("consent", Input(kind="text", text="perhaps later"), P.INVALID_YES_NO),
    ("factory", Input(kind="text", text="which one"), P.INVALID_YES_NO),
    ("job", Input(kind="text", text="tailor"), P.INVALID_CHOICE),
    ("job", Input(kind="text", text="7"), P.INVALID_CHOICE),
    ("job", Input(kind="button", payload="a:job:tailor"), P.INVALID_CHOICE),
    ("pay_month", Input(kind="text", text="last year"), P.INVALID_CHOICE),
    ("full_month", Input(kind="text", text="sometimes"), P.INVALID_YES_NO),
    ("pay_rise", Input(kind="button", payload="a:pay_rise:maybe"), P.INVALID_YES_NO),
    ("pay", Input(kind="text", text="a lot"), P.INVALID_NUMBER),
    ("pay", Input(kind="text", text="25000 30000"), P.INVALID_NUMBER),
    ("payment_method", Input(kind="button", payload="a:payment_method:_done"), P.INVALID_MULTI),
    ("payment_method", Input(kind="text", text="1, 9"), P.INVALID_MULTI),
    ("comment", Input(kind="text", text="  \u200f "), P.TEXT_EMPTY),
    ("comment", Input(kind="text", text="x" * 501), P.TEXT_TOO_LONG),
]


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(("question", "inp", "msgid"), INVALID_CASES)
def test_invalid_answer_is_refused_in_one_localised_message_with_the_question_again(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    question: str,
    inp: Input,
    msgid: str,
) -> None:
    loc = catalogs.get(lang)
    conv = Conversation(engine, now, factory=factory_ref)
    conv.press(lang)
    advance_to(conv, question)
    asked, before = conv.last, conv.state
    conv.send(inp)
    message = loc.gettext(msgid, example=loc.money(38000), max=loc.number(500))
    assert len(conv.replies) == 1
    assert conv.last.text == f"{message}\n\n{asked.text}"
    assert conv.last.buttons == asked.buttons
    assert conv.last.question_id == question
    assert conv.events == []
    assert (conv.state.step, conv.state.answers, conv.state.history) == (
        before.step,
        before.answers,
        before.history,
    )
    if lang != "en":
        assert ARABIC_SCRIPT.search(message)


@pytest.mark.parametrize(
    ("phone", "lang"), [(None, None), ("ur-PK", "ur"), ("sd", "sd"), ("fr-FR", None)]
)
def test_invalid_answer_to_the_language_question_is_refused_in_the_phones_language(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    survey: Survey,
    phone: str | None,
    lang: str | None,
) -> None:
    lang = lang or survey.default_language
    conv = Conversation(engine, now, factory=factory_ref, client_language=phone)
    asked = conv.last
    assert asked.question_id == "language"  # the phone's language is a guess, not a choice
    conv.type("Klingon")
    assert conv.replies == [
        Reply(
            text=f"{tr(catalogs, lang, P.INVALID_CHOICE)}\n\n{asked.text}",
            buttons=asked.buttons,
            expects="choice",
            question_id="language",
            lang=lang,
            rtl=lang != "en",
        )
    ]
    assert conv.events == [] and not conv.state.lang_chosen


@pytest.mark.parametrize("lang", LANGS)
def test_third_invalid_answer_in_a_row_mentions_help(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs, lang: str
) -> None:
    stuck = tr(catalogs, lang, P.STILL_STUCK)
    conv = begin(engine, now, factory_ref, lang, at="job")
    asked = conv.last.text
    for _ in range(2):
        conv.type("tailor")
        assert stuck not in conv.text
    conv.type("tailor")
    assert conv.text == f"{tr(catalogs, lang, P.INVALID_CHOICE)}\n{stuck}\n\n{asked}"
    assert COMMANDS[lang]["help"] in stuck
    conv.press("helper")
    conv.type("tailor")  # a valid answer started a new count
    assert stuck not in conv.text


# ------------------------------------------------------------------------- number validation
@pytest.mark.parametrize(
    ("typed", "msgid", "params"),
    [
        ("500", P.NUMBER_TOO_SMALL, {"min": 1000}),
        ("999", P.NUMBER_TOO_SMALL, {"min": 1000}),
        ("0", P.NUMBER_TOO_SMALL, {"min": 1000}),
        ("-38000", P.NUMBER_TOO_SMALL, {"min": 1000}),
        ("500001", P.NUMBER_TOO_LARGE, {"max": 500000}),
        ("6 lakh", P.NUMBER_TOO_LARGE, {"max": 500000}),
    ],
)
@pytest.mark.parametrize("lang", LANGS)
def test_amount_outside_the_allowed_range_is_refused_with_the_limit(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    typed: str,
    msgid: str,
    params: dict[str, int],
) -> None:
    loc = catalogs.get(lang)
    conv = begin(engine, now, factory_ref, lang, at="pay")
    asked = conv.last.text
    conv.type(typed)
    message = loc.gettext(msgid, **{k: loc.money(v) for k, v in params.items()})
    assert conv.text == f"{message}\n\n{asked}"
    assert conv.events == [] and "pay" not in conv.state.answers


@pytest.mark.parametrize("typed", ["15000", "38000", "120000"])
def test_plausible_amount_is_stored_without_confirmation(
    engine: Engine, now: datetime, factory_ref: FactoryRef, typed: str
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    conv.type(typed)
    assert conv.events == [AnswerGiven("pay", int(typed))]


@pytest.mark.parametrize("typed", ["1000", "4000", "14999", "120001", "500000"])
def test_implausible_amount_is_confirmed_before_it_is_stored(
    engine: Engine, now: datetime, factory_ref: FactoryRef, typed: str
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    conv.type(typed)
    assert conv.events == []
    assert conv.state.phase == "confirm_number"
    assert conv.last.text == f"You wrote PKR {int(typed):,}. Is that correct?"
    assert [b.payload for b in conv.last.buttons] == ["a:pay:_ok", "a:pay:_retry"]
    conv.press("_ok")
    assert conv.events == [AnswerGiven("pay", int(typed))]
    assert conv.last.question_id == "pay_rise"


@pytest.mark.parametrize(("lang", "yes"), [("en", "yes"), ("ur", "جی ہاں"), ("sd", "ها")])
def test_implausible_amount_confirmed_by_a_typed_yes_is_stored(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    yes: str,
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="pay")
    conv.type("۴۰۰۰")
    assert conv.last.text == tr(
        catalogs, lang, P.CONFIRM_NUMBER, value=catalogs.get(lang).money(4000)
    )
    conv.type(yes)
    assert conv.events == [AnswerGiven("pay", 4000)]


@pytest.mark.parametrize("refusal", ["no", "نہیں", "a:pay:_retry"])
def test_refusing_the_confirmation_asks_for_the_amount_again(
    engine: Engine, now: datetime, factory_ref: FactoryRef, refusal: str
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    asked = conv.last
    conv.type("4000")
    if refusal.startswith("a:"):
        conv.press(refusal)
    else:
        conv.type(refusal)
    assert conv.events == []
    assert conv.replies == [asked]
    assert (conv.state.phase, conv.state.pending) == ("asking", None)
    assert "pay" not in conv.state.answers
    conv.type("38000")
    assert conv.events == [AnswerGiven("pay", 38000)]


def test_typing_a_new_amount_instead_of_confirming_replaces_the_old_one(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    conv.type("4000")
    conv.type("40,000")
    assert conv.events == [AnswerGiven("pay", 40000)]
    assert conv.last.question_id == "pay_rise"


def test_typing_another_implausible_amount_while_confirming_asks_to_confirm_that_one(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    conv.type("4000")
    conv.type("200000")
    assert conv.last.text == "You wrote PKR 200,000. Is that correct?"
    conv.press("_ok")
    assert conv.events == [AnswerGiven("pay", 200000)]


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("500", "That is too small. Please write an amount of at least PKR 1,000."),
        ("600000", "That is too large. Please write an amount of at most PKR 500,000."),
    ],
)
def test_amount_out_of_range_typed_while_confirming_is_refused_with_the_limit(
    engine: Engine, now: datetime, factory_ref: FactoryRef, typed: str, message: str
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    asked = conv.last
    conv.type("4000")
    conv.type(typed)  # instead of yes/no, another amount: out of range this time
    assert conv.text == f"{message}\n\n{asked.text}"
    assert conv.last.question_id == "pay"
    assert conv.events == [] and "pay" not in conv.state.answers


def test_unclear_reply_to_the_confirmation_asks_yes_or_no_again(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    conv.type("4000")
    confirm = conv.last
    conv.type("hmm")
    assert conv.text == f"Please answer yes or no.\n\n{confirm.text}"
    assert conv.last.buttons == confirm.buttons
    assert conv.state.phase == "confirm_number" and conv.events == []


# -------------------------------------------------------------------------------- skip logic
def test_part_month_skips_the_pay_question(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="full_month")
    conv.press("no")
    assert conv.last.question_id == "pay_rise"
    finish(conv)
    assert "pay" not in conv.answers_given()
    assert not any(isinstance(e, AnswerGiven) and e.question_id == "pay" for e in conv.all_events)
    assert conv.all_events[-1] == ResponseCompleted(contact_opt_in=True)


def test_changing_full_month_to_yes_after_going_back_asks_the_pay(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="full_month")
    conv.press("no")
    conv.type("back")
    assert conv.events == [AnswerRetracted("full_month")]
    conv.press("yes")
    assert conv.last.question_id == "pay"


# ---------------------------------------------------------------------------------- commands
HELP_STEPS = ["consent", "job", "pay", "payment_method", "confirm_number"]


def _reach(conv: Conversation, step: str) -> None:
    if step == "confirm_number":
        advance_to(conv, "pay")
        conv.type("4000")
    elif step == "payment_method":
        advance_to(conv, "payment_method")
        conv.tick("bank")
    else:
        advance_to(conv, step)


@pytest.mark.parametrize("step", HELP_STEPS)
@pytest.mark.parametrize("lang", LANGS)
def test_help_explains_the_commands_and_asks_the_same_question_again(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    step: str,
) -> None:
    conv = Conversation(engine, now, factory=factory_ref)
    conv.press(lang)
    _reach(conv, step)
    asked, before = conv.last, without_last_seen(conv.state)
    conv.type(COMMANDS[lang]["help"])
    assert len(conv.replies) == 1
    where = tr(catalogs, lang, P.HELP_WHERE_SINDH)  # the factory is in Sindh; no round text
    assert conv.last.text == f"{tr(catalogs, lang, P.HELP)}\n\n{where}\n\n{asked.text}"
    assert (conv.last.buttons, conv.last.question_id) == (asked.buttons, asked.question_id)
    assert conv.events == []
    assert without_last_seen(conv.state) == before


@pytest.mark.parametrize("lang", LANGS)
def test_back_retracts_the_last_answer_and_asks_that_question_again(
    engine: Engine, now: datetime, factory_ref: FactoryRef, lang: str
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="employment")
    conv.type(COMMANDS[lang]["back"])
    assert conv.events == [AnswerRetracted("job")]
    assert conv.last.question_id == "job"
    assert "job" not in conv.state.answers and conv.state.history == []
    conv.press("operator")
    assert conv.events == [AnswerGiven("job", "operator")]
    assert conv.last.question_id == "employment"


def test_back_twice_retracts_two_answers_in_reverse_order(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay_rise")
    conv.type("back")
    assert conv.events == [AnswerRetracted("pay")]
    assert conv.last.question_id == "pay"
    conv.type("back")
    assert conv.events == [AnswerRetracted("full_month")]
    conv.press("yes")
    conv.type("39000")
    assert conv.events == [AnswerGiven("pay", 39000)]
    assert conv.state.answers["full_month"] == "yes"


def test_back_clears_ticks_of_a_multiple_choice(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="payment_method")
    conv.tick("cash")
    conv.type("back")
    assert conv.events == [AnswerRetracted("payslip")]
    conv.press("yes")
    assert all(not b.label.startswith("✓") for b in conv.last.buttons)


@pytest.mark.parametrize("lang", LANGS)
def test_back_at_the_first_question_says_it_is_the_first(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs, lang: str
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="job")
    asked = conv.last
    conv.type(COMMANDS[lang]["back"])
    assert conv.text == f"{tr(catalogs, lang, P.NOTHING_TO_GO_BACK_TO)}\n\n{asked.text}"
    assert conv.last.buttons == asked.buttons
    assert conv.events == []


@pytest.mark.parametrize("lang", LANGS)
def test_restart_clears_the_answers_and_starts_over(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs, lang: str
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="pay")
    conv.type(COMMANDS[lang]["restart"])
    assert conv.events == [AnswersCleared()]
    assert conv.text.startswith(tr(catalogs, lang, P.RESTARTED))
    assert conv.last.question_id == "consent" and conv.last.lang == lang
    assert conv.state.answers == {} and conv.state.history == [] and not conv.state.started
    conv.press("yes")
    conv.press("yes")
    assert conv.events == [ResponseStarted(factory=factory_ref, lang=lang)]
    assert conv.last.question_id == "job"


def test_restart_before_the_response_started_clears_nothing(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="consent")
    conv.type("restart")
    assert conv.events == []
    assert conv.last.question_id == "consent"


@pytest.mark.parametrize("lang", LANGS)
def test_switching_language_mid_survey_continues_at_the_same_question(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs, lang: str
) -> None:
    target = OTHER_LANG[lang]
    loc = catalogs.get(target)
    conv = begin(engine, now, factory_ref, lang, at="pay_month")
    answers = dict(conv.state.answers)
    conv.type(COMMANDS[lang]["language"])
    assert conv.last.question_id == "language"
    conv.press(target)
    assert conv.events == [LanguageChosen(target)]
    assert conv.last.question_id == "pay_month"
    assert conv.last.lang == target
    assert [b.label for b in conv.last.buttons] == [
        loc.month(date(2026, 10, 1)),
        loc.month(date(2026, 9, 1)),
    ]
    assert conv.state.answers == answers
    finish(conv)
    assert conv.all_events[-1] == ResponseCompleted(contact_opt_in=True)
    assert all(r.lang == target for r in conv.all_replies[-12:])


def test_switching_to_sindhi_mid_survey_speaks_sindhi_from_then_on(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="full_month")
    conv.type("language")
    conv.press("sd")
    switched = len(conv.all_replies) - 1
    assert ARABIC_SCRIPT.search(conv.last.text)
    finish(conv)
    for reply in conv.all_replies[switched:]:
        assert reply.lang == "sd" and ARABIC_SCRIPT.search(reply.text)
        assert not PLACEHOLDER.search(reply.text)


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize(
    "next_input",
    [
        Input(kind="text", text="salaam"),
        Input(kind="button", payload="a:job:helper"),
        Input(kind="start"),
    ],
)
def test_stop_pauses_and_any_next_message_resumes_with_the_same_question(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    next_input: Input,
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="job")
    asked, answers = conv.last, dict(conv.state.answers)
    conv.type(COMMANDS[lang]["stop"])
    assert conv.state.phase == "paused"
    assert conv.text == tr(catalogs, lang, P.PAUSED)
    assert conv.events == []
    conv.send(next_input)
    assert conv.state.phase == "asking"
    assert conv.last.question_id == "job" and conv.last.buttons == asked.buttons
    assert conv.last.text.endswith(asked.text)
    assert conv.events == []
    assert conv.state.answers == answers


def test_message_after_stop_is_welcomed_back(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = begin(engine, now, factory_ref, "ur", at="job")
    asked = conv.last
    conv.type("رکیں")
    conv.type("سلام")
    assert conv.text == f"{tr(catalogs, 'ur', P.WELCOME_BACK)}\n\n{asked.text}"


def test_stop_while_confirming_an_amount_resumes_with_the_confirmation(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    conv.type("4000")
    confirm = conv.last
    conv.type("stop")
    conv.type("hello")
    assert conv.last.text.endswith(confirm.text)
    assert conv.last.buttons == confirm.buttons
    conv.press("_ok")
    assert conv.events == [AnswerGiven("pay", 4000)]


@pytest.mark.parametrize(("lang", "yes"), [("en", "x:delete:yes"), ("ur", "جی ہاں"), ("sd", "ها")])
def test_delete_confirmed_erases_everything_and_says_so(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    yes: str,
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="pay_rise")
    conv.type(COMMANDS[lang]["delete"])
    assert conv.state.phase == "confirm_delete"
    assert conv.text == tr(catalogs, lang, P.CONFIRM_DELETE)
    assert [b.payload for b in conv.last.buttons] == ["x:delete:yes", "x:delete:no"]
    assert conv.events == []
    if yes.startswith("x:"):
        conv.press(yes)
    else:
        conv.type(yes)
    assert conv.events == [ResponseDeleted()]
    assert conv.text == tr(catalogs, lang, P.DELETED)
    assert conv.state.answers == {} and conv.state.history == []
    assert not conv.state.started and conv.state.pending is None
    # Writing again starts over, at consent, without a response until the worker agrees.
    conv.type("hello")
    assert conv.last.question_id == "consent" and conv.last.lang == lang
    assert conv.events == []


@pytest.mark.parametrize(("lang", "no"), [("en", "x:delete:no"), ("ur", "نہیں"), ("sd", "نه")])
def test_delete_refused_erases_nothing_and_asks_the_question_again(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    no: str,
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="pay_rise")
    asked, before = conv.last, without_last_seen(conv.state)
    conv.type(COMMANDS[lang]["delete"])
    if no.startswith("x:"):
        conv.press(no)
    else:
        conv.type(no)
    assert conv.events == []
    assert conv.text == f"{tr(catalogs, lang, P.DELETE_CANCELLED)}\n\n{asked.text}"
    assert conv.last.buttons == asked.buttons
    assert without_last_seen(conv.state) == before
    conv.press("yes")
    assert conv.events == [AnswerGiven("pay_rise", "yes")]


def test_delete_with_nothing_saved_says_there_is_nothing(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="consent")
    asked = conv.last
    conv.type("delete")
    assert conv.text == f"There are no saved answers to erase.\n\n{asked.text}"
    assert conv.events == [] and conv.state.phase == "asking"


def test_back_while_confirming_delete_after_an_implausible_amount_keeps_the_chat_working(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    conv.type("4000")
    conv.type("delete")
    conv.type("back")
    assert conv.events == [AnswerRetracted("full_month")]
    asked = conv.last
    conv.type("stop")
    conv.type("hello")  # resuming must not try to confirm an amount that is no longer pending
    assert conv.last.question_id == "full_month"
    assert conv.last.text.endswith(asked.text)


# ---------------------------------------------------------------------------- media and time
MEDIA_STEPS = [
    "language",
    "consent",
    "factory",
    "job",
    "employment",
    "pay_month",
    "full_month",
    "pay",
    "pay_rise",
    "payslip",
    "payment_method",
    "deductions",
    "gender",
    "comment",
    "contact_opt_in",
    "confirm_number",
    "confirm_delete",
]


@pytest.mark.parametrize("media", ["voice", "sticker"])
@pytest.mark.parametrize("step", MEDIA_STEPS)
def test_voice_note_or_sticker_gets_a_polite_reply_and_the_same_question(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    step: str,
    media: str,
) -> None:
    conv = Conversation(engine, now, factory=factory_ref, client_language="ur")
    lang = "ur"
    if step != "language":
        lang = "sd"
        conv.press(lang)
        if step == "confirm_delete":
            advance_to(conv, "gender")
            conv.type(COMMANDS[lang]["delete"])
        else:
            _reach(conv, step)
    asked, before = conv.last, without_last_seen(conv.state)
    conv.send_media(media)
    assert len(conv.replies) == 1
    assert conv.last.text == f"{tr(catalogs, lang, P.MEDIA_NOT_UNDERSTOOD)}\n\n{asked.text}"
    assert conv.last.buttons == asked.buttons
    assert conv.events == []
    assert without_last_seen(conv.state) == before
    assert conv.state.last_seen == now


def test_coming_back_after_two_days_is_welcomed_with_the_same_question(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = begin(engine, now, factory_ref, "ur", at="payslip")
    asked, before = conv.last, without_last_seen(conv.state)
    conv.send(Input(kind="start"), after=timedelta(days=2))
    assert conv.text == f"{tr(catalogs, 'ur', P.WELCOME_BACK)}\n\n{asked.text}"
    assert conv.last.buttons == asked.buttons
    assert conv.events == [] and without_last_seen(conv.state) == before


def test_a_message_after_two_days_is_welcomed_and_then_handled(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="payslip")
    asked = conv.last
    conv.type("salaam", after=timedelta(days=2))
    assert (
        conv.text == f"Welcome back. Let's continue where you stopped.\n\n"
        f"Please answer yes or no.\n\n{asked.text}"
    )
    conv.press("yes", after=timedelta(days=2))
    assert conv.text.startswith("Welcome back.")
    assert conv.events == [AnswerGiven("payslip", "yes")]


def test_coming_back_within_hours_is_not_welcomed_back(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="payslip")
    asked = conv.last
    conv.send(Input(kind="start"), after=timedelta(hours=2))
    assert conv.replies == [asked]


def test_months_offered_follow_karachi_time_not_utc(
    engine: Engine, factory_ref: FactoryRef
) -> None:
    # 30 November 20:00 UTC is already 1 December in Karachi: last month is November.
    conv = begin(
        engine, datetime(2026, 11, 30, 20, 0, tzinfo=UTC), factory_ref, "en", at="pay_month"
    )
    assert [b.label for b in conv.last.buttons] == ["November 2026", "October 2026"]


def test_month_button_pressed_after_the_month_turned_records_the_month_it_showed(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay_month")
    shown = {b.payload: b.label for b in conv.last.buttons}
    assert shown["a:pay_month:2026-10"] == "October 2026"
    # The worker presses "October 2026" on 1 December, on the message sent in November.
    conv.press("2026-10", after=timedelta(days=2))
    recorded = [e.value for e in conv.events if isinstance(e, AnswerGiven)]
    assert recorded in ([], ["2026-10"]), f"pressed 'October 2026', recorded {recorded}"
    if not recorded:
        assert conv.last.question_id == "pay_month"


# ------------------------------------------------------------------------------ old buttons
@pytest.mark.parametrize(
    "payload",
    [
        "a:job:operator",
        "a:consent:no",
        "a:factory:no",
        "a:language:sd",
        "t:payment_method:cash",
        "a:payment_method:_done",
        "a:pay:_ok",
        "x:delete:yes",
        "c:nonsense",
        "a:pay_rise",
        "a:nope:yes",
    ],
)
def test_old_or_unknown_button_is_harmless_and_asks_the_current_question_again(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs, payload: str
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay_rise")
    asked, before = conv.last, without_last_seen(conv.state)
    conv.press_stale(payload)
    assert conv.events == []
    assert without_last_seen(conv.state) == before
    if payload in ("a:job:operator", "a:pay:_ok"):  # a question answered already: it says so
        (reply,) = conv.replies
        assert reply.text == tr(catalogs, "en", P.ALREADY_ANSWERED) + "\n\n" + asked.text
        assert reply.buttons == asked.buttons
    else:
        assert conv.replies == [asked]


def test_old_button_during_a_confirmation_asks_for_the_confirmation_again(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    conv.type("4000")
    confirm = conv.last
    conv.press_stale("a:full_month:no")
    (reply,) = conv.replies
    assert reply.text.endswith(confirm.text) and reply.buttons == confirm.buttons
    assert reply.text.startswith("You answered that question already.") and conv.events == []
    assert conv.state.answers["full_month"] == "yes"


def test_old_button_after_completion_changes_nothing(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="gender")
    finish(conv)
    before = without_last_seen(conv.state)
    conv.press_stale("a:gender:man")
    assert conv.events == []
    assert conv.text == tr(catalogs, "en", P.ALREADY_DONE)
    assert without_last_seen(conv.state) == before


# ------------------------------------------------------------------- after the survey is done
def test_opening_the_chat_again_after_completion_does_not_reopen_the_survey(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="gender")
    finish(conv)
    conv.send(Input(kind="start"))  # Telegram's Start button, without a code
    assert conv.state.phase == "done"
    assert conv.text == tr(catalogs, "en", P.ALREADY_DONE)
    assert conv.events == []


def test_changing_language_after_completion_does_not_reopen_the_survey(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="gender")
    finish(conv)
    conv.type("language")
    conv.press("sd")
    assert conv.state.lang == "sd"
    assert conv.state.phase == "done"
    assert conv.last.question_id is None
    assert not any(isinstance(e, AnswerGiven | ResponseCompleted) for e in conv.events)


def test_restart_after_completion_asks_first_and_keeps_the_answers_until_new_ones_finish(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="gender")
    finish(conv)
    first = dict(conv.state.answers)
    conv.type("restart")
    assert conv.events == [] and conv.state.phase == "confirm_restart"
    assert conv.last.text == P.CONFIRM_RESTART
    conv.press("x:restart:no")
    assert conv.events == [] and conv.state.phase == "done"
    assert conv.text == P.RESTART_CANCELLED and conv.state.answers == first

    conv.type("restart")
    conv.type("yes")  # typed, like the button
    assert conv.last.question_id == "consent" and conv.state.redo
    assert conv.events == []  # nothing stored is touched yet
    conv.press("yes")
    assert conv.last.question_id == "factory" or conv.last.question_id == "job"
    # Answering again stores nothing until the end: "stop" now leaves the first answers.
    seen: list[Event] = []
    while conv.state.phase != "done":
        step = conv.state.step
        q = engine.survey.question(str(step))
        if q.type == "number":
            conv.type("41000")
            if conv.state.phase == "confirm_number":
                conv.press("_ok")
        elif q.type == "text":
            conv.press("_skip")
        elif q.type == "multiple":
            conv.tick(q.choices[0].id)
            conv.press("_done")
        else:
            conv.press(conv.last.buttons[0].payload)
        if conv.state.phase != "done":
            seen.extend(conv.events)
    assert not any(isinstance(e, AnswerGiven | AnswerRetracted | AnswersCleared) for e in seen)
    final = conv.events
    assert isinstance(final[0], AnswersCleared) and isinstance(final[-1], ResponseCompleted)
    given = {e.question_id: e.value for e in final if isinstance(e, AnswerGiven)}
    assert given and given == {
        q: v for q, v in conv.state.answers.items() if q in conv.state.history
    }
    assert not conv.state.redo


def test_restart_while_answering_again_keeps_the_finished_answers(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="gender")
    finish(conv)
    conv.type("restart")
    conv.press("x:restart:yes")
    conv.press("yes")
    conv.type("restart")  # a second time, halfway through: still nothing stored changes
    assert conv.events == [] and conv.state.redo and conv.last.question_id == "consent"
    conv.type("stop")
    assert conv.events == [] and conv.state.phase == "paused"


def test_a_poster_of_the_same_round_after_finishing_does_not_wipe_the_answers(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="gender")
    finish(conv)
    conv.send(Input(kind="start", factory=factory_ref))
    assert conv.events == [] and conv.state.phase == "done"
    assert conv.text == P.ALREADY_DONE


# ------------------------------------------------------------------- links, codes, consent
def test_deep_link_asks_language_then_consent_then_confirms_the_factory(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = Conversation(engine, now, factory=factory_ref)
    assert conv.events == []
    assert [b.payload for b in conv.last.buttons] == [
        "a:language:ur",
        "a:language:sd",
        "a:language:en",
    ]
    conv.press("en")
    assert conv.last.question_id == "consent"
    assert [b.label for b in conv.last.buttons] == ["I agree", "No, thanks"]
    conv.press("yes")
    assert conv.last.text == "Do you work at this factory: Korangi Knitwear?"
    assert conv.events == []
    conv.press("yes")
    assert conv.events == [ResponseStarted(factory=factory_ref, lang="en")]
    assert conv.sprint.echo == "Factory: Korangi Knitwear"
    assert not engine.expects_factory_code(conv.state)


def test_other_factory_asks_for_the_code_and_accepts_a_known_one(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    other = FactoryRef(code="ZX81QQ", name="Site Denim", region="sindh", round_id=1, factory_id=2)
    conv = begin(engine, now, factory_ref, "en", at="factory")
    conv.press("no")
    assert conv.last.text == "Please type the code printed on the poster. Example: K7M4QP"
    assert conv.last.expects == "text" and conv.state.factory is None
    assert engine.expects_factory_code(conv.state)
    conv.type("zx81qq", factory=other)  # the host looked the code up
    assert conv.events == [ResponseStarted(factory=other, lang="en")]
    assert conv.last.question_id == "job"
    assert conv.sprint.echo == "Factory: Site Denim"


@pytest.mark.parametrize("lang", LANGS)
def test_unknown_factory_code_is_refused_and_asked_again(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs, lang: str
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="factory")
    conv.press("no")
    asked = conv.last
    conv.type("QQQQ99", factory=None)
    assert conv.text == f"{tr(catalogs, lang, P.UNKNOWN_FACTORY_CODE)}\n\n{asked.text}"
    assert conv.events == [] and conv.state.factory is None


def test_link_with_an_unknown_code_says_so_before_the_first_question(
    engine: Engine, now: datetime, catalogs: Catalogs
) -> None:
    state = engine.new_state(lang="ur")
    sprint = engine.resume(state, Input(kind="start", unknown_code=True), now)
    assert sprint.replies[0].text.startswith(tr(catalogs, "ur", P.UNKNOWN_FACTORY_CODE))
    assert sprint.replies[-1].question_id == "language"
    assert sprint.events == []


def test_language_picked_outside_the_chat_skips_the_language_question(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    state = engine.new_state(factory_ref)
    sprint = engine.resume(
        state,
        Input(kind="start", factory=factory_ref, client_language="sd", language_chosen=True),
        now,
    )
    assert sprint.events == [LanguageChosen("sd")]
    assert sprint.replies[-1].question_id == "consent" and sprint.replies[-1].lang == "sd"


def test_without_a_link_the_worker_is_asked_for_the_code(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = Conversation(engine, now)
    conv.press("en")
    conv.press("yes")
    assert conv.last.question_id == "factory" and conv.last.expects == "text"
    conv.type("K7M4QP", factory=factory_ref)
    assert conv.events == [ResponseStarted(factory=factory_ref, lang="en")]


@pytest.mark.parametrize(("lang", "no"), [("en", "a:consent:no"), ("ur", "نہیں"), ("sd", "نه")])
def test_declined_consent_saves_nothing_and_a_later_message_starts_over_at_consent(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    survey: Survey,
    catalogs: Catalogs,
    lang: str,
    no: str,
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="consent")
    consent = conv.last
    if no.startswith("a:"):
        conv.press(no)
    else:
        conv.type(no)
    assert conv.state.phase == "declined"
    assert conv.text == tr(catalogs, lang, survey.declined)
    assert conv.state.answers == {}
    conv.type("hello again")
    assert conv.last == consent
    assert not any(isinstance(e, ResponseStarted | AnswerGiven) for e in conv.all_events)
    conv.press("yes")
    conv.press("yes")
    assert conv.events == [ResponseStarted(factory=factory_ref, lang=lang)]


# ------------------------------------------------------------------------- multiple choice
def test_ticking_options_marks_them_and_edits_the_question_in_place(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="payment_method")
    assert conv.last.expects == "multi"
    conv.tick("cash")
    assert conv.last.replaces_previous
    assert [b.label for b in conv.last.buttons] == [
        "✓ Cash",
        "Bank account",
        "Mobile wallet",
        "Done",
    ]
    conv.tick("wallet")
    conv.tick("cash")  # a second press unticks
    assert [b.label for b in conv.last.buttons] == [
        "Cash",
        "Bank account",
        "✓ Mobile wallet",
        "Done",
    ]
    assert conv.events == [] and len(conv.replies) == 1
    conv.tick("bank")
    conv.press("_done")
    assert conv.events == [AnswerGiven("payment_method", ["bank", "wallet"])]
    assert conv.sprint.echo == "Bank account and Mobile wallet"


def test_ticks_are_shown_in_urdu_too(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = begin(engine, now, factory_ref, "ur", at="payment_method")
    conv.tick("bank")
    assert conv.last.buttons[1].label == "✓ " + tr(catalogs, "ur", "Bank account")
    conv.type("ہو گیا")  # "Done", typed
    assert conv.events == [AnswerGiven("payment_method", ["bank"])]


def test_done_with_nothing_ticked_is_refused(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="payment_method")
    asked = conv.last
    conv.press("_done")
    assert conv.text == (
        "Press the buttons you want, then press “Done”. Or type the numbers, like: 1, 3\n\n"
        + asked.text
    )
    assert conv.events == [] and conv.state.step == "payment_method"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("1,3", ["cash", "wallet"]),
        ("۱،۳", ["cash", "wallet"]),
        ("3 1", ["cash", "wallet"]),
        ("2", ["bank"]),
        ("Cash", ["cash"]),
    ],
)
def test_options_typed_as_numbers_answer_a_multiple_choice(
    engine: Engine, now: datetime, factory_ref: FactoryRef, typed: str, expected: list[str]
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="payment_method")
    conv.type(typed)
    assert conv.events == [AnswerGiven("payment_method", expected)]


def test_optional_comment_can_be_skipped_by_button_or_word(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = begin(engine, now, factory_ref, "ur", at="comment")
    conv.type(tr(catalogs, "ur", P.BUTTON_SKIP))
    assert conv.events == [] and "comment" not in conv.state.answers
    assert conv.last.question_id == "contact_opt_in"


# ---------------------------------------------------------- storage, purity and channel limits
def tour(lang: str) -> list[tuple[str, str]]:
    """A conversation that uses most of what the engine can do."""
    words, other = COMMANDS[lang], OTHER_LANG[lang]
    return [
        ("press", lang),
        ("type", words["help"]),
        ("press", "yes"),
        ("press", "yes"),
        ("press", "helper"),
        ("type", words["back"]),
        ("type", "۲"),
        ("press", "contractor"),
        ("media", "sticker"),
        ("press", "2026-10"),
        ("press", "yes"),
        ("type", "4000"),
        ("type", "no"),
        ("type", "۳۸ ہزار"),
        ("type", words["stop"]),
        ("type", "hello"),
        ("press", "dont_know"),
        ("type", words["delete"]),
        ("press", "x:delete:no"),
        ("press", "yes"),
        ("type", words["language"]),
        ("press", other),
        ("tick", "cash"),
        ("tick", "bank"),
        ("tick", "cash"),
        ("press", "_done"),
        ("press", "no"),
        ("type", "tailor"),
        ("press", "man"),
        ("type", "Supervisor shouts at us."),
        ("press", "no"),
        ("type", "hi"),
    ]


def play(conv: Conversation, steps: list[tuple[str, str]], reload: bool = False) -> None:
    for how, value in steps:
        if reload:  # what the database does between two messages
            conv.state = ConversationState.from_json(conv.state.to_json())
        if how == "press":
            conv.press(value)
        elif how == "tick":
            conv.tick(value)
        elif how == "media":
            conv.send_media(value)
        else:
            conv.type(value)


@pytest.mark.parametrize("lang", LANGS)
def test_tour_of_features_ends_with_the_expected_answers(
    engine: Engine, now: datetime, factory_ref: FactoryRef, lang: str
) -> None:
    conv = Conversation(engine, now, factory=factory_ref)
    play(conv, tour(lang))
    assert conv.state.phase == "done"
    assert conv.state.lang == OTHER_LANG[lang]
    assert conv.state.answers == {
        "consent": "yes",
        "job": "operator",
        "employment": "contractor",
        "pay_month": "2026-10",
        "full_month": "yes",
        "pay": 38000,
        "pay_rise": "dont_know",
        "payslip": "yes",
        "payment_method": ["bank"],
        "deductions": "no",
        "gender": "man",
        "comment": "Supervisor shouts at us.",
        "contact_opt_in": "no",
    }
    assert conv.all_events.count(ResponseCompleted(contact_opt_in=False)) == 1


@pytest.mark.parametrize("lang", LANGS)
def test_state_survives_json_at_every_step_and_the_conversation_continues_identically(
    engine: Engine, now: datetime, factory_ref: FactoryRef, lang: str
) -> None:
    straight = Conversation(engine, now, factory=factory_ref)
    play(straight, tour(lang))
    reloaded = Conversation(engine, now, factory=factory_ref)
    play(reloaded, tour(lang), reload=True)
    assert len(straight.sprints) == len(reloaded.sprints)
    for a, b in zip(straight.sprints, reloaded.sprints, strict=True):
        assert ConversationState.from_json(a.state.to_json()) == a.state
        assert (a.replies, a.events, a.echo) == (b.replies, b.events, b.echo)
        assert a.state == b.state
    assert type(reloaded.state.answers["pay"]) is int


@pytest.mark.parametrize("lang", LANGS)
def test_resume_does_not_change_the_state_it_was_given(
    engine: Engine, now: datetime, factory_ref: FactoryRef, lang: str
) -> None:
    conv = Conversation(engine, now, factory=factory_ref)
    for step in tour(lang):
        given_state = conv.state
        before = given_state.model_dump()
        play(conv, [step])
        assert given_state.model_dump() == before
        assert conv.state is not given_state
        # The same input on the same state gives the same result: nothing hidden changed.
        again = engine.resume(given_state, _input_of(conv, step, given_state), conv.now)
        assert (again.replies, again.events, again.state) == (
            conv.sprint.replies,
            conv.sprint.events,
            conv.state,
        )


def _input_of(conv: Conversation, step: tuple[str, str], state: ConversationState) -> Input:
    how, value = step
    if how == "press":
        payload = value if ":" in value else answer_payload(str(state.step), value)
        return Input(kind="button", payload=payload)
    if how == "tick":
        return Input(kind="button", payload=toggle_payload(str(state.step), value))
    if how == "media":
        return Input(kind="media", media=value)
    return Input(kind="text", text=value)


@pytest.mark.parametrize("lang", LANGS)
def test_every_button_payload_is_ascii_and_fits_telegram(
    engine: Engine, now: datetime, factory_ref: FactoryRef, lang: str
) -> None:
    conv = Conversation(engine, now, factory=factory_ref)
    play(conv, tour(lang))
    happy = begin(engine, now, factory_ref, lang, at="pay")
    happy.type("4000")
    happy.press("_ok")
    finish(happy)
    payloads = all_payloads(conv.all_replies) + all_payloads(happy.all_replies)
    assert {"x:delete:yes", "a:pay:_ok", "t:payment_method:cash", "a:comment:_skip"} <= set(
        payloads
    )
    for payload in payloads:
        assert payload.isascii() and len(payload.encode()) <= 64, payload


# ------------------------------------------------------------------------ property: anything
QUESTION_IDS = [
    "language",
    "consent",
    "factory",
    "job",
    "pay_month",
    "full_month",
    "pay",
    "payment_method",
    "comment",
    "contact_opt_in",
    "delete",
    "",
]
COMMAND_TEXTS = [w for words in COMMANDS.values() for w in words.values()] + [
    "/start",
    "/help@WageCheckBot",
    "HELP",
    "Back.",
]
YES_NO_TEXTS = [
    "yes",
    "no",
    "haan",
    "nahi",
    "ہاں",
    "نہیں",
    "جی",
    "ها",
    "نه",
    "ناهي",
    "پتا نہیں",
    "خبر ناهي",
    "?",
    "👍",
    "Don't know",
]
DIGITS = "0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹"
AMOUNTS = ["4000", "38000", "۳۸٬۰۰۰", "500", "600000", "38k", "Rs 38,000/-", "۱،۳", "1,3", "2"]

digit_strings = st.text(alphabet=DIGITS + ",٬، .k-", min_size=1, max_size=12)
junk_payloads = st.one_of(
    st.text(max_size=80),
    st.builds(
        "{}:{}:{}".format,
        st.sampled_from(["a", "t", "x", "c", ""]),
        st.sampled_from(QUESTION_IDS),
        st.text(max_size=20),
    ),
    st.sampled_from(
        [
            "c:help",
            "c:back",
            "c:bogus",
            "x:delete:yes",
            "x:delete:maybe",
            "t:job:helper",
            "a::",
            "a:pay:_ok",
            "a:pay_month:m9",
            "a:language:nl",
        ]
    ),
)
GAPS = [timedelta(0), timedelta(minutes=1), timedelta(hours=7), timedelta(days=3)]
# "answer" is what a cooperative worker does (so that runs get deep into the survey).
KINDS = [
    "answer",
    "answer",
    "answer",
    "answer",
    "answer",
    "button",
    "button",
    "text",
    "digits",
    "command",
    "yes_no",
    "amount",
    "junk",
    "media",
    "start",
    "code",
]


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), via_link=st.booleans())
def test_any_sequence_of_inputs_gets_a_reply_and_leaves_a_storable_state(
    engine: Engine, now: datetime, factory_ref: FactoryRef, data: st.DataObject, via_link: bool
) -> None:
    sprint = engine.start(now, factory=factory_ref if via_link else None)
    state, moment = sprint.state, now
    for _ in range(data.draw(st.integers(min_value=1, max_value=30), label="steps")):
        buttons = all_payloads(sprint.replies)
        kind = data.draw(st.sampled_from(KINDS), label="kind")
        expects = sprint.replies[-1].expects
        if kind == "answer" and state.phase == "confirm_number":
            # Workers often retype the amount instead of pressing Yes or No.
            typed = data.draw(st.sampled_from(AMOUNTS + buttons))
            inp = (
                Input(kind="button", payload=typed)
                if typed in buttons
                else Input(kind="text", text=typed)
            )
        elif kind == "answer" and expects == "choice" and buttons:
            # Mostly the first button (I agree, Yes, the first option): runs get deep.
            inp = Input(
                kind="button", payload=data.draw(st.sampled_from([buttons[0]] * 3 + buttons))
            )
        elif kind == "answer" and state.step == "factory" and expects == "text":
            inp = Input(kind="text", text="K7M4QP", factory=factory_ref)
        elif kind == "answer" and expects == "multi":
            inp = Input(kind="text", text=data.draw(st.sampled_from(["1,3", "2", "۱ ۲", "a:"])))
        elif kind == "answer" and expects == "number":
            inp = Input(kind="text", text=data.draw(st.sampled_from(AMOUNTS)))
        elif kind == "button" and buttons:
            inp = Input(kind="button", payload=data.draw(st.sampled_from(buttons)))
        elif kind in ("answer", "button", "text"):
            inp = Input(kind="text", text=data.draw(st.text(max_size=40)))
        elif kind == "digits":
            inp = Input(kind="text", text=data.draw(digit_strings))
        elif kind == "command":
            inp = Input(kind="text", text=data.draw(st.sampled_from(COMMAND_TEXTS)))
        elif kind == "yes_no":
            inp = Input(kind="text", text=data.draw(st.sampled_from(YES_NO_TEXTS)))
        elif kind == "amount":
            inp = Input(kind="text", text=data.draw(st.sampled_from(AMOUNTS)))
        elif kind == "junk":
            inp = Input(kind="button", payload=data.draw(junk_payloads))
        elif kind == "media":
            inp = Input(kind="media", media=data.draw(st.sampled_from(["voice", "sticker"])))
        elif kind == "start":
            inp = Input(kind="start", factory=data.draw(st.sampled_from([None, factory_ref])))
        else:  # a code the host resolved, or did not
            inp = Input(
                kind="text", text="K7M4QP", factory=data.draw(st.sampled_from([None, factory_ref]))
            )
        moment += data.draw(st.sampled_from(GAPS), label="gap")
        given_state = state.model_dump()

        sprint = engine.resume(state, inp, moment)

        assert state.model_dump() == given_state
        assert sprint.replies, f"no reply to {inp}"
        assert all(r.text.strip() for r in sprint.replies)
        for payload in all_payloads(sprint.replies):
            assert payload.isascii() and len(payload.encode()) <= 64
        stored = ConversationState.from_json(sprint.state.to_json())
        assert stored == sprint.state
        state = stored


# ------------------------------------------------------------------------------ interruptions
def test_stop_after_finishing_does_not_claim_answers_are_kept_for_later(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="job")
    finish(conv)
    conv.type("stop")
    assert conv.state.phase == "done"
    assert "already answered" in conv.last.text and "Paused" not in conv.last.text


def test_stop_during_the_delete_question_pauses_and_resumes_the_survey(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="employment")
    conv.type("delete")
    assert conv.state.phase == "confirm_delete"
    conv.type("stop")
    assert conv.state.phase == "paused"
    conv.type("hello")
    assert conv.state.phase == "asking" and conv.last.question_id == "employment"
    assert not any(isinstance(e, AnswerRetracted) for e in conv.events)


def test_pause_during_a_number_confirmation_resumes_the_confirmation(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="pay")
    conv.type("4000")
    conv.type("stop")
    conv.type("hi", after=timedelta(hours=1))
    assert conv.state.phase == "confirm_number" and "PKR 4,000" in conv.last.text
    conv.press("_ok")
    assert [e.value for e in conv.events if isinstance(e, AnswerGiven)] == [4000]


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("Call me on 0300-1234567 about it", "Call me on […] about it"),
        ("سپروائزر کا نمبر ۰۳۰۰۱۲۳۴۵۶۷ ہے", "سپروائزر کا نمبر […] ہے"),
        ("My CNIC 42101-1234567-1, mail me at ali@example.com", "My CNIC […], mail me at […]"),
        ("They paid 42,500 on 10-10-2026, not 1,00,000", None),  # wages and dates stay
    ],
)
def test_phone_and_identity_numbers_and_emails_are_not_stored_from_a_comment(
    engine: Engine, now: datetime, factory_ref: FactoryRef, typed: str, stored: str | None
) -> None:
    """A worker who types a phone number, an identity card number or an e-mail address into
    the comment is not identified by it: it is removed before storing, and the echo shows
    what was kept."""
    conv = begin(engine, now, factory_ref, "en", at="comment")
    conv.type(typed)
    assert conv.events == [AnswerGiven("comment", stored or typed)]


# ----------------------------------------------------------------- the minimum of one's grade
def _finish_with(conv: Conversation, job: str, pay: str | None) -> None:
    """Answer happily, but name `job` and give `pay` for a full month (None: part month)."""
    advance_to(conv, "job")
    conv.press(job)
    advance_to(conv, "full_month")
    if pay is None:
        conv.press("no")
    else:
        conv.press("yes")
        conv.type(pay)
    finish(conv)


@pytest.mark.parametrize(
    ("job", "pay", "says"),
    [
        # A machine operator is semi-skilled: 41,380 in Sindh from July 2025, not 40,000.
        (
            "operator",
            "40000",
            [
                "is PKR 41,380 a month for semi-skilled work.",
                "The pay you told us for that month is PKR 1,380 less than this minimum.",
            ],
        ),
        (
            "helper",
            "40000",
            [
                "is PKR 40,000 a month for unskilled work.",
                "The pay you told us for that month is at least this minimum.",
            ],
        ),
        ("checker", "٤٥٠٠٠", ["for semi-skilled work.", "is at least this minimum."]),
        ("operator", None, ["is PKR 41,380 a month for semi-skilled work."]),
    ],
)
def test_the_last_message_quotes_the_minimum_of_the_workers_grade_and_compares_their_pay(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    job: str,
    pay: str | None,
    says: list[str],
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="job")
    _finish_with(conv, job, pay)
    assert conv.state.phase == "done"
    for text in says:
        assert text in conv.text, conv.text
    if pay is None:  # no full month's pay: nothing to compare, and no word about it
        assert "The pay you told us" not in conv.text
    else:  # the amount itself is not repeated (the pay question is echo: false)
        assert "PKR 40,000." not in conv.text.split("semi-skilled work.")[-1]


def test_a_grade_without_its_own_figure_gets_the_unskilled_minimum_and_is_told_so(
    engine: Engine, now: datetime
) -> None:
    """Punjab's table has only the unskilled line: an operator there is told it is the
    unskilled figure, which every worker is owed."""
    lahore = FactoryRef(
        code="L4H9RE", name="Ravi Garments", region="punjab", round_id=1, factory_id=2
    )
    conv = begin(engine, now, lahore, "en", at="job")
    _finish_with(conv, "operator", "39000")
    assert "is PKR 40,000 a month for unskilled work." in conv.text
    assert "There is no separate figure for semi-skilled work for this month yet" in conv.text
    assert "is PKR 1,000 less than this minimum." in conv.text


@pytest.mark.parametrize(
    ("lang", "grade", "less"),
    [("ur", "نیم ہنر مند", "سے {gap} کم ہے"), ("sd", "اڌ هنرمند", "کان {gap} گهٽ آهي")],
)
def test_urdu_and_sindhi_workers_read_their_own_minimum_and_the_gap(
    engine: Engine,
    catalogs: Catalogs,
    now: datetime,
    factory_ref: FactoryRef,
    lang: str,
    grade: str,
    less: str,
) -> None:
    conv = begin(engine, now, factory_ref, lang, at="job")
    _finish_with(conv, "operator", "۴۰۰۰۰")  # typed in Urdu digits
    loc = catalogs.get(lang)
    assert grade in conv.text
    assert loc.money(41_380) in conv.text
    assert less.format(gap=loc.money(1_380)) in conv.text


def test_answers_marked_echo_false_are_saved_without_being_repeated(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    """The Sindh survey marks pay and deductions `echo: false`: a supervisor reading the chat
    sees "saved", not the amount; other answers are still repeated back."""
    conv = begin(engine, now, factory_ref, "ur", at="pay")
    sprint = conv.type("۳۸۰۰۰")
    assert sprint.echo == tr(catalogs, "ur", "saved")
    assert conv.state.answers["pay"] == 38000  # kept, only not repeated
    assert "38" not in (sprint.echo or "") and "۳۸" not in (sprint.echo or "")
    advance_to(conv, "deductions")
    assert conv.press("yes").echo == tr(catalogs, "ur", "saved")
    assert conv.press("woman").echo == tr(catalogs, "ur", "Woman")  # gender: echoed as before


def test_a_number_question_that_echoes_repeats_the_amount_as_money(
    survey: Survey, wages: WageTable, catalogs: Catalogs, now: datetime, factory_ref: FactoryRef
) -> None:
    echoing = survey.model_copy(
        update={
            "questions": [
                q.model_copy(update={"echo": True}) if q.id == "pay" else q
                for q in survey.questions
            ]
        }
    )
    conv = begin(Engine(echoing, wages, catalogs), now, factory_ref, "ur", at="pay")
    conv.type("۳۸۰۰۰")
    assert conv.sprint.echo == catalogs.get("ur").money(38000)


def test_yes_no_answers_and_skip_by_the_number_shown(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    """Buttons are numbered where a channel cannot show them (WhatsApp lists, SMS, the
    terminal): "1" yes, "2" no, "3" don't know, and "1" at the comment is its only button,
    Skip (in one test, 143 of 158 comments were the text "1")."""
    conv = begin(engine, now, factory_ref, "ur", at="pay_rise")
    conv.type("۱")
    assert conv.events == [AnswerGiven("pay_rise", "yes")]
    conv.type("2")  # payslip: no
    assert conv.events == [AnswerGiven("payslip", "no")]
    advance_to(conv, "deductions")
    conv.type("٣")  # Arabic-Indic three: don't know
    assert conv.events == [AnswerGiven("deductions", "dont_know")]
    advance_to(conv, "comment")
    conv.type("1")
    assert conv.events == [] and "comment" not in conv.state.answers
    assert conv.state.step == "contact_opt_in"


def test_a_number_beyond_the_buttons_shown_is_refused_politely(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="payslip")  # yes and no only
    conv.type("3")
    assert conv.events == [] and conv.state.step == "payslip"
    assert tr(catalogs, "en", P.INVALID_YES_NO) in conv.text


# ------------------------------------------------------------------ a phone that keeps no trace
def _with(clearing: ChatClearing) -> Callable[[Conversation, str], Sprint]:
    def typed(conv: Conversation, text: str) -> Sprint:
        return conv.send(Input(kind="text", text=text, chat_clearing=clearing))

    return typed


@pytest.mark.parametrize(
    ("clearing", "said", "event"),
    [
        ("bot", P.CHAT_CLEARED, True),
        ("worker", P.CLEAR_CHAT_WHATSAPP, False),
        ("none", P.NOTHING_TO_CLEAR, False),
    ],
)
def test_clear_deletes_where_the_bot_can_and_explains_elsewhere(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    clearing: ChatClearing,
    said: str,
    event: bool,
) -> None:
    conv = begin(engine, now, factory_ref, "en", at="employment")
    stored = dict(conv.state.answers)
    _with(clearing)(conv, "clear")
    assert conv.replies[0].text.startswith(said)
    assert (conv.events == [ChatCleared()]) is event
    assert conv.state.answers == stored
    if clearing == "bot":  # nothing new appears until the worker writes again
        assert conv.state.phase == "paused" and conv.last.question_id is None
        conv.type("ok")
        assert conv.last.question_id == "employment"
    else:
        assert conv.last.question_id == "employment"


def test_the_end_offers_a_clear_button_on_telegram_and_advice_once_on_whatsapp(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    for clearing in ("bot", "worker", "none"):
        conv = begin(engine, now, factory_ref, "en", at="gender")
        conv.press("woman")
        conv.press("_skip")
        conv.send(Input(kind="button", payload="a:contact_opt_in:no", chat_clearing=clearing))
        assert conv.state.phase == "done"
        last = conv.replies[-1]
        if clearing == "bot":
            assert last.buttons == (Button("c:clear", "Clear this chat"),)
            assert P.CLEAR_CHAT_OFFER in last.text
        elif clearing == "worker":
            assert P.CLEAR_CHAT_WHATSAPP in last.text and conv.state.clear_advised
        else:
            assert P.CLEAR_CHAT_OFFER not in last.text and P.CLEAR_CHAT_WHATSAPP not in last.text


def test_stop_offers_a_reminder_and_asking_for_one_keeps_the_pause(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = begin(engine, now, factory_ref, "ur", at="employment")
    conv.type("رکیں")
    assert conv.state.phase == "paused" and not conv.state.remind
    assert [b.payload for b in conv.last.buttons] == ["x:remind:yes"]
    conv.press("x:remind:yes")
    assert conv.state.phase == "paused" and conv.state.remind
    assert conv.events == []
    conv.type("ok")
    assert conv.state.phase == "asking" and conv.last.question_id == "employment"


def test_a_poster_code_at_the_language_question_opens_the_factory(
    engine: Engine, now: datetime, factory_ref: FactoryRef
) -> None:
    conv = Conversation(engine, now)
    assert conv.last.question_id == "language"
    assert engine.expects_factory_code(conv.state)
    conv.type("k7m4qp", factory=factory_ref)
    assert conv.state.factory == factory_ref and conv.last.question_id == "language"
    conv.press("en")
    conv.press("yes")
    assert conv.last.text == "Do you work at this factory: Korangi Knitwear?"
