"""Report text in one language: the `reports` catalog, survey labels, numbers and dates."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal, format_percent

from bot.i18n import Catalogs, Localizer
from bot.paths import LOCALES_DIR
from bot.reports import strings as S
from bot.reports.model import Count, Report, Share, Verdict

REPORT_LANGUAGES = ("en", "nl")
REPORTS_DOMAIN = "reports"
GRADES = {
    "unskilled": S.GRADE_UNSKILLED,
    "semi_skilled": S.GRADE_SEMI_SKILLED,
    "skilled": S.GRADE_SKILLED,
    "highly_skilled": S.GRADE_HIGHLY_SKILLED,
}
WAGE_STATUSES = {
    "notified": S.WAGE_NOTIFIED,
    "contested": S.WAGE_CONTESTED,
    "interim": S.WAGE_INTERIM,
}
VERDICTS: dict[str, str] = {
    "likely_met": S.VERDICT_MET,
    "likely_not_met": S.VERDICT_NOT_MET,
    "inconclusive": S.VERDICT_INCONCLUSIVE,
}
DASH = "–"


class ReportText:
    """Translation and formatting for one report language."""

    def __init__(self, lang: str, reports: Localizer, labels: Localizer) -> None:
        self.lang = lang
        self._reports = reports
        self._labels = labels
        self._hidden: dict[int, str] = {}

    def __call__(self, message: str, **params: Any) -> str:
        """Translate a report string (from bot.reports.strings) and fill its placeholders."""
        return self._reports.gettext(message, **params)

    def label(self, msgid: str) -> str:
        """A survey label (a choice such as "Through a contractor") in this language."""
        if msgid == S.NO_ANSWER:
            return self(msgid)
        return self._labels.gettext(msgid)

    def pct(self, value: float, digits: int = 0) -> str:
        pattern = "#,##0%" if digits == 0 else "#,##0." + "0" * digits + "%"
        return format_percent(value, pattern, locale=self.lang)

    def share(self, s: Share) -> str:
        """A shown share: "35%", or a range "at least 94%" / "at most 6%"."""
        assert s.share is not None
        value = self.pct(s.share)
        if s.bound == "at_least":
            return self(S.AT_LEAST, share=value)
        if s.bound == "at_most":
            return self(S.AT_MOST, share=value)
        return value

    def disclosure_rules(self, k: int, small: int) -> list[str]:
        """The disclosure rules in plain words, as every format states them."""
        rules = [self(p, k=k) for p in S.DISCLOSURE_TEXT]
        if small:
            rules.insert(-1, self(S.RANGE_TEXT))
        return rules

    def interval(self, ci: tuple[float, float]) -> str:
        return f"{self.pct(ci[0])}{DASH}{self.pct(ci[1])}"

    def number(self, value: float) -> str:
        return format_decimal(round(value), locale=self.lang, numbering_system="latn")

    def money(self, value: float) -> str:
        return "PKR " + self.number(value)

    def decimal(self, value: float, digits: int = 3) -> str:
        return format_decimal(value, "0." + "0" * digits, locale=self.lang)

    def date(self, value: date | None) -> str:
        return self._reports.date(value) if value else self(S.NOT_KNOWN)

    def month(self, ym: str) -> str:
        year, month = ym.split("-")
        return self._reports.month(date(int(year), int(month), 1))

    def hidden(self, k: int) -> str:
        """ "fewer than k answers" (asked thousands of times per report: kept once made)."""
        note = self._hidden.get(k)
        if note is None:
            note = self._hidden[k] = self(S.HIDDEN, k=k)
        return note

    def hidden_count(self, c: Count, k: int) -> str:
        return self(S.WITHHELD) if c.withheld else self.hidden(k)

    def hidden_share(self, s: Share, k: int) -> str:
        """Why a share is not shown: too few answers, or it could point to a few workers."""
        return self(S.WITHHELD) if s.withheld else self.hidden(k)

    def verdict(self, verdict: Verdict) -> str:
        return self(VERDICTS[verdict])

    def grade(self, grade: str) -> str:
        return self(GRADES[grade]) if grade in GRADES else grade

    def wage_status(self, status: str) -> str:
        return self(WAGE_STATUSES[status]) if status in WAGE_STATUSES else status


@lru_cache(maxsize=4)
def _catalogs(locales_dir: Path) -> tuple[Catalogs, Catalogs]:
    return (
        Catalogs.load(locales_dir, REPORT_LANGUAGES, domain=REPORTS_DOMAIN),
        Catalogs.load(locales_dir, REPORT_LANGUAGES),
    )


def report_text(lang: str, locales_dir: Path | None = None) -> ReportText:
    """The text of reports in `lang` ("en" or "nl")."""
    if lang not in REPORT_LANGUAGES:
        raise ValueError(f"reports are written in {' or '.join(REPORT_LANGUAGES)}, not {lang!r}")
    return _text(lang, (locales_dir or LOCALES_DIR).resolve())


@lru_cache(maxsize=8)
def _text(lang: str, locales_dir: Path) -> ReportText:
    reports, labels = _catalogs(locales_dir)
    return ReportText(lang, reports.get(lang), labels.get(lang))


def region_name(region: str) -> str:
    """'khyber_pakhtunkhwa' -> 'Khyber Pakhtunkhwa' (the wage table's region ids)."""
    return region.replace("_", " ").title()


def method_text(report: Report, tx: ReportText) -> list[str]:
    """The method section's paragraphs: the fixed ones, where the minimums' sources are, how
    agreed deductions are treated, and a note per region whose minimum may be out of date
    (no line yet for the fiscal year of a pay month)."""
    out = [tx(p) for p in S.METHOD_TEXT]
    out += [tx(S.METHOD_SOURCES), tx(S.METHOD_DEDUCTIONS)]
    if report.has_trend:
        out.append(tx(S.TRENDS_METHOD))
    stale: dict[tuple[str, date], set[str]] = {}
    for m in report.minimums:
        for month in m.stale_months:
            stale.setdefault((m.region, m.in_force_from), set()).add(month)
    for (region, since), months in sorted(stale.items()):
        year = int(min(months)[:4]) if int(min(months)[5:]) >= 7 else int(min(months)[:4]) - 1
        out.append(
            tx(
                S.METHOD_STALE,
                region=region_name(region),
                fiscal_year=tx.date(date(year, 7, 1)),
                months=", ".join(tx.month(m) for m in sorted(months)),
                since=tx.date(since),
            )
        )
    return out
