"""One set of checks for what people type, whichever way it comes in: the command line, the
portal's forms, its CSV import, its JSON API and the bot's staff commands all reach the
services, and the services check here. A refusal is an AdminError whose message says, in plain
words, what is wrong; nothing that passes can break a page, a poster, a report or a database
column later (PostgreSQL refuses a NUL character in text outright, SQLite an integer past 64
bits: neither may reach a query).

What is checked: factories (code, name, city, Open Supply Hub id, headcount), organisations
(name, kind), rounds (name, times, the help text workers read), people (e-mail addresses of
portal accounts, roles, invitations' days, languages) and row ids typed on the command line or
in a URL.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from bot.enums import OrgKind, Role
from bot.service.audited import AdminError

CODE_MAX = 40  # factories.code
NAME_MAX = 200  # factories.name, organisations.name, rounds.name
CITY_MAX = 100
OS_ID_MAX = 40
HEADCOUNT_MAX = 10_000_000
# Times of a round: plausible ones only (a typo such as year 1 or 9999 is refused, not stored).
EARLIEST_YEAR, LATEST_YEAR = 2020, 2100
EMAIL_MAX = 254  # web_accounts.email; RFC 5321's limit on a forward path
EMAIL_LOCAL_MAX = 64
ID_MAX = 2_147_483_647  # the database's integer columns (PostgreSQL INTEGER)
LANGUAGE_MAX = 8  # members.language, web_accounts.language
# A round's help text, per language: a few short lines a worker reads on a phone.
HELP_TEXT_MAX = 500
HELP_TEXT_LINES_MAX = 8
HELP_LANGUAGES = ("en", "ur", "sd")


# Bidi embeddings, overrides and isolates turn the text around them (and a file name or a
# report line) back to front. The joiners and the direction marks that Urdu and Sindhi
# keyboards type (U+200C-U+200F) are letters' business and are kept.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _has_control(text: str) -> bool:
    """Line breaks, tabs and other control characters, and bidi embeddings or overrides."""
    return any(unicodedata.category(c) in ("Cc", "Zl", "Zp") or c in BIDI_CONTROLS for c in text)


def factory_code(code: str) -> str:
    """A factory's own code (e.g. KHI-001): 1 to 40 of A-Z, a-z, 0-9, '-', '_', '.'; it goes
    into links, file names and posters."""
    code = code.strip()
    if not 0 < len(code) <= CODE_MAX or not all(
        c.isascii() and (c.isalnum() or c in "-_.") for c in code
    ):
        raise AdminError(
            f"a factory code is 1 to {CODE_MAX} letters A-Z, digits and - _ . (not {code[:50]!r})"
        )
    return code


def name(text: str, what: str = "name", limit: int = NAME_MAX) -> str:
    """A name people read (a factory, an organisation, a round): not empty, one line."""
    text = " ".join(text.split())
    if not text:
        raise AdminError(f"the {what} is empty")
    if len(text) > limit:
        raise AdminError(f"the {what} is longer than {limit} characters")
    if _has_control(text):
        raise AdminError(f"the {what} holds control characters")
    return text


def city(text: str) -> str:
    text = " ".join(text.split())
    if len(text) > CITY_MAX:
        raise AdminError(f"the city is longer than {CITY_MAX} characters")
    if _has_control(text):
        raise AdminError("the city holds control characters")
    return text


def os_id(text: str | None) -> str | None:
    """An Open Supply Hub id (e.g. PK2019085XKW5A0): letters and digits, or nothing."""
    text = (text or "").strip()
    if not text:
        return None
    if len(text) > OS_ID_MAX or not all(c.isascii() and c.isalnum() for c in text):
        raise AdminError(f"an Open Supply Hub id is up to {OS_ID_MAX} letters and digits")
    return text


def headcount(value: int | str | None) -> int | None:
    """Workers at the factory: a whole number from 1 to 10 million, or nothing."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if not text.isdecimal() or len(text) > 8 or not 1 <= int(text) <= HEADCOUNT_MAX:
        raise AdminError(f"the headcount is a whole number from 1 to {HEADCOUNT_MAX:,}")
    return int(text)


