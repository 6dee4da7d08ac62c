"""Tests for the gettext catalogs in locales/: complete, faithful to their msgids, and usable.

Workers read these sentences on small phones, often with little schooling; a missing Urdu
string falls back to English, a dropped {placeholder} hides the month or the amount, and a
command word in the help text that the parser does not know leaves a worker stuck. These
tests catch such mistakes before a translator's change reaches a survey round.
"""

from __future__ import annotations

import re
import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.i18n import ENDONYMS, Catalogs
from bot.survey import phrases as P
from bot.survey.definition import WHATSAPP_BUTTON_TITLE_MAX, load_survey
from bot.survey.limits import channel_limit_problems
from bot.survey.parsing import Command, match_command

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"
POT = LOCALES / "wagecheck.pot"
SURVEY = ROOT / "surveys" / "sindh-minimum-wage.yaml"

WORKER_TRANSLATIONS = ("ur", "sd")  # must be complete: workers cannot fall back to English
TRANSLATED = ("ur", "sd", "nl")
ALL_CATALOGS = ("en", "ur", "sd", "nl")

# Arabic-script letters (Arabic block plus the Urdu/Sindhi extensions).
ARABIC_LETTER = re.compile(r"[\u0620-\u064a\u066e-\u06d3\u06d5\u06fa-\u06ff]")
# Latin letters allowed to stay in Urdu/Sindhi text: "QR" code is what the poster says.
LATIN_KEPT = re.compile(r"\bQR\b")
# Letters of the other language's spelling (docs/domain.md, "Urdu and Sindhi spelling").
NOT_URDU = {
    "\u064a": "Arabic yeh ي (Urdu uses ی)",
    "\u0643": "Arabic kaf ك (Urdu uses ک)",
    "\u0647": "Arabic heh ه (Urdu uses ہ or ھ)",
    "\u06aa": "Sindhi kaf ڪ",
}
NOT_SINDHI = {
    "\u06cc": "Urdu yeh ی (Sindhi uses ي)",
    "\u06d2": "Urdu bari yeh ے",
    "\u06c1": "Urdu heh goal ہ (Sindhi uses ه)",
    "\u0643": "Arabic kaf ك (Sindhi uses ڪ)",
}
# Sindhi may share a few short words with Urdu (place names, "عورت", "{number}. {label}").
MAX_SHARED_WITH_URDU = 6
SHORT = 20
QUOTED = re.compile(r"“([^”]+)”")
BULLET = re.compile(r"^•\s*(.+?)\s+–\s+", re.MULTILINE)
BUTTON_LIMIT = re.compile(r"button label, at most (\d+) characters")


def _read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh)


def _po(lang: str) -> Catalog:
    return _read(LOCALES / lang / "LC_MESSAGES" / "wagecheck.po")


def _entries(catalog: Catalog) -> list[Message]:
    """The real entries: no header, no obsolete ones."""
    return [m for m in catalog if m.id]


