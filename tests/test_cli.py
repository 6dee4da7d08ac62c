"""The command line as a CSO and a worker use it: real processes, real SQLite files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

WAGECHECK = [sys.executable, "-m", "bot"]


def run(
    home: Path,
    *args: str,
    stdin: str | None = None,
    check: bool = True,
    settings: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    env.update(WAGECHECK_HOME=str(home), COLUMNS="160", PYTHONIOENCODING="utf-8")
    env.update(settings or {})
    result = subprocess.run(
        [*WAGECHECK, *args], input=stdin, capture_output=True, text=True, env=env, timeout=120
    )
    if check:
        assert result.returncode == 0, result.stderr + result.stdout
    return result


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    run(home, "org", "add", "Karachi Workers Centre", "--kind", "cso")
    run(home, "factory", "add", "KHI-001", "--name", "Korangi Knitwear", "--headcount", "200")
    run(
        home,
        "round",
        "open",
        "--name",
        "Round 1",
        "--cso",
        "Karachi Workers Centre",
        "-f",
        "KHI-001",
        "--accept-stale-wages",
    )
    return home


# A worker who answers in Urdu, typing Urdu digits everywhere, as on an Urdu phone keyboard.
URDU_ANSWERS = [
    "جی",  # consent
    "۱",  # yes, this factory
    "۲",  # machine operator
    "۱",  # permanent
    "۱",  # last month
    "ہاں",  # full month
    "۴۲٬۵۰۰ روپے",  # pay
    "ہاں",  # pay rise
    "نہیں",  # payslip
    "۱، ۲",  # cash and bank
    "نہیں",  # deductions
    "۳",  # prefer not to say
    "چھوڑیں",  # comment: skip
    "نہیں",  # no contact
]


def test_piped_chat_in_urdu_with_urdu_digits_completes_the_survey(home: Path) -> None:
    out = run(
        home, "chat", "--lang", "ur", "--factory", "KHI-001", stdin="\n".join(URDU_ANSWERS) + "\n"
    ).stdout
    assert "کیا آپ جواب دینے پر راضی ہیں" in out
    assert "✓ مشین آپریٹر" in out
    # The pay is saved but not repeated (echo: false in the Sindh survey): "✓ saved".
    assert "✓ محفوظ ہو گیا" in out and "42,500" not in out
    # an operator's own minimum (as the latest notified one, when its fiscal year has none yet)
    assert "نیم ہنر مند کام کی قانونی کم از کم تنخواہ" in out or (
        "آخری نوٹیفائی شدہ کم از کم تنخواہ" in out and "نیم ہنر مند کام کے لیے" in out
    )
    assert "✓ نقد اور بینک اکاؤنٹ" in out
    assert "شکریہ!" in out
    assert "Please" not in out  # nothing fell back to English
    status = run(home, "round", "status", "1").stdout
    # headcount 200: 132 answers for ±5 points, 66 for ±10, a verdict possible from 16
    assert "│ 132 " in status and "│ 66 " in status and "│ 16 " in status
    assert "KHI-001" in status and "│ 1 " in status.replace("│ 1       │ 1", "│ 1 ")


def test_piped_chat_handles_nonsense_and_commands_politely(home: Path) -> None:
    answers = ["yes", "yes", "what?", "🙂", "help", "1", "back", "3", "stop", "hello"]
    out = run(
        home, "chat", "--lang", "en", "--factory", "KHI-001", stdin="\n".join(answers) + "\n"
    ).stdout
    assert "Please press one of the buttons" in out
    assert "You can type these words at any time" in out
    assert "✓ Helper" in out and "✓ Checker" in out
    assert "Paused." in out and "Welcome back" in out
    assert "Traceback" not in out


def test_help_lists_every_command() -> None:
    out = subprocess.run(
        [*WAGECHECK, "--help"], capture_output=True, text=True, env={**os.environ, "COLUMNS": "160"}
    ).stdout
    for command in ("init", "db", "factory", "org", "round", "chat", "demo", "config"):
        assert command in out
    sub = subprocess.run(
        [*WAGECHECK, "round", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "160"},
    ).stdout
    for command in ("open", "close", "list", "status"):
        assert command in sub


def test_config_masks_secrets(tmp_path: Path) -> None:
    env_home = tmp_path / "h"
    env = {
        **os.environ,
        "WAGECHECK_HOME": str(env_home),
        "COLUMNS": "200",
        "WAGECHECK_SECRET_KEY": "top-secret-value-" + "x" * 30,
    }
    out = subprocess.run([*WAGECHECK, "config"], capture_output=True, text=True, env=env).stdout
    assert "WAGECHECK_SECRET_KEY" in out and "********" in out
    assert "top-secret-value" not in out


def test_errors_are_clear_messages_not_tracebacks(home: Path) -> None:
    result = run(home, "factory", "add", "X-1", "--name", "X", "--region", "mars", check=False)
    assert result.returncode == 2
    assert "region must be one of" in result.stderr and "Traceback" not in result.stderr
    result = run(home, "round", "close", "99", check=False)
    assert result.returncode == 2 and "no round 99" in result.stderr


def test_factory_import_and_brand_link(tmp_path: Path) -> None:
    home = tmp_path / "home"
    csv = tmp_path / "factories.csv"
    csv.write_text(
        "code,name,region,city,os_id,headcount\n"
        "KHI-001,Korangi Knitwear,sindh,Karachi,PK2026X1,420\n"
        "HYD-001,Hyderabad Home,sindh,Hyderabad,,\n",
        encoding="utf-8",
    )
    assert "2 added" in run(home, "factory", "import", str(csv)).stdout
    run(home, "org", "add", "Noordzee Fashion", "--kind", "brand")
    assert "2 new link" in run(home, "org", "link", "Noordzee Fashion", "KHI-001", "HYD-001").stdout
    listing = run(home, "factory", "list").stdout
    assert "PK2026X1" in listing and "Hyderabad Home" in listing


def test_demo_runs_a_whole_round_and_prints_results(tmp_path: Path) -> None:
    out = run(tmp_path / "home", "demo", "--workers", "60", "--seed", "3").stdout
    assert "round 1 opened for 6 factories" in out
    # Two rounds either side of the July 2025 raise: the second round's reports have a trend.
    assert "round 2 opened for 6 factories" in out and "Trend across rounds" in out
    reports = tmp_path / "home" / "reports"
    brand = json.loads(next(reports.glob("round-2-brand-noordzee*.json")).read_text())
    jsonschema.validate(brand, json.loads(Path("docs/report.schema.json").read_text()))
    trend = {t["code"]: t["rounds"] for t in brand["trends"]}
    assert sorted(trend) == ["KHI-001", "KHI-002", "KHI-003"]  # the brand's linked factories
    assert all(len(rounds) == 2 for rounds in trend.values())
    assert all(m < "2025-07" for r in trend.values() for m in r[0]["pay_months"])  # before
    assert all(m >= "2025-06" for r in trend.values() for m in r[1]["pay_months"])  # after
    assert "completed" in out and "round closed" in out
    assert "KHI-001" in out and "95% interval" in out
    assert "< 5 answers" in out  # the smallest factory is suppressed
    again = run(tmp_path / "home2", "demo", "--workers", "60", "--seed", "3").stdout
    summary = [line for line in out.splitlines() if line.startswith("│ KHI-001")]
    assert summary == [line for line in again.splitlines() if line.startswith("│ KHI-001")]


def test_round_help_text_is_set_shown_and_cleared_and_a_worker_reads_it(home: Path) -> None:
    """Opened without a help text (the fixture), the round said the default is used; the CSO
    sets its own; a worker typing "مدد" in the terminal chat reads the Urdu one."""
    shown = run(home, "round", "help", "1", "--show").stdout
    assert "ur: (the default)" in shown
    assert "the default text will be used" in shown
    assert "default for sindh: Need help with your pay?" in shown
    assert "Sindh Labour Department" in shown
    urdu = "مدد کے لیے ہماری ہیلپ لائن: 0300-1234567"
    set_out = run(home, "round", "help", "1", "--lang", "ur", urdu).stdout
    assert f"ur: {urdu}" in set_out and "(en, sd)" in set_out
    refused = run(home, "round", "help", "1", "--lang", "ur", "x" * 501, check=False)
    assert refused.returncode == 2 and "longer than 500" in refused.stderr
    refused = run(home, "round", "help", "1", "--lang", "fr", "bonjour", check=False)
    assert refused.returncode == 2 and "en, ur, sd" in refused.stderr

    out = run(home, "chat", "--lang", "ur", "--factory", "KHI-001", stdin="جی\n۱\nمدد\n").stdout
    assert out.index("• مدد") < out.index(urdu)  # the commands, then where to get help
    assert urdu in out

    cleared = run(home, "round", "help", "1", "--lang", "ur", "--clear").stdout
    assert "ur: (the default)" in cleared


def test_round_open_with_help_texts_says_nothing_about_the_default(tmp_path: Path) -> None:
    home = tmp_path / "home"
    run(home, "org", "add", "CSO", "--kind", "cso")
    run(home, "factory", "add", "KHI-001", "--name", "Korangi Knitwear")
    out = run(
        home,
        "round",
        "open",
        "--name",
        "R",
        "--cso",
        "CSO",
        "-f",
        "KHI-001",
        "--accept-stale-wages",
        "--help-text-en",
        "Call 0300-1234567",
        "--help-text-ur",
        "فون: 0300-1234567",
        "--help-text-sd",
        "فون: 0300-1234567",
    ).stdout
    assert "round 1 is open" in out and "default" not in out
    partly = run(
        home,
        "round",
        "create",
        "--name",
        "R2",
        "--cso",
        "CSO",
        "-f",
        "KHI-001",
        "--help-text-ur",
        "فون: 0300-1234567",
    ).stdout
    assert "Where workers get help (en, sd): the default text will be used" in partly


# ------------------------------------------------------------------ the wage table's age


SHIPPED_TABLE = Path(__file__).resolve().parents[1] / "surveys" / "minimum-wages.yaml"


def test_wages_check_lists_the_regions_without_a_current_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ok = run(home, "wages", "check", "--on", "2025-12-01", check=False)
    assert ok.returncode == 1  # Islamabad and Balochistan have no 2025-26 line
    assert "STALE  islamabad (latest line from 2024-07-01)" in ok.stdout
    assert "STALE  balochistan (latest line from 2024-07-01)" in ok.stdout
    assert "ok     sindh (latest line from 2025-07-01)" in ok.stdout
    june = run(home, "wages", "check", "--on", "2026-06-30", check=False)
    assert "ok     punjab (latest line from 2025-07-01)" in june.stdout
    july = run(home, "wages", "check", "--on", "2026-07-02", check=False)
    assert july.returncode == 1
    for region in ("sindh", "punjab", "khyber_pakhtunkhwa"):
        assert f"STALE  {region} (latest line from 2025-07-01)" in july.stdout
    assert "5 region(s) without a minimum for the fiscal year from 2026-07-01" in july.stdout
    later = run(home, "wages", "check", "--on", "2027-07-02", check=False)
    assert "STALE  sindh (latest line from 2025-07-01)" in later.stdout


def test_wages_check_passes_with_current_lines_and_reports_a_bad_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    table = tmp_path / "wages.yaml"
    lines = [
        f"  - {{region: {r}, grade: unskilled, from: 2026-07-01, amount: 45000, "
        "status: notified, sources: [wagecheck-v1], confirmed_by: none}"
        for r in ("sindh", "punjab", "islamabad", "khyber_pakhtunkhwa", "balochistan")
    ]
    table.write_text(
        SHIPPED_TABLE.read_text(encoding="utf-8").rstrip("\n") + "\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    out = run(home, "wages", "check", "--table", str(table), "--on", "2026-07-02")
    assert "every region has a line for this fiscal year" in out.stdout
    table.write_text("version: 2\n", encoding="utf-8")
    bad = run(home, "wages", "check", "--table", str(table), check=False)
    assert bad.returncode == 2 and "missing top-level field" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_round_opens_on_a_stale_wage_table_only_when_the_cso_confirms(tmp_path: Path) -> None:
    # Sindh without its 2025 lines: stale whatever the wall clock says (after 1 July 2025).
    surveys = tmp_path / "surveys"
    surveys.mkdir()
    for f in SHIPPED_TABLE.parent.iterdir():
        if f.is_file():
            (surveys / f.name).write_bytes(f.read_bytes())
    text = (surveys / "minimum-wages.yaml").read_text(encoding="utf-8")
    kept = [
        line
        for line in text.splitlines()
        if not (line.startswith("  - {region: sindh,") and "from: 2025-07-01" in line)
    ]
    (surveys / "minimum-wages.yaml").write_text("\n".join(kept) + "\n", encoding="utf-8")
    home = tmp_path / "home"

    def wc(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(home, *args, check=check, settings={"WAGECHECK_SURVEYS_DIR": str(surveys)})

    wc("org", "add", "CSO", "--kind", "cso")
    wc("factory", "add", "KHI-001", "--name", "Korangi Knitwear")
    opening = ("round", "open", "--name", "R", "--cso", "CSO", "-f", "KHI-001")
    refused = wc(*opening, check=False)
    assert refused.returncode == 2
    assert "sindh (latest line from 2024-07-01)" in refused.stderr
    assert "Traceback" not in refused.stderr
    opened = wc(*opening, "--accept-stale-wages")
    assert "round 1 is open" in opened.stdout  # the refused opening left nothing behind
    assert "latest notified minimum wages" in opened.stdout
