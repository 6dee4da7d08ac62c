"""One set of checks for what people type (issue 16, part 4): the portal's CSV import used to
skip the checks its own form makes. Every way in — the service (command line, bot staff
commands), the portal's form and its CSV import — refuses the same things with a message, and
no number in a URL or a date in a form can make the portal answer 500."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.bootstrap import App
from bot.service import validation
from bot.service.audited import AdminError
from bot.storage.models import Factory, Round
from tests.portal_helpers import login, make_account, portal_client, post_form

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
