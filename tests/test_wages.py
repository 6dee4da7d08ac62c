"""The legal minimum-wage table (surveys/minimum-wages.yaml) and its look-ups."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bot.wages import (
    DEFAULT_TABLE_PATH,
    MinimumWage,
    WageTable,
    WageTableError,
    fiscal_year_start,
    staleness,
)

SHIPPED = Path(__file__).resolve().parents[1] / "surveys" / "minimum-wages.yaml"


@pytest.fixture(scope="module")
def table() -> WageTable:
    return WageTable.load(SHIPPED)


def month(text: str) -> date:
    """'2025-07' -> 2025-07-01."""
    year, mon = text.split("-")
    return date(int(year), int(mon), 1)


def found(result: MinimumWage | None) -> MinimumWage:
    assert result is not None
    return result


# ---------------------------------------------------------------- the shipped file


def test_shipped_file_loads_with_five_regions_and_four_grades(table: WageTable) -> None:
    assert DEFAULT_TABLE_PATH == SHIPPED
    assert set(table.regions) == {
        "sindh",
        "punjab",
        "islamabad",
        "khyber_pakhtunkhwa",
        "balochistan",
    }
    assert table.grades == ("unskilled", "semi_skilled", "skilled", "highly_skilled")
    assert all(r.time_zone == "Asia/Karachi" for r in table.regions.values())
    assert all(e.source for e in table.entries)


def test_every_shipped_line_cites_a_dated_source_a_reader_can_follow(table: WageTable) -> None:
    for entry in table.entries:
        assert entry.citations, entry
        assert any(c.publisher and c.title and c.date for c in entry.citations), entry
        for c in entry.citations:
            assert c.url or c.id == "wagecheck-v1", c
            assert not c.undated or c.accessed is not None, c
        # a line whose figure no source confirms says so in its note
        if not entry.confirmed:
            assert entry.note is not None and "NOT CONFIRMED" in entry.note, entry
    # the free-text "press reports: ..." of version 1 is gone
    assert "press reports:" not in SHIPPED.read_text(encoding="utf-8")


def test_every_region_of_the_shipped_file_has_lines_up_to_2024(table: WageTable) -> None:
    for region in table.regions:
        found(table.minimum_for(region, "unskilled", month("2024-08")))
        assert table.history(region)[0].in_force_from <= date(2021, 7, 1)


@pytest.mark.parametrize(
    ("region", "when", "amount"),
    [
        ("khyber_pakhtunkhwa", "2021-07", 21000),
        ("khyber_pakhtunkhwa", "2022-07", 25000),
        ("khyber_pakhtunkhwa", "2023-07", 32000),
        ("khyber_pakhtunkhwa", "2024-07", 36000),
        ("khyber_pakhtunkhwa", "2025-07", 40000),
        ("balochistan", "2021-07", 20000),
        ("balochistan", "2023-07", 32000),
        ("balochistan", "2024-07", 37000),
        ("balochistan", "2025-09", 37000),
    ],
)
def test_new_regions_follow_their_notifications(
    table: WageTable, region: str, when: str, amount: int
) -> None:
    assert found(table.minimum_for(region, "unskilled", month(when))).amount == amount


def test_notification_dates_where_known(table: WageTable) -> None:
    def notified(region: str, since: str) -> date | None:
        line = next(e for e in table.history(region) if e.in_force_from == month(since))
        return line.notified_on

    assert notified("punjab", "2024-07") == date(2024, 9, 5)
    assert notified("punjab", "2025-07") == date(2025, 9, 9)
    assert notified("khyber_pakhtunkhwa", "2025-07") == date(2025, 9, 10)
    assert notified("punjab", "2023-07") is None  # the 19 Sep 2023 lead was not confirmed


def test_shipped_file_has_one_flow_style_line_per_entry() -> None:
    lines = [
        line
        for line in SHIPPED.read_text(encoding="utf-8").splitlines()
        if line.lstrip().startswith("- {")
    ]
    assert len(lines) == len(WageTable.load(SHIPPED).entries)
    assert all(line.rstrip().endswith("}") for line in lines)


def test_shipped_file_flags_the_contested_and_interim_sindh_figures(table: WageTable) -> None:
    statuses = {(e.in_force_from, e.amount): e.status for e in table.history("sindh")}
    assert statuses[(date(2021, 7, 1), 25000)] == "contested"
    # the Supreme Court order of 7 Dec 2021: 19,000 from 1 July 2021 while the case lasts
    assert statuses[(date(2021, 7, 1), 19000)] == "interim"
    assert statuses[(date(2022, 6, 1), 25000)] == "notified"
    interim = next(e for e in table.history("sindh") if e.status == "interim")
    assert interim.note is not None and "7 Dec 2021" in interim.note
    contested = next(e for e in table.history("sindh") if e.status == "contested")
    assert contested.notified_on == date(2021, 7, 19)


# ---------------------------------------------------------------- look-ups by month


@pytest.mark.parametrize(
    ("when", "amount", "status"),
    [
        ("2019-07", 17500, "notified"),
        ("2021-06", 17500, "notified"),
        ("2021-07", 19000, "interim"),
        ("2021-12", 19000, "interim"),
        ("2022-01", 19000, "interim"),
        ("2022-05", 19000, "interim"),
        ("2022-06", 25000, "notified"),
        ("2023-06", 25000, "notified"),
        ("2023-07", 32000, "notified"),
        ("2024-07", 37000, "notified"),
        ("2025-06", 37000, "notified"),
        ("2025-07", 40000, "notified"),
        ("2026-10", 40000, "notified"),
    ],
)
def test_sindh_unskilled_minimum_follows_the_table_dates(
    table: WageTable, when: str, amount: int, status: str
) -> None:
    result = found(table.minimum_for("sindh", "unskilled", month(when)))
    assert result.amount == amount
    assert result.entry.status == status
    assert result.contested == (status != "notified")
    assert not result.fell_back


def test_sindh_may_2022_is_the_interim_figure_and_flagged_contested(table: WageTable) -> None:
    result = found(table.minimum_for("sindh", "unskilled", date(2022, 5, 20)))
    assert result.amount == 19000
    assert result.contested
    assert result.entry.status == "interim"


@pytest.mark.parametrize(
    ("when", "amount"),
    [
        ("2019-07", 17500),
        ("2021-06", 17500),
        ("2021-07", 20000),
        ("2022-06", 20000),
        ("2022-07", 25000),
        ("2023-07", 32000),
        ("2024-07", 37000),
        ("2025-06", 37000),
        ("2025-07", 40000),
    ],
)
def test_punjab_unskilled_minimum_follows_the_table_dates(
    table: WageTable, when: str, amount: int
) -> None:
    assert found(table.minimum_for("punjab", "unskilled", month(when))).amount == amount


@pytest.mark.parametrize(
    ("when", "amount"),
    [
        ("2021-07", 20000),
        ("2022-07", 25000),
        ("2023-07", 32000),
        ("2024-07", 37000),
        ("2025-08", 37000),
        ("2026-03", 37000),
    ],
)
def test_islamabad_minimum_stays_37000_in_fy2025_26(
    table: WageTable, when: str, amount: int
) -> None:
    assert found(table.minimum_for("islamabad", "unskilled", month(when))).amount == amount


def test_any_day_of_the_month_gets_the_minimum_in_force_on_the_first(table: WageTable) -> None:
    for day in (date(2025, 7, 1), date(2025, 7, 15), date(2025, 7, 31)):
        assert found(table.minimum_for("sindh", "unskilled", day)).amount == 40000
    for day in (date(2025, 6, 1), date(2025, 6, 30)):
        assert found(table.minimum_for("sindh", "unskilled", day)).amount == 37000


def test_a_datetime_is_treated_as_its_date(table: WageTable) -> None:
    result = table.minimum_for("sindh", "unskilled", datetime(2025, 7, 31, 23, 59))
    assert found(result).amount == 40000


def test_nothing_in_force_before_the_first_line_gives_none(table: WageTable) -> None:
    assert table.minimum_for("sindh", "unskilled", month("2019-06")) is None
    assert table.minimum_for("sindh", "skilled", month("2019-06")) is None
    assert table.minimum_for("islamabad", "unskilled", month("2021-06")) is None


def test_unknown_region_or_grade_raises_key_error_naming_it(table: WageTable) -> None:
    with pytest.raises(KeyError, match="sind"):
        table.minimum_for("sind", "unskilled", month("2025-07"))
    with pytest.raises(KeyError, match="expert"):
        table.minimum_for("sindh", "expert", month("2025-07"))
    with pytest.raises(KeyError, match="gilgit"):
        table.latest_raise("gilgit", date(2025, 7, 1))
    with pytest.raises(KeyError, match="expert"):
        table.history("sindh", "expert")


# ---------------------------------------------------------------- grades


def test_semi_skilled_without_its_own_figure_falls_back_to_unskilled(table: WageTable) -> None:
    result = found(table.minimum_for("sindh", "semi_skilled", month("2024-08")))
    assert result.amount == 37000
    assert result.fell_back
    assert result.grade_requested == "semi_skilled"
    assert result.grade_used == "unskilled"


@pytest.mark.parametrize(
    ("grade", "amount"),
    [("semi_skilled", 41380), ("skilled", 49628), ("highly_skilled", 51745)],
)
def test_sindh_2025_grades_use_their_own_figure(table: WageTable, grade: str, amount: int) -> None:
    result = found(table.minimum_for("sindh", grade, month("2025-08")))
    assert result.amount == amount
    assert not result.fell_back
    assert result.grade_used == grade


def test_punjab_skilled_falls_back_to_unskilled(table: WageTable) -> None:
    result = found(table.minimum_for("punjab", "skilled", month("2025-08")))
    assert (result.amount, result.fell_back) == (40000, True)


# ---------------------------------------------------------------- retroactive raises


def test_month_before_the_notification_still_gets_the_new_minimum(table: WageTable) -> None:
    # Sindh's 32,000 was notified on 2 Nov 2023 but applies from 1 July 2023.
    result = found(table.minimum_for("sindh", "unskilled", month("2023-08")))
    assert result.amount == 32000
    assert result.entry.notified_on == date(2023, 11, 2)
    assert result.entry.notified_on > month("2023-08")
    # and 37,000 (notified 22 Oct 2024) applies to July 2024 pay
    assert found(table.minimum_for("sindh", "unskilled", month("2024-07"))).amount == 37000


# ---------------------------------------------------------------- latest raise, history


def test_latest_raise_in_sindh_late_2026_is_the_july_2025_notification(table: WageTable) -> None:
    raise_ = table.latest_raise("sindh", date(2026, 11, 29))
    assert raise_ is not None
    assert (raise_.in_force_from, raise_.amount) == (date(2025, 7, 1), 40000)


def test_latest_raise_in_sindh_early_2023_is_june_2022_not_the_contested_one(
    table: WageTable,
) -> None:
    raise_ = table.latest_raise("sindh", date(2023, 1, 15))
    assert raise_ is not None
    assert (raise_.in_force_from, raise_.amount, raise_.status) == (
        date(2022, 6, 1),
        25000,
        "notified",
    )


def test_latest_raise_skips_contested_and_interim_lines(table: WageTable) -> None:
    # During the dispute the last notified raise is still the 2019 one.
    for on in (date(2021, 8, 1), date(2022, 3, 1)):
        raise_ = table.latest_raise("sindh", on)
        assert raise_ is not None and raise_.in_force_from == date(2019, 7, 1)


def test_latest_raise_before_any_line_is_none(table: WageTable) -> None:
    assert table.latest_raise("islamabad", date(2021, 1, 1)) is None


def test_latest_raise_ignores_a_line_that_does_not_raise(tmp_path: Path) -> None:
    path = copy_with_line(
        tmp_path,
        "  - {region: punjab, grade: unskilled, from: 2026-07-01, amount: 40000, "
        "status: notified, sources: [wagecheck-v1], confirmed_by: none}",
    )
    raise_ = WageTable.load(path).latest_raise("punjab", date(2026, 8, 1))
    assert raise_ is not None and raise_.in_force_from == date(2025, 7, 1)


def test_history_is_oldest_first_per_region_and_grade(table: WageTable) -> None:
    sindh = table.history("sindh")
    assert [e.amount for e in sindh] == [17500, 25000, 19000, 25000, 32000, 37000, 40000]
    assert [e.status for e in sindh[1:3]] == ["contested", "interim"]
    assert [e.in_force_from for e in sindh] == sorted(e.in_force_from for e in sindh)
    assert [e.amount for e in table.history("sindh", "skilled")] == [49628]
    assert table.history("punjab", "skilled") == []


# ---------------------------------------------------------------- editing the file


def copy_with_line(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "minimum-wages.yaml"
    path.write_text(
        SHIPPED.read_text(encoding="utf-8").rstrip("\n") + "\n" + line + "\n", encoding="utf-8"
    )
    return path


def test_adding_one_line_changes_the_lookup(tmp_path: Path) -> None:
    path = copy_with_line(
        tmp_path,
        "  - {region: sindh, grade: unskilled, from: 2026-07-01, amount: 45000, "
        "status: notified, notified_on: 2026-09-15, sources: [wagecheck-v1], confirmed_by: none}",
    )
    edited = WageTable.load(path)
    assert found(edited.minimum_for("sindh", "unskilled", month("2026-06"))).amount == 40000
    assert found(edited.minimum_for("sindh", "unskilled", month("2026-07"))).amount == 45000
    raise_ = edited.latest_raise("sindh", date(2026, 11, 29))
    assert raise_ is not None and raise_.amount == 45000
    # the shipped table is unchanged
    assert (
        found(WageTable.load(SHIPPED).minimum_for("sindh", "unskilled", month("2026-07"))).amount
        == 40000
    )


def test_grade_figure_from_an_older_notification_yields_to_a_newer_unskilled_one(
    tmp_path: Path,
) -> None:
    # A 2026 notification that only gives unskilled supersedes the 2025 semi-skilled figure.
    path = copy_with_line(
        tmp_path,
        "  - {region: sindh, grade: unskilled, from: 2026-07-01, amount: 45000, "
        "status: notified, sources: [wagecheck-v1], confirmed_by: none}",
    )
    result = found(WageTable.load(path).minimum_for("sindh", "semi_skilled", month("2026-08")))
    assert (result.amount, result.grade_used, result.fell_back) == (45000, "unskilled", True)


def test_a_grade_figure_below_unskilled_is_never_used(tmp_path: Path) -> None:
    path = copy_with_line(
        tmp_path,
        "  - {region: punjab, grade: skilled, from: 2025-07-01, amount: 39000, "
        "status: notified, sources: [wagecheck-v1], confirmed_by: none}",
    )
    result = found(WageTable.load(path).minimum_for("punjab", "skilled", month("2025-08")))
    assert (result.amount, result.fell_back) == (40000, True)


# ---------------------------------------------------------------- validation errors

BASE = """\
version: 2
regions:
  sindh: {name: Sindh, time_zone: Asia/Karachi}
