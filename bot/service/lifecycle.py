"""A round's lifecycle: the one table of allowed status changes (docs/rounds.md).

draft → scheduled → open → closed → published; draft, scheduled and open can be cancelled.
A draft can also be opened at once (`wagecheck round open`), skipping the schedule.
"""

from __future__ import annotations

from bot.enums import RoundStatus

S = RoundStatus

TRANSITIONS: dict[RoundStatus, frozenset[RoundStatus]] = {
    S.DRAFT: frozenset({S.SCHEDULED, S.OPEN, S.CANCELLED}),
    S.SCHEDULED: frozenset({S.DRAFT, S.OPEN, S.CANCELLED}),
    S.OPEN: frozenset({S.CLOSED, S.CANCELLED}),
    S.CLOSED: frozenset({S.PUBLISHED}),
    S.PUBLISHED: frozenset(),
    S.CANCELLED: frozenset(),
}
# The audit action recorded for a change into each status.
ACTIONS: dict[RoundStatus, str] = {
    S.DRAFT: "round.unschedule",
    S.SCHEDULED: "round.schedule",
    S.OPEN: "round.open",
    S.CLOSED: "round.close",
    S.PUBLISHED: "round.publish",
    S.CANCELLED: "round.cancel",
}


class TransitionError(ValueError):
    """A status change the lifecycle does not allow."""


def check_transition(round_id: int, current: RoundStatus, target: RoundStatus) -> None:
    """Raise TransitionError unless `current` → `target` is allowed."""
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, ()))) or "nothing"
        raise TransitionError(
            f"round {round_id} is {current}; it cannot become {target} (allowed: {allowed})"
        )
