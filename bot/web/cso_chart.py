"""The geometry of the small "responses per day" chart: plain numbers for an inline SVG that
templates/cso/_chart.html draws. Drawn on the server, so it needs no JavaScript; two series
told apart by pattern (hatched: started, solid: completed) and by the legend's words, not by
colour alone; the same numbers are also given as a table."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from bot.service.cso_portal import DayCount

WIDTH = 560
HEIGHT = 210
LEFT, RIGHT, TOP, BOTTOM = 40, 8, 18, 30  # room for the axis labels
MAX_DAY_LABELS = 8
MAX_VALUE_LABELS = 21  # counts over the bars while they fit
MAX_BAR_WIDTH = 28


@dataclass(frozen=True)
class Bar:
    day: date
    started: int
    completed: int
    x: float  # left edge of the started bar; the completed bar follows it
    width: float  # of one bar
    started_y: float
    started_h: float
    completed_y: float
    completed_h: float
    label: str | None  # the day's label under the axis, on some days only
    show_value: bool


@dataclass(frozen=True)
class Tick:
    y: float
    value: int


@dataclass(frozen=True)
class DayChart:
    width: int
    height: int
    left: int
    right: int  # x of the plot's right edge
    top: int
    base: int  # y of the axis
    bars: tuple[Bar, ...]
    ticks: tuple[Tick, ...]
    days: tuple[DayCount, ...]
    total_started: int
    total_completed: int
    busiest: DayCount | None  # the day with most completions (None: none yet)

    @property
    def first(self) -> date:
        return self.days[0].day

    @property
    def last(self) -> date:
        return self.days[-1].day


def nice_ceiling(value: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, ... that is at least `value` (axis top)."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover - the loop always returns


def day_chart(days: Sequence[DayCount], label: Callable[[date], str]) -> DayChart | None:
    """The chart of these days (oldest first); None when there are none."""
    if not days:
        return None
    top_value = nice_ceiling(max(max(d.started, d.completed) for d in days))
    right, base = WIDTH - RIGHT, HEIGHT - BOTTOM
    plot_h = base - TOP
    slot = (right - LEFT) / len(days)
    bar_w = min(max(1.0, slot * 0.4), MAX_BAR_WIDTH)  # one or two days: no slabs
    gap = (slot - 2 * bar_w) / 2
    every = max(1, math.ceil(len(days) / MAX_DAY_LABELS))

    def height(n: int) -> float:
        return round(plot_h * n / top_value, 2)

    bars = []
    for i, d in enumerate(days):
        x = round(LEFT + i * slot + gap, 2)
        sh, ch = height(d.started), height(d.completed)
        bars.append(
            Bar(
                day=d.day,
                started=d.started,
                completed=d.completed,
                x=x,
                width=round(bar_w, 2),
                started_y=round(base - sh, 2),
                started_h=sh,
                completed_y=round(base - ch, 2),
                completed_h=ch,
                label=label(d.day) if i % every == 0 else None,
                show_value=len(days) <= MAX_VALUE_LABELS and d.completed > 0,
            )
        )
    values = {0, top_value} | ({top_value // 2} if top_value % 2 == 0 else set())
    ticks = tuple(Tick(round(base - plot_h * v / top_value, 2), v) for v in sorted(values))
    busiest = max(days, key=lambda d: (d.completed, d.day))
    return DayChart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        right=right,
        top=TOP,
        base=base,
        bars=tuple(bars),
        ticks=ticks,
        days=tuple(days),
        total_started=sum(d.started for d in days),
        total_completed=sum(d.completed for d in days),
        busiest=busiest if busiest.completed else None,
    )
