"""Benchmarks (`make bench`) and the synthetic rounds they, and property tests, use."""
