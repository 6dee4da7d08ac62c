"""Newcombe's interval for a change between two rounds, and the answers a factory needs."""

from __future__ import annotations

import pytest

from bot.reports.intervals import newcombe_difference, wilson_interval
from bot.reports.model import VerdictRule
from bot.reports.targets import answers_needed, conclusive_from, target

# Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10 (hybrid score):
# (m/m_total, n/n_total) with the published 95 % limits of the difference p1 - p2.
NEWCOMBE_TABLE_II = [
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((6, 7, 2, 7), (0.0582, 0.8062)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
    ((10, 10, 0, 20), (0.6791, 1.0000)),
]


@pytest.mark.parametrize(("counts", "published"), NEWCOMBE_TABLE_II)
def test_newcombe_method_10_matches_the_published_examples(counts, published):
    m, m_total, n, n_total = counts
    # Our order is "later minus earlier": the second share minus the first.
    d, (low, high) = newcombe_difference(n, n_total, m, m_total, z=1.959964)
    assert d == pytest.approx(m / m_total - n / n_total)
    assert round(low, 4) == published[0]
    assert round(high, 4) == published[1]


def test_newcombe_is_built_from_the_wilson_intervals():
    d, (low, high) = newcombe_difference(12, 40, 30, 40)
    l1, u1 = wilson_interval(12, 40)
    l2, u2 = wilson_interval(30, 40)
    assert low == pytest.approx(d - ((0.75 - l2) ** 2 + (u1 - 0.3) ** 2) ** 0.5)
    assert high == pytest.approx(d + ((u2 - 0.75) ** 2 + (0.3 - l1) ** 2) ** 0.5)
    # Swapping the rounds mirrors the interval.
    d2, (low2, high2) = newcombe_difference(30, 40, 12, 40)
    assert (d2, low2, high2) == pytest.approx((-d, -high, -low))


@pytest.mark.parametrize(
    ("headcount", "five", "ten"),
    [(500, 218, 81), (1000, 278, 88), (None, 385, 97), (0, 385, 97), (100, 80, 50), (20, 20, 17)],
)
def test_answers_needed_with_the_finite_population_correction(headcount, five, ten):
    assert answers_needed(headcount, 0.05) == five
    assert answers_needed(headcount, 0.10) == ten


def test_answers_needed_never_exceeds_the_headcount():
    for n in range(1, 400):
        assert answers_needed(n, 0.05) <= n


def test_a_verdict_could_be_conclusive_from_sixteen_answers_by_default():
    assert conclusive_from(10) == 16
    assert wilson_interval(16, 16)[0] >= 0.8 > wilson_interval(15, 15)[0]
    assert conclusive_from(20) == 20  # never below the brand's k
    # A stricter rule needs more.
    assert conclusive_from(10, VerdictRule(ok_lower=0.9, below_upper=0.9)) == 35


def test_target_text_for_staff():
    t = target(500, 10)
    assert (t.plus_minus_5, t.plus_minus_10, t.conclusive_from) == (218, 81, 16)
    assert t.text(109) == (
        "109 of 218 for ±5 points (50%); 81 for ±10; a verdict is possible from 16"
    )
    assert "headcount unknown" in target(None, 10).text(0)
