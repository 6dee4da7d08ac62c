"""Fuzzing every route of the portal (issue 16, part 4): whatever a browser, a script or a
brand's system sends — any path parameter, query string, form field or file — the portal
answers below 500, and a 4xx page says what is wrong (a 4xx from the JSON API is JSON with an
`error` code and a `message`).

How: the world (a CSO with factories, a draft, an open and a closed round with answers, bot
members, invites, a brand with API tokens, a log-in link) is built once per test. Then every
route of the app is walked — Starlette's route list, Mount sub-routes included — and each gets
`EXAMPLES_PER_ROUTE` requests drawn by Hypothesis: a person (a CSO admin, a brand viewer or
admin, the API with a bearer token, or nobody), a method (now and then one the route does not
take), path parameters (real ids and codes of the world, ids far out of range, text of any
kind), a query string (known parameters and others, repeated ones too) and, for forms, every
field of the form missing, once or repeated, with a value that is right for it or hostile:
huge, unicode, control characters, bidi overrides, formula-looking text, numbers far out of
range, dates like 0001-01-01 and 9999-12-31 — with a valid CSRF token.

A route that is in the app but not in ROUTES below fails the test: a new route is fuzzed as
soon as it exists. Examples are derandomized and no example database is kept, so CI runs the
same requests every time; WAGECHECK_FUZZ_EXAMPLES=N runs N per route, randomly, to look
harder. Whatever fails is listed together (person, method, URL, fields, status or traceback).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from benchmarks.synthetic import Answers, insert_responses
from bot.bootstrap import App
from bot.config import Settings
from bot.service.api_tokens import RateLimiter
from bot.web.app import create_web_app
from tests.portal_helpers import PASSWORD, csrf_from, make_account

CSO = "Karachi Workers Centre"
OTHER_CSO = "Lahore Labour Desk"
BRAND = "Noordzee Fashion"
EXAMPLES_PER_ROUTE = int(os.environ.get("WAGECHECK_FUZZ_EXAMPLES", "30"))
RANDOM = "WAGECHECK_FUZZ_EXAMPLES" in os.environ
MISSING = object()  # a form field left out


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Posters need a way in: a bot username and a WhatsApp number."""
    return settings.model_copy(
        update={"telegram_bot_username": "WageCheckTestBot", "whatsapp_number": "923001234567"}
    )


# ------------------------------------------------------------------------------ values
HUGE = "x" * 1_100_000  # over Starlette's 1 MB limit for a multipart field
NASTY = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\r\n",
    "\t\x0b\x0c",
    "\x1b[31mred",
    "\u202egnp.exe",
    "\u2067RTL\u2069",
    "\u200f\u200e\u200b\ufeff",
    '=HYPERLINK("http://evil.example","x")',
    "=cmd|' /C calc'!A0",
    "+1",
    "-1",
    "@SUM(A1:A9)",
    "0",
    "-0",
    "1e400",
    "NaN",
    "inf",
    "-9223372036854775809",
    "2147483648",
    "99999999999999999999",
    "9" * 5000,
    "٣٤٥",
    "۱۲۰",
    "१२",
    "１２",
    "²",
    "0001-01-01",
    "9999-12-31",
    "0001-01-01T00:00",
    "9999-12-31T23:59",
    "2026-02-30T10:00",
    "2026-13-45T99:99",
    "2026-06-01T10:00+14:00",
    "2026-06-01T10:00-23:59",
    "2026-06-01T10:00Z",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{{ 7*7 }}",
    "%s%n%x",
    "../../../etc/passwd",
    "a@b",
    "@",
    "a@@b.c",
    "a b@c.d",
    "nul\x00@example.org",
    "rtl\u202e@example.org",
    "@example.org",
    "x@.org",
    "x@example..org",
    "x" * 255 + "@example.org",
    "کراچی",
    "🧵" * 50,
    "A" * 300,
    "x" * 150_000,  # over the csv module's limit on a cell
    "code,name,region\rKHI-9,Nine,sindh\r",
    HUGE,
]


def _hostile(values: list[str]) -> st.SearchStrategy[str]:
    listed = st.sampled_from(values)
    return st.one_of(
        listed,
        listed,
        listed,
        st.text(max_size=30),
        st.text(st.characters(categories=["Cc", "Cf", "Zl", "Zp", "Mn"]), max_size=8),
        st.integers(-(10**30), 10**30).map(str),
        st.dates().map(lambda d: d.isoformat()),
        st.datetimes().map(lambda d: d.isoformat(timespec="minutes")),
    )


