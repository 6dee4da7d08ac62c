"""Every report format is generated from a real database and read back: JSON (against the
schema), CSV (a zip), XLSX, HTML and PDF text; the CSO's answer-level CSV; the command."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import zipfile
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import jsonschema
import openpyxl
import pypdf
import pytest

from benchmarks.synthetic import Answers, insert_responses, set_up_round
from bot.bootstrap import App
from bot.config import PROJECT_ROOT
from bot.reports import DisclosureError, Report, build_report, export_answers, render
from bot.reports.text import method_text, report_text

SCHEMA = json.loads((PROJECT_ROOT / "docs" / "report.schema.json").read_text())
CANARY = "Supervisor Rashid takes our money"  # free text that must never reach a brand
BRAND = "Noordzee Fashion"
CSO = "Karachi Workers Centre"
TODAY = date(2026, 11, 30)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("style", "script")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The text a reader sees in an HTML page (no markup, styles or embedded images)."""
    parser = _Text()
    parser.feed(html)
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in pypdf.PdfReader(io.BytesIO(data)).pages)


async def make_round(app: App) -> int:
    """KHI-001: 30 answers, all completed in one hour; KHI-002: 12; KHI-003: 4 complete and
    2 unfinished (too few for anyone). The brand sources from KHI-001 and KHI-003."""
    round_id, ids = await set_up_round(
        app,
        [("KHI-001", 300), ("KHI-002", 120), ("KHI-003", 40)],
        cso=CSO,
        brands={BRAND: ["KHI-001", "KHI-003"]},
    )
    hour = datetime(2026, 11, 20, 9, tzinfo=UTC)
    workers: list[tuple[int, Answers]] = []
    for i in range(30):
        workers.append(
            (
                ids["KHI-001"],
                Answers(
                    pay=38_000 if i % 3 == 0 else 41_000 + 100 * i,
                    gender=("woman", "man")[i % 2],
                    employment=("permanent", "contractor")[i % 2],
                    methods=("cash", "bank") if i % 4 == 0 else ("bank",),
                    payslip="yes" if i % 2 else "no",
                    comment=CANARY if i == 0 else None,
                    completed_hour=hour,
                ),
            )
        )
    workers += [(ids["KHI-002"], Answers(pay=36_000 + 500 * i)) for i in range(12)]
    workers += [(ids["KHI-003"], Answers(pay=52_000, comment=CANARY)) for _ in range(4)]
    workers += [(ids["KHI-003"], Answers(complete=False)) for _ in range(2)]
    await insert_responses(app, round_id, workers)
    await app.admin.close_round(round_id)
    return round_id


@pytest.fixture
async def reports(app: App) -> tuple[Report, Report]:
    round_id = await make_round(app)
    brand = await build_report(app, round_id, f"brand:{BRAND}", today=TODAY)
    cso = await build_report(app, round_id, f"cso:{CSO}", today=TODAY)
    return brand, cso


def test_json_follows_the_schema_and_names_each_factory(reports: tuple[Report, Report]) -> None:
    brand, cso = reports
    for report in (brand, cso):
        data = json.loads(render(report, "json"))
        jsonschema.validate(data, SCHEMA)
    data = json.loads(render(brand, "json"))
    khi1, khi3 = data["factories"]
    assert (khi1["code"], khi1["name"], khi1["suppressed"]) == ("KHI-001", "Factory KHI-001", False)
    assert khi1["respondents"] == 30 and khi1["response_rate"] == 0.1
    paid = khi1["paid_at_least_minimum"]
    # 10 of 30 are paid 38,000 (i % 3 == 0), 20 at least 41,000: 20/30 -> [0.488, 0.808].
    assert paid == {
        "suppressed": False,
        "n": 30,
        "share": 0.667,
        "ci95": [0.488, 0.808],
        "verdict": "inconclusive",
        "verdict_text": "Inconclusive",
    }
    assert khi3["suppressed"] and khi3["respondents"] is None
    assert khi3["paid_at_least_minimum"]["note"] == "fewer than 10 answers"
    assert "share" not in khi3["paid_at_least_minimum"]
    assert "quality_flags" not in data and data["disclosure"]["k"] == 10
    cso_data = json.loads(render(cso, "json"))
    assert [f["code"] for f in cso_data["factories"]] == ["KHI-001", "KHI-002", "KHI-003"]
    assert cso_data["disclosure"]["k"] == 5
    # 30 completions in one hour at KHI-001: a burst for the CSO to look into.
    assert [(q["factory"], q["kind"], q["count"]) for q in cso_data["quality_flags"]] == [
        ("KHI-001", "burst", 30)
    ]