def _msgid(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _pairs(message: Message) -> list[tuple[str, str]]:
    """(source, translation) pairs, one per plural form for plural entries."""
    if isinstance(message.id, str):
        return [(message.id, message.string or "")]
    singular, plural = message.id[0], message.id[1]
    forms = message.string if isinstance(message.string, tuple | list) else (message.string,)
    return [(singular if i == 0 else plural, s or "") for i, s in enumerate(forms)]


def _placeholders(text: str) -> list[str]:
    """Field names of the {placeholders}, sorted; a malformed brace raises ValueError."""
    return sorted(f for _, f, _, _ in string.Formatter().parse(text) if f is not None)


def _translations(lang: str) -> dict[str, str]:
    return {_msgid(m): m.string for m in _entries(_po(lang)) if isinstance(m.string, str)}


def _letters_outside_placeholders(text: str) -> str:
    return "".join(lit for lit, _, _, _ in string.Formatter().parse(text))


# ------------------------------------------------------------------------------- completeness


@pytest.mark.parametrize("lang", WORKER_TRANSLATIONS)
def test_every_template_message_is_translated_for_workers(lang: str) -> None:
    translated = {k for k, v in _translations(lang).items() if v.strip()}
    missing = [_msgid(m) for m in _entries(_read(POT)) if _msgid(m) not in translated]
    assert not missing, f"{lang}: {len(missing)} msgid(s) without a translation:\n" + "\n".join(
        f"  {m!r}" for m in missing
    )


@pytest.mark.parametrize("lang", ALL_CATALOGS)
def test_catalog_has_no_fuzzy_entries(lang: str) -> None:
    catalog = _po(lang)
    fuzzy = [_msgid(m) for m in _entries(catalog) if m.fuzzy]
    assert not catalog.fuzzy, f"{lang}: the header is marked fuzzy"
    assert not fuzzy, f"{lang}: fuzzy entries (review them, then remove the flag): {fuzzy}"


@pytest.mark.parametrize("lang", ALL_CATALOGS)
def test_catalog_header_names_language_plurals_and_utf8(lang: str) -> None:
    catalog = _po(lang)
    assert str(catalog.locale) == lang
    assert catalog.plural_forms == "nplurals=2; plural=(n != 1);"
    assert catalog.charset.lower() == "utf-8"


def test_template_is_up_to_date_with_the_sources(tmp_path: Path) -> None:
    pybabel = Path(sys.executable).parent / "pybabel"
    fresh = tmp_path / "fresh.pot"
    result = subprocess.run(
        [
            str(pybabel),
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "--add-comments=TRANSLATORS:",
            "-o",
            str(fresh),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    extracted = {_msgid(m) for m in _entries(_read(fresh))}
    committed = {_msgid(m) for m in _entries(_read(POT))}
    assert extracted == committed, (
        "locales/wagecheck.pot is stale; run `make extract` and translate the new entries.\n"
        f"  new in sources: {sorted(extracted - committed)}\n"
        f"  gone from sources: {sorted(committed - extracted)}"
    )


@pytest.mark.parametrize("lang", ALL_CATALOGS)
def test_catalog_has_the_same_messages_as_the_template(lang: str) -> None:
    in_po = {_msgid(m) for m in _entries(_po(lang))}
    in_pot = {_msgid(m) for m in _entries(_read(POT))}
    assert in_po == in_pot, (
        f"{lang}: run `make extract` to merge the template.\n"
        f"  missing: {sorted(in_pot - in_po)}\n  extra: {sorted(in_po - in_pot)}"
    )


# ------------------------------------------------------------------------------ faithfulness


@pytest.mark.parametrize("lang", TRANSLATED)
def test_translations_keep_exactly_the_placeholders_of_their_msgid(lang: str) -> None:
    problems = []
    for message in _entries(_po(lang)):
        for source, text in _pairs(message):
            if not text:
                continue
            try:
                got = _placeholders(text)
            except ValueError as exc:
                problems.append(f"{source!r}: malformed braces in {text!r} ({exc})")
                continue
            if got != _placeholders(source):
                problems.append(f"{source!r}: has {got}, needs {_placeholders(source)}")
    assert not problems, f"{lang}:\n" + "\n".join(problems)


@pytest.mark.parametrize("lang", WORKER_TRANSLATIONS)
def test_urdu_and_sindhi_translations_are_in_arabic_script(lang: str) -> None:
    problems = []
    for source, text in _translations(lang).items():
        if not re.search(r"[A-Za-z]", _letters_outside_placeholders(source)):
            continue  # no words to translate, e.g. "{number}. {label}"
        if not text:
            continue  # reported by the completeness test
        words = LATIN_KEPT.sub("", _letters_outside_placeholders(text))
        if not ARABIC_LETTER.search(words) or re.search(r"[A-Za-z]", words):
            problems.append(f"{source!r} -> {text!r}")
    assert not problems, f"{lang}: left in English or mixed with Latin letters:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize(("lang", "foreign"), [("ur", NOT_URDU), ("sd", NOT_SINDHI)])
def test_translations_use_their_own_letter_forms(lang: str, foreign: dict[str, str]) -> None:
    problems = [
        f"{source!r}: {name} in {text!r}"
        for source, text in _translations(lang).items()
        for ch, name in foreign.items()
        if ch in text
    ]
    assert not problems, f"{lang}:\n" + "\n".join(problems)


def test_sindhi_is_not_a_copy_of_urdu() -> None:
    urdu, sindhi = _translations("ur"), _translations("sd")
    same = sorted(k for k, v in sindhi.items() if v and v == urdu.get(k))
    long_copies = [k for k in same if len(sindhi[k]) > SHORT]
    assert not long_copies, f"Sindhi copies these Urdu sentences word for word: {long_copies}"
    assert len(same) <= MAX_SHARED_WITH_URDU, f"{len(same)} Sindhi entries equal Urdu: {same}"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_language_confirmation_names_the_language_in_itself(lang: str) -> None:
    assert ENDONYMS[lang] in _translations(lang)[P.LANGUAGE_SET]


# ---------------------------------------------------------------- words the worker must type


def _command_words_in_help(text: str) -> list[Command | None]:
    return [match_command(word) for word in BULLET.findall(text)]


@pytest.mark.parametrize("lang", TRANSLATED)
def test_help_text_lists_command_words_the_parser_understands(lang: str) -> None:
    expected = _command_words_in_help(P.HELP)
    assert expected == list(Command), "the English HELP text no longer lists every command"
    text = _translations(lang)[P.HELP]
    words = BULLET.findall(text)
    assert _command_words_in_help(text) == expected, (
        f"{lang}: HELP tells workers to type {words}; bot.survey.parsing reads them as "
        f"{_command_words_in_help(text)}, expected {[c.value for c in expected]}"
    )
    assert text.count("\n") == P.HELP.count("\n"), f"{lang}: HELP must keep one line per command"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_quoted_command_words_in_messages_are_understood(lang: str) -> None:
    problems = []
    for source, text in _translations(lang).items():
        wanted = {c for c in map(match_command, QUOTED.findall(source)) if c is not None}
        got = {c for c in map(match_command, QUOTED.findall(text)) if c is not None}
        if wanted != got:
            problems.append(f"{source!r}: quotes {QUOTED.findall(text)} in {text!r}")
    assert not problems, f"{lang}: a quoted word to type is not a command word:\n" + "\n".join(
        problems
    )


@pytest.mark.parametrize("lang", TRANSLATED)
def test_quoted_button_names_match_the_translated_buttons(lang: str) -> None:
    translations = _translations(lang)
    problems = []
    for source, text in translations.items():
        for quoted in QUOTED.findall(source):
            if match_command(quoted) is None and quoted in translations:
                label = translations[quoted]
                if f"“{label}”" not in text:
                    problems.append(f"{source!r}: should quote the button “{label}”: {text!r}")
    assert not problems, f"{lang}:\n" + "\n".join(problems)


# ------------------------------------------------------------------------- channel and display


def test_every_button_label_fits_whatsapp_in_every_survey_language() -> None:
    survey = load_survey(SURVEY)
    catalogs = Catalogs.load(LOCALES)
    assert channel_limit_problems(survey, catalogs) == []


BUTTON_PHRASES = [
    P.BUTTON_BACK,
    P.BUTTON_SKIP,
    P.BUTTON_DONE,
    P.BUTTON_YES,
    P.BUTTON_NO,
    P.BUTTON_DONT_KNOW,
    P.BUTTON_AGREE,
    P.BUTTON_DECLINE,
    P.BUTTON_CONTINUE,
    P.BUTTON_CORRECT,
    P.BUTTON_RETYPE,
    P.BUTTON_DELETE,
    P.BUTTON_KEEP,
]


@pytest.mark.parametrize("lang", TRANSLATED)
def test_button_labels_respect_the_limit_in_their_translator_comment(lang: str) -> None:
    problems = []
    for message in _entries(_po(lang)):
        limits = [int(n) for c in message.auto_comments for n in BUTTON_LIMIT.findall(c)]
        if _msgid(message) in BUTTON_PHRASES:
            limits.append(WHATSAPP_BUTTON_TITLE_MAX)
        for limit in limits:
            text = message.string if isinstance(message.string, str) else ""
            if len(text) > limit:
                problems.append(f"{_msgid(message)!r} -> {text!r}: {len(text)} > {limit}")
    assert not problems, f"{lang}:\n" + "\n".join(problems)


BIDI_MARKS = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("ur", "40,000 روپے"), ("sd", "40,000 رپيا"), ("en", "PKR 40,000"), ("nl", "PKR 40.000")],
)
def test_amounts_read_as_people_write_them_without_bidi_marks(lang: str, expected: str) -> None:
    # Latin digits joined by "," stay one left-to-right number inside right-to-left text by
    # themselves (docs/domain.md, "Latin text inside right-to-left text").
    loc = Catalogs.load(LOCALES).get(lang)
    assert loc.money(40000) == expected
    for value in (0, 7, 38_000, 1_380, 125_000, 10_000_000):
        money = loc.money(value)
        assert not BIDI_MARKS.search(money), repr(money)
        assert f"{value:,}".replace(",", "." if lang == "nl" else ",") in money


@pytest.mark.parametrize("lang", WORKER_TRANSLATIONS)
def test_a_negative_amount_keeps_its_minus_on_the_left_of_the_number(lang: str) -> None:
    # A minus sign is not part of a European number for the bidi algorithm: without an
    # isolate it would be drawn on the number's right in right-to-left text.
    money = Catalogs.load(LOCALES).get(lang).money(-1380)
    assert "\u2066-1,380\u2069" in money


def test_amount_translations_keep_latin_digits_out_of_their_text() -> None:
    for lang in TRANSLATED:
        text = _translations(lang)["PKR {amount}"]
        assert not BIDI_MARKS.search(text) and not re.search(r"\d", text), (lang, text)


@pytest.mark.parametrize("lang", WORKER_TRANSLATIONS)
def test_loaded_catalog_translates_the_consent_text(lang: str) -> None:
    survey = load_survey(SURVEY)
    consent = next(q for q in survey.questions if q.type == "consent")
    loc = Catalogs.load(LOCALES).get(lang)
    assert loc.gettext(consent.text) == _translations(lang)[consent.text] != consent.text


# ------------------------------------------------------------------ staff replies (en, ur)
def test_the_staff_catalog_is_complete_in_urdu_with_the_same_placeholders() -> None:
    """The bot's replies to CSO staff (bot/channels/telegram/staff.py, results.py; `make
    extract-staff`): every entry of locales/staff.pot translated in Urdu, none fuzzy, the
    {placeholders} of the msgid, Urdu letter forms, each marked for review until checked."""
    template = _read(LOCALES / "staff.pot")
    urdu = _read(LOCALES / "ur" / "LC_MESSAGES" / "staff.po")
    assert {m.id for m in _entries(template)} == {m.id for m in _entries(urdu)}
    for message in _entries(urdu):
        assert message.string and not message.fuzzy, message.id
        assert _placeholders(message.id) == _placeholders(message.string), message.id
        assert not set(message.string) & set(NOT_URDU), message.id
        assert ARABIC_LETTER.search(message.string), message.id


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}
