"""Uncertainty of a share."""

from __future__ import annotations

import math


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of successes/n (95% by default); 7 of 20 -> (0.181, 0.567)."""
    if n <= 0:
        raise ValueError("an interval needs at least one observation")
    if not 0 <= successes <= n:
        raise ValueError("successes must lie between 0 and n")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(
    yes1: int, n1: int, yes2: int, n2: int, z: float = 1.96
) -> tuple[float, tuple[float, float]]:
    """The difference p2 - p1 of two independent shares with Newcombe's hybrid score interval
    (Newcombe 1998, Statistics in Medicine 17:873-890, method 10): from the Wilson intervals
    (l1, u1) and (l2, u2) of each share,

        lower = d - sqrt((p2 - l2)^2 + (u1 - p1)^2)
        upper = d + sqrt((u2 - p2)^2 + (p1 - l1)^2)

    Newcombe's example (a), 56/70 - 48/80 = 0.2000, gives (0.0524, 0.3339) as p1 - p2; here
    the order is "second minus first", the change from an earlier round to a later one."""
    l1, u1 = wilson_interval(yes1, n1, z)
    l2, u2 = wilson_interval(yes2, n2, z)
    p1, p2 = yes1 / n1, yes2 / n2
    d = p2 - p1
    lower = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    upper = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return d, (max(-1.0, lower), min(1.0, upper))
