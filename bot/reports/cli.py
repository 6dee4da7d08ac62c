"""`wagecheck report ...` (filled in by the reports work)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add the report command(s) to the main command line."""