hostile = _hostile(NASTY)
# A URL is at most some kilobytes: a server (uvicorn: h11) refuses a longer request line, and
# the client (httpx) will not build one.
hostile_in_url = _hostile([v for v in NASTY if len(v) <= 5000])


@dataclass
class World:
    """What the fuzzed requests can point at; `good` holds right values by field or
    parameter name, so a request gets past the first check now and then."""

    good: dict[str, list[str]]
    emails: dict[str, str]  # person -> e-mail address
    api_token: str
    api_token_id: int
    brand_id: int


async def make_world(app: App) -> World:
    a = app.admin
    admin = await make_account(app, CSO, "cso", "admin")
    viewer = await make_account(app, CSO, "cso", "viewer")
    target = await make_account(app, CSO, "cso", "viewer")  # the log-in form's good address
    brand_viewer = await make_account(app, BRAND, "brand", "viewer")
    brand_admin = await make_account(app, BRAND, "brand", "admin")
    await a.add_org(OTHER_CSO, "cso")
    own = await a.add_factory("KHI-001", "Korangi Knitwear", "sindh", "Karachi", None, 90, cso=CSO)
    second = await a.add_factory("KHI-002", "Landhi Denim", "sindh", "Karachi", cso=CSO)
    shared = await a.add_factory("SHR-001", "Shared Stitching", "sindh", "Karachi")
    theirs = await a.add_factory("LHE-001", "Ravi Garments", "punjab", "Lahore", cso=OTHER_CSO)
    await a.link(BRAND, ["KHI-001", "KHI-002"])
    future = (app.clock() + timedelta(days=2)).replace(microsecond=0)
    draft = await a.create_round(
        "Round A", CSO, app.survey, ["KHI-001", "KHI-002"], future, future + timedelta(days=20)
    )
    opened = await a.open_round("Round B", CSO, app.survey, ["KHI-001"])
    closed = await a.open_round("Round C", CSO, app.survey, ["KHI-001", "KHI-002"])
    workers = [(own.id, Answers(pay=36_000 + 300 * i)) for i in range(12)]
    workers += [(second.id, Answers(pay=44_000, comment="=1+1")) for _ in range(6)]
    await insert_responses(app, closed.id, workers)
    await a.close_round(closed.id)
    other_round = await a.open_round("Round O", OTHER_CSO, app.survey, ["LHE-001"])
    members = app.members
    code, _ = await members.create_invite(CSO, "viewer")
    member = await members.join("telegram", "555001", code)
    assert member is not None
    _, bot_invite = await members.create_invite(CSO, "viewer")
    portal_code, portal_invite = await app.accounts.create_invite(CSO, "viewer")
    link_token = await app.accounts.create_login_link(member.member_id)
    tokens = app.tokens
    api = await tokens.create(brand_admin.org_id, "ERP", account_id=brand_admin.id)
    spare = await tokens.create(brand_admin.org_id, "Spare", account_id=brand_admin.id)
    tokens.limiter = RateLimiter(1_000_000)  # the per-token limit is tested elsewhere
    ids = lambda *values: [str(v) for v in values]  # noqa: E731
    csv_good = "code,name,region,city,os_id,headcount\nNEW-001,New Knit,sindh,Karachi,,50\n"
    good = {
        # path parameters
        "round_id": ids(draft.id, opened.id, closed.id, other_round.id),
        "rf_id": ids(*(rf.id for rf in draft.factories), *(rf.id for rf in opened.factories)),
        "factory_id": ids(own.id, second.id, shared.id, theirs.id),
        "member_id": ids(member.member_id),
        "account_id": ids(viewer.id, admin.id, brand_viewer.id),
        "invite_id": ids(bot_invite.id, portal_invite.id),
        "token_id": ids(spare.info.id, api.info.id),
        "fmt": ["pdf", "png", "xlsx", "csv", "json", "html", "answers"],
        "action": ["schedule", "unschedule", "open", "close", "extend", "cancel", "link", "unlink"],
        "kind": ["bot", "portal"],
        "code": ["KHI-001", "KHI-002", "LHE-001", portal_code],
        "token": [link_token],
        "rest": ["factories", f"rounds/{closed.id}/report", "x/../../cso"],
        "path": ["portal.css", "cso-live.js", "fonts/noto-sans-arabic.ttf", "../pyproject.toml"],
        # query parameters
        "done": ["created", "factory_added", "revoked"],
        "page": ["1", "2", "0", "-1"],
        "lang": ["en", "nl", "ur", "de"],
        "revoked": ids(spare.info.id, api.info.id),
        "next": ["/cso", "/brand/tokens", "//evil.example", "/login", "http://evil.example"],
        # form fields
        "email": [target.email or "", "new.person@example.org", "NEW.Person@Example.org"],
        "password": [PASSWORD, "another long password"],
        "password2": [PASSWORD, "another long password"],
        "current": ["not the password"],  # the right one would change a person's password
        "name": ["Round Z", "Fábrica Ñ", "ERP system"],
        "survey": [app.survey.key],
        "factory": ["KHI-001", "KHI-002", "SHR-001", "LHE-001"],
        "opens_at": ["2030-01-01T10:00", "2020-01-01T10:00", ""],
        "closes_at": ["2030-02-01T10:00", "2030-01-01T09:00", ""],
        "max_reminders": ["0", "1", "5", "6"],
        "reminder_delay_hours": ["1", "24", "168", "169"],
        "then": ["draft", "schedule", "open"],
        "confirm": ["yes"],
        "region": ["sindh", "punjab", "Sindh"],
        "city": ["Karachi", ""],
        "os_id": ["PK2019085XKW5A0", ""],
        "headcount": ["120", "۱۲۰", ""],
        "text": [csv_good, csv_good.replace("NEW-001", "KHI-001")],
        "brand": [BRAND, OTHER_CSO],
        "role": ["admin", "viewer", "owner"],
        "days": ["1", "7", "30", "90", "91"],
    }
    emails = {
        "cso_admin": admin.email or "",
        "brand_viewer": brand_viewer.email or "",
        "brand_admin": brand_admin.email or "",
    }
    return World(good, emails, api.secret, api.info.id, brand_admin.org_id)


