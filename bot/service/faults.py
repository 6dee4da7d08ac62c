"""Faults that pass: what a channel may retry because the database, not the message, failed
(a restart, dropped connections, a lock held too long). The channels ask here instead of
knowing the database driver's exceptions."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError


def database_unavailable(exc: BaseException) -> bool:
    """True when `exc` is the database driver's failure (retrying later may succeed)."""
    return isinstance(exc, DBAPIError)
