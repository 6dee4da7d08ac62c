"""Data-quality checks for the CSO: signs of coached or fabricated answers (never for brands).

A flag is a reason to look closer (talk to workers, compare with other sources), not proof.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from bot.reports.figures import RoundFigures


@dataclass(frozen=True)
class QualityRules:
    """When a factory is flagged; the defaults are documented in docs/report-format.md."""

    # Many completions within one clock hour (hours are rounded; dropped at publication).
    burst_min_count: int = 5
    burst_min_share: float = 0.3
    # Many workers giving exactly the same pay figure.
    identical_min_count: int = 5
    identical_min_share: float = 0.5
    # Pay figures outside the survey's plausible range (confirmed by the worker, but odd).
    implausible_min_share: float = 0.1
    # Many started but unfinished answers.
    partial_min_started: int = 10
    partial_min_share: float = 0.3


@dataclass(frozen=True)
class RawFlag:
    """A flag before disclosure control (exact counts)."""

    factory: str
    kind: str
    count: int
    n: int  # the answers the share is taken of
    value: float | None = None

    @property
    def share(self) -> float:
        return self.count / self.n


def detect(figures: RoundFigures, rules: QualityRules | None = None) -> list[RawFlag]:
    """Flags per factory, in factory order (figures computed with `quality=True`)."""
    rules = rules or QualityRules()
    flags: list[RawFlag] = []
    for f in figures.factories:
        t = f.total
        most = f.busiest_hour
        if most and most >= rules.burst_min_count and most / t.respondents >= rules.burst_min_share:
            flags.append(RawFlag(f.code, "burst", most, t.respondents))
        if t.pays:
            value, same = Counter(t.pays).most_common(1)[0]
            if (
                same >= rules.identical_min_count
                and same / len(t.pays) >= rules.identical_min_share
            ):
                flags.append(RawFlag(f.code, "identical_pay", same, len(t.pays), value))
        if f.implausible_pays:
            answered = max(len(t.pays), f.implausible_pays)
            share = f.implausible_pays / answered
            if share >= rules.implausible_min_share:
                flags.append(RawFlag(f.code, "implausible_pay", f.implausible_pays, answered))
        partial = f.started - t.respondents
        if (
            f.started >= rules.partial_min_started
            and partial / f.started >= rules.partial_min_share
        ):
            flags.append(RawFlag(f.code, "many_partial", partial, f.started))
    return flags