def test_schema_rejects_a_count_below_five() -> None:
    bad = {"respondents": 3}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, {"$ref": "#/$defs/figures/properties/respondents", **SCHEMA})


def _csv_tables(data: bytes) -> dict[str, list[dict[str, str]]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {
            name.removesuffix(".csv"): list(
                csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig")))
            )
            for name in archive.namelist()
            if name != "method.csv"
        } | {
            "method": list(csv.reader(io.StringIO(archive.read("method.csv").decode("utf-8-sig"))))
        }


def test_csv_is_a_zip_with_one_file_per_table(reports: tuple[Report, Report]) -> None:
    brand, cso = reports
    tables = _csv_tables(render(brand, "csv"))
    assert set(tables) == {
        "factories",
        "pay",
        "conditions",
        "employment",
        "gender",
        "distribution",
        "minimum_wages",
        "method",
    }
    rows = {r["Code"]: r for r in tables["factories"]}
    assert rows["KHI-001"]["Respondents"] == "30"
    assert rows["KHI-001"]["Paid at least the legal minimum"] == "0.667"
    assert rows["KHI-001"]["Interval (95%), low"] == "0.488"
    assert rows["KHI-003"]["Respondents"] == "fewer than 10 answers"
    assert rows[""]["Name"] == "All factories shown"
    assert rows[""]["Respondents"] == "30"  # KHI-003's 4 answers are not pooled
    gender = [(r["Code"], r["Group"], r["Respondents"]) for r in tables["gender"]]
    assert ("KHI-001", "Woman", "15") in gender and ("KHI-001", "Man", "15") in gender
    assert "quality" in _csv_tables(render(cso, "csv"))


def test_xlsx_has_a_sheet_per_table_and_a_method_sheet(reports: tuple[Report, Report]) -> None:
    brand, _ = reports
    wb = openpyxl.load_workbook(io.BytesIO(render(brand, "xlsx")))
    assert wb.sheetnames == [
        "factories",
        "pay",
        "conditions",
        "employment",
        "gender",
        "distribution",
        "minimum_wages",
        "method",
    ]
    ws = wb["factories"]
    header = [c.value for c in ws[1]]
    rows = {
        r[0]: dict(zip(header, r, strict=True)) for r in ws.iter_rows(min_row=2, values_only=True)
    }
    assert rows["KHI-001"]["Respondents"] == 30
    assert rows["KHI-001"]["Paid at least the legal minimum"] == 0.667
    assert rows["KHI-003"]["Respondents"] == "fewer than 10 answers"
    assert ws.cell(2, header.index("Paid at least the legal minimum") + 1).number_format == "0%"
    method = {r[0]: r[1] for r in wb["method"].iter_rows(min_row=2, values_only=True)}
    assert method["Smallest group shown"] == "10 respondents"
    assert "lower end of the interval (95%) is at least 80%" in method["How the verdict is reached"]


def test_html_is_one_self_contained_file(reports: tuple[Report, Report]) -> None:
    brand, _ = reports
    html = render(brand, "html").decode()
    assert not re.search(r'(src|href)="(?!data:)', html)  # no external file, font or script
    assert html.count('src="data:image/png;base64,') == 3  # intervals, KHI-001, pooled bars
    text = visible_text(html)
    assert "KHI-001 · Factory KHI-001" in text and "fewer than 10 answers" in text
    assert "67%" in text and "49%–81%" in text


def test_pdf_reads_as_a_report_with_method_and_rules(reports: tuple[Report, Report]) -> None:
    brand, cso = reports
    text = pdf_text(render(brand, "pdf"))
    for expected in (
        "Sindh",  # minimum-wage table
        "KHI-001",
        "Factory KHI-001",
        "fewer than 10 answers",
        "Key findings",
        "Method",
        "Anonymity and disclosure rules",
        "Wilson",
        "Confidential",
    ):
        assert expected in text, expected
    assert "KHI-002" not in text  # not linked to the brand
    assert "Data-quality notes" in pdf_text(render(cso, "pdf"))


async def test_brand_outputs_carry_no_free_text_and_no_time_of_day(
    reports: tuple[Report, Report],
) -> None:
    brand, _ = reports
    for fmt in ("json", "csv", "xlsx", "html"):
        data = render(brand, fmt)
        text = _readable(fmt, data)
        assert CANARY not in text, fmt
        assert not re.search(r"\b\d{1,2}:\d{2}\b", text), fmt  # no clock time anywhere
    pdf = pdf_text(render(brand, "pdf"))
    assert CANARY not in pdf and not re.search(r"\b\d{1,2}:\d{2}\b", pdf)


def _readable(fmt: str, data: bytes) -> str:
    if fmt == "csv":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(n).decode("utf-8-sig") for n in archive.namelist())
    if fmt == "xlsx":
        wb = openpyxl.load_workbook(io.BytesIO(data))
        return "\n".join(
            str(v) for ws in wb for row in ws.iter_rows(values_only=True) for v in row if v
        )
    if fmt == "html":
        return visible_text(data.decode())
    return data.decode()


