"""One set of checks for what people type (issue 16, part 4): the portal's CSV import used to
skip the checks its own form makes. Every way in — the service (command line, bot staff
commands), the portal's form and its CSV import — refuses the same things with a message, and
no number in a URL or a date in a form can make the portal answer 500.

People too: e-mail addresses, roles, invitations' days, languages and the ids typed on the
command line are checked in bot/service/validation.py, and query parameters have bounds
(bot/web/params.py). The regressions at the end are what tests/test_portal_fuzz.py found."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.bootstrap import App
from bot.enums import Role
from bot.service import validation
from bot.service.accounts import AccountError
from bot.service.api_tokens import ApiTokenError, TokenNotFound
from bot.service.audited import AdminError
from bot.storage.models import Factory, Member, Round, WebAccount
from tests.portal_helpers import PASSWORD, login, make_account, portal_client, post_form
from tests.test_portal_fuzz import error_message

CSO = "Karachi Workers Centre"
HEADER = "code,name,region,city,os_id,headcount\n"
GOOD = "KHI-201,Alpha Apparel,sindh,Karachi,PK2025000AAA,120\n"

# (a CSV line after GOOD, a word of the message that names what is wrong)
BAD_LINES = [
    ("KHI/../202,Slash,sindh,Karachi,,\n", "factory code"),
    ('"KHI-\r\n203",Line break,sindh,Karachi,,\n', "factory code"),
    ("کراچی-204,Urdu code,sindh,Karachi,,\n", "factory code"),
    ("K" * 300 + ",Long code,sindh,Karachi,,\n", "factory code"),
    ("KHI-205,,sindh,Karachi,,\n", "name is empty"),
    ("KHI-206," + "N" * 201 + ",sindh,Karachi,,\n", "longer than 200"),
    ('KHI-207,"Bidi \u202eevil",sindh,Karachi,,\n', "control characters"),
    ("KHI-208,City too long,sindh," + "C" * 101 + ",,\n", "city"),
    ("KHI-209,Bad OS id,sindh,Karachi,PK-<script>,\n", "Open Supply Hub"),
    ("KHI-210,Huge,sindh,Karachi,," + "9" * 30 + "\n", "headcount"),
    ("KHI-211,Zero,sindh,Karachi,,0\n", "headcount"),
    ("KHI-212,Negative,sindh,Karachi,,-5\n", "headcount"),
    ("KHI-213,Short line\n", "region"),
    ("KHI-214,Long line,sindh,Karachi,,5,extra\n", "more cells"),
]


async def _factory_count(app: App) -> int:
    async with app.db.transaction() as s:
        return int((await s.execute(select(func.count()).select_from(Factory))).scalar_one())


@pytest.mark.parametrize(("line", "says"), BAD_LINES, ids=[s for _, s in BAD_LINES])
async def test_the_service_import_refuses_what_the_form_refuses(
    app: App, line: str, says: str
) -> None:
    await app.admin.add_org(CSO, "cso")
    with pytest.raises(AdminError) as refused:
        await app.admin.import_factories(HEADER + GOOD + line, cso=CSO)
    assert "line 3:" in str(refused.value) and says in str(refused.value)
    assert await _factory_count(app) == 0  # the good line before it is not kept either


async def test_the_portal_import_names_the_line_and_keeps_nothing(app: App) -> None:
    admin = await make_account(app, CSO, "cso", "admin")
    async with portal_client(app) as client:
        await login(client, admin.email or "")
        for line, says in BAD_LINES:
            page = await post_form(client, "/cso/factories/import", {"text": HEADER + GOOD + line})
            assert page.status_code == 400, line
            assert "line 3:" in page.text and says in html.unescape(page.text)
        assert await _factory_count(app) == 0
        fine = await post_form(client, "/cso/factories/import", {"text": HEADER + GOOD})
        assert fine.status_code == 200 and "1 added" in fine.text
    assert await _factory_count(app) == 1


async def test_adding_and_editing_a_factory_refuse_the_same_values(app: App) -> None:
    await app.admin.add_org(CSO, "cso")
    for code in ("A/B", "a\nb", "٣٤٥", "", "x" * 41):
        with pytest.raises(AdminError, match="factory code"):
            await app.admin.add_factory(code, "Name", "sindh", "Karachi", cso=CSO)
    with pytest.raises(AdminError, match="headcount"):
        await app.admin.add_factory("OK-1", "Name", "sindh", "Karachi", None, 10**12, cso=CSO)
    factory = await app.admin.add_factory(
        "OK-1", "  Korangi   Knit ", "Sindh", " Karachi ", cso=CSO
    )
    assert (factory.name, factory.region, factory.city) == ("Korangi Knit", "sindh", "Karachi")
    with pytest.raises(AdminError, match="control characters"):
        await app.admin.update_factory("OK-1", name="Evil\u2067name", region="sindh")
    with pytest.raises(AdminError, match="region must be one of"):
        await app.admin.update_factory("OK-1", name="Fine", region="moon")
    # an Urdu name with the zero-width non-joiner its keyboard types is a name like any other
    urdu = await app.admin.update_factory("OK-1", name="کورنگی\u200cنٹ ویئر", region="sindh")
    assert urdu.name == "کورنگی\u200cنٹ ویئر"
    with pytest.raises(AdminError, match="organisation's name"):
        await app.admin.add_org("   ", "brand")


async def test_validation_takes_digits_in_any_script_and_refuses_odd_numbers() -> None:
    assert validation.headcount("۱۲۰") == 120  # Urdu digits, as typed on a phone
    assert validation.headcount(" 45 ") == 45
    for bad in ("1e3", "4.5", "²", "99999999999", "0"):
        with pytest.raises(AdminError):
            validation.headcount(bad)


async def test_round_times_far_outside_any_real_round_are_refused(app: App) -> None:
    await app.admin.add_org(CSO, "cso")
    await app.admin.add_factory("KHI-001", "Korangi", "sindh", "Karachi", cso=CSO)
    for opens, closes in (
        (datetime(1, 1, 1, tzinfo=UTC), None),
        (None, datetime(9999, 12, 31, tzinfo=UTC)),
        (datetime(2019, 12, 31, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC)),
    ):
        with pytest.raises(AdminError, match="between 2020 and 2100"):
            await app.admin.create_round("R", CSO, app.survey, ["KHI-001"], opens, closes)
    with pytest.raises(AdminError, match="empty"):
        await app.admin.create_round(" \t", CSO, app.survey, ["KHI-001"])
    rnd = await app.admin.open_round("Open", CSO, app.survey, ["KHI-001"])
    with pytest.raises(AdminError, match="between 2020 and 2100"):
        await app.admin.extend_round(rnd.id, datetime(9999, 12, 31, 23, 59, tzinfo=UTC))


async def test_absurd_ids_in_urls_are_404_and_absurd_dates_a_form_error(app: App) -> None:
    admin = await make_account(app, CSO, "cso", "admin")
    await app.admin.add_factory("KHI-001", "Korangi", "sindh", "Karachi", cso=CSO)
    rnd = await app.admin.open_round("Open", CSO, app.survey, ["KHI-001"])
    huge = "9" * 20
    async with portal_client(app) as client:
        await login(client, admin.email or "")
        for path in (
            f"/cso/rounds/{huge}",
            f"/cso/rounds/{huge}/counts",
            f"/cso/rounds/{huge}/results",
            f"/cso/factories/{huge}",
            f"/cso/rounds/{rnd.id}/posters/{huge}/pdf",
            f"/cso/rounds/{2**31}",
            "/cso/rounds/-1",
        ):
            response = await client.get(path)
            assert response.status_code == 404, (path, response.status_code)
        for value in ("0001-01-01T00:00", "9999-12-31T23:59", "2026-13-45T99:99", "x" * 5000):
            page = await post_form(
                client,
                f"/cso/rounds/{rnd.id}/extend",
                {"closes_at": value},
                page=f"/cso/rounds/{rnd.id}",
            )
            assert page.status_code == 400, value
    brand = await make_account(app, "Noordzee Fashion", "brand", "viewer")
    async with portal_client(app) as client:
        await login(client, brand.email or "")
        for path in (
            f"/brand/results/{huge}",
            f"/brand/results/{huge}/download/pdf",
            f"/brand/factories/{'K' * 5000}",
            f"/api/v1/rounds/{huge}/report",
        ):
            response = await client.get(path)
            assert response.status_code in (401, 404), (path, response.status_code)
    async with app.db.transaction() as s:
        kept = await s.get(Round, rnd.id)
        assert kept is not None and kept.closes_at is None


# ------------------------------------------------------------------------------ people
GOOD_EMAILS = [
    ("Anna.de.Vries@Example.org", "anna.de.vries@example.org"),
    ("  x@y.z ", "x@y.z"),
    ("علی@مثال.پاکستان", "علی@مثال.پاکستان"),  # an address in Urdu script is an address
    ("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk"),
]
BAD_EMAILS = [
    "",
    "no-at.example.org",
    "@example.org",
    "two@@example.org",
    "a@b@example.org",
    "x@localhost",
    "x@example.",
    "x@example..org",
    "first last@example.org",
    "tab\t@example.org",
    "nul\x00@example.org",
    "rtl\u202e@example.org",
    "zero\u200bwidth@example.org",
    "x" * 65 + "@example.org",
    "x@" + "d" * 250 + ".org",
]


def test_an_email_address_is_one_at_a_domain_and_no_invisible_characters() -> None:
    for typed, kept in GOOD_EMAILS:
        assert validation.email(typed) == kept
    for bad in BAD_EMAILS:
        with pytest.raises(AdminError, match="e-mail address"):
            validation.email(bad)


def test_roles_days_ids_and_languages_have_bounds() -> None:
    assert validation.role(" Admin ") is Role.ADMIN
    assert validation.days("۷", 30) == 7  # Urdu digits, as typed on a phone
    assert validation.row_id("42") == 42
    assert validation.language("pt-BR") == "pt" and validation.language("zh_Hant_TW") == "zh"
    assert validation.language("x" * 40) is None and validation.language("") is None
    for bad_role in ("owner", "", "admin\x00"):
        with pytest.raises(AdminError, match="role must be one of admin, viewer"):
            validation.role(bad_role)
    for bad_days in (0, 31, -1, "1e3", "9" * 400):
        with pytest.raises(AdminError, match="1 to 30 days"):
            validation.days(bad_days, 30)
    for bad_id in (0, -1, 2**31, 10**30, "9" * 5000, "1.5", ""):
        with pytest.raises(AdminError, match="whole number from 1 to 2,147,483,647"):
            validation.row_id(bad_id, "round")


async def test_the_services_that_take_people_check_them(app: App) -> None:
    """The command line, the bot's staff commands and the portal reach these services."""
    await app.admin.add_org(CSO, " CSO ")  # a kind typed with spaces and capitals is a kind
    for bad in ("nul\x00@example.org", "a b@example.org", "x" * 300 + "@example.org"):
        with pytest.raises(AccountError) as refused:
            await app.accounts.create_account(CSO, "viewer", bad, PASSWORD)
        assert refused.value.code == "email_invalid"
    with pytest.raises(AdminError, match="role must be one of"):
        await app.accounts.create_invite(CSO, "owner")
    with pytest.raises(AdminError, match="1 to 30 days"):
        await app.accounts.create_invite(CSO, "viewer", 31)
    with pytest.raises(AdminError, match="1 to 90 days"):
        await app.members.create_invite(CSO, "viewer", 91)
    code, _ = await app.accounts.create_invite(CSO, "viewer")
    with pytest.raises(AccountError) as refused:
        await app.accounts.accept_invite(code, "nul\x00@example.org", PASSWORD)
    assert refused.value.code == "email_invalid"
    # ids as typed on the command line (wagecheck portal disable / org revoke / round open)
    with pytest.raises(AdminError, match="not a portal account"):
        await app.accounts.disable(CSO, 10**30)
    with pytest.raises(AdminError, match="not a member"):
        await app.members.revoke(CSO, 2**40)
    for work in (
        lambda: app.admin.get_round(10**20),
        lambda: app.admin.start_round(10**20),
        lambda: app.admin.close_round(2**63),
        lambda: app.admin.cancel_round(-1),
    ):
        with pytest.raises(AdminError, match="not a round"):
            await work()
    # the language a phone reports is kept to its base, whatever its length
    bot_code, _ = await app.members.create_invite(CSO, "viewer")
    joined = await app.members.join("telegram", "777", bot_code, language="pt-BR-x-twelve")
    assert joined is not None and joined.language == "pt"
    async with app.db.transaction() as s:
        member = await s.get(Member, joined.member_id)
        assert member is not None and member.language == "pt"
        assert (await s.execute(select(func.count()).select_from(WebAccount))).scalar_one() == 0


