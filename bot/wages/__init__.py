"""Legal minimum wages: the table as data (``surveys/minimum-wages.yaml``) and pure look-ups."""

from bot.wages.table import (
    DEFAULT_TABLE_PATH,
    UNSKILLED,
    Citation,
    ConfirmedBy,
    MinimumWage,
    Region,
    Staleness,
    Status,
    WageEntry,
    WageTable,
    WageTableError,
    fiscal_year_start,
    staleness,
)

__all__ = [
    "DEFAULT_TABLE_PATH",
    "UNSKILLED",
    "Citation",
    "ConfirmedBy",
    "MinimumWage",
    "Region",
    "Staleness",
    "Status",
    "WageEntry",
    "WageTable",
    "WageTableError",
    "fiscal_year_start",
    "staleness",
]
