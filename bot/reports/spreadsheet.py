"""Cells that cannot attack their reader: the one place every CSV and XLSX file we write (the
report formats, the CSO's answer-level export) takes its cell values from.

A spreadsheet reads a cell that begins with `=`, `+`, `-` or `@` (and, in some programs, a tab
or a carriage return) as a formula: `=HYPERLINK("http://x","y")` in a factory's name, or
`=cmd|' /C calc'!A0` in a worker's free-text comment, would run in the CSO's or the brand's
spreadsheet. Following OWASP's advice on CSV injection, such text gets a leading apostrophe
(`'`), which spreadsheets show as text; numbers stay numbers (a negative number is a number,
not text that begins with `-`). See docs/report-format.md, "Files that cannot attack their
reader"."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# What makes a spreadsheet read a text cell as a formula (OWASP, "CSV Injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """`text` as a spreadsheet will show it, never run it."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def cell(value: Any) -> Any:
    """A value for a CSV or XLSX cell: text neutralised, numbers and empty cells as they are."""
    if isinstance(value, str):
        return neutralise(value)
    return value


def row(values: Iterable[Any]) -> list[Any]:
    return [cell(v) for v in values]


def record(values: dict[str, Any]) -> dict[str, Any]:
    return {key: cell(v) for key, v in values.items()}
