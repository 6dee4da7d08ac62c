"""Tests for the "words" catalogs (locales/<lang>/LC_MESSAGES/words.po) that bot.survey.parsing
reads: the natural words workers type for yes/no and commands, matched as the whole message."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.survey.parsing import (
    BUILTIN_COMMAND_WORDS,
    BUILTIN_YES_NO_WORDS,
    COMMAND_WORDS,
    MAX_INPUT_CHARS,
    WORD_CONFLICTS,
    WORD_LANGUAGES,
    WORD_MEANINGS,
    WORD_SEPARATOR,
    YES_NO_WORDS,
    Command,
    match_command,
    merge_words,
    parse_yes_no,
    read_catalog_words,
    split_words,
)

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
RLM = "\u200f"
# Letters Urdu writes and Sindhi does not (docs/domain.md, "Urdu and Sindhi spelling").
URDU_ONLY = {"\u06cc": "ی", "\u06d2": "ے", "\u06c1": "ہ"}


def _read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh)


def _words_po(lang: str) -> Catalog:
    return _read(LOCALES / lang / "LC_MESSAGES" / "words.po")


# ------------------------------------------------------------------------------- the catalogs


def test_template_names_every_meaning_the_parser_has() -> None:
    template = _read(LOCALES / "words.pot")
    assert [m.id for m in template if m.id] == list(WORD_MEANINGS)


@pytest.mark.parametrize("lang", WORD_LANGUAGES)
def test_words_catalog_has_every_meaning_and_nothing_else(lang: str) -> None:
    catalog = _words_po(lang)
    assert sorted(m.id for m in catalog if m.id) == sorted(WORD_MEANINGS)
    assert not [m.id for m in catalog if m.id and m.fuzzy]
    assert not list(catalog.obsolete)


@pytest.mark.parametrize("lang", WORD_LANGUAGES)
def test_every_catalog_word_parses_to_its_meaning(lang: str) -> None:
    problems = []
    for meaning, words in read_catalog_words(LOCALES, [lang])[lang].items():
        for word in words:
            if len(word) > MAX_INPUT_CHARS:
                problems.append(f"{word!r} is longer than {MAX_INPUT_CHARS} characters")
            got = parse_yes_no(word) if meaning in BUILTIN_YES_NO_WORDS else match_command(word)
            if got != meaning:
                problems.append(f"{word!r} ({meaning}) reads as {got!r}")
    assert not problems, f"{lang}:\n" + "\n".join(problems)


def test_no_catalog_word_has_two_meanings() -> None:
    # A word in two meanings is dropped from both (it means nothing rather than the wrong
    # thing) and listed here.
    assert WORD_CONFLICTS == []


@pytest.mark.parametrize("lang", WORD_LANGUAGES)
def test_words_are_separated_by_bars_without_empty_words(lang: str) -> None:
    for message in _words_po(lang):
        if message.id and message.string:
            parts = message.string.split(WORD_SEPARATOR)
            assert all(p.strip() for p in parts), (message.id, message.string)
            words = split_words(message.string)
            assert len(words) == len(set(words)), (message.id, "a word twice")


def test_sindhi_words_are_written_in_sindhi_letters() -> None:
    for message in _words_po("sd"):
        for word in split_words(message.string or ""):
            assert not set(word) & set(URDU_ONLY), (message.id, word)


def test_urdu_and_sindhi_script_words_live_in_the_catalogs_not_in_the_code() -> None:
    builtin = [w for ws in BUILTIN_YES_NO_WORDS.values() for w in ws] + [
        w for ws in BUILTIN_COMMAND_WORDS.values() for w in ws
    ]
    assert not [w for w in builtin if any("\u0600" <= ch <= "\u06ff" for ch in w if ch != "؟")]


def test_catalog_words_are_merged_into_the_public_tables() -> None:
    assert "پکی" in YES_NO_WORDS["yes"] and "yes" in YES_NO_WORDS["yes"]
    assert "بس کرو" in COMMAND_WORDS[Command.STOP] and "stop" in COMMAND_WORDS[Command.STOP]


# --------------------------------------------------------------------------- merging, conflicts


def test_a_word_in_two_meanings_means_neither_and_is_reported() -> None:
    merged, conflicts = merge_words(
        {"yes": ("yes",), "stop": ("stop",)},
        {"ur": {"yes": ["بس"], "stop": ["بس", "رکو"]}},
    )
    assert merged == {"yes": ("yes",), "stop": ("stop", "رکو")}
    assert sorted(conflicts) == ["'بس' (stop)", "'بس' (yes)"]


def test_a_catalog_word_cannot_take_a_built_in_word_over() -> None:
    merged, conflicts = merge_words({"yes": ("ha",), "no": ("no",)}, {"ur": {"no": ["HA"]}})
    assert merged == {"yes": (), "no": ("no",)}
    assert conflicts == ["'HA' (no)"]


def test_the_same_word_in_two_languages_with_one_meaning_is_no_conflict() -> None:
    # Sindhi رڪو folds to Urdu رکو: both mean stop.
    merged, conflicts = merge_words(
        {"stop": ()}, {"ur": {"stop": ["رکو"]}, "sd": {"stop": ["رڪو"]}}
    )
    assert conflicts == [] and merged == {"stop": ("رکو", "رڪو")}


def test_a_missing_catalog_gives_no_words(tmp_path: Path) -> None:
    assert read_catalog_words(tmp_path) == {}


def test_split_words_trims_and_squashes_spaces() -> None:
    assert split_words(" ہاں |جی  ہاں| |") == ["ہاں", "جی ہاں"]


# ----------------------------------------------------------------------------- natural words

NATURAL_WORDS: list[tuple[str, str | Command]] = [
    # Urdu yes
    ("پکی", "yes"),
    ("پکا", "yes"),
    ("پکی بات", "yes"),
    ("جی ہاں", "yes"),
    ("ہاں جی", "yes"),
    ("درست", "yes"),
    ("صحیح", "yes"),
    ("جی بالکل", "yes"),
    # Roman Urdu
    ("pakki", "yes"),
    ("Pakka!", "yes"),
    ("sahi", "yes"),
    ("bilkul nahi", "no"),
    ("mujhe nahi pata", "dont_know"),
    ("bas karo", Command.STOP),
    ("Bas", Command.STOP),
    ("band karo", Command.STOP),
    ("ruko", Command.STOP),
    ("roko", Command.STOP),
    ("mita do", Command.DELETE),
    # Urdu no, don't know
    ("بالکل نہیں", "no"),
    ("نہیں پتا", "dont_know"),
    ("مجھے پتا نہیں", "dont_know"),
    # Urdu stop
    ("رکو", Command.STOP),
    ("بس کرو", Command.STOP),
    ("بس کریں", Command.STOP),
    ("روکو", Command.STOP),
    ("بند کرو", Command.STOP),
    ("بس۔", Command.STOP),
    (RLM + "بس کرو" + RLM, Command.STOP),
    # Urdu other commands
    ("مدد کریں", Command.HELP),
    ("واپس جائیں", Command.BACK),
    ("شروع سے", Command.RESTART),
    ("مٹا دیں", Command.DELETE),
    # Sindhi
    ("صحيح", "yes"),
    ("بلڪل", "yes"),
    ("ها جي", "yes"),
    ("بلڪل نه", "no"),
    ("مون کي ڄاڻ ناهي", "dont_know"),
    ("بس ڪريو", Command.STOP),
    ("رڪو", Command.STOP),
    ("رڪجو", Command.STOP),
    ("مدد ڪريو", Command.HELP),
    ("پوئتي وڃو", Command.BACK),
    ("ٻولي بدلايو", Command.LANGUAGE),
    ("ميٽي ڇڏيو", Command.DELETE),
    # Sindhi typed on an Arabic keyboard (ک for ڪ, ی for ي)
    ("بس کریو", Command.STOP),
]


@pytest.mark.parametrize(("text", "expected"), NATURAL_WORDS)
def test_natural_words_are_understood(text: str, expected: str | Command) -> None:
    if isinstance(expected, Command):
        assert match_command(text) is expected
        assert parse_yes_no(text) is None
    else:
        assert parse_yes_no(text) == expected
        assert match_command(text) is None


@pytest.mark.parametrize(
    "text",
    [
        # a short word inside a longer message is not the word
        "بس 40 ہزار",
        "بس اتنی تنخواہ ملی",
        "bas 25000",
        "رکو ذرا میں دیکھتا ہوں",
        "پکی تنخواہ نہیں ملتی",
        "صحیح نہیں",
        "بس ڪريو ۽ ٻڌايو",
        "band karo factory",
        "pakki naukri",
    ],
)
def test_a_word_counts_only_as_the_whole_message(text: str) -> None:
    assert match_command(text) is None
    assert parse_yes_no(text) is None


@pytest.mark.parametrize("text", ["ok", "OK", "theek hai", "ٹھیک ہے", "ٹھیک", "ٺيڪ آهي", "ٺيڪ"])
def test_ok_and_its_translations_are_not_yes(text: str) -> None:
    # They mean "I read that"; a yes/no word also gives consent and confirms "delete".
    assert parse_yes_no(text) is None
    assert match_command(text) is None