def test_dutch_reports_translate_the_text_and_the_numbers(reports: tuple[Report, Report]) -> None:
    brand, _ = reports
    data = json.loads(render(brand, "json", "nl"))
    assert data["language"] == "nl"
    assert data["factories"][0]["paid_at_least_minimum"]["verdict_text"] == "Onbeslist"
    assert data["factories"][1]["paid_at_least_minimum"]["note"] == "minder dan 10 antwoorden"
    text = pdf_text(render(brand, "pdf", "nl"))
    assert "Verificatie minimumloon" in text and "minder dan 10 antwoorden" in text
    assert "Vrouw" in text  # survey labels come from the worker catalog's Dutch
    assert re.search(r"\b4[0-9]\.[0-9]{3}\b", text)  # Dutch thousands separator
    html = visible_text(render(brand, "html", "nl").decode())
    assert "Methode" in html and "Kernbevindingen" in html


async def test_the_cso_can_download_answer_level_data_and_a_brand_cannot(app: App) -> None:
    round_id = await make_round(app)
    data = await export_answers(app, round_id, f"cso:{CSO}")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert len(rows) == 48  # 46 complete, 2 unfinished
    assert [r["respondent"] for r in rows] == [f"R{i:04d}" for i in range(1, 49)]
    assert sum(r["comment"] == CANARY for r in rows) == 5
    assert {r["completed_on"] for r in rows} <= {"2026-11-20", ""}
    assert "completed_hour" not in rows[0] and not any(
        re.fullmatch(r"[0-9a-f]{64}", v) for r in rows for v in r.values()
    )
    assert {r["status"] for r in rows} == {"complete", "in_progress"}
    with pytest.raises(DisclosureError):
        await export_answers(app, round_id, f"brand:{BRAND}")


def test_render_refuses_unknown_formats_and_languages(reports: tuple[Report, Report]) -> None:
    brand, _ = reports
    with pytest.raises(ValueError, match="format"):
        render(brand, "docx")
    with pytest.raises(ValueError, match="en or nl"):
        render(brand, "json", "fr")


