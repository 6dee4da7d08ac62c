"""Where a worker gets help (issue 17, part 2): the round's own text in the worker's language,
else the default for the factory's region, at the end of the survey (after the minimum) and
on the help words. The engine gets the text from its host; it looks nothing up."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot.i18n import Catalogs
from bot.survey import phrases as P
from bot.survey.engine import Engine
from bot.survey.parsing import Command, match_command
from bot.survey.state import FactoryRef, Input, Sprint
from tests.test_engine import Conversation, advance_to, finish, tr

ROUND_TEXT = {
    "en": "WageCheck helpline: 0300-0000000 (WhatsApp).",
    "ur": "ہیلپ لائن: 0300-0000000 (واٹس ایپ)۔",
    "sd": "هيلپ لائين: 0300-0000000 (واٽس ايپ).",
}


class HelpConversation(Conversation):
    """A conversation in a round whose CSO set `help_text` (what the service passes)."""

    def __init__(
        self,
        engine: Engine,
        now: datetime,
        factory: FactoryRef | None,
        help_text: Mapping[str, str] | None,
    ) -> None:
        self.help_text = help_text
        self.engine = engine
        self.now = now
        self.sprints: list[Sprint] = []
        self._take(engine.start(now, factory=factory, help_text=help_text))

    def send(self, inp: Input, after: timedelta = timedelta(0)) -> Sprint:
        self.now += after
        return self._take(self.engine.resume(self.state, inp, self.now, help_text=self.help_text))


def _finished(
    engine: Engine, now: datetime, factory: FactoryRef, lang: str, help_text: Any, pay: str
) -> HelpConversation:
    conv = HelpConversation(engine, now, factory, help_text)
    conv.press(lang)
    advance_to(conv, "pay")
    conv.type(pay)
    finish(conv)
    return conv


@pytest.mark.parametrize("lang", ["en", "ur", "sd"])
def test_the_end_shows_the_rounds_help_text_right_after_the_pay_below_the_minimum(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs, lang: str
) -> None:
    conv = _finished(engine, now, factory_ref, lang, ROUND_TEXT, "38000")  # minimum: 40,000
    below = tr(catalogs, lang, P.PAY_BELOW_MINIMUM, gap="X").split("X")[0]
    text = conv.text
    assert below in text and ROUND_TEXT[lang] in text
    assert text.index(below) < text.index(ROUND_TEXT[lang])
    assert text.rstrip().endswith(ROUND_TEXT[lang])  # the last thing the worker reads
    for other in {"en", "ur", "sd"} - {lang}:
        assert ROUND_TEXT[other] not in text


def test_the_end_shows_help_also_when_the_pay_reaches_the_minimum(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = _finished(engine, now, factory_ref, "ur", ROUND_TEXT, "45000")
    at_least = tr(catalogs, "ur", P.PAY_AT_LEAST_MINIMUM)
    assert at_least in conv.text
    assert conv.text.index(at_least) < conv.text.index(ROUND_TEXT["ur"])


@pytest.mark.parametrize("help_text", [None, {}, {"en": "English only: 0300-0000000"}])
def test_without_a_text_in_the_workers_language_the_regions_default_is_shown(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    help_text: dict[str, str] | None,
) -> None:
    conv = _finished(engine, now, factory_ref, "sd", help_text, "38000")
    assert tr(catalogs, "sd", P.HELP_WHERE_SINDH) in conv.text
    assert "English only" not in conv.text


def test_outside_sindh_the_generic_default_is_shown(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    punjab = factory_ref.model_copy(update={"region": "punjab"})
    conv = _finished(engine, now, punjab, "ur", None, "38000")
    assert tr(catalogs, "ur", P.HELP_WHERE_GENERIC) in conv.text
    assert tr(catalogs, "ur", P.HELP_WHERE_SINDH) not in conv.text


def test_a_language_without_a_translation_falls_back_to_english(catalogs: Catalogs) -> None:
    """The Dutch catalog (for the Dutch pages) translates it; a language with no catalog gets
    the English text, never an empty message."""
    assert catalogs.get("xx").gettext(P.HELP_WHERE_SINDH) == P.HELP_WHERE_SINDH


@pytest.mark.parametrize(
    ("lang", "word"), [("ur", "مدد"), ("sd", "مدد ڪريو"), ("sd", "مدد گهرجي"), ("en", "help")]
)
def test_the_help_words_show_the_commands_then_where_to_get_help_then_the_question(
    engine: Engine,
    now: datetime,
    factory_ref: FactoryRef,
    catalogs: Catalogs,
    lang: str,
    word: str,
) -> None:
    assert match_command(word) is Command.HELP
    conv = HelpConversation(engine, now, factory_ref, ROUND_TEXT)
    conv.press(lang)
    advance_to(conv, "job")
    asked, answers = conv.last, dict(conv.state.answers)
    conv.type(word)
    expected = f"{tr(catalogs, lang, P.HELP)}\n\n{ROUND_TEXT[lang]}\n\n{asked.text}"
    assert conv.last.text == expected
    assert conv.events == [] and conv.state.answers == answers


def test_help_before_any_factory_shows_the_generic_default(
    engine: Engine, now: datetime, catalogs: Catalogs
) -> None:
    conv = HelpConversation(engine, now, None, None)
    conv.type("help")
    assert tr(catalogs, "en", P.HELP_WHERE_GENERIC) in conv.text


def test_help_after_the_end_shows_the_help_text_again(
    engine: Engine, now: datetime, factory_ref: FactoryRef, catalogs: Catalogs
) -> None:
    conv = _finished(engine, now, factory_ref, "ur", ROUND_TEXT, "38000")
    conv.type("مدد")
    assert ROUND_TEXT["ur"] in conv.text
    assert tr(catalogs, "ur", P.ALREADY_DONE) in conv.text
    assert conv.events == []