grades: [unskilled, semi_skilled]
sources:
  s: {publisher: Test Gazette, title: "A notification", date: 2024-09-01}
minimum_wages:
  - {region: sindh, grade: unskilled, from: 2024-07-01, amount: 37000, status: notified, \
sources: [s], confirmed_by: notification_text}
"""
BAD_LINE = 9  # the line appended to BASE


def good(**changes: str) -> str:
    fields = {
        "region": "sindh",
        "grade": "unskilled",
        "from": "2025-07-01",
        "amount": "40000",
        "status": "notified",
        "sources": "[s]",
        "confirmed_by": "secondary_source",
    }
    fields.update(changes)
    body = ", ".join(f"{k}: {v}" for k, v in fields.items() if v != "<drop>")
    return "  - {" + body + "}\n"


def load_error(text: str) -> WageTableError:
    with pytest.raises(WageTableError) as info:
        WageTable.from_yaml_text(text, source_name="wages-test.yaml")
    return info.value


def test_base_text_for_the_error_tests_is_valid() -> None:
    WageTable.from_yaml_text(BASE + good())


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param(good(region="sind"), "unknown region 'sind'", id="unknown-region"),
        pytest.param(good(grade="expert"), "unknown grade 'expert'", id="unknown-grade"),
        pytest.param(good(amount="0"), "'amount': must be positive", id="zero-amount"),
        pytest.param(good(amount="-5"), "'amount': must be positive", id="negative-amount"),
        pytest.param(good(amount='"40,000"'), "whole number", id="amount-with-comma"),
        pytest.param(good(amount="40000.5"), "whole number", id="amount-fraction"),
        pytest.param(good(amount="<drop>"), "missing field 'amount'", id="missing-amount"),
        pytest.param(good(sources="<drop>"), "missing field 'sources'", id="missing-sources"),
        pytest.param(good(sources="[]"), "at least one source", id="no-sources"),
        pytest.param(good(sources="[gazette]"), "unknown source 'gazette'", id="unknown-source"),
        pytest.param(
            good(confirmed_by="<drop>"), "missing field 'confirmed_by'", id="no-confirmed"
        ),
        pytest.param(good(confirmed_by="maybe"), "'confirmed_by'", id="bad-confirmed"),
        pytest.param(good(source='"press reports"'), "unknown field 'source'", id="v1-source"),
        pytest.param(good(**{"from": "<drop>"}), "missing field 'from'", id="missing-from"),
        pytest.param(good(**{"from": "2025-02-30"}), "not a valid date", id="impossible-date"),
        pytest.param(good(**{"from": "2025-7-1"}), "not a valid date", id="short-date"),
        pytest.param(good(**{"from": "July 2025"}), "not a valid date", id="text-date"),
        pytest.param(good(notified_on="2025-13-01"), "not a valid date", id="bad-notified-on"),
        pytest.param(good(status="approved"), "'status'", id="unknown-status"),
        pytest.param(good(amout="40000"), "unknown field 'amout'", id="extra-field"),
        pytest.param(good(**{"from": "2024-07-01"}), "duplicate line", id="duplicate"),
        pytest.param("  - {region: sindh, amount: 1, amount: 2}\n", "given twice", id="dup-key"),
        pytest.param("  - just text\n", "must be a mapping", id="not-a-mapping"),
        pytest.param('  - {region: sindh, note: "unclosed\n', "not valid YAML", id="bad-yaml"),
    ],
)
def test_a_bad_line_is_reported_with_file_line_number_and_problem(line: str, expected: str) -> None:
    error = load_error(BASE + line)
    assert error.line == BAD_LINE or (expected == "not valid YAML" and error.line is not None)
    assert expected in str(error)
    assert str(error).startswith(f"wages-test.yaml, line {error.line}: ")


def test_duplicate_line_names_the_line_of_the_first_one() -> None:
    error = load_error(BASE + good(**{"from": "2024-07-01"}))
    assert "already given on line 8" in str(error)


def test_only_an_interim_figure_may_share_the_day_of_a_contested_one() -> None:
    contested = good(**{"from": "2025-07-01", "status": "contested", "amount": "45000"})
    interim = good(**{"from": "2025-07-01", "status": "interim", "amount": "39000"})
    table = WageTable.from_yaml_text(BASE + interim + contested)
    result = found(table.minimum_for("sindh", "unskilled", month("2025-08")))
    assert (result.amount, result.entry.status) == (39000, "interim")
    assert "duplicate line" in str(load_error(BASE + contested + good(**{"from": "2025-07-01"})))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        pytest.param("{title: T, date: 2024-09-01}", "missing field 'publisher'", id="publisher"),
        pytest.param("{publisher: P, date: 2024-09-01}", "missing field 'title'", id="title"),
        pytest.param("{publisher: P, title: T}", "missing field 'date'", id="date"),
        pytest.param("{publisher: P, title: T, date: 2024-13}", "not a valid month", id="month"),
        pytest.param("{publisher: P, title: T, date: Sept}", "not a valid date", id="text-date"),
        pytest.param('{publisher: P, title: T, date: "n.d."}', "needs 'url' and", id="undated"),
        pytest.param(
            "{publisher: P, title: T, date: 2024, url: www.x.pk}", "https://", id="bad-url"
        ),
    ],
)
def test_a_citation_needs_publisher_title_and_date(source: str, expected: str) -> None:
    text = BASE.replace(
        's: {publisher: Test Gazette, title: "A notification", date: 2024-09-01}', "s: " + source
    )
    error = load_error(text)
    assert expected in str(error)
    assert error.line == 6


def test_an_undated_page_with_address_and_reading_date_is_a_citation() -> None:
    text = BASE.replace(
        "date: 2024-09-01}",
        'date: "n.d.", url: "https://example.pk/x", accessed: 2026-12-06}',
    )
    entry = WageTable.from_yaml_text(text).entries[0]
    assert entry.source == (
        "Test Gazette, “A notification”, undated (read 6 Dec 2026), https://example.pk/x"
    )


def test_a_region_without_lines_is_an_error() -> None:
    region = BASE.replace("grades:", "  punjab: {name: Punjab, time_zone: Asia/Karachi}\ngrades:")
    assert "region 'punjab' has no unskilled line" in str(load_error(region))


def test_an_error_in_the_shipped_file_names_the_path_and_line(tmp_path: Path) -> None:
    path = copy_with_line(tmp_path, good(region="gilgit").rstrip("\n"))
    line = len(path.read_text(encoding="utf-8").splitlines())
    with pytest.raises(WageTableError) as info:
        WageTable.load(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}, line {line}: unknown region 'gilgit'")


@pytest.mark.parametrize(
    ("text", "expected", "line"),
    [
        pytest.param("", "empty", 1, id="empty"),
        pytest.param(
            BASE.replace("version: 2", "version: 1"), "unsupported version", 1, id="version"
        ),
        pytest.param(
            BASE.replace("grades: [unskilled, semi_skilled]", "grades: [skilled]"),
            "must include 'unskilled'",
            4,
            id="no-unskilled",
        ),
        pytest.param(
            BASE.replace("grades: [unskilled, semi_skilled]", "grades: [unskilled, unskilled]"),
            "listed twice",
            4,
            id="grade-twice",
        ),
        pytest.param(
            BASE.replace("time_zone: Asia/Karachi", "tz: Asia/Karachi"),
            "region 'sindh': unknown field 'tz'",
            3,
            id="region-misspelt-field",
        ),
        pytest.param(
            BASE + "currency: PKR\n", "unknown top-level field 'currency'", 9, id="extra-top-level"
        ),
        pytest.param(
            BASE.replace("{name: Sindh, ", "{"),
            "region 'sindh': missing field 'name'",
            3,
            id="region-missing-field",
        ),
        pytest.param(
            BASE.replace("grades: [unskilled, semi_skilled]\n", ""),
            "missing top-level field 'grades'",
            1,
            id="missing-top-level",
        ),
    ],
)
def test_a_bad_header_is_reported_with_its_line(text: str, expected: str, line: int) -> None:
    error = load_error(text)
    assert expected in str(error)
    assert error.line == line


# ---------------------------------------------------------------- staleness (no wall clock)


def test_the_fiscal_year_starts_on_1_july() -> None:
    assert fiscal_year_start(date(2026, 6, 30)) == date(2025, 7, 1)
    assert fiscal_year_start(date(2026, 7, 1)) == date(2026, 7, 1)
    assert fiscal_year_start(datetime(2027, 1, 5, 23, 59)) == date(2026, 7, 1)


@pytest.mark.parametrize(
    ("day", "stale"),
    [
        (date(2026, 6, 30), False),  # the last day of FY 2025-26, which has its 2025 line
        (date(2026, 7, 1), True),  # FY 2026-27 starts without a line
        (date(2026, 7, 2), True),
        (date(2026, 11, 1), True),
        (date(2027, 7, 2), True),  # a year later, still the 2025 line
    ],
)
def test_sindh_is_stale_from_the_first_day_of_a_fiscal_year_without_a_line(
    table: WageTable, day: date, stale: bool
) -> None:
    result = staleness(table, "sindh", day)
    assert result.stale is stale
    assert result.latest_from == date(2025, 7, 1)
    assert result.latest is not None and result.latest.amount == 40000
    assert table.staleness("sindh", day) == result


def test_a_region_without_a_line_for_fy_2025_26_is_stale_within_it(table: WageTable) -> None:
    assert staleness(table, "balochistan", date(2025, 7, 2)).stale
    assert staleness(table, "balochistan", date(2025, 6, 30)).stale is False
    assert staleness(table, "islamabad", date(2026, 3, 1)).latest_from == date(2024, 7, 1)


def test_stale_regions_on_2_july_2026_are_all_of_them(table: WageTable) -> None:
    stale = table.stale_regions(date(2026, 7, 2))
    assert [s.region for s in stale] == list(table.regions)
    assert {s.region: s.latest_from for s in table.stale_regions(date(2026, 6, 30))} == {
        "islamabad": date(2024, 7, 1),
        "balochistan": date(2024, 7, 1),
    }


def test_a_new_line_makes_the_region_current_again(tmp_path: Path) -> None:
    path = copy_with_line(
        tmp_path,
        "  - {region: sindh, grade: unskilled, from: 2026-07-01, amount: 45000, "
        "status: notified, sources: [wagecheck-v1], confirmed_by: none}",
    )
    edited = WageTable.load(path)
    assert not staleness(edited, "sindh", date(2026, 7, 2)).stale
    assert staleness(edited, "sindh", date(2027, 7, 2)).stale
    assert staleness(edited, "punjab", date(2026, 7, 2)).stale


def test_before_any_line_a_region_is_stale_without_a_latest_line(table: WageTable) -> None:
    result = staleness(table, "khyber_pakhtunkhwa", date(2020, 1, 1))
    assert result.stale and result.latest is None and result.latest_from is None