# ------------------------------------------------------------------------------ routes
@dataclass(frozen=True)
class Spec:
    """How to fuzz one route: the fields of its form, and who asks."""

    fields: tuple[str, ...] = ()
    who: tuple[str, ...] = ("anonymous", "cso_admin", "brand_viewer", "brand_admin")
    files: bool = False  # the form takes a file upload (multipart)


CSO_PEOPLE = ("cso_admin", "cso_admin", "cso_admin", "brand_viewer", "anonymous")
BRAND_PEOPLE = ("brand_admin", "brand_viewer", "brand_admin", "cso_admin", "anonymous")
API_PEOPLE = ("api", "api", "api", "anonymous", "brand_admin")
FACTORY_FIELDS = ("name", "region", "city", "os_id", "headcount")

# Every route of the portal, by its name (a Mount by its name too): add new routes here.
ROUTES: dict[str, Spec] = {
    "home": Spec(),
    "login": Spec(),
    "login_post": Spec(("email", "password", "next")),
    "logout": Spec(),
    "language": Spec(("lang", "next")),
    "invite": Spec(("email", "password", "password2")),
    "login_link": Spec(),
    "account": Spec(("current", "password", "password2")),
    "cso_home": Spec(who=CSO_PEOPLE),
    "cso_rounds": Spec(who=CSO_PEOPLE),
    "cso_round_new": Spec(
        (
            "name",
            "survey",
            "factory",
            "opens_at",
            "closes_at",
            "max_reminders",
            "reminder_delay_hours",
            "then",
            "help_en",
            "help_ur",
            "help_sd",
        ),
        who=CSO_PEOPLE,
    ),
    "cso_round": Spec(who=CSO_PEOPLE),
    "cso_round_counts": Spec(who=CSO_PEOPLE),
    "cso_poster": Spec(who=CSO_PEOPLE),
    "cso_results": Spec(who=CSO_PEOPLE),
    "cso_results_download": Spec(who=CSO_PEOPLE),
    "cso_round_action": Spec(
        ("confirm", "closes_at", "accept_stale_wages", "help_en", "help_ur", "help_sd"),
        who=CSO_PEOPLE,
    ),
    "cso_factories": Spec(who=CSO_PEOPLE),
    "cso_factory_new": Spec(("code", *FACTORY_FIELDS), who=CSO_PEOPLE),
    "cso_factory_import": Spec(("text",), who=CSO_PEOPLE, files=True),
    "cso_factory": Spec(FACTORY_FIELDS, who=CSO_PEOPLE),
    "cso_factory_brands": Spec(("brand",), who=CSO_PEOPLE),
    "cso_members": Spec(who=CSO_PEOPLE),
    "cso_invite": Spec(("role", "days"), who=CSO_PEOPLE),
    "cso_member_revoke": Spec(who=CSO_PEOPLE),
    "cso_account_disable": Spec(who=CSO_PEOPLE),
    "cso_invite_withdraw": Spec(who=CSO_PEOPLE),
    "cso_audit": Spec(who=CSO_PEOPLE),
    "brand.home": Spec(who=BRAND_PEOPLE),
    "brand.factories": Spec(who=BRAND_PEOPLE),
    "brand.factory": Spec(who=BRAND_PEOPLE),
    "brand.results": Spec(who=BRAND_PEOPLE),
    "brand.round": Spec(who=BRAND_PEOPLE),
    "brand.download": Spec(who=BRAND_PEOPLE),
    "brand.tokens": Spec(who=BRAND_PEOPLE),
    "brand.tokens_create": Spec(("name",), who=BRAND_PEOPLE),
    "brand.tokens_revoke": Spec(who=BRAND_PEOPLE),
    "api.factories": Spec(who=API_PEOPLE),
    "api.factory_results": Spec(who=API_PEOPLE),
    "api.rounds": Spec(who=API_PEOPLE),
    "api.round_report": Spec(who=API_PEOPLE),
    "api.openapi": Spec(who=API_PEOPLE),
    "api.docs": Spec(who=API_PEOPLE),
    "api.other": Spec(("name",), who=API_PEOPLE),
    "api.root": Spec(("name",), who=API_PEOPLE),
    "font": Spec(),
    "static": Spec(),
    "healthz": Spec(),
    "metrics": Spec(),
}
QUERY_NAMES = ("done", "page", "lang", "revoked", "next", "limit", "since", "until")
OTHER_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")
_PARAM = re.compile(r"{([a-zA-Z_]+)(?::([a-z]+))?}")