async def test_token_names_are_one_line_and_token_ids_have_bounds(app: App) -> None:
    await app.admin.add_org("Noordzee Fashion", "brand")
    orgs = {o.name: o.id for o in await app.admin.list_orgs()}
    brand = orgs["Noordzee Fashion"]
    for bad in ("ERP\x00", "ERP\u202eevil", "ERP\x1b[31m"):
        with pytest.raises(ApiTokenError) as refused:
            await app.tokens.create(brand, bad, account_id=None)
        assert refused.value.code == "name_control"
    with pytest.raises(TokenNotFound):
        await app.tokens.revoke(brand, 10**30, account_id=None)


# ------------------------------------------------------------------------------ what the
# fuzz test found (tests/test_portal_fuzz.py): each answered 500 before


async def test_a_nul_in_the_log_in_address_is_a_wrong_log_in_not_a_failed_query(
    app: App,
) -> None:
    """PostgreSQL refuses a NUL character in a query's text: the log-in form looked the
    address up as typed, and answered 500."""
    account = await make_account(app, CSO, "cso", "admin")
    async with portal_client(app) as client:
        for email in ("\x00", f"{account.email}\x00", "a\x00@example.org"):
            page = await post_form(client, "/login", {"email": email, "password": PASSWORD})
            assert page.status_code == 400, email
            assert "not right" in error_message(page.text)
        await login(client, account.email or "")  # the account itself is not locked out


