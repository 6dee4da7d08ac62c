"""Query parameters with bounds, for the pages and the JSON API alike: a number is a whole
number within its range, a choice one of its values, and a parameter comes once. Anything
else is a 400 that names the parameter and says what it may be (a page in the user's language,
or the API's JSON error), never a 500 and never a silent guess. Route parameters have their
own bounds in the routes themselves ({x:id}, bot/web/convertors.py).

    page = query_int(request, "page", 1, 1_000_000, default=1)
    lang = query_choice(request, "lang", ("en", "nl"), default="en")
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request

from bot.web.i18n import N_, fill

ONCE = N_("Give %(name)s only once in the address.")
WHOLE_NUMBER = N_("%(name)s in the address must be a whole number from %(low)s to %(high)s.")
ONE_OF = N_("%(name)s in the address must be one of: %(choices)s.")


class QueryError(HTTPException):
    """A query parameter with a value it cannot have: 400. `msgid` and `params` let the
    portal say it in the page's language; `detail` is the English text (the API's)."""

    def __init__(self, name: str, msgid: str, **params: Any) -> None:
        self.name = name
        self.msgid = msgid
        self.params = {"name": name, **params}
        super().__init__(400, detail=fill(msgid, self.params))


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise QueryError(name, ONCE)
    return values[0] if values else None


def query_int(request: Request, name: str, low: int, high: int, default: int) -> int:
    """A whole number within [low, high]; `default` when the parameter is absent or empty.
    Digits only (no sign, exponent or spaces), and no more of them than `high` has: a
    thousand-digit number is refused before Python is asked to convert it."""
    text = _one(request, name)
    if text is None or text == "":
        return default
    if (
        not (text.isascii() and text.isdecimal())
        or len(text) > len(str(high))
        or not low <= int(text) <= high
    ):
        raise QueryError(name, WHOLE_NUMBER, low=low, high=high)
    return int(text)


def query_choice(request: Request, name: str, choices: Sequence[str], default: str) -> str:
    """One of `choices`; `default` when the parameter is absent or empty."""
    text = _one(request, name)
    if text is None or text == "":
        return default
    if text not in choices:
        raise QueryError(name, ONE_OF, choices=", ".join(choices))
    return text
