"""The CSO pages of the portal, everything under /cso/: rounds (with live counts, a chart of
responses per day, posters and the lifecycle actions), factories (add, edit, CSV import, brand
links), members and invites, the audit log, and the results of closed rounds.

Rules every route follows:
- reading needs a CSO account (`require(kind=OrgKind.CSO)`), changing needs a CSO admin
  (`admin=True`): a viewer gets 403 on every change, a brand account 403 everywhere;
- every object is looked up within the user's organisation (bot/service/cso_portal.py); another
  CSO's round or factory answers 404, as if it did not exist, and of another CSO's work a
  page shows nothing (docs/portal.md, "What one CSO may learn of another's work");
- changes go through the services (AdminService, MemberService, AccountService) with the
  actor "web:<account id>", so the audit log says who did it;
- results come from bot/reports only (build_report / export_answers for "cso:<name>"), so the
  disclosure control (k = 5 for CSOs) applies here exactly as in the files.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.bootstrap import App
from bot.enums import OrgKind, Role, RoundStatus
from bot.posters import poster_links, render_poster
from bot.reports import FORMATS, Audience, ReportError, build_report, export_answers, render
from bot.reports import strings as S
from bot.reports.build import audit_generation
from bot.reports.files import ANSWERS, file_name
from bot.reports.formats import view
from bot.reports.model import VerdictRule
from bot.reports.tables import display, flag_text, pay_table, verdict_text
from bot.reports.targets import Target, target
from bot.reports.text import REPORT_LANGUAGES, report_text
from bot.service import cso_portal as data
from bot.service import validation
from bot.service.admin import REGIONS, AdminError, AdminService, FactoryCount
from bot.service.lifecycle import TRANSITIONS
from bot.service.rounds import default_help_texts, stale_wages_on
from bot.survey import phrases
from bot.web import convertors  # noqa: F401  (the {…:id} route parameter)
from bot.web.auth import WebUser, accounts, require
from bot.web.cso_chart import day_chart
from bot.web.deps import portal
from bot.web.i18n import N_, request_language, translate
from bot.web.params import query_choice, query_int
from bot.web.render import render as render_page
from bot.web.render import render_text
from bot.web.trends import trend_tables

if TYPE_CHECKING:
    from bot.storage.models import Round

ROLES = tuple(Role)
MAX_REMINDERS = 5
MAX_DELAY_HOURS = 7 * 24
LIVE_REFRESH_SECONDS = 30
AUDIT_PAGES_MAX = 1_000_000
POSTER_FORMATS = {"pdf": "application/pdf", "png": "image/png"}
REPORT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "application/zip",
    "json": "application/json",
    "html": "text/html; charset=utf-8",
    ANSWERS: "text/csv; charset=utf-8",
}

STATUS = {
    RoundStatus.DRAFT: N_("Draft"),
    RoundStatus.SCHEDULED: N_("Scheduled"),
    RoundStatus.OPEN: N_("Open"),
    RoundStatus.CLOSED: N_("Closed"),
    RoundStatus.PUBLISHED: N_("Published"),
    RoundStatus.CANCELLED: N_("Cancelled"),
}
# What a round can become from the portal, as (action in the URL, button text); the lifecycle
# (bot/service/lifecycle.py) decides which of them a round's status allows.
TRANSITION_ACTIONS = {
    RoundStatus.SCHEDULED: ("schedule", N_("Schedule")),
    RoundStatus.DRAFT: ("unschedule", N_("Back to draft")),
    RoundStatus.OPEN: ("open", N_("Open now")),
    RoundStatus.CLOSED: ("close", N_("Close now")),
    RoundStatus.CANCELLED: ("cancel", N_("Cancel round")),
}
DONE = {
    "created": N_(
        "The round is created as a draft. Poster codes exist now; they work only "
        "while the round is open."
    ),
    "schedule": N_("The round is scheduled: it opens and closes on its own at the times shown."),
    "unschedule": N_("The round is a draft again."),
    "open": N_("The round is open: workers can answer now."),
    "close": N_("The round is closed: no more answers; contact addresses were deleted."),
    "extend": N_("The closing time is changed."),
    "cancel": N_("The round is cancelled; contact addresses were deleted."),
    "help": N_("Where workers get help is saved."),
    "factory_added": N_("The factory is added."),
    "factory_saved": N_("The factory is saved."),
    "linked": N_("The brand is linked to this factory."),
    "unlinked": N_("The brand is no longer linked to this factory."),
    "revoked": N_("The member is removed from your organisation."),
    "disabled": N_("The portal account is disabled; its sessions have ended."),
    "withdrawn": N_("The invitation is withdrawn."),
}
CONFIRM_NEEDED = N_("Tick the box to confirm.")
ERRORS = {
    "name": N_("Give the round a name."),
    "factories": N_("Choose at least one factory."),
    "survey": N_("Choose the survey."),
    "date": N_("This is not a valid date and time."),
    "reminders": N_("Reminders: a whole number from 0 to %(max)s."),
    "delay": N_("Time before a reminder: a whole number of hours from 1 to %(max)s."),
    "closes_at": N_("Give the new closing time."),
    "code": N_("Give the factory a code (letters, digits and dashes)."),
    "factory_name": N_("Give the factory's name."),
    "region": N_("Choose the region."),
    "headcount": N_("Headcount: a whole number of workers, or leave it empty."),
    "csv": N_("Choose a CSV file, or paste its text."),
    "csv_encoding": N_("The file is not UTF-8 text. Save it as 'CSV UTF-8' and try again."),
    "role": N_("Choose a role."),
    "days": N_("Valid for: a whole number of days from 1 to %(max)s."),
    "brand": N_("Choose a brand."),
}
SERVICE_REFUSED = N_("This could not be done: %(reason)s")
OWN_ACCOUNT = N_("You cannot disable your own account.")
POSTER_NO_LINK = N_(
    "A poster needs a way in: the portal's server needs WAGECHECK_TELEGRAM_BOT_USERNAME (or "
    "WAGECHECK_TELEGRAM_TOKEN) and/or WAGECHECK_WHATSAPP_NUMBER."
)
QUALITY_NOTE = N_(
    "A flag is a reason to look closer (talk to workers, compare with other sources), not proof."
)


# ------------------------------------------------------------------------------ helpers
def _wc(request: Request) -> App:
    return portal(request).app


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(_wc(request).settings.time_zone)


def _today(request: Request) -> date:
    """Today in the factories' time zone, by the application's clock."""
    return _wc(request).clock().astimezone(_tz(request)).date()


def _admin(request: Request, user: WebUser) -> AdminService:
    """The admin service acting in this user's name (audit actor "web:<account id>")."""
    service: AdminService = _wc(request).admin.acting_as(user.actor)
    return service