async def test_an_invite_used_with_a_nul_in_the_address_is_a_form_error(app: App) -> None:
    """The invite form checked the address no stricter than "x@y.z" and then looked it up:
    500 on PostgreSQL."""
    await app.admin.add_org(CSO, "cso")
    code, _ = await app.accounts.create_invite(CSO, "viewer")
    async with portal_client(app) as client:
        for email in ("nul\x00@example.org", "rtl\u202e@example.org", "two@@example.org"):
            page = await post_form(
                client,
                f"/invite/{code}",
                {"email": email, "password": PASSWORD, "password2": PASSWORD},
            )
            assert page.status_code == 400, email
            assert "e-mail address" in error_message(page.text)
        fine = await post_form(
            client,
            f"/invite/{code}",
            {"email": "new@example.org", "password": PASSWORD, "password2": PASSWORD},
        )
        assert fine.status_code == 303


async def test_a_token_name_with_a_nul_or_a_bidi_override_is_a_form_error(app: App) -> None:
    """A NUL in the name of a new API token reached the INSERT (500 on PostgreSQL); a bidi
    override was stored and turned the token list around it back to front."""
    admin = await make_account(app, "Noordzee Fashion", "brand", "admin")
    async with portal_client(app) as client:
        await login(client, admin.email or "")
        for name in ("ERP\x00", "ERP \u202eevil"):
            page = await post_form(client, "/brand/tokens", {"name": name})
            assert page.status_code == 400
            assert "control characters" in error_message(page.text)
        assert (await post_form(client, "/brand/tokens", {"name": "ERP"})).status_code == 201


