"""Languages: gettext catalogs from locales/, number and date formatting, bidi isolation."""

from bot.i18n.catalogs import (
    ENDONYMS,
    LANGUAGES,
    N_,
    RTL_LANGUAGES,
    WORKER_LANGUAGES,
    Catalogs,
    Localizer,
    isolate,
    negotiate_language,
)

__all__ = [
    "ENDONYMS",
    "LANGUAGES",
    "N_",
    "RTL_LANGUAGES",
    "WORKER_LANGUAGES",
    "Catalogs",
    "Localizer",
    "isolate",
    "negotiate_language",
]
