"""The `reports` gettext catalogs (en, nl): complete, faithful to their msgids, up to date, and
separate from what workers read."""

from __future__ import annotations

import string
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from bot.reports import strings as S
from bot.reports.text import REPORT_LANGUAGES, report_text

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "locales"


def _read(path: Path) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh)


def _ids(catalog: Catalog) -> set[str]:
    return {str(m.id) for m in catalog if m.id}


def _fields(text: str) -> list[str]:
    return sorted(f for _, f, _, _ in string.Formatter().parse(text) if f is not None)


def test_report_template_is_up_to_date(tmp_path: Path) -> None:
    fresh = tmp_path / "reports.pot"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "pybabel"),
            "extract",
            "--no-default-keywords",
            "-k",
            "T_",
            "-o",
            str(fresh),
            "bot/reports",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert _ids(_read(fresh)) == _ids(_read(LOCALES / "reports.pot")), (
        "locales/reports.pot is stale: run `make extract-reports` and translate the new entries"
    )


@pytest.mark.parametrize("lang", REPORT_LANGUAGES)
def test_report_catalogs_have_the_template_s_messages(lang: str) -> None:
    po = _read(LOCALES / lang / "LC_MESSAGES" / "reports.po")
    assert _ids(po) == _ids(_read(LOCALES / "reports.pot"))
    assert not [m.id for m in po if m.id and m.fuzzy]


def test_dutch_translates_every_report_string_and_keeps_its_placeholders() -> None:
    po = _read(LOCALES / "nl" / "LC_MESSAGES" / "reports.po")
    untranslated = [m.id for m in po if m.id and not m.string]
    assert not untranslated
    wrong = [m.id for m in po if m.id and _fields(str(m.string)) != _fields(str(m.id))]
    assert not wrong, wrong


def test_report_strings_stay_out_of_the_worker_catalog() -> None:
    worker = _ids(_read(LOCALES / "wagecheck.pot"))
    only_reports = {S.VERDICT_MET, S.NOTHING_SHOWN, S.DISCLOSURE_TEXT[0], S.METHOD_TEXT[0]}
    assert not only_reports & worker


def test_dutch_text_is_used_when_asked_for() -> None:
    nl = report_text("nl")
    assert nl(S.HIDDEN, k=10) == "minder dan 10 antwoorden"
    assert nl.money(38000) == "PKR 38.000" and nl.pct(0.35) == "35%"
    assert nl.label("Through a contractor") == "Via een tussenpersoon"  # worker catalog
    assert report_text("en")(S.HIDDEN, k=10) == "fewer than 10 answers"
    with pytest.raises(ValueError):
        report_text("ur")
