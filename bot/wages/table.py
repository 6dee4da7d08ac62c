"""The legal minimum-wage table: data in ``surveys/minimum-wages.yaml``, pure look-ups here.

The table is edited by CSO staff, one flow-style YAML line per figure (see
``docs/minimum-wages.md``). Loading validates every line and reports mistakes with the file
name and line number. Nothing here touches the network or the clock: every look-up takes the
date it is about as an argument.

Date rule: a minimum wage is compared per *month*. ``minimum_for`` returns the minimum in force
on the **first day** of the month asked about — notifications take effect on the 1st (nearly
always 1 July, the start of the fiscal year). Notifications are often published months later
(``notified_on``) and then apply retroactively, so ``notified_on`` never affects a look-up.

Sources: every line names one or more citations from the table's ``sources:`` list (publisher,
title, date, address), and says how far its figure is confirmed (``confirmed_by``).

Age: a region's table is *stale* on a date when the fiscal year that date falls in (1 July to
30 June) has no line for the region yet (:func:`staleness`). The latest line still applies (a
minimum stays in force until a new one is notified), but whoever shows it must say that it is
the latest *notified* minimum, not necessarily the one in force.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.paths import SURVEYS_DIR

__all__ = [
    "DEFAULT_TABLE_PATH",
    "UNSKILLED",
    "Citation",
    "ConfirmedBy",
    "MinimumWage",
    "Region",
    "Staleness",
    "Status",
    "WageEntry",
    "WageTable",
    "WageTableError",
    "fiscal_year_start",
    "staleness",
]

#: The shipped table (``surveys/minimum-wages.yaml`` of the checkout, or the wheel's copy).
DEFAULT_TABLE_PATH = SURVEYS_DIR / "minimum-wages.yaml"

#: The grade every worker is owed at least; the fallback of every look-up.
UNSKILLED = "unskilled"

Status = Literal["notified", "contested", "interim"]
#: How far a line's figure (amount and in-force date) is confirmed: read in the text of the
#: notification or court order itself (a copy of it), only in press reports or other secondary
#: sources, or not found
#: in any source checked (carried over from an earlier list, or a lead still to be checked).
ConfirmedBy = Literal["notification_text", "secondary_source", "none"]

_TOP_LEVEL_KEYS = ("version", "regions", "grades", "sources", "minimum_wages")
_SUPPORTED_VERSION = 2
_ENTRY_FIELDS = (
    "region",
    "grade",
    "from",
    "amount",
    "status",
    "notified_on",
    "sources",
    "confirmed_by",
    "note",
)
_CITATION_FIELDS = ("publisher", "title", "date", "url", "accessed", "note")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PUBLISHED = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
#: The ``date`` of a web page that shows none; such a citation needs ``url`` and ``accessed``.
UNDATED = "n.d."
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


class WageTableError(ValueError):
    """A mistake in a wage table file; the message names the file, the line and the problem."""

    def __init__(self, source_name: str, line: int | None, problem: str) -> None:
        self.source_name = source_name
        self.line = line
        self.problem = problem
        where = f"{source_name}, line {line}" if line is not None else source_name
        super().__init__(f"{where}: {problem}")


def _as_date(value: object) -> date:
    if isinstance(value, datetime):
        raise ValueError(f"must be a date (YYYY-MM-DD) without a time, got {value!r}")
    if isinstance(value, date):
        return value
    if isinstance(value, str) and _ISO_DATE.match(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"not a valid date: {value!r} (write it as YYYY-MM-DD)")


class Region(BaseModel):
    """A region with its own minimum-wage notifications (a province or the federal capital)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    name: str = Field(min_length=1)
    time_zone: str = Field(min_length=1)


