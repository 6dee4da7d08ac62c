"""WageCheck: anonymous worker verification of the legal minimum wage."""

__version__ = "0.1.0"