@dataclass(frozen=True)
class Target:
    """A route as the test fuzzes it: its name, path template and methods."""

    name: str
    path: str
    methods: tuple[str, ...]


def targets(routes: list[BaseRoute], prefix: str = "") -> Iterator[Target]:
    """Every route, Mount sub-routes included; a mounted app (static files) counts as one
    route taking any path under it."""
    for route in routes:
        if isinstance(route, Mount):
            inner = route.routes
            if inner:
                yield from targets(inner, prefix + route.path)
            else:
                yield Target(route.name, prefix + route.path + "/{path:path}", ("GET",))
        elif isinstance(route, Route):
            methods = tuple(sorted((route.methods or {"GET"}) - {"HEAD"}))
            yield Target(route.name, prefix + route.path, methods)
        else:  # a websocket route, or something new: this test must learn it first
            raise AssertionError(f"the fuzz test does not know routes like {route!r}")


# ------------------------------------------------------------------------------ people
@dataclass
class Person:
    """A browser (its own client address, cookies and session) or the API with a token."""

    name: str
    email: str | None
    web: Starlette
    bearer: str | None = None
    client: httpx.AsyncClient | None = None
    session: str | None = None
    csrf: str = ""
    serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def start(self) -> None:
        """A fresh browser, logged in if this person has an account (also after a request
        logged it out, or into another account)."""
        if self.client is not None:
            await self.client.aclose()
        address = (f"10.0.{len(self.name)}.{next(self.serial) % 250}", 4000)
        transport = httpx.ASGITransport(app=self.web, client=address)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        page = await self.client.get("/login")
        if self.email is not None:
            form = {"email": self.email, "password": PASSWORD, "csrf_token": csrf_from(page.text)}
            response = await self.client.post("/login", data=form)
            assert response.status_code == 303, (self.name, response.status_code)
            page = await self.client.get("/login")
        self.session = self.client.cookies.get("wc_session")
        self.csrf = csrf_from(page.text)

    async def ready(self) -> httpx.AsyncClient:
        if self.client is None or self.client.cookies.get("wc_session") != self.session:
            await self.start()
        assert self.client is not None
        return self.client


