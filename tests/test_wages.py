"""The legal minimum-wage table (surveys/minimum-wages.yaml) and its look-ups."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

from bot.wages import DEFAULT_TABLE_PATH, MinimumWage, WageTable, WageTableError

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


def test_shipped_file_loads_with_three_regions_and_four_grades(table: WageTable) -> None:
    assert DEFAULT_TABLE_PATH == SHIPPED
    assert set(table.regions) == {"sindh", "punjab", "islamabad"}
    assert table.grades == ("unskilled", "semi_skilled", "skilled", "highly_skilled")
    assert all(r.time_zone == "Asia/Karachi" for r in table.regions.values())
    assert all(e.source for e in table.entries)


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
    assert statuses[(date(2022, 1, 1), 19000)] == "interim"
    assert statuses[(date(2022, 6, 1), 25000)] == "notified"
    interim = next(e for e in table.history("sindh") if e.status == "interim")
    assert interim.note is not None and "not verified" in interim.note


# ---------------------------------------------------------------- look-ups by month


@pytest.mark.parametrize(
    ("when", "amount", "status"),
    [
        ("2019-07", 17500, "notified"),
        ("2021-06", 17500, "notified"),
        ("2021-07", 25000, "contested"),
        ("2021-12", 25000, "contested"),
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
    with pytest.raises(KeyError, match="balochistan"):
        table.latest_raise("balochistan", date(2025, 7, 1))
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
        'status: notified, source: "test"}',
    )
    raise_ = WageTable.load(path).latest_raise("punjab", date(2026, 8, 1))
    assert raise_ is not None and raise_.in_force_from == date(2025, 7, 1)


def test_history_is_oldest_first_per_region_and_grade(table: WageTable) -> None:
    sindh = table.history("sindh")
    assert [e.amount for e in sindh] == [17500, 25000, 19000, 25000, 32000, 37000, 40000]
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
        'status: notified, notified_on: 2026-09-15, source: "test notification"}',
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
        'status: notified, source: "test notification"}',
    )
    result = found(WageTable.load(path).minimum_for("sindh", "semi_skilled", month("2026-08")))
    assert (result.amount, result.grade_used, result.fell_back) == (45000, "unskilled", True)


def test_a_grade_figure_below_unskilled_is_never_used(tmp_path: Path) -> None:
    path = copy_with_line(
        tmp_path,
        "  - {region: punjab, grade: skilled, from: 2025-07-01, amount: 39000, "
        'status: notified, source: "typo"}',
    )
    result = found(WageTable.load(path).minimum_for("punjab", "skilled", month("2025-08")))
    assert (result.amount, result.fell_back) == (40000, True)


# ---------------------------------------------------------------- validation errors

BASE = """\
version: 1
regions:
  sindh: {name: Sindh, time_zone: Asia/Karachi}
grades: [unskilled, semi_skilled]
minimum_wages:
  - {region: sindh, grade: unskilled, from: 2024-07-01, amount: 37000, status: notified, \
source: "s"}
"""
BAD_LINE = 7  # the line appended to BASE


def good(**changes: str) -> str:
    fields = {
        "region": "sindh",
        "grade": "unskilled",
        "from": "2025-07-01",
        "amount": "40000",
        "status": "notified",
        "source": '"s"',
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
        pytest.param(good(source="<drop>"), "missing field 'source'", id="missing-source"),
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
    assert "already given on line 6" in str(error)


def test_an_error_in_the_shipped_file_names_the_path_and_line(tmp_path: Path) -> None:
    path = copy_with_line(tmp_path, good(region="balochistan").rstrip("\n"))
    line = len(path.read_text(encoding="utf-8").splitlines())
    with pytest.raises(WageTableError) as info:
        WageTable.load(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}, line {line}: unknown region 'balochistan'")


@pytest.mark.parametrize(
    ("text", "expected", "line"),
    [
        pytest.param("", "empty", 1, id="empty"),
        pytest.param(
            BASE.replace("version: 1", "version: 2"), "unsupported version", 1, id="version"
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
            BASE + "currency: PKR\n", "unknown top-level field 'currency'", 7, id="extra-top-level"
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