def moment(value: datetime | None, what: str) -> datetime | None:
    """A round's opening or closing time: with a time zone, in a plausible year."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise AdminError(f"the {what} needs a time zone")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise AdminError(f"the {what} must lie between {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def help_language(value: str) -> str:
    """A language a round's help text is written in: en, ur or sd."""
    text = str(value).strip().lower()
    if text not in HELP_LANGUAGES:
        languages = ", ".join(HELP_LANGUAGES)
        raise AdminError(f"a help text is in one of {languages} (not {text[:20]!r})")
    return text


def help_text(text: str | None, lang: str = "") -> str | None:
    """A round's help text in one language (the CSO's helpline, the complaint route): at most
    500 characters and 8 lines, no control or bidi characters besides line breaks; blank
    lines and spaces at the ends of lines go. Empty: None (the default text is shown)."""
    what = f"help text ({lang})" if lang else "help text"
    lines = [" ".join(line.split()) for line in (text or "").replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line]
    if not lines:
        return None
    cleaned = "\n".join(lines)
    if len(cleaned) > HELP_TEXT_MAX:
        raise AdminError(f"the {what} is longer than {HELP_TEXT_MAX} characters")
    if len(lines) > HELP_TEXT_LINES_MAX:
        raise AdminError(f"the {what} has more than {HELP_TEXT_LINES_MAX} lines")
    if any(_has_control(line) for line in lines):
        raise AdminError(f"the {what} holds control characters")
    return cleaned


def help_texts(texts: dict[str, str | None] | None) -> dict[str, str] | None:
    """A round's help texts by language, checked; None when there is none."""
    checked = {help_language(lang): help_text(text, lang) for lang, text in (texts or {}).items()}
    kept = {lang: text for lang, text in checked.items() if text}
    return kept or None


def email(text: str) -> str:
    """An e-mail address of a portal account, lower-cased: at most 254 characters, exactly one
    @ with something before it and a domain with a dot after it, no spaces, control or bidi
    characters. Deliberately no stricter: addresses in any script are people's addresses."""
    text = text.strip().lower()
    local, at, domain = text.partition("@")
    if (
        not at
        or not local
        or len(local) > EMAIL_LOCAL_MAX
        or "@" in domain
        or "." not in domain.strip(".")
        or ".." in domain
        or len(text) > EMAIL_MAX
        or any(c.isspace() for c in text)
        or _has_control(text)
        or any(unicodedata.category(c) in ("Cf", "Cs", "Co", "Cn") for c in text)
    ):
        raise AdminError("this does not look like an e-mail address")
    return text


def role(value: str) -> Role:
    """A person's role in their organisation: admin or viewer."""
    text = str(value).strip().lower()
    if text not in tuple(Role):
        raise AdminError(f"role must be one of {', '.join(Role)}")
    return Role(text)


def org_kind(value: str) -> OrgKind:
    """What an organisation is: a cso or a brand."""
    text = str(value).strip().lower()
    if text not in tuple(OrgKind):
        raise AdminError("an organisation is a 'cso' or a 'brand'")
    return OrgKind(text)


def days(value: int | str, maximum: int, what: str = "an invite") -> int:
    """How long something is valid: a whole number of days from 1 to `maximum`."""
    text = str(value).strip()
    if not text.isdecimal() or len(text) > 6 or not 1 <= int(text) <= maximum:
        raise AdminError(f"{what} is valid for 1 to {maximum} days")
    return int(text)


def row_id(value: int | str, what: str = "id") -> int:
    """A row's number as people type it (the command line, a URL): 1 to 2,147,483,647. A
    larger number is no row of ours, and would overflow the query."""
    text = str(value).strip()
    if not text.isdecimal() or len(text) > 10 or not 1 <= int(text) <= ID_MAX:
        raise AdminError(f"{text[:20]!r} is not a {what} (a whole number from 1 to {ID_MAX:,})")
    return int(text)


_LANGUAGE_TAG = re.compile(r"[a-z]{2,3}")


def language(value: str | None, default: str | None = None) -> str | None:
    """The base of a language tag as a client sends it ("pt-BR" -> "pt"), or `default` when
    there is none that makes sense (Telegram passes whatever the phone says)."""
    base = re.split(r"[-_]", (value or "").strip().lower(), maxsplit=1)[0]
    return base if _LANGUAGE_TAG.fullmatch(base) else default
