"""Legal minimum wages: the table as data (``surveys/minimum-wages.yaml``) and pure look-ups."""

from bot.wages.table import (
    DEFAULT_TABLE_PATH,
    UNSKILLED,
    MinimumWage,
    Region,
    Status,
    WageEntry,
    WageTable,
    WageTableError,
)

__all__ = [
    "DEFAULT_TABLE_PATH",
    "UNSKILLED",
    "MinimumWage",
    "Region",
    "Status",
    "WageEntry",
    "WageTable",
    "WageTableError",
]
