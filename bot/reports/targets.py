"""How many answers a factory needs (docs/rounds.md, "How many answers a factory needs").

From a factory's headcount N, the answers n for a share to be known within ±e points at 95 %
are Cochran's n0 = z² · 0.25 / e² (the worst case, a share of one half) with the finite
population correction n = n0 / (1 + (n0 - 1) / N), rounded up: 500 workers need 218 answers
for ±5 points, 1,000 need 278 (as EcoVadis's worker-voice guidance has it). Without a
headcount the population is taken as unlimited (385 for ±5, 97 for ±10).

A verdict ("likely met" or "likely not met", `bot.reports.model.VerdictRule`) can become
conclusive only from `conclusive_from` answers: the fewest answers whose Wilson interval can
lie wholly on one side of the threshold at all — when every one of them was paid at least the
minimum (or none was) — and never below the brand's small-cell threshold k, under which the
brand report shows no figure. With the default rule (80 %) and k = 10 that is 16 answers: 16
of 16 paid gives a lower bound of 80.6 %. It is a floor, not a promise: with a share nearer
the threshold many more are needed, which is what the ±5 and ±10 targets are for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.reports.intervals import wilson_interval
from bot.reports.model import VerdictRule

Z95 = 1.96
MARGINS = (0.05, 0.10)
DEFAULT_RULE = VerdictRule()


def answers_needed(headcount: int | None, margin: float, z: float = Z95) -> int:
    """Answers for ±`margin` at 95 % (worst case p = 0.5), with the finite population
    correction when the headcount is known; never more than the headcount."""
    if not 0 < margin < 1:
        raise ValueError("the margin is a fraction between 0 and 1")
    n0 = z * z * 0.25 / (margin * margin)
    if not headcount or headcount <= 0:
        return math.ceil(n0 - 1e-9)
    n = n0 / (1 + (n0 - 1) / headcount)
    return min(headcount, math.ceil(n - 1e-9))


def conclusive_from(k: int, rule: VerdictRule = DEFAULT_RULE, z: float = Z95) -> int:
    """The fewest answers after which a verdict could be conclusive (see the module text)."""
    n = 1
    while n < 10_000:
        all_paid = wilson_interval(n, n, z)[0] >= rule.ok_lower
        none_paid = wilson_interval(0, n, z)[1] < rule.below_upper
        if all_paid and none_paid:
            break
        n += 1
    return max(k, n)


@dataclass(frozen=True)
class Target:
    """A factory's answer targets."""

    headcount: int | None
    plus_minus_5: int
    plus_minus_10: int
    conclusive_from: int

    def progress(self, complete: int) -> float:
        """Completed answers as a fraction of the ±5 target (may exceed 1)."""
        return complete / self.plus_minus_5 if self.plus_minus_5 else 0.0

    def text(self, complete: int) -> str:
        """One line for CSO staff: '43 of 218 for ±5 points (20 %); 97 for ±10; a verdict is
        possible from 16'."""
        unknown = "" if self.headcount else " (headcount unknown)"
        return (
            f"{complete} of {self.plus_minus_5} for ±5 points ({self.progress(complete):.0%}); "
            f"{self.plus_minus_10} for ±10; a verdict is possible from {self.conclusive_from}"
            f"{unknown}"
        )


def target(headcount: int | None, k: int, rule: VerdictRule = DEFAULT_RULE) -> Target:
    return Target(
        headcount=headcount or None,
        plus_minus_5=answers_needed(headcount, 0.05),
        plus_minus_10=answers_needed(headcount, 0.10),
        conclusive_from=conclusive_from(k, rule),
    )
