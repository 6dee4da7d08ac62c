"""No file we hand out can attack its reader: text that a spreadsheet would run as a formula,
planted in every field a person can type — a factory's name and city, an organisation's
name, a round's name, a worker's free-text comment — comes out of every CSV and XLSX file as
text (bot/reports/spreadsheet.py), and numbers stay numbers."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from openpyxl import load_workbook

from bot.bootstrap import App
from bot.reports import build_report, export_answers, render
from bot.reports.spreadsheet import FORMULA_TRIGGERS, neutralise
from tests.test_reports import Say, answer

ATTACKS = [
    '=HYPERLINK("http://x.example","y")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,1)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("text", ["=1+1", "+92 300", "-5 days", "@home", "\tx", "\rx"])
def test_text_that_a_spreadsheet_would_run_gets_an_apostrophe(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert neutralise("Korangi =1") == "Korangi =1"  # only the start counts


async def _planted_round(app: App) -> int:
    """A round whose every typed field starts like a formula."""
    cso, brand = "=CSO()", "@Brand"
    await app.admin.add_org(cso, "cso")
    await app.admin.add_org(brand, "brand")
    await app.admin.add_factory("KHI-001", ATTACKS[0], "sindh", ATTACKS[1], headcount=50)
    await app.admin.link(brand, ["KHI-001"])
    rnd = await app.admin.open_round(ATTACKS[2], cso, app.survey, ["KHI-001"])
    code = rnd.factories[0].code
    for i in range(12):  # enough answers for every figure to be shown to the brand (k = 10)
        comment = ATTACKS[i % len(ATTACKS)] if i < len(ATTACKS) else None
        await answer(app, code, Say(pay=str(36000 + 500 * i), comment=comment))
    await app.admin.close_round(rnd.id)
    return rnd.id


def _xlsx_texts(data: bytes) -> list[str]:
    book = load_workbook(io.BytesIO(data))
    texts = []
    for sheet in book.worksheets:
        for line in sheet.iter_rows():
            for c in line:
                assert c.data_type != "f", f"{sheet.title}!{c.coordinate} is a formula: {c.value}"
                if isinstance(c.value, str):
                    texts.append(c.value)
    return texts


def _csv_cells(data: bytes) -> list[str]:
    return [cell for line in csv.reader(io.StringIO(data.decode("utf-8-sig"))) for cell in line]


async def test_no_csv_or_xlsx_cell_we_write_is_a_formula(app: App) -> None:
    round_id = await _planted_round(app)
    files: dict[str, bytes] = {}
    for audience in ("cso:=CSO()", "brand:@Brand"):
        report = await build_report(app, round_id, audience)
        for lang in ("en", "nl"):
            files[f"{audience}.{lang}.xlsx"] = render(report, "xlsx", lang)
            with zipfile.ZipFile(io.BytesIO(render(report, "csv", lang))) as archive:
                for name in archive.namelist():
                    files[f"{audience}.{lang}/{name}"] = archive.read(name)
    files["answers.csv"] = await export_answers(app, round_id, "cso:=CSO()")

    seen: list[str] = []
    for name, data in files.items():
        cells = _xlsx_texts(data) if name.endswith(".xlsx") else _csv_cells(data)
        for value in cells:
            assert not value.startswith(FORMULA_TRIGGERS), f"{name}: {value!r}"
        seen += cells
    # The planted text is there, shown as text: each attack in some file, with its apostrophe
    # (the survey trims what a worker types, so a comment's leading tab or CR is gone).
    for attack in [*ATTACKS, "=CSO()", "@Brand"]:
        planted = attack.strip()
        assert any(v.startswith("'") and planted in v for v in seen), attack
    # Numbers stay numbers: pay in the answer-level CSV is plain digits.
    rows = list(csv.DictReader(io.StringIO(files["answers.csv"].decode("utf-8-sig"))))
    assert sorted(int(r["pay"]) for r in rows) == [36000 + 500 * i for i in range(12)]
    assert {r["comment"] for r in rows if r["comment"]} == {"'" + a.strip() for a in ATTACKS}


async def test_a_worker_comment_cannot_plant_a_formula_in_the_cso_spreadsheet(app: App) -> None:
    round_id = await _planted_round(app)
    data = await export_answers(app, round_id, "cso:=CSO()")
    comments = [r["comment"] for r in csv.DictReader(io.StringIO(data.decode("utf-8-sig")))]
    assert '\'=HYPERLINK("http://x.example","y")' in comments