async def test_query_numbers_and_choices_out_of_bounds_are_400_naming_the_parameter(
    app: App,
) -> None:
    """`/brand/tokens?revoked=<5,000 digits>` answered 500: Python refuses to convert a number
    of more than 4,300 digits. Query parameters now have bounds (bot/web/params.py), and a
    value out of them is a 400 that says which parameter and what it may be."""
    brand = await make_account(app, "Noordzee Fashion", "brand", "admin")
    cso = await make_account(app, CSO, "cso", "admin")
    await app.admin.add_factory("KHI-001", "Korangi", "sindh", "Karachi", cso=CSO)
    rnd = await app.admin.open_round("Open", CSO, app.survey, ["KHI-001"])
    await app.admin.close_round(rnd.id)
    async with portal_client(app) as client:
        await login(client, brand.email or "")
        for query in ("9" * 5000, "-1", "1e3", "٣", "1&revoked=2"):
            page = await client.get(f"/brand/tokens?revoked={query}")
            assert page.status_code == 400, query
            assert "revoked" in error_message(page.text)
        assert (await client.get("/brand/tokens?revoked=12")).status_code == 200
        page = await client.get(f"/brand/results/{rnd.id}/download/pdf?lang=ur")
        assert page.status_code == 400 and "en, nl" in error_message(page.text)
    async with portal_client(app) as client:
        await login(client, cso.email or "")
        for query in ("page=" + "9" * 5000, "page=0", "page=abc", "page=1&page=2"):
            page = await client.get(f"/cso/audit?{query}")
            assert page.status_code == 400, query
            assert "page" in error_message(page.text)
        assert (await client.get("/cso/audit?page=999999")).status_code == 200  # the last
        page = await client.get(f"/cso/rounds/{rnd.id}/results?lang=de")
        assert page.status_code == 400 and "lang" in error_message(page.text)
        # in the page's language: Dutch
        await post_form(client, "/language", {"lang": "nl", "next": "/cso"})
        page = await client.get("/cso/audit?page=x")
        assert page.status_code == 400 and "heel getal" in error_message(page.text)


