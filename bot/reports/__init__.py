"""Aggregated, disclosure-controlled results (full report formats: the reports issue)."""

from bot.reports.figures import FactoryResult, RoundResults, compute_round_results
from bot.reports.intervals import wilson_interval

__all__ = ["FactoryResult", "RoundResults", "compute_round_results", "wilson_interval"]