def test_the_report_command_writes_the_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAGECHECK_")}
    env.update(WAGECHECK_HOME=str(home), COLUMNS="200")

    def wagecheck(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args], capture_output=True, text=True, env=env
        )

    assert wagecheck("org", "add", CSO, "--kind", "cso").returncode == 0
    assert wagecheck("factory", "add", "KHI-001", "--name", "Korangi").returncode == 0
    assert (
        wagecheck(
            "round", "open", "--name", "R", "--cso", CSO, "-f", "KHI-001", "--accept-stale-wages"
        ).returncode
        == 0
    )
    out = tmp_path / "r.json"
    done = wagecheck("report", "1", "--for", f"cso:{CSO}", "--format", "json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["factories"][0]["suppressed"] is True
    refused = wagecheck("report", "1", "--for", "brand:Nobody", "--format", "pdf")
    assert refused.returncode == 2 and "no organisation called 'Nobody'" in refused.stderr
    assert "Traceback" not in refused.stderr
    # One audit entry for the report made, none for the refused one; no figures in it.
    with sqlite3.connect(home / "wagecheck.db") as db:
        rows = db.execute(
            "SELECT actor, target, details FROM audit_log WHERE action = 'report.generate'"
        ).fetchall()
    assert [(a, t, json.loads(d)) for a, t, d in rows] == [
        ("cli", "round 1", {"audience": f"cso:{CSO}", "format": "json", "lang": "en"})
    ]


async def test_data_quality_flags_for_the_cso(app: App) -> None:
    round_id, ids = await set_up_round(
        app, [("Q-1", 100), ("Q-2", 100), ("Q-3", 100), ("Q-4", 100)], cso=CSO
    )
    day = datetime(2026, 11, 20, 6, tzinfo=UTC)
    workers = [  # 8 of 20 completed within the same hour
        (ids["Q-1"], Answers(pay=41_000 + i, completed_hour=day if i < 8 else None))
        for i in range(20)
    ]
    workers += [(ids["Q-2"], Answers(pay=40_000 if i < 7 else 45_000 + i)) for i in range(12)]
    workers += [(ids["Q-3"], Answers(pay=150_000 if i < 2 else 41_000 + i)) for i in range(10)]
    workers += [(ids["Q-4"], Answers(pay=41_000 + i, complete=i < 6)) for i in range(11)]
    await insert_responses(app, round_id, workers)
    report = await build_report(app, round_id, f"cso:{CSO}", today=TODAY)
    assert report.quality is not None
    flags = {(q.factory, q.kind): q for q in report.quality}
    assert set(flags) == {
        ("Q-1", "burst"),
        ("Q-2", "identical_pay"),
        ("Q-3", "implausible_pay"),
        ("Q-4", "many_partial"),
    }
    assert (flags["Q-1", "burst"].count, flags["Q-1", "burst"].share) == (8, 0.4)
    assert flags["Q-2", "identical_pay"].value == 40_000
    # Two implausible figures: fewer than k = 5, so the count is not given; 2 of 10 is.
    assert flags["Q-3", "implausible_pay"].count is None
    assert flags["Q-3", "implausible_pay"].share == 0.2
    assert (flags["Q-4", "many_partial"].count, round(flags["Q-4", "many_partial"].share, 3)) == (
        5,
        0.455,
    )
    text = pdf_text(render(report, "pdf"))
    assert "Many answers within one hour" in text and "PKR 40,000" in text
    assert "fewer than 5 pay figures (20%) lie outside" in text.replace("\n", " ")


def test_verdict_thresholds_are_settings_that_cannot_overlap() -> None:
    from bot.config import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (settings.verdict_likely_ok_lower, settings.verdict_likely_below_upper) == (0.8, 0.8)
    with pytest.raises(ValueError, match="must not exceed"):
        Settings(verdict_likely_ok_lower=0.7, verdict_likely_below_upper=0.9, _env_file=None)  # type: ignore[call-arg]


def test_the_method_says_the_minimum_was_stale_cites_sources_and_treats_deductions(
    reports: tuple[Report, Report],
) -> None:
    # The pay months (autumn 2026) fall in FY 2026-27, for which Sindh has no line yet.
    for report in reports:
        data = json.loads(render(report, "json"))
        (line,) = [m for m in data["minimum_wages"] if m["region"] == "sindh"]
        assert line["in_force_from"] == "2025-07-01" and line["stale_months"]
        assert "Business Recorder" in line["source"] and "https://" in line["source"]
        stale = [p for p in data["method"] if p.startswith("When this report was made")]
        assert stale == [
            "When this report was made, no minimum wage had been notified in Sindh for the "
            "fiscal year from Jul 1, 2026. Pay for "
            + ", ".join(report_text("en").month(m) for m in line["stale_months"])
            + " is compared with the latest notified minimum, in force from Jul 1, 2025. A "
            "later notification may apply retroactively and change the result."
        ]
        assert any("Punjab" in p and "agrees" in p for p in data["method"])
        assert any("Legal minimum wages used" in p for p in data["method"])
    nl = method_text(reports[1], report_text("nl"))
    assert any(p.startswith("Toen dit rapport werd gemaakt") and "Sindh" in p for p in nl)
    assert any("inhouding" in p for p in nl)
    text = pdf_text(render(reports[1], "pdf"))
    assert "no minimum wage had been notified in Sindh" in " ".join(text.split())
