"""Report figures from real rounds: workers answer through the service, the report reads the
database. Expected values are worked out by hand in each test."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from bot.bootstrap import App
from bot.reports import Audience, build_report, wilson_interval
from bot.reports.figures import compute_figures
from bot.reports.model import Report, Share
from bot.survey.state import ResponseCompleted
from tests.test_service import Worker

CSO = "Karachi Workers Centre"
BRAND = "Noordzee Fashion"
_users = itertools.count(1)


@dataclass(frozen=True)
class Say:
    """What a worker answers (button ids, or the text typed)."""

    job: str = "helper"
    employment: str = "permanent"
    month: int = 0  # 0: the first month offered (last month), 1: the month before
    full: str = "yes"
    pay: str = "38000"
    rise: str = "yes"
    slip: str = "no"
    methods: str = "1"  # typed option numbers: 1 cash, 2 bank, 3 wallet
    deductions: str = "no"
    gender: str = "woman"
    comment: str | None = None


async def answer(app: App, code: str, say: Say, clock: datetime | None = None) -> Worker:
    """One worker completes the survey in English, through the real service."""
    w = Worker(app, f"user-{next(_users)}")
    if clock is not None:
        w.clock = clock
    await w.start(code)
    for value in ("en", "yes", "yes", say.job, say.employment):
        await w.press(value)
    months = next(r for r in reversed(w.outcome.replies) if r.buttons)
    await w.send(kind="button", payload=months.buttons[say.month].payload)
    await w.press(say.full)
    if say.full == "yes":
        await w.type(say.pay)
    for value in (say.rise, say.slip):
        await w.press(value)
    await w.type(say.methods)
    for value in (say.deductions, say.gender):
        await w.press(value)
    if say.comment:
        await w.type(say.comment)
    else:
        await w.press("_skip")
    await w.press("no")
    assert any(isinstance(e, ResponseCompleted) for e in w.outcome.events), w.outcome.replies
    return w


async def set_up(
    app: App,
    factories: dict[str, int | None],
    brand_factories: tuple[str, ...] = (),
    region: str = "sindh",
) -> dict[str, str]:
    """A CSO, a brand linked to some factories, and an open round; returns poster codes."""
    await app.admin.add_org(CSO, "cso")
    await app.admin.add_org(BRAND, "brand")
    for code, headcount in factories.items():
        await app.admin.add_factory(code, f"Factory {code}", region, "Karachi", headcount=headcount)
    if brand_factories:
        await app.admin.link(BRAND, brand_factories)
    rnd = await app.admin.open_round("Round 1", CSO, app.survey, list(factories))
    return {rf.factory.code: rf.code for rf in rnd.factories}


async def cso_report(app: App) -> Report:
    return await build_report(app, 1, Audience("cso", CSO), today=date(2026, 11, 30))


def rounded(share: Share) -> tuple[float | None, tuple[float, float] | None]:
    ci = share.ci95
    return (
        None if share.share is None else round(share.share, 3),
        None if ci is None else (round(ci[0], 3), round(ci[1], 3)),
    )


def test_wilson_interval_gives_the_values_of_the_domain_brief() -> None:
    assert tuple(round(x, 3) for x in wilson_interval(7, 20)) == (0.181, 0.567)
    assert tuple(round(x, 3) for x in wilson_interval(0, 10)) == (0.0, 0.278)
    with pytest.raises(ValueError):
        wilson_interval(1, 0)


async def test_seven_of_twenty_paid_the_minimum_gives_the_wilson_interval_and_a_verdict(
    app: App,
) -> None:
    codes = await set_up(app, {"KHI-001": 100})
    # October 2026, Sindh, unskilled (helper): the minimum is PKR 40,000 (from 2025-07-01).
    # 7 are paid 41,000 (one of them exactly the minimum counts as paid: see the 40,000 below).
    for i in range(7):
        pay = "40000" if i == 0 else "41000"
        await answer(app, codes["KHI-001"], Say(pay=pay, slip="yes", methods="2"))
    for _ in range(13):
        await answer(app, codes["KHI-001"], Say(pay="38000", deductions="yes", gender="man"))
    report = await cso_report(app)
    (f,) = report.factories
    fig = f.figures
    assert fig.respondents.n == 20 and f.response_rate == 0.2
    assert rounded(fig.paid_at_least_minimum) == (0.35, (0.181, 0.567))
    assert fig.paid_at_least_minimum.n == 20
    assert f.verdict == "likely_not_met"  # the interval's upper end 0.567 < 0.8
    # Pays sorted: 13 x 38,000, 40,000, 6 x 41,000. Median: mean of the 10th and 11th = 38,000;
    # quartiles (inclusive method) at positions 4.75 and 14.25 (0-based): 38,000 and 41,000.
    assert (fig.pay.median, fig.pay.q1, fig.pay.q3) == (38_000, 38_000, 41_000)
    # Each pay against its own minimum: 38,000 / 40,000 = 95% is the median ratio.
    assert fig.pay.median_pct_of_minimum == pytest.approx(95.0)
    assert rounded(fig.payslip)[0] == 0.35 and rounded(fig.deductions)[0] == 0.65
    assert fig.payment_methods["bank"].share == 0.35 and fig.payment_methods["cash"].share == 0.65
    assert fig.payment_methods["wallet"].share == 0.0
    assert fig.pay_rise.share == 1.0 and fig.pay_rise_dont_know.share == 0.0
    # Distribution (k = 5): the 13 below the minimum all lie in 90-100%, merged with the empty
    # bars below it into one bar; the 7 at or above lie in 100-110%, merged with the empty bars
    # above it. Each side is merged on its own, so no bar crosses the minimum line.
    assert fig.distribution is not None
    assert [(b.low, b.high, round(b.share, 2)) for b in fig.distribution] == [
        (0.0, 1.0, 0.65),
        (1.0, None, 0.35),
    ]
    assert [m.amount for m in report.minimums] == [40_000]


async def test_zero_of_ten_gives_an_interval_from_zero(app: App) -> None:
    codes = await set_up(app, {"KHI-001": None}, brand_factories=("KHI-001",))
    for _ in range(10):
        await answer(app, codes["KHI-001"], Say(pay="30000"))
    await app.admin.close_round(1)
    cso = await build_report(app, 1, f"cso:{CSO}")
    assert rounded(cso.factories[0].figures.paid_at_least_minimum) == (0.0, (0.0, 0.278))
    # A brand sees 0 of 10 as a range that 1 or 2 of 10 would also give: "at most 20%", with
    # the interval of 0 to 2 of 10 (an employer who knows its few well-paid workers cannot
    # tell whether any of them answered).
    report = await build_report(app, 1, f"brand:{BRAND}")
    (f,) = report.factories
    assert report.k == 10 and not f.suppressed
    paid = f.figures.paid_at_least_minimum
    assert paid.bound == "at_most" and rounded(paid) == (0.2, (0.0, 0.51))
    assert f.verdict == "likely_not_met" and f.response_rate is None  # no headcount known


async def test_each_pay_is_compared_with_the_minimum_in_force_for_its_month(app: App) -> None:
    codes = await set_up(app, {"KHI-001": 100})
    # Answering on 10 August 2025, workers are offered July and June 2025. The Sindh minimum
    # rose from 37,000 to 40,000 on 1 July 2025 (notified only on 30 July, so retroactive).
    august = datetime(2025, 8, 10, 9, tzinfo=UTC)
    for _ in range(5):
        await answer(app, codes["KHI-001"], Say(month=1, pay="38000"), clock=august)  # June
    for _ in range(5):
        await answer(app, codes["KHI-001"], Say(month=0, pay="38000"), clock=august)  # July
    async with app.db.transaction() as s:
        figures = await compute_figures(s, 1, app.wages)
    (f,) = figures.factories
    assert f.total.months == {"2025-06", "2025-07"}
    assert (f.total.assessed, f.total.at_least_minimum) == (10, 5)
    report = await cso_report(app)
    assert [(m.in_force_from, m.amount) for m in report.minimums] == [
        (date(2024, 7, 1), 37_000),
        (date(2025, 7, 1), 40_000),
    ]
    assert report.round.pay_months == ("2025-06", "2025-07")


async def test_the_job_sets_the_grade_and_a_grade_without_a_figure_falls_back(
    app: App,
) -> None:
    codes = await set_up(app, {"KHI-001": 100})
    # Sindh, October 2026: a machine operator is semi-skilled, minimum 41,380; a helper 40,000.
    for _ in range(5):
        await answer(app, codes["KHI-001"], Say(job="operator", pay="41000"))  # below 41,380
    for _ in range(5):
        await answer(app, codes["KHI-001"], Say(job="helper", pay="41000"))  # above 40,000
    async with app.db.transaction() as s:
        (f,) = (await compute_figures(s, 1, app.wages)).factories
    assert (f.total.assessed, f.total.at_least_minimum) == (10, 5)
    assert {key[1] for key in f.total.minimums} == {"semi_skilled", "unskilled"}


async def test_a_semi_skilled_worker_in_punjab_is_owed_the_unskilled_figure(app: App) -> None:
    # Punjab's table has no semi-skilled line, so the unskilled 40,000 applies to operators.
    codes = await set_up(app, {"LHR-001": 100}, region="punjab")
    for _ in range(5):
        await answer(app, codes["LHR-001"], Say(job="operator", pay="41000"))
    report = await cso_report(app)
    (f,) = report.factories
    assert f.figures.paid_at_least_minimum.share == 1.0
    assert [(m.region, m.grade, m.amount) for m in report.minimums] == [
        ("punjab", "unskilled", 40_000)
    ]


async def test_part_month_answers_count_as_respondents_but_are_not_compared(app: App) -> None:
    codes = await set_up(app, {"KHI-001": 100})
    for _ in range(5):
        await answer(app, codes["KHI-001"], Say(pay="45000"))
    for _ in range(4):
        await answer(app, codes["KHI-001"], Say(full="no"))
    report = await cso_report(app)
    fig = report.factories[0].figures
    assert fig.respondents.n == 9
    assert fig.paid_at_least_minimum.n == 5 and fig.paid_at_least_minimum.share == 1.0
    assert fig.payslip.n == 9


async def test_a_brand_sees_only_its_factories_and_only_after_the_round_closed(
    app: App,
) -> None:
    from bot.reports import DisclosureError

    codes = await set_up(app, {"KHI-001": 100, "KHI-002": 100}, brand_factories=("KHI-001",))
    for code in ("KHI-001", "KHI-002"):
        for _ in range(10):
            await answer(app, codes[code], Say(pay="41000", comment="Supervisor shouts"))
    with pytest.raises(DisclosureError, match="closes"):
        await build_report(app, 1, f"brand:{BRAND}")
    await app.admin.close_round(1)
    report = await build_report(app, 1, f"brand:{BRAND}")
    assert [f.code for f in report.factories] == ["KHI-001"]
    assert report.overall.respondents.n == 10  # the brand's factories only
    assert report.quality is None
    await app.admin.add_org("Other Brand", "brand")
    with pytest.raises(DisclosureError, match="no factory"):
        await build_report(app, 1, "brand:Other Brand")
    await app.admin.add_org("Other CSO", "cso")
    with pytest.raises(DisclosureError, match="another organisation"):
        await build_report(app, 1, "cso:Other CSO")
    with pytest.raises(DisclosureError, match="is a cso"):
        await build_report(app, 1, f"brand:{CSO}")
    cso = await cso_report(app)
    assert [f.code for f in cso.factories] == ["KHI-001", "KHI-002"]
    assert cso.quality is not None


async def test_a_small_factory_is_hidden_from_brands_but_shown_to_its_cso(app: App) -> None:
    codes = await set_up(app, {"KHI-001": 40}, brand_factories=("KHI-001",))
    for _ in range(7):
        await answer(app, codes["KHI-001"], Say())
    await app.admin.close_round(1)
    brand = (await build_report(app, 1, f"brand:{BRAND}")).factories[0]
    assert brand.suppressed and brand.figures.respondents.n is None
    assert brand.response_rate is None and brand.verdict == "inconclusive"
    assert brand.figures.paid_at_least_minimum.share is None
    assert brand.figures.pay.median is None and brand.figures.distribution is None
    assert all(c.respondents.n is None for b in brand.figures.breakdowns for c in b.cells)
    cso = (await cso_report(app)).factories[0]
    assert not cso.suppressed and cso.figures.respondents.n == 7


async def test_a_hidden_group_is_protected_by_hiding_the_next_smallest(app: App) -> None:
    codes = await set_up(app, {"KHI-001": 100})
    for gender, n in (("woman", 8), ("man", 7), ("unsaid", 3)):
        for _ in range(n):
            await answer(app, codes["KHI-001"], Say(gender=gender))
    report = await cso_report(app)  # k = 5
    fig = report.factories[0].figures
    assert fig.respondents.n == 18
    gender = {c.group: c for c in next(b for b in fig.breakdowns if b.by == "gender").cells}
    # "Prefer not to say" (3) is below k; shown alone it could be recomputed as 18 - 8 - 7,
    # so the smallest shown group (men, 7) is hidden too.
    assert gender["unsaid"].respondents.n is None
    assert gender["man"].respondents.n is None
    assert gender["woman"].respondents.n == 8
    assert gender["woman"].paid_at_least_minimum.share == 0.0
    assert "_none" not in gender  # nobody skipped the question


async def test_pooled_figures_include_only_factories_whose_figure_is_shown(app: App) -> None:
    codes = await set_up(app, {"KHI-001": 100, "KHI-002": 100})
    for _ in range(6):
        await answer(app, codes["KHI-001"], Say(pay="45000"))
    for _ in range(3):
        await answer(app, codes["KHI-002"], Say(pay="30000"))
    report = await cso_report(app)
    # KHI-002's three answers must not be recoverable as overall minus KHI-001.
    assert report.overall.respondents.n == 6
    assert report.overall.paid_at_least_minimum.share == 1.0
    assert report.overall_factories == 1