async def test_api_errors_are_json_with_a_code_and_a_message(app: App) -> None:
    """Errors Starlette raised under /api/ (a method a page does not take, a path no route
    matches) came as {"error": "Not Found"} without the API's message."""
    await app.admin.add_org("Noordzee Fashion", "brand")
    orgs = {o.name: o.id for o in await app.admin.list_orgs()}
    token = (await app.tokens.create(orgs["Noordzee Fashion"], "t", account_id=None)).secret
    headers = {"Authorization": f"Bearer {token}"}
    async with portal_client(app) as client:
        for method, path, status, code in (
            ("POST", "/api/openapi.json", 405, "method_not_allowed"),
            ("DELETE", "/api/docs", 405, "method_not_allowed"),
            ("GET", "/api/v1/rounds/%0D%0A/report", 404, "not_found"),
            ("GET", "/api/nothing", 404, "not_found"),
            ("GET", "/api/v1/rounds/1/report?lang=ur", 400, "bad_request"),
            ("GET", "/api/v1/rounds/1/report?lang=en&lang=nl", 400, "bad_request"),
        ):
            response = await client.request(method, path, headers=headers)
            body = response.json()
            assert (response.status_code, body["error"]) == (status, code), path
            assert body["message"] and response.headers["cache-control"] == "no-store"
        lang = await client.get("/api/v1/rounds/1/report?lang=ur", headers=headers)
        assert "lang" in lang.json()["message"] and "en, nl" in lang.json()["message"]


async def test_a_static_path_with_a_nul_is_404(app: App) -> None:
    """The operating system refuses a file name with a NUL (ValueError): 500 before."""
    async with portal_client(app) as client:
        for path in ("/static/%00", "/static/portal.css%00.js", "/static/a%00b"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert error_message(response.text)
        assert (await client.get("/static/portal.css")).status_code == 200


async def test_disabling_ones_own_account_says_why_it_is_refused(app: App) -> None:
    admin = await make_account(app, CSO, "cso", "admin")
    async with portal_client(app) as client:
        await login(client, admin.email or "")
        page = await post_form(client, f"/cso/accounts/{admin.id}/disable", page="/cso/members")
        assert page.status_code == 400
        assert error_message(page.text) == "You cannot disable your own account."


async def test_a_long_city_is_refused_with_the_services_message_not_cut_short(
    app: App,
) -> None:
    """The factory form cut the city to 100 characters and the Open Supply Hub id to 40
    without a word; now the service's refusal is the form's error."""
    admin = await make_account(app, CSO, "cso", "admin")
    async with portal_client(app) as client:
        await login(client, admin.email or "")
        fields = {"code": "KHI-009", "name": "Nine", "region": "sindh", "city": "C" * 150}
        page = await post_form(client, "/cso/factories/new", fields)
        assert page.status_code == 400
        assert "longer than 100" in error_message(page.text)
        fields.update(city="Karachi", os_id="PK" + "1" * 60)
        page = await post_form(client, "/cso/factories/new", fields)
        assert page.status_code == 400 and "Open Supply Hub" in error_message(page.text)
    assert await _factory_count(app) == 0


async def test_a_csv_with_a_lone_carriage_return_or_a_giant_cell_is_read_or_refused(
    app: App,
) -> None:
    """The csv module stopped with an error (500 in the portal) on a carriage return in an
    unquoted cell — lines that end in CR alone, as old spreadsheets save them — and on a cell
    of more than 131,072 characters."""
    admin = await make_account(app, CSO, "cso", "admin")
    async with portal_client(app) as client:
        await login(client, admin.email or "")
        for text, says in (
            ("\x80\x14\r\x80", "lacks the column"),
            ("x" * 150_000, "line 1: this is not CSV that can be read"),
            (HEADER + "KHI-301,Cell," + "c" * 150_000 + "\n", "line 2: this is not CSV"),
        ):
            page = await post_form(client, "/cso/factories/import", {"text": text})
            assert page.status_code == 400
            assert says in error_message(page.text)
        classic = HEADER.replace("\n", "\r") + GOOD.replace("\n", "\r")
        page = await post_form(client, "/cso/factories/import", {"text": classic})
        assert page.status_code == 200 and "1 added" in page.text
    assert await _factory_count(app) == 1