def _as_published(value: object) -> str:
    """A publication date as written: YYYY-MM-DD, YYYY-MM, YYYY or "n.d." (undated page)."""
    if isinstance(value, datetime):
        raise ValueError(f"must be a date (YYYY-MM-DD) without a time, got {value!r}")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str):
        text = value.strip()
        if text == UNDATED:
            return text
        if _PUBLISHED.match(text):
            if len(text) == 10:
                _as_date(text)
            elif len(text) == 7 and not 1 <= int(text[5:]) <= 12:
                raise ValueError(f"not a valid month: {value!r}")
            return text
    raise ValueError(
        f"not a valid date: {value!r} (write YYYY-MM-DD, YYYY-MM or YYYY; {UNDATED!r} for a "
        "page that shows no date, with 'url' and 'accessed')"
    )


_Day = date  # the type, for the class below, whose field `date` hides the name


class Citation(BaseModel):
    """A source a reader can follow: who published what, when, and where to find it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    publisher: str = Field(min_length=1)
    title: str = Field(min_length=1)
    date: str  # YYYY-MM-DD, YYYY-MM, YYYY, or "n.d." for a page that shows no date
    url: str | None = None
    accessed: _Day | None = None  # when an undated page was read
    note: str | None = None

    @field_validator("date", mode="before")
    @classmethod
    def _check_date(cls, value: object) -> str:
        return _as_published(value)

    @field_validator("accessed", mode="before")
    @classmethod
    def _check_accessed(cls, value: object) -> _Day | None:
        return None if value is None else _as_date(value)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"must be a web address starting with https://, got {value!r}")
        return value

    @property
    def undated(self) -> bool:
        return self.date == UNDATED

    def text(self) -> str:
        """One line for a reader: 'Publisher, “Title”, 10 Sep 2025, https://…'."""
        when = _published_text(self.date)
        if self.undated and self.accessed is not None:
            when += f" (read {_day_text(self.accessed)})"
        parts = [self.publisher, f"“{self.title}”", when]
        if self.url:
            parts.append(self.url)
        return ", ".join(parts)


def _day_text(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _published_text(value: str) -> str:
    if value == UNDATED:
        return "undated"
    if len(value) == 10:
        return _day_text(date.fromisoformat(value))
    if len(value) == 7:
        return f"{_MONTHS[int(value[5:]) - 1]} {value[:4]}"
    return value


class WageEntry(BaseModel):
    """One line of the table: the minimum for one region and grade, in force from a date."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    region: str
    grade: str
    in_force_from: date = Field(alias="from")
    amount: int  # PKR per month, 26 days x 8 hours
    status: Status
    notified_on: date | None = None
    source_ids: tuple[str, ...] = Field(alias="sources", min_length=1)
    confirmed_by: ConfirmedBy
    note: str | None = None
    # Filled in by the loader from the table's ``sources:`` (never written in a line).
    citations: tuple[Citation, ...] = ()

    @property
    def source(self) -> str:
        """The line's citations as one text for a reader, '; '-separated."""
        return "; ".join(c.text() for c in self.citations) or "; ".join(self.source_ids)

    @property
    def confirmed(self) -> bool:
        """True when the figure was found in at least one of the cited sources."""
        return self.confirmed_by != "none"

    @field_validator("source_ids", mode="before")
    @classmethod
    def _check_sources(cls, value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
            raise ValueError(
                f"must be a list of source ids from 'sources:', e.g. [br-2025-07-31], got {value!r}"
            )
        if not value:
            raise ValueError("at least one source is needed (an id from 'sources:')")
        return tuple(value)

    @field_validator("in_force_from", mode="before")
    @classmethod
    def _check_from(cls, value: object) -> date:
        return _as_date(value)

    @field_validator("notified_on", mode="before")
    @classmethod
    def _check_notified_on(cls, value: object) -> date | None:
        return None if value is None else _as_date(value)

    @field_validator("amount", mode="before")
    @classmethod
    def _check_amount(cls, value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be a whole number of rupees without commas, got {value!r}")
        if value <= 0:
            raise ValueError(f"must be positive, got {value}")
        return value


class MinimumWage(BaseModel):
    """The result of a look-up: the minimum owed and the table line it comes from."""

    model_config = ConfigDict(frozen=True)

    amount: int
    entry: WageEntry
    grade_requested: str
    grade_used: str  # differs from grade_requested when we fell back to unskilled

    @property
    def fell_back(self) -> bool:
        """True when the table had no figure for the requested grade and unskilled was used."""
        return self.grade_used != self.grade_requested

    @property
    def contested(self) -> bool:
        """True when the figure is not a plain notification (contested or interim)."""
        return self.entry.status != "notified"


def _first_of_month(day: date) -> date:
    return date(day.year, day.month, 1)


def _plain_date(day: date) -> date:
    return day.date() if isinstance(day, datetime) else day


class WageTable:
    """The validated table with pure look-ups. Build it with :meth:`load`."""

    def __init__(
        self,
        regions: Mapping[str, Region],
        grades: Iterable[str],
        entries: Iterable[WageEntry],
    ) -> None:
        self.regions: dict[str, Region] = dict(regions)
        self.grades: tuple[str, ...] = tuple(grades)
        self.entries: tuple[WageEntry, ...] = tuple(
            # A contested line and the interim figure ordered in its place may start on the
            # same day; the interim one sorts last, so that it is the one in force.
            sorted(
                entries,
                key=lambda e: (e.region, e.grade, e.in_force_from, e.status == "interim"),
            )
        )
        self._by_key: dict[tuple[str, str], tuple[WageEntry, ...]] = {}
        for entry in self.entries:
            key = (entry.region, entry.grade)
            self._by_key[key] = (*self._by_key.get(key, ()), entry)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, path: str | Path) -> WageTable:
        """Read and validate a table file; raises :class:`WageTableError` on any mistake."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise WageTableError(str(path), None, "the file is not UTF-8 text") from exc
        return cls.from_yaml_text(text, source_name=str(path))

    @classmethod
    def from_yaml_text(cls, text: str, source_name: str = "<string>") -> WageTable:
        """Parse and validate the YAML text of a table."""
        return _Parser(source_name).parse(text)

    # ------------------------------------------------------------------ look-ups

    def minimum_for(self, region: str, grade: str, month: date) -> MinimumWage | None:
        """The legal minimum for a worker of ``grade`` in ``region`` for the month of ``month``.

        ``month`` may be any day of the month; the minimum in force on the first day of that
        month is returned (raises take effect on the 1st). The grade's own figure is used when
        the table has one from the latest notification in force (at least as recent as the
        unskilled figure, and not below it); otherwise the unskilled minimum is returned with
        ``grade_used="unskilled"``, since every worker is owed at least that. Returns ``None``
        when nothing is in force yet; raises ``KeyError`` for an unknown region or grade.
        """
        self._check_region(region)
        self._check_grade(grade)
        first = _first_of_month(_plain_date(month))
        base = self._in_force(region, UNSKILLED, first)
        own = base if grade == UNSKILLED else self._in_force(region, grade, first)
        if own is not None and (
            base is None or (own.in_force_from >= base.in_force_from and own.amount >= base.amount)
        ):
            return MinimumWage(
                amount=own.amount, entry=own, grade_requested=grade, grade_used=grade
            )
        if base is None:
            return None
        return MinimumWage(
            amount=base.amount, entry=base, grade_requested=grade, grade_used=UNSKILLED
        )

    def latest_raise(self, region: str, on: date) -> WageEntry | None:
        """The last *notified* raise of the unskilled minimum in force on ``on``.

        Walks the unskilled entries in force on ``on`` in date order. Contested entries are
        ignored (they were never binding); interim entries count as the amount that applied
        before, but are never a raise themselves. A notified entry is a raise when its amount is
        higher than the amount that applied before it (the first notified entry of the table
        counts as a raise). Used to ask "did your pay go up after <month>?".
        """
        self._check_region(region)
        day = _plain_date(on)
        applied: int | None = None
        latest: WageEntry | None = None
        for entry in self._by_key.get((region, UNSKILLED), ()):
            if entry.in_force_from > day:
                break
            if entry.status == "contested":
                continue
            if entry.status == "notified" and (applied is None or entry.amount > applied):
                latest = entry
            applied = entry.amount
        return latest

    def history(self, region: str, grade: str = UNSKILLED) -> list[WageEntry]:
        """All entries for a region and grade, oldest first (contested and interim included)."""
        self._check_region(region)
        self._check_grade(grade)
        return list(self._by_key.get((region, grade), ()))

    def latest_line(self, region: str, on: date) -> WageEntry | None:
        """The latest unskilled line of ``region`` in force on ``on`` (any status)."""
        self._check_region(region)
        return self._in_force(region, UNSKILLED, _plain_date(on))

    def staleness(self, region: str, on: date) -> Staleness:
        """Whether ``region``'s lines are current on ``on``: see :func:`staleness`."""
        return staleness(self, region, on)

    def stale_regions(self, on: date) -> list[Staleness]:
        """The regions without a line for the fiscal year of ``on``, in table order."""
        return [s for r in self.regions if (s := staleness(self, r, on)).stale]

    # ------------------------------------------------------------------ helpers

    def _in_force(self, region: str, grade: str, day: date) -> WageEntry | None:
        found: WageEntry | None = None
        for entry in self._by_key.get((region, grade), ()):
            if entry.in_force_from > day:
                break
            found = entry
        return found

    def _check_region(self, region: str) -> None:
        if region not in self.regions:
            known = ", ".join(sorted(self.regions))
            raise KeyError(f"unknown region {region!r} (known regions: {known})")

    def _check_grade(self, grade: str) -> None:
        if grade not in self.grades:
            raise KeyError(f"unknown grade {grade!r} (known grades: {', '.join(self.grades)})")

    def __repr__(self) -> str:
        return (
            f"WageTable(regions={sorted(self.regions)}, grades={list(self.grades)}, "
            f"entries={len(self.entries)})"
        )


# ---------------------------------------------------------------------- age


def fiscal_year_start(day: date) -> date:
    """1 July of the fiscal year ``day`` falls in (Pakistan's fiscal year runs July to June)."""
    day = _plain_date(day)
    return date(day.year if day.month >= 7 else day.year - 1, 7, 1)


class Staleness(BaseModel):
    """Whether a region's minimum is known for the fiscal year of a date.

    ``stale`` is true when no unskilled line of the region starts in that fiscal year (on or
    after its 1 July, and not after ``on``): a new notification may be due or overdue, and the
    latest line is only the latest *notified* minimum. ``latest`` is that line (``None`` when
    the region has no line in force at all, which is stale too).
    """

    model_config = ConfigDict(frozen=True)

    region: str
    on: date
    fiscal_year_from: date
    latest: WageEntry | None

    @property
    def stale(self) -> bool:
        return self.latest is None or self.latest.in_force_from < self.fiscal_year_from

    @property
    def latest_from(self) -> date | None:
        """The date the latest line is in force from (``None`` without any line)."""
        return None if self.latest is None else self.latest.in_force_from


def staleness(table: WageTable, region: str, on: date) -> Staleness:
    """Pure: is ``region``'s part of ``table`` current on ``on``? No clock is read.

    Look-ups by month use the first of the month, so for a pay month pass its first day: pay
    for July 2026 is stale when no line starts on or after 1 July 2026.
    """
    day = _plain_date(on)
    return Staleness(
        region=region,
        on=day,
        fiscal_year_from=fiscal_year_start(day),
        latest=table.latest_line(region, day),
    )


# ---------------------------------------------------------------------- parsing


class _Loader(yaml.SafeLoader):
    """SafeLoader that keeps dates as text, so that a bad date is reported, not crashed on."""


def _construct_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    assert isinstance(node, yaml.ScalarNode)
    return loader.construct_scalar(node)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _construct_text)


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


