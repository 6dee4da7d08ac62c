"""Read what a worker typed: numbers, yes/no, option numbers, commands and access codes.

Pure functions, no I/O apart from reading the word catalogs once, at import. Workers type in
Urdu, Sindhi or English, with Latin, Arabic-Indic or Extended Arabic-Indic digits, often with
invisible bidi marks that their keyboards insert; every function here first runs the text
through `clean_text` and never raises for any `str`.

Word lists are data: English, Roman Urdu and symbols here, each language's words in the "words"
catalogs (locales/<lang>/LC_MESSAGES/words.po), so that a translator can add a spelling without
touching the logic. They are matched against the *whole* message, never a substring, so that an
answer to a question (say "band karo" inside a free-text complaint) is never mistaken for a
command.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from enum import Enum
from pathlib import Path

from babel.messages.pofile import read_po

from bot.paths import LOCALES_DIR

__all__ = [
    "BUILTIN_COMMAND_WORDS",
    "BUILTIN_YES_NO_WORDS",
    "COMMAND_WORDS",
    "CURRENCY_WORDS",
    "MAX_INPUT_CHARS",
    "NUMBER_MULTIPLIERS",
    "SLASH_ONLY_COMMAND_WORDS",
    "WORD_CONFLICTS",
    "WORD_MEANINGS",
    "YES_NO_WORDS",
    "Command",
    "clean_text",
    "match_command",
    "normalise_code",
    "parse_choice_index",
    "parse_choice_indices",
    "parse_number",
    "parse_yes_no",
    "read_catalog_words",
    "to_latin_digits",
]


class Command(str, Enum):  # noqa: UP042 - callers rely on the exact `str, Enum` base
    """A command a worker can type at any point of the survey."""

    HELP = "help"
    BACK = "back"
    RESTART = "restart"
    LANGUAGE = "language"
    STOP = "stop"
    DELETE = "delete"
    CLEAR = "clear"


# Number, code and word parsing refuse longer input (returns None) so hostile input is cheap.
MAX_INPUT_CHARS: int = 64

# A message this long cannot shrink below MAX_INPUT_CHARS unless it is mostly invisible
# characters; refusing it before normalising keeps a megabyte of junk from costing anything.
_MAX_RAW_CHARS = MAX_INPUT_CHARS * 16

# ------------------------------------------------------------------------------------ data tables
# One line per language (English, Roman Urdu, Urdu, Sindhi, symbols) reads better than one word
# per line, hence no formatter here.
# fmt: off

# The words every language shares: English, Roman Urdu and symbols. Words in Urdu and Sindhi
# script, and any a translator adds, are in the "words" catalogs (locales/<lang>/LC_MESSAGES/
# words.po, read below); YES_NO_WORDS and COMMAND_WORDS are both together.
BUILTIN_YES_NO_WORDS: dict[str, tuple[str, ...]] = {
    # "ok" is deliberately absent: workers use it to mean "I read that", not "yes". So are
    # "theek hai" / "ٹھیک ہے" / "ٺيڪ آهي" (all three mean "ok"): a yes/no word also answers the
    # consent question, "Delete all your answers?" and "Is this your factory?". A message
    # meant as "I read that" must not give consent or erase a worker's answers; an unknown word
    # only makes the bot ask again, with buttons.
    "yes": (
        "yes", "y", "yeah", "yep", "yup", "haan", "han", "haa", "ha", "ji", "jee", "g",
        "ji haan", "ji han", "jee haan", "haan ji", "han ji", "bilkul",
        "✅", "👍", "✔", "☑",
    ),
    "no": (
        "no", "n", "nope", "nah", "nahi", "nahin", "nai", "na", "nhi",
        "ji nahi", "ji nahin", "nahi ji", "nahin ji",
        "❌", "👎", "✖",
    ),
    "dont_know": (
        "dont_know", "don't know", "dont know", "do not know", "i don't know", "i dont know",
        "i do not know", "not sure", "dk", "idk",
        "pata nahi", "pata nahin", "pta nahi", "maloom nahi", "maloom nahin", "malum nahi",
        "❓", "?", "؟", "🤷",
    ),
}

BUILTIN_COMMAND_WORDS: dict[Command, tuple[str, ...]] = {
    # Language *names* ("اردو", "sindhi") are not here: they are answers to the language question.
    Command.HELP: ("help", "madad", "madad chahiye"),
    Command.BACK: ("back", "go back", "wapas", "wapis", "pichhe", "peeche"),
    Command.RESTART: ("restart", "start over", "dobara", "dubara"),
    Command.LANGUAGE: ("language", "lang", "change language", "zuban", "zaban"),
    Command.STOP: ("stop", "pause", "ruko", "band"),
    # "ختم کریں" (finish) is not a delete word: it is too easily meant as "I am done".
    Command.DELETE: ("delete", "delete my answers", "mitao"),
    # Removes the chat's messages from the phone; the stored answers stay.
    Command.CLEAR: ("clear", "clear chat", "saaf", "saaf karo"),
}

# Telegram sends "/start" when a chat opens; a bare "start" is too easily an ordinary word.
SLASH_ONLY_COMMAND_WORDS: dict[Command, tuple[str, ...]] = {Command.RESTART: ("start",)}

NUMBER_MULTIPLIERS: dict[str, int] = {
    "k": 1_000, "thousand": 1_000, "thousands": 1_000, "hazar": 1_000, "hazaar": 1_000,
    "ہزار": 1_000, "هزار": 1_000,
    "lakh": 100_000, "lakhs": 100_000, "lac": 100_000, "lacs": 100_000,
    "لاکھ": 100_000, "لک": 100_000,
    "crore": 10_000_000, "کروڑ": 10_000_000, "ڪروڙ": 10_000_000,
}

CURRENCY_WORDS: tuple[str, ...] = (
    "rs", "pkr", "₨", "rupees", "rupee", "rupay", "rupaye", "rupiya", "rupaiya",
    "روپے", "روپیہ", "روپیے", "روپئے", "روپيا", "رپيا", "روپیا",
)
# fmt: on

# ------------------------------------------------------------------------------------- cleaning

_TATWEEL = "\u0640"
# Format (invisible), control and surrogate code points; white space among them stays a space.
_DROPPED_CATEGORIES = frozenset({"Cf", "Cc", "Cs"})

# Letters that look alike and are typed interchangeably depending on the keyboard (Arabic,
# Urdu or Sindhi layout); folded only for matching words, never in text that is stored.
_LETTER_FOLD = str.maketrans(
    {
        "\u064a": "\u06cc",  # Arabic yeh -> Farsi/Urdu yeh
        "\u0649": "\u06cc",  # alef maksura -> Urdu yeh
        "\u0643": "\u06a9",  # Arabic kaf -> keheh
        "\u06aa": "\u06a9",  # Sindhi swash kaf -> keheh
        "\u0647": "\u06c1",  # Arabic heh -> heh goal
        "\u06be": "\u06c1",  # heh doachashmee, often typed for plain heh ("نھیں")
        "\u06d5": "\u06c1",  # ae -> heh goal
        "\u0629": "\u06c1",  # teh marbuta -> heh goal
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "`": "'",
        **{chr(c): None for c in range(0x1F3FB, 0x1F400)},  # emoji skin tones: 👍🏽 is 👍
    }
)

_TRAILING_PUNCT = ".!?,;:…۔؟،"


def clean_text(text: str) -> str:
    """NFC-normalise, drop format characters (bidi, zero-width, BOM), control characters, lone
    surrogates and tatweel, squash spaces."""
    # Every Cf character is invisible by definition; keyboards sprinkle RLM/ALM/ZWNJ into RTL
    # text and they would otherwise defeat every comparison. Control characters (NUL, ESC, ...)
    # and lone surrogates (JSON may carry "\ud800") are never meant: PostgreSQL refuses NUL in
    # text, and neither database nor any channel can encode a lone surrogate as UTF-8.
    visible = "".join(
        ch
        for ch in text
        if ch != _TATWEEL and (unicodedata.category(ch) not in _DROPPED_CATEGORIES or ch.isspace())
    )
    # str.split() without arguments splits on all Unicode whitespace, NBSP included.
    return " ".join(unicodedata.normalize("NFC", visible).split())


# Ten or more digits in one run (spaces, dashes, dots, brackets between them): a phone number
# (Pakistani mobiles have 10-12 digits with or without 0/+92) or an identity card number
# (13 digits) — never a wage or a date. Any digit script (matched after to_latin_digits,
# which keeps every position).
_LONG_NUMBER = re.compile(r"\+?\d(?:[\s\-\u2010-\u2015.()/]*\d){9,}")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
REDACTED = "[…]"


def redact_contacts(text: str) -> str:
    """Free text without phone numbers, identity card numbers and e-mail addresses: a worker
    who types theirs (or a supervisor's) into a comment is not identified by it."""
    latin = to_latin_digits(text)
    spans = [m.span() for m in _LONG_NUMBER.finditer(latin)]
    spans += [m.span() for m in _EMAIL.finditer(latin)]
    if not spans:
        return text
    out, last = [], 0
    for start, end in sorted(spans):
        if start < last:  # overlapping (an e-mail address made of digits)
            last = max(last, end)
            continue
        out.append(text[last:start])
        out.append(REDACTED)
        last = end
    out.append(text[last:])
    return "".join(out)


def to_latin_digits(text: str) -> str:
    """Replace every Unicode decimal digit (str.isdecimal) with its ASCII digit; leave the rest."""
    if text.isascii():
        return text
    out = []
    for ch in text:
        value = unicodedata.decimal(ch, None) if ch.isdecimal() else None
        out.append(ch if value is None else str(value))
    return "".join(out)


def _fold(text: str) -> str:
    """Reduce text to a key for word matching: no case, no diacritics, one form per letter."""
    decomposed = unicodedata.normalize("NFD", text.casefold())
    # Dropping combining marks also drops harakat, hamza above and emoji variation selectors.
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    folded = unicodedata.normalize("NFC", bare.translate(_LETTER_FOLD))
    return " ".join(folded.split())


def _short_clean(text: str) -> str | None:
    """clean_text, or None if the cleaned text is longer than MAX_INPUT_CHARS."""
    if len(text) > _MAX_RAW_CHARS:
        return None
    cleaned = clean_text(text)
    return cleaned if len(cleaned) <= MAX_INPUT_CHARS else None


def _word_key(text: str) -> str | None:
    """The folded whole message without trailing punctuation, or None if too long."""
    cleaned = _short_clean(text)
    if cleaned is None:
        return None
    key = _fold(cleaned)
    # "?" on its own is an answer ("don't know"), so punctuation is only trimmed off words.
    return key.rstrip(_TRAILING_PUNCT + " ") or key


def _build_lookup(table: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
    """Invert a word table into folded word -> meaning, refusing a word with two meanings."""
    lookup: dict[str, str] = {}
    for meaning, words in table.items():
        for word in words:
            key = _fold(word)
            if lookup.setdefault(key, meaning) != meaning:
                raise ValueError(f"word {word!r} means both {lookup[key]!r} and {meaning!r}")
    return lookup


# ------------------------------------------------------------------------------ catalog words
# locales/<lang>/LC_MESSAGES/words.po: one entry per meaning (msgid "yes", "stop", ...), its
# msgstr the language's words separated by "|" (docs/translation-review.md). They are read here
# with Babel's read_po when this module is imported (no compiled .mo: nothing to forget to
# build, and a few dozen lines cost milliseconds); this is the module's only I/O.
WORDS_DOMAIN = "words"
WORD_SEPARATOR = "|"
WORD_LANGUAGES = ("en", "ur", "sd")
WORD_MEANINGS: tuple[str, ...] = (*BUILTIN_YES_NO_WORDS, *(c.value for c in Command))


def split_words(msgstr: str) -> list[str]:
    """The words of a words.po translation: "ہاں | جی ہاں" -> ["ہاں", "جی ہاں"]."""
    return [w for w in (" ".join(part.split()) for part in msgstr.split(WORD_SEPARATOR)) if w]


def read_catalog_words(
    locales_dir: Path = LOCALES_DIR, languages: Iterable[str] = WORD_LANGUAGES
) -> dict[str, dict[str, list[str]]]:
    """Each language's words per meaning, from its words.po (missing files give nothing).

    Fuzzy entries (a guess by `pybabel update`) and unknown meanings are left out."""
    found: dict[str, dict[str, list[str]]] = {}
    for lang in languages:
        po = locales_dir / lang / "LC_MESSAGES" / f"{WORDS_DOMAIN}.po"
        if not po.exists():
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh)
        found[lang] = {
            m.id: split_words(m.string)
            for m in catalog
            if isinstance(m.id, str) and m.id in WORD_MEANINGS and not m.fuzzy
            if isinstance(m.string, str)
        }
    return found


def merge_words(
    builtin: Mapping[str, Iterable[str]], catalogs: Mapping[str, Mapping[str, Iterable[str]]]
) -> tuple[dict[str, tuple[str, ...]], list[str]]:
    """Built-in and catalog words per meaning, and the catalog words refused because their
    folded form already means something else (such a word is left out of both meanings, so
    that it means nothing rather than the wrong thing; tests/test_parsing.py fails on it)."""
    owner = {_fold(w): m for m, words in builtin.items() for w in words}
    extra: dict[str, list[tuple[str, str]]] = {}  # folded -> [(meaning, word as written)]
    for by_meaning in catalogs.values():
        for meaning, words in by_meaning.items():
            for word in words:
                extra.setdefault(_fold(word), []).append((meaning, word))
    merged = {m: list(words) for m, words in builtin.items()}
    conflicts = []
    for key, uses in extra.items():
        meanings = {m for m, _ in uses} | ({owner[key]} if key in owner else set())
        if len(meanings) > 1:
            conflicts += [f"{w!r} ({m})" for m, w in uses]
            for m in meanings:
                if m in merged:
                    merged[m] = [w for w in merged[m] if _fold(w) != key]
            continue
        for meaning, word in uses:
            if meaning in merged and word not in merged[meaning]:
                merged[meaning].append(word)
    return {m: tuple(words) for m, words in merged.items()}, conflicts


_CATALOG_WORDS = read_catalog_words()
# Both tables in one namespace: a word may not be a yes/no answer and a command at once.
_ALL_WORDS, WORD_CONFLICTS = merge_words(
    {**BUILTIN_YES_NO_WORDS, **{c.value: w for c, w in BUILTIN_COMMAND_WORDS.items()}},
    _CATALOG_WORDS,
)
YES_NO_WORDS: dict[str, tuple[str, ...]] = {m: _ALL_WORDS[m] for m in BUILTIN_YES_NO_WORDS}
COMMAND_WORDS: dict[Command, tuple[str, ...]] = {c: _ALL_WORDS[c.value] for c in Command}

_YES_NO_LOOKUP = _build_lookup(YES_NO_WORDS)
_COMMAND_LOOKUP = _build_lookup({c.value: w for c, w in COMMAND_WORDS.items()})
_SLASH_COMMAND_LOOKUP = {
    **_COMMAND_LOOKUP,
    **_build_lookup({c.value: w for c, w in SLASH_ONLY_COMMAND_WORDS.items()}),
}

# ---------------------------------------------------------------------------------------- numbers


def _alternation(words: Iterable[str]) -> str:
    """A regex alternation of folded words, longest first so "lakhs" wins over "lakh"."""
    folded = {_fold(w) for w in words}
    return "|".join(re.escape(w) for w in sorted(folded, key=lambda w: (-len(w), w)))


_MULTIPLIER_VALUES = {_fold(w): v for w, v in NUMBER_MULTIPLIERS.items()}
_CURRENCY = rf"(?:{_alternation(CURRENCY_WORDS)})\.?"
# Before the number: currency, "=" or ":" ("Rs: 25000", "= 25000").
_PREFIX_RE = re.compile(rf"(?:\s*(?:{_CURRENCY}|[=:]))*\s*")
# After it: at most one multiplier first, then currency and the "/-" that closes a written amount.
_SUFFIX_RE = re.compile(
    rf"\s*(?P<mult>{_alternation(NUMBER_MULTIPLIERS)})?"
    rf"(?:\s*(?:{_CURRENCY}|only|/-|/=|-/|=|-|[.,!۔]))*\s*"
)
# One run of digits joined by group separators or a decimal mark; ASCII only after to_latin_digits.
_SEP = r"(?: ?[,'] ?| |[.\u066b])"
_RUN_RE = re.compile(rf"[0-9]+(?:{_SEP}[0-9]+)*")
_SEP_SPLIT_RE = re.compile(rf"({_SEP})")
_SEPARATOR_FOLD = str.maketrans({"\u066c": ",", "\u060c": ",", "\u2019": "'", "\u2018": "'"})
_MINUS = "-\u2212"


def _valid_grouping(groups: list[str]) -> bool:
    """True for 1-3 digits then groups of 3 ("25,000") or of 2 ending in 3 ("1,00,000")."""
    first, *middle, last = groups
    if not 1 <= len(first) <= 3 or first.startswith("0") or len(last) != 3:
        return False
    sizes = {len(g) for g in middle}
    return sizes <= {3} or sizes <= {2}


def _split_run(run: str, has_multiplier: bool) -> tuple[str, str] | None:
    """Integer and fraction digits of a digit run, or None if its separators make no sense."""
    parts = _SEP_SPLIT_RE.split(run)
    groups, seps = parts[0::2], [p.strip() or " " for p in parts[1::2]]
    if seps and set(seps) == {"."}:
        # A lone "." is ambiguous: "25.5" is a decimal, "25.000" is 25 thousand in the European
        # style. Rupee amounts never have three decimals, so "." is a thousands separator exactly
        # when that reading is a valid grouping and no multiplier follows ("1.500k" is 1500).
        if len(seps) == 1 and (has_multiplier or not _valid_grouping(groups)):
            return groups[0], groups[1]
        fraction = ""
    elif seps and seps[-1] in (".", "\u066b"):
        fraction = groups.pop()
        seps.pop()
    else:
        fraction = ""
    if seps and (len(set(seps)) != 1 or seps[0] == "\u066b" or not _valid_grouping(groups)):
        return None
    return "".join(groups), fraction


def parse_number(text: str) -> int | None:
    """Parse a money amount or count typed by a worker into whole rupees (int), or None.

    Accepts any decimal digit script, group separators (, ٬ ، ' or space, Western "25,000" or
    Indian "1,00,000" grouping), a decimal mark "." or "٫", currency words before or after
    ("Rs", "PKR", "₨", "روپے", "/-"), one multiplier after (k, thousand, ہزار, lakh, لاکھ, لک,
    crore) and a leading minus. Fractions are rounded half away from zero ("25000.5" -> 25001).
    A single "." is a thousands separator when reading it so gives valid grouping (1-3 digits,
    not starting with 0, then exactly 3) and no multiplier follows: "25.000" -> 25000,
    "1.000.000" -> 1000000, but "25.00" -> 25, "0.500" -> 1 and "1.500k" -> 1500; "٫" is always
    a decimal mark. Two numbers ("25000 30000", "25000-30000"), digits inside words ("abc123"),
    mixed separator styles ("1.000,50") and text longer than MAX_INPUT_CHARS give None.
    """
    cleaned = _short_clean(text)
    if not cleaned:
        return None
    s = to_latin_digits(cleaned).casefold().translate(_SEPARATOR_FOLD)
    runs = list(_RUN_RE.finditer(s))
    if len(runs) != 1:
        return None
    run = runs[0]
    suffix = _SUFFIX_RE.fullmatch(_fold(s[run.end() :]))
    if suffix is None:
        return None
    prefix = s[: run.start()].rstrip()
    negative = prefix.endswith(tuple(_MINUS))
    if negative:
        prefix = prefix[:-1]
        # "Rs-500" is more likely a typo than a debt; only a detached minus counts.
        if prefix and not prefix[-1].isspace():
            return None
    if _PREFIX_RE.fullmatch(_fold(prefix)) is None:
        return None
    mult_word = suffix.group("mult")
    split = _split_run(run.group(), has_multiplier=mult_word is not None)
    if split is None:
        return None
    whole, fraction = split
    multiplier = _MULTIPLIER_VALUES[mult_word] if mult_word else 1
    # Integer arithmetic: Decimal's 28-digit context would overflow on long (hostile) input.
    scale = 10 ** len(fraction)
    numerator = (int(whole) * scale + int(fraction or "0")) * multiplier
    value = (2 * numerator + scale) // (2 * scale)
    return -value if negative else value


# ------------------------------------------------------------------------------ yes/no, choices


def parse_yes_no(text: str) -> str | None:
    """Return "yes", "no" or "dont_know" for a yes/no word in en, ur, Roman ur or sd, else None."""
    key = _word_key(text)
    return None if key is None else _YES_NO_LOOKUP.get(key)


_OPTION_RE = re.compile(r"[(\[]?\s*([0-9]+)\s*[)\].۔:]?")
_OPTION_SEP_RE = re.compile(r"\s*(?:[,،٬;/&+]|and|aur|اور|و|۽)\s*|\s+")


def _option_numbers(text: str) -> list[int] | None:
    """The option numbers in a message made only of numbers and separators, else None."""
    cleaned = _short_clean(text)
    if cleaned is None:
        return None
    numbers = []
    for token in _OPTION_SEP_RE.split(to_latin_digits(cleaned).casefold()):
        if not token:
            continue
        match = _OPTION_RE.fullmatch(token)
        if match is None:
            return None
        numbers.append(int(match.group(1)))
    return numbers


def parse_choice_index(text: str, count: int) -> int | None:
    """A typed option number 1..count in any digit script ("2", "۲", "(2)") -> 0-based index."""
    cleaned = _short_clean(text)
    match = None if cleaned is None else _OPTION_RE.fullmatch(to_latin_digits(cleaned))
    if match is None:
        return None
    number = int(match.group(1))
    return number - 1 if 1 <= number <= count else None


def parse_choice_indices(text: str, count: int) -> list[int] | None:
    """Several option numbers ("1,3", "۱ ۳", "1 و 3") -> sorted unique 0-based indices, or None."""
    # "13" stays thirteen, never "1 and 3": splitting digits would silently change answers.
    numbers = _option_numbers(text)
    if not numbers or not all(1 <= n <= count for n in numbers):
        return None
    return sorted({n - 1 for n in numbers})


# ------------------------------------------------------------------------------ commands, codes


def match_command(text: str) -> Command | None:
    """Recognise a command typed as the whole message, in any language, with or without "/"."""
    key = _word_key(text)
    if key is None:
        return None
    if key.startswith("/"):
        # Telegram group chats append the bot's name: "/help@WageCheckBot".
        meaning = _SLASH_COMMAND_LOOKUP.get(key[1:].split("@", 1)[0])
    else:
        meaning = _COMMAND_LOOKUP.get(key)
    return None if meaning is None else Command(meaning)


_CODE_JUNK_RE = re.compile(r"[\s_\-\u2010-\u2015\u2212]+")
_CODE_RE = re.compile(r"[A-Z0-9]{4,16}")
_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def normalise_code(text: str) -> str | None:
    """An access code as typed or as a deep-link payload, as 4..16 chars of [A-Z0-9], else None."""
    cleaned = _short_clean(text)
    if cleaned is None:
        return None
    # Only ASCII letters are uppercased: "ß".upper() == "SS" would turn junk into a valid code.
    code = to_latin_digits(_CODE_JUNK_RE.sub("", cleaned)).translate(_ASCII_UPPER)
    return code if _CODE_RE.fullmatch(code) else None
