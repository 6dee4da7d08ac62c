"""A round's lifecycle: the one table of allowed status changes (docs/rounds.md).

draft → scheduled → open → closed → published; draft, scheduled and open can be cancelled.
A draft can also be opened at once (`wagecheck round open`), skipping the schedule.
"""

from __future__ import annotations

from typing import Literal

Status = Literal["draft", "scheduled", "open", "closed", "published", "cancelled"]

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"scheduled", "open", "cancelled"}),
    "scheduled": frozenset({"draft", "open", "cancelled"}),
    "open": frozenset({"closed", "cancelled"}),
    "closed": frozenset({"published"}),
    "published": frozenset(),
    "cancelled": frozenset(),
}
# The audit action recorded for a change into each status.
ACTIONS = {
    "draft": "round.unschedule",
    "scheduled": "round.schedule",
    "open": "round.open",
    "closed": "round.close",
    "published": "round.publish",
    "cancelled": "round.cancel",
}


class TransitionError(ValueError):
    """A status change the lifecycle does not allow."""


def check_transition(round_id: int, current: str, target: str) -> None:
    """Raise TransitionError unless `current` → `target` is allowed."""
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "nothing"
        raise TransitionError(
            f"round {round_id} is {current}; it cannot become {target} (allowed: {allowed})"
        )