class _Parser:
    def __init__(self, source_name: str) -> None:
        self.source_name = source_name

    def error(self, node: yaml.Node | None, problem: str) -> WageTableError:
        return WageTableError(self.source_name, _line(node) if node is not None else None, problem)

    # --- YAML -> nodes + data

    def parse(self, text: str) -> WageTable:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                raise WageTableError(self.source_name, 1, "the file is empty")
            data = loader.construct_document(root)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = int(mark.line) + 1 if mark is not None else None
            problem = exc.problem or exc.context or "syntax error"
            raise WageTableError(self.source_name, line, f"not valid YAML: {problem}") from exc
        except yaml.YAMLError as exc:
            raise WageTableError(self.source_name, None, f"not valid YAML: {exc}") from exc
        finally:
            loader.dispose()
        return self.build(root, data)

    def mapping(self, node: yaml.Node, what: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """The (key node, value node) pairs of a mapping node; rejects duplicate keys."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, f"{what} must be a mapping (key: value)")
        items: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in items:
                raise self.error(key_node, f"{what}: field {key!r} is given twice")
            items[key] = (key_node, value_node)
        return items

    # --- validation

    def build(self, root: yaml.Node, data: Any) -> WageTable:
        top = self.mapping(root, "the file")
        for key, (key_node, _) in top.items():
            if key not in _TOP_LEVEL_KEYS:
                raise self.error(
                    key_node,
                    f"unknown top-level field {key!r} (allowed: {', '.join(_TOP_LEVEL_KEYS)})",
                )
        for key in _TOP_LEVEL_KEYS:
            if key not in top:
                raise self.error(root, f"missing top-level field {key!r}")

        version_node = top["version"][1]
        if data["version"] != _SUPPORTED_VERSION or isinstance(data["version"], bool):
            raise self.error(
                version_node,
                f"unsupported version {data['version']!r} (this program reads version "
                f"{_SUPPORTED_VERSION}; version 1 had a free-text 'source' on each line, version 2 "
                "lists citations under 'sources:', see docs/minimum-wages.md)",
            )
        regions = self.regions(top["regions"][1], data["regions"])
        grades = self.grades(top["grades"][1], data["grades"])
        sources = self.sources(top["sources"][1], data["sources"])
        entries = self.entries(
            top["minimum_wages"][1], data["minimum_wages"], regions, grades, sources
        )
        for region_id, (key_node, _) in self.mapping(top["regions"][1], "regions").items():
            if not any(e.region == region_id and e.grade == UNSKILLED for e in entries):
                raise self.error(
                    key_node,
                    f"region {region_id!r} has no {UNSKILLED} line (every region needs one)",
                )
        return WageTable(regions, grades, entries)

    def sources(self, node: yaml.Node, data: Any) -> dict[str, Citation]:
        items = self.mapping(node, "sources")
        if not items:
            raise self.error(node, "sources: at least one source is needed")
        sources: dict[str, Citation] = {}
        for (source_id, (_key_node, value_node)), value in zip(
            items.items(), data.values(), strict=True
        ):
            fields = self.mapping(value_node, f"source {source_id!r}")
            if "id" in fields:
                raise self.error(
                    fields["id"][0], f"source {source_id!r}: unknown field 'id' (the key is the id)"
                )
            try:
                citation = Citation(id=source_id, **value)
            except ValidationError as exc:
                raise self.validation_error(
                    exc, value_node, fields, f"source {source_id!r}", _CITATION_FIELDS
                ) from None
            if citation.undated and (citation.url is None or citation.accessed is None):
                raise self.error(
                    value_node,
                    f"source {source_id!r}: an undated source ({UNDATED!r}) needs 'url' and "
                    "'accessed' (the day it was read)",
                )
            sources[source_id] = citation
        return sources

    def regions(self, node: yaml.Node, data: Any) -> dict[str, Region]:
        items = self.mapping(node, "regions")
        if not items:
            raise self.error(node, "regions: at least one region is needed")
        regions: dict[str, Region] = {}
        for (region_id, (key_node, value_node)), (raw_id, value) in zip(
            items.items(), data.items(), strict=True
        ):
            if not isinstance(raw_id, str) or not raw_id:
                raise self.error(key_node, f"regions: {raw_id!r} is not a region id")
            fields = self.mapping(value_node, f"region {region_id!r}")
            if "id" in fields:
                raise self.error(
                    fields["id"][0], f"region {region_id!r}: unknown field 'id' (the key is the id)"
                )
            try:
                regions[region_id] = Region(id=region_id, **value)
            except ValidationError as exc:
                raise self.validation_error(
                    exc, value_node, fields, f"region {region_id!r}", ("name", "time_zone")
                ) from None
        return regions

    def grades(self, node: yaml.Node, data: Any) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode) or not data:
            raise self.error(node, "grades must be a non-empty list, e.g. [unskilled, skilled]")
        seen: list[str] = []
        for item_node, grade in zip(node.value, data, strict=True):
            if not isinstance(grade, str) or not grade:
                raise self.error(item_node, f"grades: {grade!r} is not a grade name")
            if grade in seen:
                raise self.error(item_node, f"grades: {grade!r} is listed twice")
            seen.append(grade)
        if UNSKILLED not in seen:
            raise self.error(node, f"grades must include {UNSKILLED!r} (the fallback grade)")
        return tuple(seen)

    def entries(
        self,
        node: yaml.Node,
        data: Any,
        regions: Mapping[str, Region],
        grades: tuple[str, ...],
        sources: Mapping[str, Citation],
    ) -> list[WageEntry]:
        if not isinstance(node, yaml.SequenceNode) or data is None:
            raise self.error(node, "minimum_wages must be a list of lines starting with '- '")
        entries: list[WageEntry] = []
        seen: dict[tuple[str, str, date], tuple[int, str]] = {}
        for item_node, value in zip(node.value, data, strict=True):
            fields = self.mapping(item_node, "minimum wage line")
            try:
                entry = WageEntry.model_validate(value)
            except ValidationError as exc:
                raise self.validation_error(
                    exc, item_node, fields, "minimum wage line", _ENTRY_FIELDS
                ) from None
            if entry.region not in regions:
                raise self.error(
                    fields["region"][1],
                    f"unknown region {entry.region!r} (known regions: "
                    f"{', '.join(regions)}; add it under 'regions:' first)",
                )
            if entry.grade not in grades:
                raise self.error(
                    fields["grade"][1],
                    f"unknown grade {entry.grade!r} (known grades: {', '.join(grades)})",
                )
            unknown = [s for s in entry.source_ids if s not in sources]
            if unknown:
                raise self.error(
                    fields["sources"][1],
                    f"unknown source {unknown[0]!r} (add it under 'sources:' first)",
                )
            # One line per region, grade and date; only an interim figure may start on the
            # same day as the contested one it stands in for.
            key = (entry.region, entry.grade, entry.in_force_from)
            if key in seen:
                first_line, first_status = seen[key]
                if {first_status, entry.status} != {"contested", "interim"}:
                    raise self.error(
                        item_node,
                        f"duplicate line: {entry.region} / {entry.grade} from "
                        f"{entry.in_force_from.isoformat()} is already given on line {first_line}",
                    )
            seen[key] = (_line(item_node), entry.status)
            entries.append(
                entry.model_copy(update={"citations": tuple(sources[s] for s in entry.source_ids)})
            )
        return entries

    def validation_error(
        self,
        exc: ValidationError,
        node: yaml.Node,
        fields: Mapping[str, tuple[yaml.Node, yaml.Node]],
        what: str,
        allowed: Iterable[str],
    ) -> WageTableError:
        """Turn the first pydantic error into a message a CSO can act on, at the right line."""
        # An unknown field first: a misspelt name also shows up as a missing one.
        err = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        field = str(err["loc"][0]) if err["loc"] else ""
        where = node
        if err["type"] == "missing":
            problem = f"{what}: missing field {field!r}"
        elif err["type"] == "extra_forbidden":
            problem = f"{what}: unknown field {field!r} (allowed: {', '.join(allowed)})"
            where = fields[field][0] if field in fields else node
        else:
            message = str(err["msg"]).removeprefix("Value error, ")
            problem = f"{what}: field {field!r}: {message}"
            where = fields[field][1] if field in fields else node
        return self.error(where, problem)
