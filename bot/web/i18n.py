"""The portal's languages: gettext domain `portal` (locales/<lang>/LC_MESSAGES/portal.po) in
English, Dutch and Urdu, and which one a request gets.

Choice order: the account's own choice (set on /account or with the language switch), then the
`wc_lang` cookie (the switch, before logging in), then the browser's Accept-Language, then
English.

Placeholders: write `%(name)s` (Jinja's convention, so `{% trans %}` blocks and `_()` calls
share one style): `{{ _("%(n)s answers", n=count) }}`, `translate(request, "Round %(id)s",
id=7)`. `{name}` works too. Values are HTML-escaped in templates.
"""

from __future__ import annotations

import gettext
import string
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from markupsafe import Markup
from starlette.requests import Request

from bot.i18n import N_, Catalogs
from bot.web.deps import portal

__all__ = [
    "ENDONYMS",
    "LANGUAGES",
    "LANG_COOKIE",
    "N_",
    "RTL",
    "fill",
    "language_for",
    "load_catalogs",
    "ntranslate",
    "parse_accept_language",
    "translate",
]

DOMAIN = "portal"
LANGUAGES = ("en", "nl", "ur")
RTL = frozenset({"ur"})
ENDONYMS = {"en": "English", "nl": "Nederlands", "ur": "اردو"}
LANG_COOKIE = "wc_lang"


def load_catalogs(locales_dir: Path) -> Catalogs:
    """The portal catalogs, compiled in memory when a .mo is missing (as the others are)."""
    return Catalogs.load(locales_dir, LANGUAGES, domain=DOMAIN)


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(text: str, params: Mapping[str, Any]) -> str:
    """Put the values into a translated message: `%(name)s` or `{name}` placeholders.
    (A Markup `text` escapes the values: `%` and `format` on Markup both do.)"""
    if not params:
        return text
    if "%(" in text:
        return text % dict(params)
    if "{" not in text:
        return text
    if isinstance(text, Markup):
        return text.format_map(_Params(params))
    return string.Formatter().vformat(text, (), _Params(params))


def parse_accept_language(header: str | None) -> list[str]:
    """Language bases from an Accept-Language header, best first ("ur-PK;q=0.9" -> "ur")."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        if not tag or tag == "*":
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            ranked.append((-quality, position, tag.split("-")[0].split("_")[0].lower()))
    return [base for _, _, base in sorted(ranked)]


def language_for(request: Request, account_language: str | None = None) -> str:
    """The language of this page: account choice > cookie > browser > English."""
    if account_language in LANGUAGES:
        return account_language
    cookie = request.cookies.get(LANG_COOKIE)
    if cookie in LANGUAGES:
        return cookie
    for base in parse_accept_language(request.headers.get("accept-language")):
        if base in LANGUAGES:
            return base
    return "en"


def request_language(request: Request) -> str:
    """The language chosen for this request (set by the portal's middleware)."""
    return getattr(request.state, "lang", None) or language_for(request)


def translations(catalogs: Catalogs, lang: str) -> gettext.NullTranslations:
    """The raw gettext object of one language (the Localizer's, without its formatting)."""
    return catalogs.get(lang)._t


def translate(request: Request, msgid: str, **params: Any) -> str:
    """Translate a message marked with N_() into the page's language."""
    t = translations(portal(request).catalogs, request_language(request))
    return fill(t.gettext(msgid), params)


def ntranslate(request: Request, singular: str, plural: str, n: int, **params: Any) -> str:
    """Plural form chosen by n; `%(num)s` (and `{n}`) is the number."""
    t = translations(portal(request).catalogs, request_language(request))
    return fill(t.ngettext(singular, plural, n), {"num": n, "n": n, **params})
