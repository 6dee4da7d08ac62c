"""Load the gettext catalogs once and hand out a Localizer per language."""

from __future__ import annotations

import gettext
import io
import logging
import string
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

log = logging.getLogger(__name__)

DOMAIN = "wagecheck"
WORKER_LANGUAGES = ("en", "ur", "sd")
LANGUAGES = ("en", "ur", "sd", "nl")
RTL_LANGUAGES = frozenset({"ur", "sd"})
# Names of the languages in themselves, for the language buttons.
ENDONYMS = {"en": "English", "ur": "اردو", "sd": "سنڌي", "nl": "Nederlands"}

LRI, PDI = "\u2066", "\u2069"


def N_(message: str) -> str:
    """Mark a string for extraction by pybabel without translating it here."""
    return message


# TRANSLATORS: an amount of money; {amount} is the number with its thousands separators
# ("40,000"). Write it as people write amounts in your language, e.g. Urdu "{amount} روپے".
# Do not add bidi marks: docs/domain.md ("Latin text inside right-to-left text") says why.
MONEY = N_("PKR {amount}")


def isolate(text: str) -> str:
    """Wrap left-to-right text (a Latin number, a code) so it keeps its order inside RTL text."""
    return f"{LRI}{text}{PDI}"


def negotiate_language(client_code: str | None, available: Iterable[str] = WORKER_LANGUAGES) -> str:
    """Map a client's language code (e.g. Telegram's 'ur-PK') to a supported language."""
    if client_code:
        base = client_code.replace("_", "-").split("-")[0].lower()
        if base in available:
            return base
    return "en"


class _Params(dict[str, Any]):
    """Format parameters that leave an unknown placeholder as it is instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


class Localizer:
    """Translation and formatting for one language."""

    def __init__(self, lang: str, translations: gettext.NullTranslations) -> None:
        self.lang = lang
        self.rtl = lang in RTL_LANGUAGES
        self._t = translations
        self._locale = Locale.parse(lang)

    def gettext(self, message: str, **params: Any) -> str:
        """Translate `message` and fill its {placeholders}."""
        text = self._t.gettext(message)
        return string.Formatter().vformat(text, (), _Params(params)) if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: Any) -> str:
        """Translate with a plural form chosen by n; {n} is available as a placeholder."""
        text = self._t.ngettext(singular, plural, n)
        return string.Formatter().vformat(text, (), _Params(n=self.number(n), **params))

    def number(self, value: int | float) -> str:
        """A number with the locale's grouping, Latin digits, isolated inside RTL text."""
        text = format_decimal(value, locale=self._locale, numbering_system="latn")
        return isolate(text) if self.rtl else text

    def money(self, value: int) -> str:
        """An amount in rupees as the language writes it: 'PKR 40,000', '40,000 روپے'.

        No bidi marks: Latin digits joined by "," stay one left-to-right number inside
        right-to-left text on their own (docs/domain.md). A minus sign does not (it would be
        drawn on the number's right), so a negative amount's number is isolated.
        """
        digits = format_decimal(value, locale=self._locale, numbering_system="latn")
        if value < 0 and self.rtl:
            digits = isolate(digits)
        return self.gettext(MONEY, amount=digits)

    def month(self, value: date) -> str:
        """A month and year in the locale's words, e.g. 'October 2026' / 'اکتوبر 2026'."""
        return format_date(value, "LLLL y", locale=self._locale)

    def join(self, items: list[str]) -> str:
        """Items as a list in the locale's words ("cash and bank" / "نقد اور بینک")."""
        return format_list(items, locale=self._locale) if items else ""

    def date(self, value: date) -> str:
        """A date in the locale's medium format."""
        return format_date(value, "medium", locale=self._locale)


class Catalogs:
    """All languages' translations, loaded once at start-up (the engine then does no I/O)."""

    def __init__(self, translations: Mapping[str, gettext.NullTranslations]) -> None:
        self._translations = dict(translations)
        self._localizers = {lang: Localizer(lang, t) for lang, t in self._translations.items()}

    @classmethod
    def load(
        cls, locales_dir: Path, languages: Iterable[str] = LANGUAGES, domain: str = DOMAIN
    ) -> Catalogs:
        """Read compiled .mo files; compile a .po in memory when its .mo is missing or stale.

        `domain` picks the catalog family: "wagecheck" (what workers read) or "reports"
        (brand- and CSO-facing report text, en and nl only).
        """
        found: dict[str, gettext.NullTranslations] = {}
        for lang in languages:
            mo = locales_dir / lang / "LC_MESSAGES" / f"{domain}.mo"
            po = mo.with_suffix(".po")
            if mo.exists() and (not po.exists() or mo.stat().st_mtime >= po.stat().st_mtime):
                with mo.open("rb") as fh:
                    found[lang] = gettext.GNUTranslations(fh)
            elif po.exists():
                log.warning("catalog %s is not compiled; compiling in memory", po)
                found[lang] = _compile_in_memory(po)
            else:
                found[lang] = gettext.NullTranslations()
        return cls(found)

    @classmethod
    def untranslated(cls) -> Catalogs:
        """English source strings only (for tests of the engine's logic)."""
        return cls({lang: gettext.NullTranslations() for lang in LANGUAGES})

    def get(self, lang: str) -> Localizer:
        """The Localizer for a language (English if unknown)."""
        return self._localizers.get(lang) or self._localizers["en"]

    @property
    def languages(self) -> list[str]:
        return list(self._localizers)


def _compile_in_memory(po: Path) -> gettext.GNUTranslations:
    with po.open("rb") as fh:
        catalog = read_po(fh)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)
