"""Tests for bot.survey.parsing: what workers type, in Urdu, Sindhi and English."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.survey.parsing import (
    COMMAND_WORDS,
    MAX_INPUT_CHARS,
    SLASH_ONLY_COMMAND_WORDS,
    YES_NO_WORDS,
    Command,
    clean_text,
    match_command,
    normalise_code,
    parse_choice_index,
    parse_choice_indices,
    parse_number,
    parse_yes_no,
    to_latin_digits,
)

RLM, LRM, ALM, ZWSP, ZWNJ, ZWJ, BOM, NBSP = (
    "\u200f",
    "\u200e",
    "\u061c",
    "\u200b",
    "\u200c",
    "\u200d",
    "\ufeff",
    "\u00a0",
)
INVISIBLE = [RLM, LRM, ALM, ZWSP, ZWNJ, ZWJ, BOM, "\u2066", "\u2069", "\u202b", "\u00ad"]


# --------------------------------------------------------------------------------- parse_number

NUMBER_CASES: list[tuple[str, int | None]] = [
    # digit scripts
    ("25000", 25000),
    ("٢٥٠٠٠", 25000),
    ("۲۵۰۰۰", 25000),
    ("۲5,۰۰۰", 25000),
    ("2٥۰0٠", 25000),
    ("0", 0),
    ("۰", 0),
    ("007", 7),
    # group separators
    ("25,000", 25000),
    ("25 000", 25000),
    ("25" + NBSP + "000", 25000),
    ("۲۵٬۰۰۰", 25000),
    ("25،000", 25000),
    ("25'000", 25000),
    ("25’000", 25000),
    ("25, 000", 25000),
    ("1,00,000", 100000),
    ("12,34,567", 1234567),
    ("1,000,000", 1000000),
    ("1 000 000", 1000000),
    # decimals and the lone-dot rule
    ("25000.60", 25001),
    ("25000.5", 25001),
    ("25000.49", 25000),
    ("25,000.50", 25001),
    ("25000٫6", 25001),
    ("25.000", 25000),
    ("1.500", 1500),
    ("1.000.000", 1000000),
    ("25.00", 25),
    ("25.0000", 25),
    ("2500.000", 2500),
    ("0.500", 1),
    ("25٫000", 25),
    ("1.000٫5", 1001),
    # currency and decoration
    ("Rs 25000", 25000),
    ("Rs. 25,000", 25000),
    ("rs.25000", 25000),
    ("Rs: 25000", 25000),
    ("RS 25000", 25000),
    ("PKR 25,000", 25000),
    ("pkr25000", 25000),
    ("₨ 25000", 25000),
    ("₨25000", 25000),
    ("25000 روپے", 25000),
    ("روپے 25000", 25000),
    ("25000 روپیہ", 25000),
    ("25000 روپیے", 25000),
    ("25000 روپئے", 25000),
    ("25000 روپيا", 25000),
    ("25000 رپيا", 25000),
    ("25000 rupees", 25000),
    ("25000 Rupay", 25000),
    ("25,000/-", 25000),
    ("Rs 25000/-", 25000),
    ("25000/=", 25000),
    ("= 25000", 25000),
    ("Rupees 25,000 only", 25000),
    ("25000.", 25000),
    ("25000۔", 25000),
    # multipliers
    ("25k", 25000),
    ("25K", 25000),
    ("25 K", 25000),
    ("25.5k", 25500),
    ("25 thousand", 25000),
    ("25 ہزار", 25000),
    ("25 هزار", 25000),
    ("۲۵ ہزار", 25000),
    ("25 hazar", 25000),
    ("25 hazaar", 25000),
    ("25 ہزار روپے", 25000),
    ("Rs 25k", 25000),
    ("1 lakh", 100000),
    ("1.5 lakh", 150000),
    ("1 لاکھ", 100000),
    ("1 لک", 100000),
    ("1.500k", 1500),
    # invisible characters and spacing
    (RLM + "25000" + LRM, 25000),
    ("۲" + RLM + "۵۰۰۰", 25000),
    (ALM + "۲۵٬" + ZWSP + "۰۰۰" + BOM, 25000),
    ("  25000  ", 25000),
    ("\t25000\n", 25000),
    ("Rs" + NBSP + "25000", 25000),
    # sign
    ("-500", -500),
    ("−500", -500),
    ("Rs -500", -500),
    ("-0", 0),
    # not one number
    ("", None),
    ("   ", None),
    (RLM + LRM, None),
    ("Rs", None),
    ("twenty five thousand", None),
    ("25000 30000", None),
    ("25000-30000", None),
    ("25,000 30,000", None),
    ("25000, 30000", None),
    ("2 5000", None),
    ("25,00", None),
    ("0,500", None),
    ("1.000,50", None),
    ("25,000 000", None),
    ("abc123", None),
    ("123abc", None),
    ("25kg", None),
    ("Rs-500", None),
    ("²⁵", None),
    ("25²", None),
    (".5", None),
    ("1e5", None),
    ("1e999999999", None),
    ("25000?", None),
    ("1 lakh 50 hazar", None),
    ("25 k k", None),
    ("1" * (MAX_INPUT_CHARS + 1), None),
]


@pytest.mark.parametrize(("text", "expected"), NUMBER_CASES)
def test_number_as_typed_by_a_worker_is_read_as_whole_rupees(
    text: str, expected: int | None
) -> None:
    assert parse_number(text) == expected


def test_number_table_is_large() -> None:
    assert len(NUMBER_CASES) >= 60


def test_wage_in_urdu_digits_is_accepted() -> None:
    assert parse_number("۳۷۰۰۰ روپے") == 37000


def test_wage_in_sindhi_arabic_indic_digits_with_rlm_is_accepted() -> None:
    assert parse_number(RLM + "٣٧٬٠٠٠" + RLM) == 37000


def test_lone_dot_before_three_digits_is_a_thousands_separator() -> None:
    assert parse_number("37.000") == 37000


def test_lone_dot_before_three_digits_with_multiplier_is_a_decimal_point() -> None:
    assert parse_number("37.000k") == 37000
    assert parse_number("1.250 lakh") == 125000


def test_arabic_decimal_separator_is_always_a_decimal_point() -> None:
    assert parse_number("37٫000") == 37


def test_half_rupee_rounds_up() -> None:
    assert parse_number("99.5") == 100
    assert parse_number("-99.5") == -100


def test_enormous_number_within_the_limit_is_returned_for_the_caller_to_range_check() -> None:
    text = "9" * MAX_INPUT_CHARS
    assert parse_number(text) == int(text)


def test_enormous_fraction_is_rounded_without_overflow() -> None:
    assert parse_number("1." + "9" * 60) == 2


def test_input_is_measured_after_invisible_marks_are_removed() -> None:
    assert parse_number(RLM * 200 + "25000") == 25000


def test_megabyte_of_junk_is_refused() -> None:
    assert parse_number("1" * 1_000_000) is None
    assert parse_number(RLM * 1_000_000 + "1") is None


# --------------------------------------------------------------------- clean_text, digits


def test_clean_text_drops_bidi_and_zero_width_marks() -> None:
    assert clean_text("".join(INVISIBLE) + "جی" + RLM + " ہاں" + LRM) == "جی ہاں"


def test_clean_text_removes_tatweel() -> None:
    assert clean_text("مـــدد") == "مدد"


def test_clean_text_collapses_all_whitespace_to_single_spaces() -> None:
    assert clean_text(f"  a{NBSP}\u2007b\t\n c\u3000 ") == "a b c"


def test_clean_text_composes_to_nfc() -> None:
    assert clean_text("e\u0301") == "\u00e9"
    assert clean_text("\u0627\u0653") == "\u0622"  # alef + madda above -> alef with madda


def test_latin_digits_replace_arabic_indic_and_extended_digits() -> None:
    assert to_latin_digits("٠١٢٣٤٥٦٧٨٩ ۰۱۲۳۴۵۶۷۸۹ ०९") == "0123456789 0123456789 09"


def test_superscripts_are_not_digits() -> None:
    assert to_latin_digits("²⁵ ½") == "²⁵ ½"


def test_latin_digits_leave_letters_and_separators_alone() -> None:
    assert to_latin_digits("Rs ۲۵٬۰۰۰/-") == "Rs 25٬000/-"


# ------------------------------------------------------------------------------- parse_yes_no

YES_NO_CASES: list[tuple[str, str | None]] = [
    # English
    ("yes", "yes"),
    ("Yes!", "yes"),
    ("YES.", "yes"),
    ("y", "yes"),
    ("yeah", "yes"),
    ("yep", "yes"),
    ("no", "no"),
    ("No.", "no"),
    ("n", "no"),
    ("nope", "no"),
    ("don't know", "dont_know"),
    ("Don’t know", "dont_know"),
    ("dont know", "dont_know"),
    ("do not know", "dont_know"),
    ("not sure", "dont_know"),
    ("dk", "dont_know"),
    ("IDK", "dont_know"),
    # Roman Urdu
    ("haan", "yes"),
    ("han", "yes"),
    ("haa", "yes"),
    ("ha", "yes"),
    ("ji", "yes"),
    ("jee", "yes"),
    ("g", "yes"),
    ("Ji haan", "yes"),
    ("nahi", "no"),
    ("nahin", "no"),
    ("nai", "no"),
    ("na", "no"),
    ("pata nahi", "dont_know"),
    ("pata nahin", "dont_know"),
    ("maloom nahi", "dont_know"),
    # Urdu
    ("ہاں", "yes"),
    ("ہان", "yes"),
    ("جی", "yes"),
    ("جی ہاں", "yes"),
    ("جی ہان", "yes"),
    ("ہاں جی", "yes"),
    ("بالکل", "yes"),
    ("ہاں۔", "yes"),
    ("نہیں", "no"),
    ("نہی", "no"),
    ("نھیں", "no"),
    ("نہ", "no"),
    ("جی نہیں", "no"),
    ("نہیں؟", "no"),
    ("پتا نہیں", "dont_know"),
    ("پتہ نہیں", "dont_know"),
    ("معلوم نہیں", "dont_know"),
    ("نہیں معلوم", "dont_know"),
    # Sindhi
    ("ها", "yes"),
    ("هائو", "yes"),
    ("هائو جي", "yes"),
    ("جي", "yes"),
    ("جي ها", "yes"),
    ("نه", "no"),
    ("ناهي", "no"),
    ("نه جي", "no"),
    ("خبر ناهي", "dont_know"),
    ("خبر نه آهي", "dont_know"),
    ("مونکي خبر ناهي", "dont_know"),
    # Arabic-keyboard spellings of Urdu words
    ("نهيں", "no"),
    ("جي هاں", "yes"),
    # emoji and symbols
    ("✅", "yes"),
    ("👍", "yes"),
    ("👍🏽", "yes"),
    ("✅\ufe0f", "yes"),
    ("❌", "no"),
    ("👎", "no"),
    ("❓", "dont_know"),
    ("?", "dont_know"),
    ("؟", "dont_know"),
    # button payloads
    ("dont_know", "dont_know"),
    # invisible marks
    (RLM + "جی" + ZWNJ + " ہاں" + LRM, "yes"),
    # not a yes/no answer
    ("ok", None),
    ("OK", None),
    ("??", None),
    ("", None),
    ("yes no", None),
    ("yes I was paid 25000", None),
    ("25000", None),
    ("help", None),
    ("haan" * 40, None),
]


@pytest.mark.parametrize(("text", "expected"), YES_NO_CASES)
def test_yes_no_answer_is_understood_in_all_languages(text: str, expected: str | None) -> None:
    assert parse_yes_no(text) == expected


@pytest.mark.parametrize(
    ("meaning", "word"), [(m, w) for m, words in YES_NO_WORDS.items() for w in words]
)
def test_every_yes_no_word_in_the_table_is_recognised(meaning: str, word: str) -> None:
    assert parse_yes_no(word) == meaning


def test_ok_is_not_taken_as_yes() -> None:
    assert parse_yes_no("ok") is None


def test_dont_know_phrases_containing_no_are_not_read_as_no() -> None:
    assert parse_yes_no("پتا نہیں") == "dont_know"
    assert parse_yes_no("خبر ناهي") == "dont_know"


# ------------------------------------------------------------------------------- match_command

COMMAND_CASES: list[tuple[str, Command | None]] = [
    # English
    ("help", Command.HELP),
    ("/help", Command.HELP),
    ("HELP", Command.HELP),
    ("Help!", Command.HELP),
    ("/help@WageCheckBot", Command.HELP),
    ("back", Command.BACK),
    ("/back", Command.BACK),
    ("restart", Command.RESTART),
    ("start over", Command.RESTART),
    ("/start", Command.RESTART),
    ("language", Command.LANGUAGE),
    ("/lang", Command.LANGUAGE),
    ("stop", Command.STOP),
    ("/stop", Command.STOP),
    ("pause", Command.STOP),
    ("delete", Command.DELETE),
    ("delete my answers", Command.DELETE),
    ("/delete", Command.DELETE),
    # Roman Urdu
    ("madad", Command.HELP),
    ("wapas", Command.BACK),
    ("pichhe", Command.BACK),
    ("dobara", Command.RESTART),
    ("zuban", Command.LANGUAGE),
    ("zaban", Command.LANGUAGE),
    ("ruko", Command.STOP),
    ("band", Command.STOP),
    ("mitao", Command.DELETE),
    # Urdu
    ("مدد", Command.HELP),
    ("مدد چاہیے", Command.HELP),
    ("واپس", Command.BACK),
    ("پیچھے", Command.BACK),
    ("دوبارہ", Command.RESTART),
    ("دوبارہ شروع", Command.RESTART),
    ("نئے سرے سے", Command.RESTART),
    ("زبان", Command.LANGUAGE),
    ("زبان بدلیں", Command.LANGUAGE),
    ("رکیں", Command.STOP),
    ("روکیں", Command.STOP),
    ("بس", Command.STOP),
    ("بند کریں", Command.STOP),
    ("مٹائیں", Command.DELETE),
    ("میرے جوابات مٹائیں", Command.DELETE),
    ("ڈیلیٹ", Command.DELETE),
    ("/مدد", Command.HELP),
    (RLM + "مدد" + RLM, Command.HELP),
    ("مـدد", Command.HELP),
    # Sindhi
    ("مدد گهرجي", Command.HELP),
    ("پوئتي", Command.BACK),
    ("واپس وڃو", Command.BACK),
    ("ٻيهر", Command.RESTART),
    ("ٻيهر شروع ڪريو", Command.RESTART),
    ("ٻولي", Command.LANGUAGE),
    ("ٻولي مٽايو", Command.LANGUAGE),
    ("بند ڪريو", Command.STOP),
    ("روڪيو", Command.STOP),
    ("ميٽايو", Command.DELETE),
    ("منهنجا جواب ميٽايو", Command.DELETE),
    # not commands
    ("??", None),
    ("?", None),
    ("start", None),
    ("/start ABC123", None),
    ("/start abc", None),
    ("اردو", None),
    ("English", None),
    ("سنڌي", None),
    ("ختم کریں", None),
    ("I need help with my salary", None),
    ("help me", None),
    ("band hai factory", None),
    ("/unknown", None),
    ("/", None),
    ("", None),
    ("yes", None),
    ("25000", None),
]


@pytest.mark.parametrize(("text", "expected"), COMMAND_CASES)
def test_command_is_recognised_only_as_the_whole_message(
    text: str, expected: Command | None
) -> None:
    assert match_command(text) is expected


@pytest.mark.parametrize(
    ("command", "word"), [(c, w) for c, words in COMMAND_WORDS.items() for w in words]
)
def test_every_command_word_in_the_table_is_recognised_with_and_without_slash(
    command: Command, word: str
) -> None:
    assert match_command(word) is command
    assert match_command("/" + word) is command


@pytest.mark.parametrize(
    ("command", "word"), [(c, w) for c, words in SLASH_ONLY_COMMAND_WORDS.items() for w in words]
)
def test_slash_only_command_needs_its_slash(command: Command, word: str) -> None:
    assert match_command("/" + word) is command
    assert match_command(word) is None


def test_no_command_word_is_also_a_yes_no_answer() -> None:
    words = [w for ws in COMMAND_WORDS.values() for w in ws]
    assert [w for w in words if parse_yes_no(w) is not None] == []


def test_command_is_a_string_enum() -> None:
    assert Command("stop") is Command.STOP
    assert Command.HELP == "help"


# ------------------------------------------------------------------------------------ choices


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2", 1),
        ("۲", 1),
        ("٢", 1),
        ("2.", 1),
        ("2)", 1),
        ("(2)", 1),
        (" 2 ", 1),
        (RLM + "۲" + RLM, 1),
        ("1", 0),
        ("3", 2),
        ("02", 1),
        ("0", None),
        ("4", None),
        ("-1", None),
        ("", None),
        ("two", None),
        ("2 3", None),
        ("2a", None),
        ("²", None),
        ("9" * 100, None),
    ],
)
def test_typed_option_number_becomes_a_zero_based_index(text: str, expected: int | None) -> None:
    assert parse_choice_index(text, 3) == expected


def test_option_number_with_no_options_is_refused() -> None:
    assert parse_choice_index("1", 0) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,3", [0, 2]),
        ("1, 3", [0, 2]),
        ("۱ ۳", [0, 2]),
        ("١،٣", [0, 2]),
        ("1 و 3", [0, 2]),
        ("1 اور 3", [0, 2]),
        ("1 ۽ 3", [0, 2]),
        ("1 and 3", [0, 2]),
        ("1 AND 3", [0, 2]),
        ("1، 3", [0, 2]),
        ("3, 1", [0, 2]),
        ("1, 1, 3", [0, 2]),
        ("2", [1]),
        ("(1) (4)", [0, 3]),
        ("1. 4.", [0, 3]),
        ("1,3,", [0, 2]),
        ("1;2/3&4+5", [0, 1, 2, 3, 4]),
        ("13", None),
        ("1.3", None),
        ("1, 6", None),
        ("0, 1", None),
        (",", None),
        ("", None),
        ("1 or 3", None),
        ("1 band 3", None),
        ("all", None),
    ],
)
def test_several_option_numbers_become_sorted_unique_indices(
    text: str, expected: list[int] | None
) -> None:
    assert parse_choice_indices(text, 5) == expected


# -------------------------------------------------------------------------------- access codes


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ABCD", "ABCD"),
        ("abcd-1234", "ABCD1234"),
        ("ab cd_12-34", "ABCD1234"),
        (" K7Q2 ", "K7Q2"),
        ("۱۲۳۴", "1234"),
        ("abc٣", "ABC3"),
        (RLM + "abcd" + ZWSP, "ABCD"),
        ("ab–cd", "ABCD"),
        ("A" * 16, "A" * 16),
        ("A" * 17, None),
        ("abc", None),
        ("", None),
        ("straße12", None),
        ("ａｂｃｄ", None),
        ("abcd!", None),
        ("/start ABCD", None),
        ("A" * (MAX_INPUT_CHARS + 1), None),
    ],
)
def test_access_code_is_normalised_or_refused(text: str, expected: str | None) -> None:
    assert normalise_code(text) == expected


# ------------------------------------------------------------------------- property-based tests

DIGIT_BASES = [0x30, 0x660, 0x6F0]  # Latin, Arabic-Indic, Extended Arabic-Indic zero


@st.composite
def written_amounts(draw: st.DrawFn) -> tuple[int, str]:
    """An amount as a worker might write it: mixed digit scripts, separators, currency, marks."""
    amount = draw(st.integers(0, 10_000_000))
    sep = draw(st.sampled_from([",", "٬", "،", " ", ""]))
    grouped = f"{amount:,}".replace(",", sep)
    chars = [
        chr(draw(st.sampled_from(DIGIT_BASES)) + int(ch)) if ch.isdigit() else ch for ch in grouped
    ]
    text = draw(st.sampled_from(["Rs ", "PKR ", ""])) + "".join(chars)
    text += draw(st.sampled_from(["", "/-", " روپے"]))
    for mark, position in draw(
        st.lists(st.tuples(st.sampled_from([RLM, LRM]), st.integers(0, len(text))), max_size=4)
    ):
        text = text[:position] + mark + text[position:]
    return amount, text


@settings(max_examples=300)
@given(st.text())
def test_no_parser_raises_on_any_text(text: str) -> None:
    number = parse_number(text)
    assert number is None or type(number) is int
    assert isinstance(clean_text(text), str)
    assert isinstance(to_latin_digits(text), str)
    assert parse_yes_no(text) in (None, "yes", "no", "dont_know")
    assert match_command(text) is None or isinstance(match_command(text), Command)
    index = parse_choice_index(text, 5)
    assert index is None or 0 <= index < 5
    indices = parse_choice_indices(text, 5)
    assert indices is None or (indices == sorted(set(indices)) and all(0 <= i < 5 for i in indices))
    code = normalise_code(text)
    assert code is None or (code.isascii() and code.isalnum() and 4 <= len(code) <= 16)


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("0123456789٠١٢٣۴۵۶,.٬،٫' -−kKRsP/=\u200f" + NBSP)))
def test_no_number_parser_raises_on_number_like_text(text: str) -> None:
    number = parse_number(text)
    assert number is None or type(number) is int


@settings(max_examples=300)
@given(written_amounts())
def test_written_amount_in_any_script_and_style_is_read_exactly(case: tuple[int, str]) -> None:
    amount, text = case
    assert parse_number(text) == amount


@settings(max_examples=300)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_has_latin_digits_already(text: str) -> None:
    assert to_latin_digits(text) == text


@settings(max_examples=300)
@given(st.integers(-(10**60), 10**60))
def test_plain_integer_is_read_back(number: int) -> None:
    assert parse_number(str(number)) == number


@settings(max_examples=300)
@given(st.text())
def test_latin_digits_keep_length_and_leave_only_ascii_decimals(text: str) -> None:
    converted = to_latin_digits(text)
    assert len(converted) == len(text)
    assert all(ch.isascii() for ch in converted if ch.isdecimal())


@settings(max_examples=300)
@given(st.text())
def test_cleaning_twice_changes_nothing(text: str) -> None:
    assert clean_text(clean_text(text)) == clean_text(text)


@settings(max_examples=200)
@given(
    st.sampled_from([t for t, v in NUMBER_CASES if v is not None and len(t) < 40]),
    st.lists(st.tuples(st.sampled_from(INVISIBLE), st.integers(0, 40)), max_size=5),
)
def test_invisible_marks_anywhere_do_not_change_a_number(
    text: str, marks: list[tuple[str, int]]
) -> None:
    marked = text
    for mark, position in marks:
        marked = marked[:position] + mark + marked[position:]
    assert parse_number(marked) == parse_number(text)


@settings(max_examples=300)
@given(st.text())
def test_a_normalised_code_normalises_to_itself(text: str) -> None:
    code = normalise_code(text)
    assert code is None or normalise_code(code) == code