@dataclass
class Fuzzed:
    person: str
    method: str
    url: str
    fields: dict[str, Any] | None = None
    file: bytes | None = None
    raw_body: bytes | None = None
    csrf: bool = True

    def __str__(self) -> str:
        def short(value: Any) -> Any:
            if isinstance(value, str) and len(value) > 80:
                return value[:60] + f"...({len(value)} characters)"
            if isinstance(value, list):
                return [short(v) for v in value]
            return value

        fields = {k: short(v) for k, v in (self.fields or {}).items()}
        url = self.url if len(self.url) < 200 else self.url[:150] + "..."
        extra = f" fields={fields}" if self.fields is not None else ""
        extra += f" file={self.file[:60]!r}" if self.file is not None else ""
        extra += f" body={self.raw_body[:60]!r}" if self.raw_body is not None else ""
        extra += "" if self.csrf else " (no CSRF token)"
        return f"{self.person}: {self.method} {url}{extra}"


def requests(target: Target, spec: Spec, good: dict[str, list[str]]) -> st.SearchStrategy[Fuzzed]:
    """Requests to one route."""

    def value(name: str, bad: st.SearchStrategy[str] = hostile) -> st.SearchStrategy[str]:
        known = good.get(name)
        return st.one_of(st.sampled_from(known), bad) if known else bad

    def segment(name: str, convertor: str | None) -> st.SearchStrategy[str]:
        if convertor == "id":
            number = st.one_of(
                st.sampled_from(good.get(name) or ["1"]),
                st.integers(0, 10**40).map(str),
                st.sampled_from(["-1", "0", "00000000001", "2147483648", "1e3", "٣"]),
            )
            return st.one_of(number, number, hostile_in_url.map(lambda t: quote(t, safe="")))
        if convertor == "path":  # separators kept
            return value(name, hostile_in_url).map(lambda t: quote(t, safe="/"))
        return value(name, hostile_in_url).map(lambda t: quote(t, safe=""))

    @st.composite
    def build(draw: st.DrawFn) -> Fuzzed:
        person = draw(st.sampled_from(spec.who))
        method = draw(
            st.one_of(st.sampled_from(target.methods), st.sampled_from(OTHER_METHODS))
            if draw(st.integers(0, 7)) == 0
            else st.sampled_from(target.methods)
        )
        path = target.path
        for whole, name, convertor in [
            (m.group(0), m.group(1), m.group(2)) for m in _PARAM.finditer(target.path)
        ]:
            path = path.replace(whole, draw(segment(name, convertor)) or "x", 1)
        pairs = draw(
            st.lists(
                st.sampled_from(QUERY_NAMES).flatmap(
                    lambda n: st.tuples(st.just(n), value(n, hostile_in_url))
                )
                | st.tuples(hostile_in_url, hostile_in_url),
                max_size=3,
            )
        )
        url = path + ("?" + urlencode(pairs) if pairs else "")
        request = Fuzzed(person, method, url)
        if method == "GET":
            return request
        request.csrf = draw(st.integers(0, 19)) != 0
        if draw(st.integers(0, 9)) == 0:  # a body no form would make
            request.raw_body = draw(
                st.sampled_from([b"%ZZ=%FF&&=&a", b"\xff\xfe\x00", b"a=" + b"%00" * 10, b"{}"])
                | st.binary(max_size=40)
            )
            return request
        fields: dict[str, Any] = {}
        for name in spec.fields:
            how = draw(st.integers(0, 5))
            if how == 0:
                continue  # missing
            if how == 1:
                fields[name] = draw(st.lists(value(name), min_size=2, max_size=3))
            else:
                fields[name] = draw(value(name))
        if draw(st.integers(0, 5)) == 0:
            fields[draw(st.text(max_size=10))] = draw(hostile)
        request.fields = fields
        if spec.files and draw(st.booleans()):
            request.file = draw(
                st.one_of(
                    st.sampled_from([t.encode() for t in good["text"]]),
                    st.sampled_from([b"\xef\xbb\xbf" + good["text"][0].encode(), b"\xff\xfe"]),
                    st.binary(max_size=200),
                    hostile.map(lambda t: t.encode()),
                )
            )
        return request

    return build()