def _go(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _notice(request: Request) -> str | None:
    key = request.query_params.get("done")
    return translate(request, DONE[key]) if key in DONE else None


def _err(request: Request, key: str, **params: Any) -> str:
    return translate(request, ERRORS[key], **params)


def _refused(request: Request, exc: Exception) -> str:
    return translate(request, SERVICE_REFUSED, reason=str(exc))


async def _form(request: Request) -> dict[str, Any]:
    """The posted form: text fields as str, repeated fields (factory) as lists, files kept."""
    async with request.form() as form:
        out: dict[str, Any] = {}
        for key in form:
            values = form.getlist(key)
            if key == "factory":
                out[key] = [v for v in values if isinstance(v, str)]
            elif key == "file":
                upload = values[0]
                out[key] = (
                    None if isinstance(upload, str) or not upload.filename else await upload.read()
                )
            else:
                value = values[-1]
                out[key] = value.strip() if isinstance(value, str) else ""
        return out


def _int(text: str | None, low: int, high: int) -> int | None:
    """A whole number within [low, high] from a form field, else None."""
    text = (text or "").strip()
    if not text.isdecimal() or len(text) > 9:
        return None
    value = int(text)
    return value if low <= value <= high else None


def parse_local(text: str | None, tz: ZoneInfo) -> datetime | None:
    """A `datetime-local` field (factory local time) as an aware UTC datetime; None if empty.
    ValueError when it is not a date and time."""
    text = (text or "").strip()
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:  # year 1 east of UTC, year 9999 west of it
        raise ValueError(f"{text!r} is out of range") from exc


def local_value(moment: datetime | None, tz: ZoneInfo) -> str:
    """A datetime as the value of a `datetime-local` field, in factory local time."""
    if moment is None:
        return ""
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M")


def _status_labels(request: Request) -> dict[str, str]:
    return {k: translate(request, v) for k, v in STATUS.items()}


def _page(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    values = {"status_labels": _status_labels(request), "notice": _notice(request)}
    values.update(context or {})
    return render_page(request, template, values, status_code=status_code)


async def _own_round(request: Request, user: WebUser) -> Round:
    rnd = await data.cso_round(_wc(request).db, user.org_id, request.path_params["round_id"])
    if rnd is None:
        raise HTTPException(404)
    return rnd


async def _own_factory(request: Request, user: WebUser) -> data.FactoryRow:
    factory = await data.cso_factory(
        _wc(request).db, user.org_id, request.path_params["factory_id"]
    )
    if factory is None:
        raise HTTPException(404)
    return factory


def _chart_label(request: Request) -> Callable[[Any], str]:
    lang = request_language(request)
    return lambda d: babel_format_date(d, "d MMM", locale=lang)


# Where a worker gets help (rounds.help_text): a text per worker language, else the default.
HELP_LANGUAGES = (("en", "English", "ltr"), ("ur", "اردو", "rtl"), ("sd", "سنڌي", "rtl"))


def _help_fields(
    request: Request, regions: Sequence[str | None], texts: dict[str, str] | None
) -> list[dict[str, Any]]:
    """One field per worker language: the round's text, and the default a worker of that
    language reads when it is empty (in that language, from the worker catalogs)."""
    catalogs = _wc(request).catalogs
    defaults = [phrases.default_help(region) for region in regions or [None]]
    return [
        {
            "lang": lang,
            "label": label,
            "dir": direction,
            "value": (texts or {}).get(lang, ""),
            "default": "\n\n".join(dict.fromkeys(catalogs.get(lang).gettext(d) for d in defaults)),
        }
        for lang, label, direction in HELP_LANGUAGES
    ]


def _help_form(form: dict[str, Any]) -> dict[str, str | None]:
    """The help texts a form sent (a field it did not send is left out)."""
    return {lang: form[f"help_{lang}"] for lang, _, _ in HELP_LANGUAGES if f"help_{lang}" in form}


# ------------------------------------------------------------------------------ rounds
async def cso_home(request: Request) -> Response:
    """/cso is the rounds list (the navigation's "Rounds")."""
    await require(request, kind=OrgKind.CSO)
    return _go("/cso/rounds")


async def rounds_page(request: Request) -> Response:
    """The CSO's home: its rounds with live counts, and responses per day of the last 30 days."""
    user = await require(request, kind=OrgKind.CSO)
    db = _wc(request).db
    rounds = await data.cso_rounds(db, user.org_id)
    today = _today(request)
    active = [
        r.id
        for r in rounds
        if r.status not in (RoundStatus.DRAFT, RoundStatus.SCHEDULED, RoundStatus.CANCELLED)
    ]
    chart = None
    if active:
        days = await data.responses_per_day(db, active, today - timedelta(days=29), today)
        first = next((i for i, d in enumerate(days) if d.started or d.completed), None)
        if first is not None:  # from the first day with answers; two weeks at least
            chart = day_chart(days[min(first, len(days) - 14) :], _chart_label(request))
    return _page(request, "cso/rounds.html", {"rounds": rounds, "chart": chart})


def _round_actions(rnd: Round) -> list[tuple[str, str, bool]]:
    """(action, button text msgid, needs confirmation) allowed for the round's status."""
    allowed = TRANSITIONS.get(rnd.status, frozenset())
    return [
        (action, label, action in ("close", "cancel"))
        for target, (action, label) in TRANSITION_ACTIONS.items()
        if target in allowed
    ]


def _accepts_stale(form: dict[str, Any]) -> bool:
    """The CSO ticked "open on the latest notified minimum wages" (a stale wage table)."""
    return form.get("accept_stale_wages") == "yes"


def _stale_wages(request: Request, rnd: Round) -> list[tuple[str, date | None]]:
    """(region name, latest line's date) for each region of a round not yet closed whose wage
    table has no line for the current fiscal year; empty when all are current."""
    if rnd.status not in data.ACTIVE_STATUSES:
        return []
    wc = _wc(request)
    regions = [rf.factory.region for rf in rnd.factories]
    return [
        (wc.wages.regions[s.region].name, s.latest_from)
        for s in stale_wages_on(wc.wages, regions, wc.clock())
    ]


def _targets(request: Request, counts: Sequence[FactoryCount]) -> dict[str, Target]:
    """Each factory's answer targets (bot/reports/targets.py), by factory code: from its
    headcount, at the brands' k and the verdict thresholds of the settings."""
    wc = _wc(request)
    rule = VerdictRule(
        ok_lower=wc.settings.verdict_likely_ok_lower,
        below_upper=wc.settings.verdict_likely_below_upper,
    )
    return {c.code: target(c.headcount, wc.settings.k_brand, rule) for c in counts}


async def _round_context(request: Request, user: WebUser, rnd: Round) -> dict[str, Any]:
    wc = _wc(request)
    counts = await data.round_counts(wc.db, rnd)
    today = _today(request)
    period = data.chart_period(rnd, today, _tz(request))
    chart = None
    if period is not None:
        days = await data.responses_per_day(wc.db, [rnd.id], *period)
        chart = day_chart(days, _chart_label(request))
    tz = _tz(request)
    rf_ids = {rf.factory.code: rf.id for rf in rnd.factories}
    return {
        "round": rnd,
        "counts": counts,
        "targets": _targets(request, counts),
        "rf_ids": rf_ids,
        "chart": chart,
        "actions": _round_actions(rnd),
        "can_extend": rnd.status in data.ACTIVE_STATUSES,
        "has_results": rnd.status in data.RESULT_STATUSES,
        "live": rnd.status == RoundStatus.OPEN,
        "live_seconds": LIVE_REFRESH_SECONDS,
        "closes_value": local_value(rnd.closes_at, tz),
        "time_zone": wc.settings.time_zone,
        "survey": rnd.survey_version,
        "help_fields": _help_fields(request, sorted(default_help_texts(rnd)), rnd.help_text),
        "help_missing": [
            lang for lang, _, _ in HELP_LANGUAGES if lang not in (rnd.help_text or {})
        ],
        "stale_wages": _stale_wages(request, rnd),
        "errors": [],
    }


async def round_page(request: Request) -> Response:
    user = await require(request, kind=OrgKind.CSO)
    rnd = await _own_round(request, user)
    return _page(request, "cso/round.html", await _round_context(request, user, rnd))


async def round_counts_fragment(request: Request) -> Response:
    """The counts table alone, for the round page's small auto refresh (static/cso-live.js)."""
    user = await require(request, kind=OrgKind.CSO)
    rnd = await _own_round(request, user)
    counts = await data.round_counts(_wc(request).db, rnd)
    html = render_text(
        request,
        "cso/_counts.html",
        {
            "round": rnd,
            "counts": counts,
            "targets": _targets(request, counts),
            "rf_ids": {rf.factory.code: rf.id for rf in rnd.factories},
            "updated": _wc(request).clock(),
            "status_labels": _status_labels(request),
        },
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def round_action(request: Request) -> Response:
    """schedule / unschedule / open / close / extend / cancel, through AdminService (the
    lifecycle there decides what is allowed; its refusal is shown on the page)."""
    user = await require(request, kind=OrgKind.CSO, admin=True)
    rnd = await _own_round(request, user)
    action = request.path_params["action"]
    admin = _admin(request, user)
    form = await _form(request)
    errors: list[str] = []
    work: Callable[[], Awaitable[Any]] | None = None
    if action in ("close", "cancel") and form.get("confirm") != "yes":
        errors.append(translate(request, CONFIRM_NEEDED))
    elif action == "schedule":
        work = lambda: admin.schedule_round(rnd.id)  # noqa: E731
    elif action == "unschedule":
        work = lambda: admin.unschedule_round(rnd.id)  # noqa: E731
    elif action == "open":
        work = lambda: admin.start_round(  # noqa: E731
            rnd.id, wages=_wc(request).wages, accept_stale_wages=_accepts_stale(form)
        )
    elif action == "close":
        work = lambda: admin.close_round(rnd.id)  # noqa: E731
    elif action == "cancel":
        work = lambda: admin.cancel_round(rnd.id)  # noqa: E731
    elif action == "help":
        texts = _help_form(form)

        async def save_help() -> None:
            # All checked first (a refusal saves none), then only a changed text is saved and
            # audited; a field the form did not send is left as it is.
            cleaned = {lang: validation.help_text(text, lang) for lang, text in texts.items()}
            for lang, text in cleaned.items():
                if text != (rnd.help_text or {}).get(lang):
                    await admin.set_help_text(rnd.id, lang, text)

        work = save_help
    elif action == "extend":
        try:
            closes_at = parse_local(form.get("closes_at"), _tz(request))
        except ValueError:
            closes_at = None
        if closes_at is None:
            errors.append(_err(request, "closes_at"))
        else:
            work = lambda: admin.extend_round(rnd.id, closes_at)  # noqa: E731
    else:
        raise HTTPException(404)
    if work is not None:
        try:
            await work()
        except AdminError as exc:
            errors.append(_refused(request, exc))
        else:
            return _go(f"/cso/rounds/{rnd.id}?done={action}")
    fresh = await data.cso_round(_wc(request).db, user.org_id, rnd.id)
    assert fresh is not None
    context = await _round_context(request, user, fresh)
    context["errors"] = errors
    context["error_action"] = action
    if action == "extend" and form.get("closes_at"):
        context["closes_value"] = form["closes_at"]
    if action == "help":
        for field in context["help_fields"]:
            field["value"] = form.get(f"help_{field['lang']}", field["value"])
    return _page(request, "cso/round.html", context, status_code=400)


def _new_round_context(request: Request, form: dict[str, Any] | None = None) -> dict[str, Any]:
    wc = _wc(request)
    return {
        "form": form
        or {"max_reminders": "1", "reminder_delay_hours": "24", "factory": [], "then": "draft"},
        "survey": wc.survey,
        "regions": REGIONS,
        "time_zone": wc.settings.time_zone,
        "max_reminders": MAX_REMINDERS,
        "max_delay": MAX_DELAY_HOURS,
        "help_fields": _help_fields(
            request, REGIONS, {k: v for k, v in _help_form(form or {}).items() if v}
        ),
        "errors": [],
    }


async def new_round_page(request: Request) -> Response:
    """The form to create a round; on POST, create it (and schedule or open it if asked)."""
    user = await require(request, kind=OrgKind.CSO, admin=True)
    wc = _wc(request)
    factories = await data.cso_factories(wc.db, user.org_id)
    if request.method == "GET":
        context = _new_round_context(request)
        context["factories"] = factories
        return _page(request, "cso/round_new.html", context)

    form = await _form(request)
    tz = _tz(request)
    errors: list[str] = []
    name = form.get("name", "")
    if not name:  # too long, control characters: the service says so (validation.name)
        errors.append(_err(request, "name"))
    if form.get("survey") != wc.survey.key:
        errors.append(_err(request, "survey"))
    visible = {f.code for f in factories}
    codes = [c for c in dict.fromkeys(form.get("factory", [])) if c in visible]
    if not codes or len(codes) != len(set(form.get("factory", []))):
        errors.append(_err(request, "factories"))
    try:
        opens_at = parse_local(form.get("opens_at"), tz)
        closes_at = parse_local(form.get("closes_at"), tz)
    except ValueError:
        errors.append(_err(request, "date"))
        opens_at = closes_at = None
    reminders = _int(form.get("max_reminders"), 0, MAX_REMINDERS)
    if reminders is None:
        errors.append(_err(request, "reminders", max=MAX_REMINDERS))
    delay = _int(form.get("reminder_delay_hours"), 1, MAX_DELAY_HOURS)
    if delay is None:
        errors.append(_err(request, "delay", max=MAX_DELAY_HOURS))
    then = form.get("then", "draft")
    if not errors:
        assert reminders is not None and delay is not None
        admin = _admin(request, user)
        try:
            rnd = await admin.create_round(
                name,
                user.org_name,
                wc.survey,
                codes,
                opens_at,
                closes_at,
                reminders,
                timedelta(hours=delay),
                _help_form(form),
            )
        except AdminError as exc:
            errors.append(_refused(request, exc))
        else:
            done = "created"
            try:
                if then == "schedule":
                    await admin.schedule_round(rnd.id)
                    done = "schedule"
                elif then == "open":
                    await admin.start_round(
                        rnd.id, wages=wc.wages, accept_stale_wages=_accepts_stale(form)
                    )
                    done = "open"
            except AdminError as exc:
                # The draft exists; say why it was not scheduled/opened, on its own page.
                context = await _round_context(request, user, await admin.get_round(rnd.id))
                context["errors"] = [_refused(request, exc)]
                context["notice"] = translate(request, DONE["created"])
                return _page(request, "cso/round.html", context, status_code=400)
            return _go(f"/cso/rounds/{rnd.id}?done={done}")
    context = _new_round_context(request, form)
    context["factories"] = factories
    context["errors"] = errors
    return _page(request, "cso/round_new.html", context, status_code=400)


# ------------------------------------------------------------------------------ posters
async def poster_download(request: Request) -> Response:
    """The A4 poster of one factory of a round, as `wagecheck round poster` makes it."""
    user = await require(request, kind=OrgKind.CSO)
    rnd = await _own_round(request, user)
    fmt = request.path_params["fmt"]
    if fmt not in POSTER_FORMATS:
        raise HTTPException(404)
    rf = next((rf for rf in rnd.factories if rf.id == request.path_params["rf_id"]), None)
    if rf is None:
        raise HTTPException(404)
    wc = _wc(request)
    links = await _poster_links(request, rf.code)
    if not links:
        return _page(
            request,
            "cso/problem.html",
            {"message": translate(request, POSTER_NO_LINK), "back": f"/cso/rounds/{rnd.id}"},
            status_code=409,
        )

    def draw() -> bytes:
        with tempfile.TemporaryDirectory(prefix="wagecheck-poster-") as folder:
            out = render_poster(
                factory_name=rf.factory.name,
                code=rf.code,
                links=links,
                catalogs=wc.catalogs,
                out=Path(folder) / f"poster.{fmt}",
                fmt=fmt,
                cso_name=user.org_name,
            )
            return out.read_bytes()

    body = await asyncio.to_thread(draw)
    name = f"poster-round-{rnd.id}-{rf.factory.code}.{fmt}"
    return Response(body, media_type=POSTER_FORMATS[fmt], headers=_attachment(name))


async def _poster_links(request: Request, code: str) -> list[Any]:
    """The poster's QR links: Telegram (bot username) and WhatsApp (number), as configured."""
    username = await _bot_username(request)
    return poster_links(username, _wc(request).settings.whatsapp_number, code)


async def _bot_username(request: Request) -> str | None:
    """The bot's username: configured, or asked of the Bot API once per process when the
    entry point handed the portal that lookup (`wagecheck run web` does)."""
    return await portal(request).bot_username()


def _attachment(name: str) -> dict[str, str]:
    return {
        "Content-Disposition": f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name)}",
        "Cache-Control": "no-store",
    }


# ------------------------------------------------------------------------------ results
async def _results_round(request: Request, user: WebUser) -> Round:
    rnd = await _own_round(request, user)
    if rnd.status not in data.RESULT_STATUSES:
        raise HTTPException(404)
    return rnd


def _report_lang(request: Request) -> str:
    """Report text exists in English and Dutch; an Urdu page shows the English report text.
    ?lang= asks for one of them (another value: 400, saying which there are)."""
    page = request_language(request)
    default = page if page in REPORT_LANGUAGES else "en"
    return query_choice(request, "lang", REPORT_LANGUAGES, default)


async def results_page(request: Request) -> Response:
    """The CSO report of a closed round (k = 5): summary, pay, data-quality flags, downloads."""
    user = await require(request, kind=OrgKind.CSO)
    rnd = await _results_round(request, user)
    wc = _wc(request)
    try:
        report = await build_report(wc, rnd.id, Audience("cso", user.org_name))
    except ReportError:
        raise HTTPException(404) from None
    lang = _report_lang(request)
    tx = report_text(lang, wc.settings.locales_dir)
    pay = pay_table(report, tx)
    names = {f.code: f.name for f in report.factories}
    flags = [
        (q.factory, names.get(q.factory, ""), *flag_text(q, report, tx))
        for q in report.quality or ()
    ]
    return _page(
        request,
        "cso/results.html",
        {
            "round": rnd,
            "report": report,
            "report_lang": lang,
            "meta": view.meta(report, tx),
            "findings": view.findings(report, tx),
            "summary": view.summary_rows(report, tx),
            "summary_columns": [
                tx(c)
                for c in (
                    S.CODE,
                    S.NAME,
                    S.RESPONDENTS,
                    S.RESPONSE_RATE,
                    S.PAID_MINIMUM,
                    S.INTERVAL,
                    S.VERDICT,
                )
            ],
            "pay": pay,
            "pay_rows": [[(display(c, tx), type(c).__name__) for c in row] for row in pay.rows],
            "flags": flags,
            "flag_columns": [tx(c) for c in (S.CODE, S.NAME, S.FLAG, S.DETAIL)],
            "quality_title": tx(S.QUALITY),
            "verdict_rule": verdict_text(report, tx),
            "formats": [f for f in ("pdf", "xlsx", "csv", "html", "json") if f in FORMATS],
            "report_languages": REPORT_LANGUAGES,
            "quality_note": translate(request, QUALITY_NOTE),
            "hidden_text": tx.hidden(report.k),
            "trend_tables": trend_tables(report, tx),
            "trends_text": (tx(S.TRENDS_INTRO), tx(S.TRENDS_METHOD)),
        },
    )


async def results_download(request: Request) -> Response:
    """A report file (PDF, XLSX, CSV zip, JSON, HTML) or the answer-level CSV, made by
    bot/reports for this CSO exactly as `wagecheck report --for cso:NAME` makes it. Each
    download is audited ("report.download"): the answer-level file is the most sensitive
    thing the portal hands out."""
    user = await require(request, kind=OrgKind.CSO)
    rnd = await _results_round(request, user)
    fmt = request.path_params["fmt"]
    if fmt not in REPORT_TYPES:
        raise HTTPException(404)
    wc = _wc(request)
    who = Audience("cso", user.org_name)
    lang = _report_lang(request)
    try:
        if fmt == ANSWERS:
            body = await export_answers(wc, rnd.id, who)
        else:
            report = await build_report(wc, rnd.id, who)
            body = await asyncio.to_thread(
                render, report, fmt, lang, locales_dir=wc.settings.locales_dir
            )
    except ReportError:
        raise HTTPException(404) from None
    await audit_generation(wc, user.actor, rnd.id, who, fmt, lang, action="report.download")
    return Response(
        body, media_type=REPORT_TYPES[fmt], headers=_attachment(file_name(rnd.id, who, fmt, lang))
    )


# ------------------------------------------------------------------------------ factories
async def factories_page(request: Request) -> Response:
    user = await require(request, kind=OrgKind.CSO)
    factories = await data.cso_factories(_wc(request).db, user.org_id)
    return _page(request, "cso/factories.html", {"factories": factories})


def _factory_values(request: Request, form: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    """The factory fields of a form, checked; problems are added to `errors`."""
    name = form.get("name", "")
    if not name:  # the rest of what a name may be, the service says (validation.name)
        errors.append(_err(request, "factory_name"))
    region = form.get("region", "")
    if region not in REGIONS:
        errors.append(_err(request, "region"))
    headcount_text = form.get("headcount", "")
    headcount = _int(headcount_text, 1, 10_000_000) if headcount_text else None
    if headcount_text and headcount is None:
        errors.append(_err(request, "headcount"))
    return {
        "name": name,
        "region": region,
        "city": form.get("city", ""),
        "os_id": form.get("os_id", "") or None,
        "headcount": headcount,
    }


def _valid_code(code: str) -> bool:
    try:
        validation.factory_code(code)
    except AdminError:
        return False
    return True


async def factory_new_page(request: Request) -> Response:
    user = await require(request, kind=OrgKind.CSO, admin=True)
    context: dict[str, Any] = {"regions": REGIONS, "form": {"region": "sindh"}, "errors": []}
    if request.method == "GET":
        return _page(request, "cso/factory_new.html", context)
    form = await _form(request)
    errors: list[str] = []
    code = form.get("code", "")
    if not _valid_code(code):
        errors.append(_err(request, "code"))
    values = _factory_values(request, form, errors)
    if not errors:
        try:
            factory = await _admin(request, user).add_factory(code, cso=user.org_name, **values)
        except AdminError as exc:
            errors.append(_refused(request, exc))
        else:
            return _go(f"/cso/factories/{factory.id}?done=factory_added")
    context.update(form=form, errors=errors)
    return _page(request, "cso/factory_new.html", context, status_code=400)


async def _factory_context(request: Request, factory: data.FactoryRow) -> dict[str, Any]:
    brands = await data.brand_names(_wc(request).db)
    return {
        "factory": factory,
        "regions": REGIONS,
        "k_brand": _wc(request).settings.k_brand,
        "brands": [b for b in brands if b not in factory.receiving],
        "form": {
            "name": factory.name,
            "region": factory.region,
            "city": factory.city,
            "os_id": factory.os_id or "",
            "headcount": "" if factory.headcount is None else str(factory.headcount),
        },
        "errors": [],
    }


async def factory_page(request: Request) -> Response:
    """A factory: its details (editable by the CSO that registered it) and its brand links."""
    if request.method == "GET":
        user = await require(request, kind=OrgKind.CSO)
        factory = await _own_factory(request, user)
        return _page(request, "cso/factory.html", await _factory_context(request, factory))
    user = await require(request, kind=OrgKind.CSO, admin=True)
    factory = await _own_factory(request, user)
    if not factory.own:
        raise HTTPException(403)  # the shared register is changed on the command line
    form = await _form(request)
    errors: list[str] = []
    values = _factory_values(request, form, errors)
    if not errors:
        try:
            await _admin(request, user).update_factory(factory.code, **values)
        except AdminError as exc:
            errors.append(_refused(request, exc))
        else:
            return _go(f"/cso/factories/{factory.id}?done=factory_saved")
    context = await _factory_context(request, factory)
    context.update(form=form, errors=errors)
    return _page(request, "cso/factory.html", context, status_code=400)


async def factory_brands(request: Request) -> Response:
    """Link a brand to the factory, or unlink it: the brand then receives, or no longer
    receives, this CSO's results of the factory in closed rounds. On a factory of the shared
    register too: the link carries this CSO's results only, and it unlinks only its own."""
    user = await require(request, kind=OrgKind.CSO, admin=True)
    factory = await _own_factory(request, user)
    action = request.path_params["action"]
    if action not in ("link", "unlink"):
        raise HTTPException(404)
    form = await _form(request)
    brand = form.get("brand", "")
    errors: list[str] = []
    if brand not in await data.brand_names(_wc(request).db) or (
        action == "unlink" and brand not in factory.brands
    ):
        errors.append(_err(request, "brand"))
    else:
        admin = _admin(request, user)
        try:
            if action == "link":
                await admin.link(brand, [factory.code], cso=user.org_name)
            else:
                await admin.unlink(brand, [factory.code], cso=user.org_name)
        except AdminError as exc:
            errors.append(_refused(request, exc))
        else:
            return _go(f"/cso/factories/{factory.id}?done={action}ed")
    context = await _factory_context(request, factory)
    context["errors"] = errors
    return _page(request, "cso/factory.html", context, status_code=400)


async def factory_import_page(request: Request) -> Response:
    """Import factories from a CSV file (or pasted text) with AdminService.import_factories:
    all rows or none; its message names the first bad line."""
    user = await require(request, kind=OrgKind.CSO, admin=True)
    context: dict[str, Any] = {"errors": [], "text": "", "result": None}
    if request.method == "GET":
        return _page(request, "cso/factory_import.html", context)
    form = await _form(request)
    raw: bytes | None = form.get("file")
    text = form.get("text", "")
    errors: list[str] = []
    if raw:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            errors.append(_err(request, "csv_encoding"))
    if not errors and not text.strip():
        errors.append(_err(request, "csv"))
    if not errors:
        try:
            added, updated = await _admin(request, user).import_factories(text, cso=user.org_name)
        except AdminError as exc:
            errors.append(_refused(request, exc))
        else:
            context["result"] = {"added": added, "updated": updated}
            return _page(request, "cso/factory_import.html", context)
    context.update(errors=errors, text=text if not raw else "")
    return _page(request, "cso/factory_import.html", context, status_code=400)


# ------------------------------------------------------------------------------ people
async def _members_context(request: Request, user: WebUser) -> dict[str, Any]:
    people = await data.org_people(_wc(request).db, user.org_id, _wc(request).clock())
    return {"people": people, "roles": ROLES, "errors": [], "new_invite": None}


async def members_page(request: Request) -> Response:
    user = await require(request, kind=OrgKind.CSO)
    return _page(request, "cso/members.html", await _members_context(request, user))


async def members_invite(request: Request) -> Response:
    """A new invite, shown once on the page that answers the form (never in a URL)."""
    user = await require(request, kind=OrgKind.CSO, admin=True)
    kind = request.path_params["kind"]
    if kind not in ("bot", "portal"):
        raise HTTPException(404)
    form = await _form(request)
    errors: list[str] = []
    role = form.get("role", "")
    max_days = 30 if kind == "portal" else 90
    days = _int(form.get("days") or "7", 1, max_days)
    if role not in ROLES:
        errors.append(_err(request, "role"))
    if days is None:
        errors.append(_err(request, "days", max=max_days))
    new_invite = None
    if not errors:
        assert days is not None
        wc = _wc(request)
        try:
            if kind == "portal":
                code, _ = await accounts(request).create_invite(
                    user.org_name, role, days, actor=user.actor
                )
                base = wc.settings.web_base_url.rstrip("/")
                new_invite = {
                    "kind": kind,
                    "role": role,
                    "days": days,
                    "link": f"{base}/invite/{code}",
                    "code": None,
                }
            else:
                code, _ = await wc.members.acting_as(user.actor).create_invite(
                    user.org_name, role, days
                )
                username = await _bot_username(request)
                new_invite = {
                    "kind": kind,
                    "role": role,
                    "days": days,
                    "code": code,
                    "link": f"https://t.me/{username}?start={code}" if username else None,
                }
        except AdminError as exc:
            errors.append(_refused(request, exc))
    context = await _members_context(request, user)
    context.update(errors=errors, new_invite=new_invite)
    return _page(request, "cso/members.html", context, status_code=400 if errors else 200)


async def member_revoke(request: Request) -> Response:
    user = await require(request, kind=OrgKind.CSO, admin=True)
    member_id = request.path_params["member_id"]
    people = await data.org_people(_wc(request).db, user.org_id, _wc(request).clock())
    if not any(m.id == member_id and m.revoked_at is None for m in people.members):
        raise HTTPException(404)
    wc = _wc(request)
    await wc.members.acting_as(user.actor).revoke(user.org_name, member_id)
    return _go("/cso/members?done=revoked")


async def account_disable(request: Request) -> Response:
    user = await require(request, kind=OrgKind.CSO, admin=True)
    account_id = request.path_params["account_id"]
    people = await data.org_people(_wc(request).db, user.org_id, _wc(request).clock())
    if not any(a.id == account_id and a.disabled_at is None for a in people.accounts):
        raise HTTPException(404)
    if account_id == user.account_id:  # the form is not offered: one cannot lock oneself out
        raise HTTPException(400, translate(request, OWN_ACCOUNT))
    await accounts(request).disable(user.org_name, account_id, actor=user.actor)
    return _go("/cso/members?done=disabled")


async def invite_withdraw(request: Request) -> Response:
    user = await require(request, kind=OrgKind.CSO, admin=True)
    kind = request.path_params["kind"]
    if kind not in ("bot", "portal"):
        raise HTTPException(404)
    done = await data.withdraw_invite(
        _wc(request).db,
        _wc(request).clock(),
        user.org_id,
        user.org_name,
        kind,
        request.path_params["invite_id"],
        user.actor,
    )
    if not done:
        raise HTTPException(404)
    return _go("/cso/members?done=withdrawn")


# ------------------------------------------------------------------------------ audit log
async def audit_log_page(request: Request) -> Response:
    user = await require(request, kind=OrgKind.CSO)
    page = query_int(request, "page", 1, AUDIT_PAGES_MAX, default=1)  # past the last: the last
    result = await data.audit_page(_wc(request).db, user.org_id, user.org_name, page)
    return _page(request, "cso/audit.html", {"audit": result})


def _round_action_route() -> Route:
    return Route(
        "/cso/rounds/{round_id:id}/{action:str}",
        round_action,
        methods=["POST"],
        name="cso_round_action",
    )


routes: list[BaseRoute] = [
    Route("/cso", cso_home, name="cso_home"),
    Route("/cso/rounds", rounds_page, name="cso_rounds"),
    Route("/cso/rounds/new", new_round_page, methods=["GET", "POST"], name="cso_round_new"),
    Route("/cso/rounds/{round_id:id}", round_page, name="cso_round"),
    Route("/cso/rounds/{round_id:id}/counts", round_counts_fragment, name="cso_round_counts"),
    Route(
        "/cso/rounds/{round_id:id}/posters/{rf_id:id}/{fmt:str}",
        poster_download,
        name="cso_poster",
    ),
    Route("/cso/rounds/{round_id:id}/results", results_page, name="cso_results"),
    Route(
        "/cso/rounds/{round_id:id}/results/{fmt:str}",
        results_download,
        name="cso_results_download",
    ),
    _round_action_route(),
    Route("/cso/factories", factories_page, name="cso_factories"),
    Route("/cso/factories/new", factory_new_page, methods=["GET", "POST"], name="cso_factory_new"),
    Route(
        "/cso/factories/import",
        factory_import_page,
        methods=["GET", "POST"],
        name="cso_factory_import",
    ),
    Route(
        "/cso/factories/{factory_id:id}",
        factory_page,
        methods=["GET", "POST"],
        name="cso_factory",
    ),
    Route(
        "/cso/factories/{factory_id:id}/{action:str}",
        factory_brands,
        methods=["POST"],
        name="cso_factory_brands",
    ),
    Route("/cso/members", members_page, name="cso_members"),
    Route("/cso/members/invite/{kind:str}", members_invite, methods=["POST"], name="cso_invite"),
    Route(
        "/cso/members/{member_id:id}/revoke",
        member_revoke,
        methods=["POST"],
        name="cso_member_revoke",
    ),
    Route(
        "/cso/accounts/{account_id:id}/disable",
        account_disable,
        methods=["POST"],
        name="cso_account_disable",
    ),
    Route(
        "/cso/invites/{kind:str}/{invite_id:id}/withdraw",
        invite_withdraw,
        methods=["POST"],
        name="cso_invite_withdraw",
    ),
    Route("/cso/audit", audit_log_page, name="cso_audit"),
]
