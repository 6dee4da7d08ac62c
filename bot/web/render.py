"""Server-side rendering: one Jinja2 environment for every portal page, and `render()`.

Every template gets: `user`, `_`/`gettext`, `ngettext`, `lang`, `dir`, `csrf_field()`,
`csrf_token`, `url_for`, `static_url`, `format_date`, `format_datetime`, `format_number`,
`languages` and `request`. Autoescaping is on for .html; translated text is escaped like any
other value, and the values put into a message (`_("… %(x)s", x=...)`) are escaped too.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from bot.web.auth import current_user
from bot.web.deps import portal
from bot.web.i18n import ENDONYMS, LANGUAGES, RTL, fill, request_language, translations

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml", "svg"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # `{% trans %}` blocks call the context's gettext/ngettext new-style (values as keywords);
    # render() passes the page language's functions in every context.
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension
    return env


ENV = _environment()


@cache
def _static_version(name: str) -> str:
    path = STATIC_DIR / name
    return hashlib.sha256(path.read_bytes()).hexdigest()[:10] if path.is_file() else "0"


def static_url(name: str) -> str:
    """/static/<name>?v=<content hash>: browsers may cache it for long, and still see changes."""
    return f"/static/{name}?v={_static_version(name)}"


def _gettext_functions(request: Request, lang: str) -> tuple[Any, Any]:
    t = translations(portal(request).catalogs, lang)

    @pass_context
    def gettext(context: Context, message: str, **params: Any) -> str:
        text: str = t.gettext(message)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return fill(text, params)

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, n: int, **params: Any) -> str:
        text: str = t.ngettext(singular, plural, n)
        if context.eval_ctx.autoescape:
            text = Markup(text)
        return fill(text, {"num": n, **params})

    return gettext, ngettext


def template_context(request: Request) -> dict[str, Any]:
    """What every template sees (pages add their own values on top)."""
    lang = request_language(request)
    locale = lang
    tz = ZoneInfo(portal(request).app.settings.time_zone)
    token = getattr(request.state, "csrf_token", "")
    gettext, ngettext = _gettext_functions(request, lang)

    def csrf_field() -> Markup:
        return Markup('<input type="hidden" name="csrf_token" value="{}">').format(token)

    def url_for(name: str, /, **params: Any) -> str:
        return str(request.url_for(name, **params).path)

    def format_date(value: date | datetime | None, format: str = "medium") -> str:
        if value is None:
            return "–"
        if isinstance(value, datetime):
            value = value.astimezone(tz).date()
        return babel_format_date(value, format, locale=locale)

    def format_datetime(value: datetime | None, format: str = "medium") -> str:
        if value is None:
            return "–"
        moment = value
        text = babel_format_datetime(moment, format, tzinfo=tz, locale=locale)
        # "GMT+05:00": short, clear in every language; isolated, so that a right-to-left page
        # does not turn it into "05:00+GMT".
        zone = babel_format_datetime(moment, "ZZZZ", tzinfo=tz, locale="en")
        return f"{text} \u2066{zone}\u2069"

    def format_number(value: int | float | None, format: str | None = None) -> str:
        if value is None:
            return "–"
        return format_decimal(value, format=format, locale=locale, numbering_system="latn")

    return {
        "request": request,
        "user": current_user(request),
        "lang": lang,
        "dir": "rtl" if lang in RTL else "ltr",
        "_": gettext,
        "gettext": gettext,
        "ngettext": ngettext,
        "csrf_token": token,
        "csrf_field": csrf_field,
        "url_for": url_for,
        "static_url": static_url,
        "format_date": format_date,
        "format_datetime": format_datetime,
        "format_number": format_number,
        "languages": [(code, ENDONYMS[code]) for code in LANGUAGES],
    }


def render_text(request: Request, template: str, context: dict[str, Any] | None = None) -> str:
    """A template rendered to text (for pages and for fragments)."""
    values = template_context(request)
    values.update(context or {})
    return ENV.get_template(template).render(values)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """A page from bot/web/templates/<template> in the request's language."""
    return HTMLResponse(render_text(request, template, context), status_code=status_code)