# ------------------------------------------------------------------------------ checks
class _ErrorText(HTMLParser):
    """The visible text inside the page's `notice-error` element(s)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += 1
        elif "notice-error" in (dict(attrs).get("class") or ""):
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.text.append(data)


def error_message(html: str) -> str:
    parser = _ErrorText()
    parser.feed(html)
    return " ".join("".join(parser.text).split())


def problem(response: httpx.Response) -> str | None:
    """What is wrong with this answer, or None."""
    status = response.status_code
    if status >= 500:
        return f"{status}: {response.text[:300]!r}"
    if status < 400 or response.request.method == "HEAD":
        return None
    kind = response.headers.get("content-type", "")
    if kind.startswith("text/html"):
        if "Traceback" in response.text:
            return f"{status} page with a traceback"
        if not error_message(response.text):
            return f"{status} page without an error message: {response.text[:300]!r}"
        return None
    if kind.startswith("application/json"):
        body = response.json()
        if not (isinstance(body, dict) and body.get("error") and body.get("message")):
            return f"{status} JSON without error and message: {body!r}"
        return None
    return f"{status} with content-type {kind!r}: {response.text[:200]!r}"


async def send(people: dict[str, Person], request: Fuzzed) -> str | None:
    """Send one request as its person; what went wrong, or None."""
    person = people[request.person]
    client = await person.ready()
    headers: dict[str, str] = {}
    if person.bearer is not None:
        headers["authorization"] = f"Bearer {person.bearer}"
    kwargs: dict[str, Any] = {}
    if request.raw_body is not None:
        headers["content-type"] = "application/x-www-form-urlencoded"
        if request.csrf:
            headers["x-csrf-token"] = person.csrf
        kwargs["content"] = request.raw_body
    elif request.fields is not None:
        data = dict(request.fields)
        if request.csrf:
            data["csrf_token"] = person.csrf
        kwargs["data"] = data
        if request.file is not None:
            kwargs["files"] = {"file": ("factories.csv", request.file, "text/csv")}
    try:
        response = await client.request(request.method, request.url, headers=headers, **kwargs)
    except httpx.HTTPError:
        raise  # the test's own request could not be made
    except Exception as exc:  # the app raised: the browser would have had a 500
        return "raised " + "".join(traceback.format_exception(exc)[-6:])
    return problem(response)


async def keep_api_token(app: App, world: World, people: dict[str, Person]) -> None:
    """The API's token again if a fuzzed request revoked it."""
    if any(t.id == world.api_token_id and t.active for t in await app.tokens.list(world.brand_id)):
        return
    made = await app.tokens.create(world.brand_id, "ERP again", account_id=None)
    world.api_token, world.api_token_id = made.secret, made.info.id
    people["api"].bearer = made.secret


# ------------------------------------------------------------------------------ the test
async def test_every_route_answers_fuzzed_requests_without_a_server_error(app: App) -> None:
    world = await make_world(app)
    web = create_web_app(app, secure_cookies=False)
    found = list(targets(web.routes))
    unknown = sorted({t.name for t in found} - set(ROUTES))
    assert not unknown, f"routes the fuzz test does not cover (add them to ROUTES): {unknown}"
    assert not set(ROUTES) - {t.name for t in found}, "ROUTES names a route that is gone"
    people = {
        "anonymous": Person("anonymous", None, web),
        "api": Person("api", None, web, bearer=world.api_token),
        **{name: Person(name, email, web) for name, email in world.emails.items()},
    }
    for person in people.values():
        await person.start()
    loop = asyncio.get_running_loop()
    failures: list[str] = []

    def fuzz(target: Target) -> None:
        spec = ROUTES[target.name]
        seen: list[str] = []

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_ROUTE,
            deadline=None,
            derandomize=not RANDOM,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(requests(target, spec, world.good))
        def one(request: Fuzzed) -> None:
            wrong = asyncio.run_coroutine_threadsafe(send(people, request), loop).result()
            if "revoke" in target.name:
                asyncio.run_coroutine_threadsafe(keep_api_token(app, world, people), loop).result()
            if wrong and len(seen) < 3:
                seen.append(f"{request}\n    -> {wrong}")

        one()
        failures.extend(f"[{target.name}] {s}" for s in seen)

    try:
        for target in found:
            await asyncio.to_thread(fuzz, target)
    finally:
        for person in people.values():
            if person.client is not None:
                await person.client.aclose()
    assert not failures, f"{len(failures)} fuzzed requests went wrong:\n" + "\n".join(failures)
